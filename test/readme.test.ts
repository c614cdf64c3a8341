// The README's tour shows real output: the same commands on the shipped demo capture must print it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';

const README = readFileSync('README.md', 'utf8');

/** The lines shown under `$ npx wirespan ARGS` in a README code block, up to the block's end. */
function shownOutput(args: string): string[] {
  const prompt = `$ npx wirespan ${args}\n`;
  const start = README.indexOf(prompt);
  assert.ok(start >= 0, `README shows ${prompt.trim()}`);
  const from = start + prompt.length;
  return README.slice(from, README.indexOf('```', from)).trimEnd().split('\n');
}

function run(args: string): string[] {
  const r = spawnSync(process.execPath, ['bin/wirespan.js', ...args.split(' ')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n');
}

it('the tour\'s `read` output is what wirespan prints', () => {
  const args = 'read fixtures/demo-shop.pcap --names fixtures/demo-shop.names.yaml --slowest 1';
  const shown = shownOutput(args);
  assert.deepEqual(run(args).slice(0, shown.length), shown);
});

it('every line the tour shows of `stats` is printed (the README elides some with ...)', () => {
  const args = 'stats fixtures/demo-shop.pcap';
  const printed = run(args);
  for (const line of shownOutput(args).filter((l) => l !== '...')) assert.ok(printed.includes(line), `stats prints: ${line}`);
});

it('the tour\'s TLS counts are what wirespan finds', () => {
  const tour = /lists (\d+) TLS connections it could not read; `npx wirespan read --tls-keylog\s+fixtures\/tls-keylog\.keys fixtures\/tls-keylog\.pcap` reads their (\d+) requests/.exec(README);
  assert.ok(tour, 'the README tells the TLS fixture');
  const [, connections, requests] = tour;
  assert.ok(run('read fixtures/tls-keylog.pcap').some((l) => new RegExp(`^  TLS \\(encrypted\\) +127\\.0\\.0\\.1:8443 +${connections}( |$)`).test(l)));
  const decrypted = run('read --tls-keylog fixtures/tls-keylog.keys fixtures/tls-keylog.pcap');
  assert.ok(decrypted.includes(`  traces: ${requests}`));
});
