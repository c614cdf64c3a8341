// Values a call and the request it was made for both carry: the id in `GET /orders/16` and in
// `WHERE id = 16`. Used to tell concurrent requests apart where timing alone cannot.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { callValues, requestValues } from '../src/correlate/linking-values.js';
import type { Exchange } from '../src/protocols/types.js';
import { exchangeOf } from './lib/exchange-fixtures.js';

const exchange = (protocol: Exchange['protocol'], request: Exchange['request']): Exchange => exchangeOf({ protocol, request });

const query = (sql: string, command = 'QUERY') => exchange('mysql', { command, sql, normalizedSql: null, statementId: null, database: null });

it('a query carries its literals of two characters or more, strings without quotes; comments are not literals', () => {
  assert.deepEqual(
    callValues(query("SELECT * FROM orders WHERE id = 16 AND sku = 'sku-3' AND qty > 1 /* request_id='abcdef12' */")),
    ['16', 'sku-3'],
  );
  assert.deepEqual(callValues(query('SELECT 1')), []);
  assert.deepEqual(callValues(query('SELECT a FROM t WHERE id = ?', 'STMT_EXECUTE')), [], 'parameters are not read');
});

it('a request names the segments and query values of its target, decoded', () => {
  const get = exchange('http', { method: 'GET', path: '/orders/16?sku=sku%2D3&x=1', host: null, version: '1.1', bodyBytes: 0 });
  assert.deepEqual([...requestValues(get)].sort(), ['16', 'orders', 'sku', 'sku-3']);
  const grpc = exchange('grpc', { service: 's.S', method: 'M', path: '/s.S/M', authority: null, streamId: 1, messages: 1, messageBytes: 1, compressedMessages: 0, timeoutMs: null, callKind: 'unary' });
  assert.equal(requestValues(grpc).size, 0, 'a gRPC path names a method, not values');
});
