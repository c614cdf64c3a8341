import { normalizeSql } from '../protocols/mysql/normalize.js';
import type { Exchange, MysqlRequestInfo } from '../protocols/types.js';

/** Shorter values recur by chance (LIMIT 1, qty 2, flags): they tell nothing about which request. */
const MIN_VALUE_LENGTH = 2;
/** Longer ones are bodies, not identifiers. */
const MAX_VALUE_LENGTH = 128;

/**
 * Values a call carries that could come from the request it was made for: the literals of a SQL
 * query (`WHERE id = 16` for `GET /orders/16`). Empty for other calls.
 */
export function callValues(x: Exchange): string[] {
  if (x.protocol !== 'mysql') return [];
  const sql = (x.request as MysqlRequestInfo).sql;
  if (sql === null || (x.request as MysqlRequestInfo).command !== 'QUERY') return [];
  const literals: string[] = [];
  normalizeSql(sql, literals);
  return literals.filter(usable);
}

/** Values a request names in its target: path segments and query values (`/orders/16?sku=a-1`). */
export function requestValues(x: Exchange): ReadonlySet<string> {
  const path = (x.request as { path?: unknown }).path;
  const values = new Set<string>();
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
