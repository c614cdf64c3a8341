/** `wirespan capture` refusals (one line, exit 2) and `wirespan interfaces`. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadCap } from '../src/capture/live/cap-source.js';
import { findProgram } from '../src/capture/live/open.js';

const WIRESPAN = join(process.cwd(), 'bin/wirespan.js');
const PATH = process.env.PATH ?? '';
const IS_ROOT = process.getuid?.() === 0;

function wirespan(args: string[], wrap: string[] = []): { status: number | null; stdout: string; stderr: string } {
  const [program, ...rest] = [...wrap, 'node', WIRESPAN, ...args];
  const r = spawnSync(program!, rest, { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function capLoads(): Promise<boolean> {
  return loadCap().then(() => true, () => false);
}

const helpers = (['dumpcap', 'tcpdump'] as const).filter((b) => findProgram(b, PATH) !== null);

describe('capture refusals: one line on stderr, exit 2', () => {
  const cases: { name: string; args: string[]; expect: RegExp }[] = [
    { name: 'unknown interface', args: ['-i', 'wirespan-nosuch0'], expect: /^wirespan: no such interface: wirespan-nosuch0 \(No such device exists\)/ },
    { name: 'invalid filter', args: ['-i', 'lo', '-f', 'tcp port'], expect: /^wirespan: invalid capture filter "tcp port": can't parse filter expression: syntax error/ },
    { name: 'filter libpcap rejects', args: ['-i', 'lo', '-f', 'tcp port 99999'], expect: /^wirespan: invalid capture filter "tcp port 99999": illegal port number 99999 > 65535/ },
  ];
  for (const backend of [...helpers, 'cap'] as const) {
    for (const c of cases) {
      it(`${backend}: ${c.name}`, async (t) => {
        if (backend === 'cap' && !(await capLoads())) return t.skip('cap does not load here');
        if (backend === 'cap' && c.name === 'invalid filter' && !IS_ROOT) return t.skip('cap compiles the filter after opening the device: needs capture rights');
        if (backend === 'cap' && c.name === 'filter libpcap rejects' && !IS_ROOT) return t.skip('needs capture rights');
        const r = wirespan(['capture', '--backend', backend, ...c.args]);
        assert.equal(r.status, 2, r.stderr);
        assert.equal(r.stderr.trimEnd().split('\n').length, 1, `one line: ${r.stderr}`);
        assert.match(r.stderr, c.expect);
      });
    }
  }

  for (const backend of helpers) {
    it(`${backend}: without CAP_NET_RAW the error names the capability and the setcap fix`, { skip: IS_ROOT && findProgram('setpriv', PATH) ? false : 'needs root to drop to an unprivileged user (setpriv)' }, () => {
      const asNobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all'];
      const r = wirespan(['capture', '--backend', backend, '-i', 'lo', '--duration', '1'], asNobody);
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, `one line: ${r.stderr}`);
      assert.match(r.stderr, /needs CAP_NET_RAW/);
      assert.ok(r.stderr.includes(`setcap cap_net_raw,cap_net_admin=eip ${findProgram(backend, PATH)}`), r.stderr);
    });
  }

  it('cap that cannot load: the message says how to build it', async () => {
    await assert.rejects(loadCap(join(process.cwd(), 'no-such-dir/cap.js')), (error: Error & { exitCode?: number; code?: string }) => {
      assert.equal(error.exitCode, 2);
      assert.equal(error.code, 'ERR_BACKEND_MISSING');
      assert.match(error.message, /apt-get install libpcap-dev && npm rebuild cap/);
      assert.ok(!error.message.includes('\n'));
      return true;
    });
  });

  it('a missing helper program is named with its package', () => {
    const r = spawnSync(process.execPath, [WIRESPAN, 'capture', '--backend', 'tcpdump', '-i', 'lo'], { encoding: 'utf8', env: { ...process.env, PATH: '/nonexistent' }, timeout: 10_000 });
    assert.equal(r.status, 2);
    assert.equal(r.stderr, 'wirespan: tcpdump is not on PATH: apt-get install tcpdump\n');
  });
});

describe('wirespan interfaces', () => {
  it('lists lo, up, with 127.0.0.1', () => {
    const r = wirespan(['interfaces', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const { interfaces } = JSON.parse(r.stdout) as { interfaces: { name: string; up: boolean | null; addresses: { address: string; prefix: number }[] }[] };
    const lo = interfaces.find((i) => i.name === 'lo');
    assert.ok(lo, 'lo listed');
    assert.equal(lo.up, true);
    assert.ok(lo.addresses.some((a) => a.address === '127.0.0.1' && a.prefix === 8));
    const text = wirespan(['interfaces']);
    assert.match(text.stdout, /^lo +up +127\.0\.0\.1\/8/m);
    assert.match(text.stdout, /^any /m);
  });
});
