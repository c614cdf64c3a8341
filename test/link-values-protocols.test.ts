// The values a call and the request it was made for both carry, read from the protocols: a prepared
// statement's parameters (binary protocol) and the scalars of a gRPC request message (no schema).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { placeholderCount, readExecuteParams } from '../src/protocols/mysql/execute-params.js';
import { messageScalars } from '../src/protocols/grpc/message-values.js';
import { bodyValues } from '../src/protocols/http1/body-values.js';
import type { SpanRecord } from '../src/correlate/types.js';
import type { Exchange } from '../src/protocols/types.js';
import { analyzeFiles } from './lib/analyze-file.js';

/** COM_STMT_EXECUTE payload: statement 7, no cursor, one iteration, then `rest`. */
function execute(rest: number[]): Uint8Array {
  return Uint8Array.from([0x17, 7, 0, 0, 0, 0, 1, 0, 0, 0, ...rest]);
}
const text = (s: string): number[] => [s.length, ...Buffer.from(s)];

describe('prepared statement parameters', () => {
  it('types sent with the EXECUTE: strings, signed and unsigned integers, NULL', () => {
    const payload = execute([
      0b0100, // null bitmap: the third is NULL
      1, // new params bound
      0xfd, 0x00, 0x08, 0x00, 0x03, 0x00, 0x01, 0x80, // VAR_STRING, LONGLONG, LONG, unsigned TINY
      ...text('sku-3'),
      0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // -2
      0xff, // 255 unsigned
    ]);
    assert.deepEqual(readExecuteParams(payload, 4, null), { values: ['sku-3', '-2', null, '255'], types: [0xfd, 0x08, 0x03, 0x8001] });
  });

  it('types not sent: those of the previous EXECUTE, else nothing is read', () => {
    const payload = execute([0, 0, ...text('sku-9')]);
    assert.deepEqual(readExecuteParams(payload, 1, [0xfd])?.values, ['sku-9']);
    assert.equal(readExecuteParams(payload, 1, null), null);
  });

  it('a payload shorter than its types say is not read', () => {
    assert.equal(readExecuteParams(execute([0, 1, 0x08, 0x00, 1, 2]), 1, null), null);
  });

  it('placeholders are counted outside quotes and comments', () => {
    assert.equal(placeholderCount("SELECT * FROM t WHERE a = ? AND b = '?' /* ? */ AND c IN (?, ?) -- ?\n AND `?` = ?"), 4);
  });
});

describe('gRPC message scalars without a schema', () => {
  it('strings, varints and nested messages; bytes that are neither are left out', () => {
    // field 1 "sku-3", field 2 varint 42, field 3 message { field 1 "eu-west" }, field 4 bytes 00 ff
    const nested = [0x0a, 7, ...Buffer.from('eu-west')];
    const message = Uint8Array.from([0x0a, 5, ...Buffer.from('sku-3'), 0x10, 42, 0x1a, nested.length, ...nested, 0x22, 2, 0x00, 0xff]);
    assert.deepEqual(messageScalars(message), ['sku-3', '42', 'eu-west']);
  });

  it('what does not parse as a message gives nothing', () => {
    assert.deepEqual(messageScalars(Uint8Array.from([0x0a, 50, 1, 2])), []);
    assert.deepEqual(messageScalars(Uint8Array.from([0x0f])), []);
  });
});

describe('on the shop capture', () => {
  it('each EXECUTE carries its sku, each Reserve call the sku of its message; the calls go to the Reserve carrying theirs', async () => {
    const values = new Map<string, readonly string[]>();
    const key = (x: Pick<Exchange, 'protocol' | 'connectionId' | 'streamId' | 'index'>): string => `${x.protocol} ${x.connectionId} ${x.streamId ?? x.index}`;
    const { spans } = await analyzeFiles(['../shared/corpus/shop-concurrent.pcap'], {
      onExchange: (x) => values.set(key(x), x.linkValues ?? []),
    });
    const bySpan = new Map(spans.map((s) => [s.spanId, s]));
    const executes = spans.filter((s) => s.protocol === 'mysql' && (s.request as { command: string }).command === 'STMT_EXECUTE');
    assert.ok(executes.length > 90);
    const without = executes.filter((s) => !values.get(key(s))?.some((v) => v.startsWith('sku-')));
    assert.deepEqual(without.map(key), []);
    const reserves = spans.filter((s) => s.protocol === 'grpc' && (s.request as { path: string }).path === '/shop.Inventory/Reserve');
    assert.ok(reserves.every((s) => values.get(key(s))?.some((v) => v.startsWith('sku-'))));
    const mismatched = executes.filter((s) => {
      const parent: SpanRecord | undefined = s.parentSpanId ? bySpan.get(s.parentSpanId) : undefined;
      return parent?.protocol === 'grpc' && !values.get(key(parent))!.includes(values.get(key(s))![0]!);
    });
    assert.deepEqual(mismatched.map(key), []);
  });
});

describe('HTTP/1 request body values', () => {
  it('JSON: string and number values, not keys; a number cut by the end of the head is left out', () => {
    const head = Buffer.from('{"sku":"sku-3","qty":12,"note":"a \\"quoted\\" word","tags":["x1","y2"],"price":19.5');
    assert.deepEqual(bodyValues(head, 'application/json; charset=utf-8'), ['sku-3', '12', 'a "quoted" word', 'x1', 'y2']);
  });

  it('forms: the values, the last one only when the head ends after it', () => {
    assert.deepEqual(bodyValues(Buffer.from('sku=sku-3&qty=12&note=a+b%21&cut=abc'), 'application/x-www-form-urlencoded'), ['sku-3', '12', 'a b!']);
  });

  it('other content types, and no body, give nothing', () => {
    assert.deepEqual(bodyValues(Buffer.from('sku-3'), 'text/plain'), []);
    assert.deepEqual(bodyValues(null, 'application/json'), []);
  });

  it('the shop capture: POST /orders keeps its body head for the correlator, and no record carries it', async () => {
    const heads: string[] = [];
    const { spans } = await analyzeFiles(['../shared/corpus/shop-basic.pcap'], {
      onExchange: (x) => {
        if (x.requestBodyHead) heads.push(Buffer.from(x.requestBodyHead.bytes).toString('utf8'));
      },
    });
    assert.ok(heads.length > 0 && heads.every((h) => h.startsWith('{')), heads[0]);
    const record = JSON.stringify(spans);
    assert.ok(!heads.some((h) => record.includes(h)), 'a request body is never written out');
  });
});
