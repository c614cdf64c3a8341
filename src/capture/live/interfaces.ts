import { readdirSync, readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';

export interface InterfaceInfo {
  name: string;
  /** IFF_UP from /sys/class/net/NAME/flags (null when unknown). */
  up: boolean | null;
  /** operstate from sysfs: up, down, unknown (loopback), ... */
  operState: string | null;
  mac: string | null;
  addresses: { family: 'IPv4' | 'IPv6'; address: string; prefix: number }[];
}

const SYS_NET = '/sys/class/net';
const IFF_UP = 0x1;

/**
 * Every interface: those with addresses from os.networkInterfaces(), plus those without any that
 * /sys/class/net knows (a capture can listen on an interface that has no address).
 */
export function listInterfaces(sysNet = SYS_NET): InterfaceInfo[] {
  const byName = new Map<string, InterfaceInfo>();
  const entry = (name: string): InterfaceInfo => {
    let info = byName.get(name);
    if (!info) byName.set(name, (info = { name, up: null, operState: null, mac: null, addresses: [] }));
    return info;
  };
  for (const [name, addresses] of Object.entries(networkInterfaces())) {
    const info = entry(name);
    for (const a of addresses ?? []) {
      const prefix = a.cidr ? Number(a.cidr.split('/')[1]) : NaN;
      info.addresses.push({ family: a.family, address: a.address, prefix });
      if (a.mac && a.mac !== '00:00:00:00:00:00') info.mac = a.mac;
    }
  }
  for (const name of safeReaddir(sysNet)) {
    const info = entry(name);
    const flags = readSys(`${sysNet}/${name}/flags`);
    if (flags !== null) info.up = (Number.parseInt(flags, 16) & IFF_UP) !== 0;
    info.operState = readSys(`${sysNet}/${name}/operstate`);
    const mac = readSys(`${sysNet}/${name}/address`);
    if (info.mac === null && mac && mac !== '00:00:00:00:00:00') info.mac = mac;
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * rx_dropped summed over the interface (or every interface for `any`), from sysfs; null when the
 * counter cannot be read (not Linux, or the interface vanished).
 */
export function readInterfaceRxDropped(iface: string, sysNet = SYS_NET): number | null {
  const names = iface === 'any' ? safeReaddir(sysNet) : [iface];
  let total = 0;
  let found = false;
  for (const name of names) {
    const text = readSys(`${sysNet}/${name}/statistics/rx_dropped`);
    if (text === null) continue;
    const n = Number(text);
    if (!Number.isFinite(n)) continue;
    total += n;
    found = true;
  }
  return found ? total : null;
}

function readSys(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

function safeReaddir(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}
