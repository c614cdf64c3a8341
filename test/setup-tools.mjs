// Runs before `npm test`: the suite uses tshark/capinfos as oracles and tcpdump for live captures.
// As root on Debian it installs what is missing (saying so); otherwise it names what is missing and
// the tests that need it skip with that reason.
import { execFileSync, spawnSync } from 'node:child_process';

const tools = { tshark: 'tshark', capinfos: 'wireshark-common', editcap: 'wireshark-common', tcpdump: 'tcpdump', ip: 'iproute2', iptables: 'iptables' };
const headers = '/usr/include/pcap/pcap.h';
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const missing = Object.keys(tools).filter((t) => !has(t));
let packages = [...new Set(missing.map((t) => tools[t]))];
if (spawnSync("test", ["-f", headers]).status !== 0) packages.push("libpcap-dev");

if (packages.length === 0) process.exit(0);
const isRoot = process.getuid?.() === 0;
if (isRoot && has('apt-get')) {
  console.log(`setup-tools: installing ${packages.join(' ')} with apt-get (needed by the test suite)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    execFileSync('sh', ['-c', 'echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections'], { env, stdio: 'inherit' });
    execFileSync('apt-get', ['update', '-qq'], { env, stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { env, stdio: 'inherit' });
  } catch (err) {
    console.log(`setup-tools: apt-get failed (${err.message.split('\n')[0]}); tests needing ${packages.join(', ')} will skip`);
  }
} else {
  console.log(`setup-tools: missing ${packages.join(', ')} (install: apt-get install ${packages.join(' ')}); tests that need them will skip`);
}
