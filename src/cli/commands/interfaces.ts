import type { Command } from 'commander';
import { listInterfaces, type InterfaceInfo } from '../../capture/live/interfaces.js';

export function registerInterfaces(program: Command): void {
  program
    .command('interfaces')
    .description('List network interfaces that `wirespan capture -i` can use, with their addresses')
    .option('--json', 'one JSON document')
    .action((flags: { json?: boolean }) => {
      const list = listInterfaces();
      process.stdout.write(flags.json ? `${JSON.stringify({ interfaces: list }, null, 2)}\n` : renderInterfaces(list));
    });
}

function renderInterfaces(list: InterfaceInfo[]): string {
  const width = Math.max(4, ...list.map((i) => i.name.length));
  const lines = list.map((i) => {
    const state = i.up === null ? '?' : i.up ? 'up' : 'down';
    const addresses = i.addresses.map((a) => (Number.isFinite(a.prefix) ? `${a.address}/${a.prefix}` : a.address));
    return `${i.name.padEnd(width)}  ${state.padEnd(4)}  ${addresses.length > 0 ? addresses.join(' ') : '(no address)'}`;
  });
  lines.push(`${'any'.padEnd(width)}  ${''.padEnd(4)}  (every interface, Linux cooked capture)`);
  return `${lines.join('\n')}\n`;
}
