import { bodyValues } from '../protocols/http1/body-values.js';
import { normalizeSql } from '../protocols/mysql/normalize.js';
import type { Exchange, MysqlRequestInfo } from '../protocols/types.js';

/** Shorter values recur by chance (LIMIT 1, qty 2, flags): they tell nothing about which request. */
const MIN_VALUE_LENGTH = 2;
/** Longer ones are bodies, not identifiers. */
const MAX_VALUE_LENGTH = 128;

/**
 * Values a call carries that could come from the request it was made for: the literals of a SQL
 * query (`WHERE id = 16` for `GET /orders/16`), a prepared statement's parameters, the scalars of a
 * gRPC request message (Exchange.linkValues), what an HTTP request names (a proxy passes on the
 * very request it was sent; an application the ids it was given).
 */
export function callValues(x: Exchange): string[] {
  if (x.protocol === 'http' || x.protocol === 'http2') return [...requestValues(x)];
  const values = (x.linkValues ?? []).filter(usable);
  if (x.protocol === 'mysql' && (x.request as MysqlRequestInfo).command === 'QUERY') {
    const sql = (x.request as MysqlRequestInfo).sql;
    const literals: string[] = [];
    if (sql !== null) normalizeSql(sql, literals);
    for (const literal of literals) if (usable(literal)) values.push(literal);
  }
  return values;
}

/**
 * Values a request names: the path segments and query values of an HTTP target (`/orders/16?sku=a-1`),
 * the JSON or form values of an HTTP/1 request body's first bytes, the scalars of a gRPC request message.
 */
export function requestValues(x: Exchange): ReadonlySet<string> {
  const values = new Set<string>((x.linkValues ?? []).filter(usable));
  if (x.requestBodyHead) for (const v of bodyValues(x.requestBodyHead.bytes, x.requestBodyHead.contentType)) if (usable(v)) values.add(v);
  const path = (x.request as { path?: unknown }).path;
  if (typeof path !== 'string' || (x.protocol !== 'http' && x.protocol !== 'http2')) return values;
  for (const piece of path.split(/[/?&=;,]/)) {
    const value = decoded(piece);
    if (usable(value)) values.add(value);
  }
  return values;
}

function usable(value: string): boolean {
  return value.length >= MIN_VALUE_LENGTH && value.length <= MAX_VALUE_LENGTH;
}

function decoded(piece: string): string {
  try {
    return decodeURIComponent(piece.replace(/\+/g, ' '));
  } catch {
    return piece;
  }
}
