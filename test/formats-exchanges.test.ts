// The same HTTP traffic in every file format and link type (../shared/formats) yields the same exchanges.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import type { SpanRecord } from '../src/correlate/types.js';
import type { HttpRequestInfo, HttpResponseInfo } from '../src/protocols/types.js';
import { analyzeFiles } from './lib/analyze-file.js';
import { missingTools } from './lib/tshark.js';

const DIR = '../shared/formats';
/** One tcpdump run written three ways, and a second run captured by dumpcap and by `tcpdump -i any` (SLL2). */
const FIRST_RUN = ['http-ether.pcap', 'http-nsec.pcap', 'http-editcap.pcapng'];
const SECOND_RUN = ['http-dumpcap.pcapng', 'http-sll2.pcap'];

const summary = (s: SpanRecord): string => {
  const q = s.request as HttpRequestInfo;
  return `${q.method} ${q.path} ${(s.response as HttpResponseInfo | null)?.status} ${s.requestId}`;
};

describe('every capture format gives the same exchanges', () => {
  it('µs pcap, ns pcap and pcapng of one capture: identical records, ids and times', async () => {
    const runs = await Promise.all(FIRST_RUN.map(async (f) => (await analyzeFiles([`${DIR}/${f}`])).spans));
    assert.equal(runs[0]!.length, 30, '30 exchanges (README of ../shared/formats)');
    for (const run of runs.slice(1)) assert.deepEqual(run, runs[0]);
  });

  for (const file of [...FIRST_RUN, ...SECOND_RUN]) {
    it(`${file}: the requests tshark sees, every one answered 200`, { skip: missingTools('tshark') }, async () => {
      const { spans } = await analyzeFiles([`${DIR}/${file}`]);
      // tshark lists pipelined requests sharing a frame in one row, comma-separated.
      const rows = execFileSync('tshark', ['-r', `${DIR}/${file}`, '-n', '-Y', 'http.request', '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,', '-e', 'http.request.method', '-e', 'http.request.uri'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const expected = rows
        .trim()
        .split('\n')
        .map((line) => line.split('\t'))
        .flatMap(([methods, uris]) => {
          const m = methods!.split(',');
          return uris!.split(',').map((u, i) => `${m[i] ?? m[0]} ${u}`);
        })
        .sort();
      assert.deepEqual(spans.map((s) => { const q = s.request as HttpRequestInfo; return `${q.method} ${q.path}`; }).sort(), expected);
      assert.ok(spans.every((s) => (s.response as HttpResponseInfo | null)?.status === 200), spans.map(summary).join('\n'));
      assert.deepEqual(spans.filter((s) => s.notes.length > 0).map((s) => s.notes), []);
    });
  }

  it('the second run reads the same from pcapng (Ethernet) and from SLL2', async () => {
    const [a, b] = await Promise.all(SECOND_RUN.map(async (f) => (await analyzeFiles([`${DIR}/${f}`])).spans.map(summary).sort()));
    assert.equal(a!.length, 15);
    assert.deepEqual(a, b);
  });
});
