import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import type { Endpoint } from '../tcp/types.js';
import type { ProtocolName } from '../protocols/types.js';
import type { ServiceKind } from './types.js';

/**
 * Service names for endpoints.
 *
 * Precedence for a server endpoint: `--names` entry for ip:port, then for the ip, then the longest
 * matching CIDR, then the Host/:authority hint seen on its requests (when it is a name, not an
 * address), then the name a DNS answer in the capture gave its ip, as `name:port`, then the default:
 * `ip:port`; databases named by DNS or by default get a `mysql@` prefix. A server's name is fixed when
 * its first span is emitted, so a DNS answer or a hint seen later does not split one service in two.
 * A client is named as the server endpoint that made the call when the correlator knows it (its
 * parent's, or its connection's caller on a shared address or another address of its host): a
 * service calling out is the same node as the service called. Else by `--names` (ip, then CIDR);
 * else, when its ip is the address of exactly one server endpoint seen so far, other than the one it
 * calls, that service; else its ip.
 */
export class ServiceNamer {
  private readonly exact = new Map<string, string>();
  private readonly cidrs: { prefix: bigint; bits: number; v6: boolean; name: string }[] = [];
  private readonly serversByIp = new Map<string, Set<string>>();
  private readonly hostHints = new Map<string, string>();
  private readonly protocolOf = new Map<string, ProtocolName>();
  /** ip → the name a DNS answer gave it (the first one seen). */
  private readonly dnsNames = new Map<string, string>();
  /** Server names given so far, by endpoint key. */
  private readonly given = new Map<string, string>();

  constructor(names: Record<string, string> = {}) {
    for (const [key, name] of Object.entries(names)) this.addRule(key, String(name));
  }

  /** Learn from an exchange: its server endpoint, protocol and Host hint. */
  observe(server: Endpoint, protocol: ProtocolName, hostHint: string | null): void {
    const key = endpointKey(server);
    let ports = this.serversByIp.get(server.ip);
    if (!ports) this.serversByIp.set(server.ip, (ports = new Set()));
    ports.add(key);
    if (!this.protocolOf.has(key)) this.protocolOf.set(key, protocol);
    if (hostHint) this.hint(key, hostHint);
  }

  /** A TLS server the client asked for by name (SNI): the name is a hint, as a Host header is. */
  observeServerName(server: Endpoint, serverName: string): void {
    this.hint(endpointKey(server), serverName);
  }

  /** The first host name a server was asked for, unless it is an address or localhost (which name nothing). */
  private hint(key: string, hostHint: string): void {
    if (this.hostHints.has(key)) return;
    const host = stripPort(hostHint);
    if (host && isIP(host) === 0 && host !== 'localhost') this.hostHints.set(key, host);
  }

  /**
   * A DNS answer in the capture: `ip` is `name`. The first name seen for an ip is kept; false when a
   * new address could not be kept (the bound on named addresses is reached).
   */
  learnDnsName(ip: string, name: string): boolean {
    if (this.dnsNames.has(ip)) return true;
    if (this.dnsNames.size >= MAX_DNS_NAMES) return false;
    this.dnsNames.set(ip, name);
    return true;
  }

  serverName(server: Endpoint): string {
    const key = endpointKey(server);
    let name = this.given.get(key);
    if (name === undefined) {
      name = this.nameOf(server, key);
      // Fixed once a span has used it (by then its exchange and those around it gave their hints).
      if (this.protocolOf.has(key)) this.given.set(key, name);
    }
    return name;
  }

  private nameOf(server: Endpoint, key: string): string {
    const dns = this.dnsNames.get(server.ip);
    const fallback = dns === undefined ? key : `${dns}:${server.port}`;
    return (
      this.exact.get(key) ??
      this.exact.get(server.ip) ??
      this.cidrName(server.ip) ??
      this.hostHints.get(key) ??
      (this.protocolOf.get(key) === 'mysql' ? `mysql@${fallback}` : fallback)
    );
  }

  clientName(client: Endpoint, callee: Endpoint, caller: Endpoint | null = null): string {
    // The endpoint that made the call is the most precise name (and honours --names for it).
    if (caller) return this.serverName(caller);
    const named = this.exact.get(client.ip) ?? this.cidrName(client.ip);
    if (named) return named;
    const servers = this.serversByIp.get(client.ip);
    // Only the callee itself at this ip so far: a service calling itself is rarer than one not seen yet.
    if (servers && servers.size === 1 && !servers.has(endpointKey(callee))) {
      const [only] = servers;
      const [ip, port] = splitKey(only!);
      return this.serverName({ ip, port });
    }
    return client.ip;
  }

  serverKind(server: Endpoint): ServiceKind {
    return this.protocolOf.get(endpointKey(server)) === 'mysql' ? 'database' : 'service';
  }

  /** A client that never serves anything is a 'client' node; one that does is a 'service'. */
  clientKind(client: Endpoint): ServiceKind {
    return this.serversByIp.has(client.ip) ? 'service' : 'client';
  }

  private addRule(key: string, name: string): void {
    const slash = key.indexOf('/');
    if (slash < 0) {
      this.exact.set(normaliseKey(key), name);
      return;
    }
    const ip = key.slice(0, slash);
    const bits = Number(key.slice(slash + 1));
    const v6 = isIP(ip) === 6;
    if (isIP(ip) === 0 || !Number.isInteger(bits) || bits < 0 || bits > (v6 ? 128 : 32)) {
      throw new NamesFileError(`invalid CIDR in names: ${key}`);
    }
    this.cidrs.push({ prefix: maskOf(ipToBigInt(ip), bits, v6), bits, v6, name });
    this.cidrs.sort((a, b) => b.bits - a.bits);
  }

  private cidrName(ip: string): string | undefined {
    if (this.cidrs.length === 0) return undefined;
    const v6 = isIP(ip) === 6;
    const value = ipToBigInt(ip);
    return this.cidrs.find((c) => c.v6 === v6 && maskOf(value, c.bits, v6) === c.prefix)?.name;
  }
}

/** Bound on the addresses named from DNS answers. */
const MAX_DNS_NAMES = 100_000;

export class NamesFileError extends Error {
  readonly code = 'ERR_NAMES_FILE';
}

/** The YAML parser, loaded on first use: most runs have no names file, and loading it costs ~30 ms. */
function parseYaml(text: string): unknown {
  const yaml = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  return yaml.parse(text);
}

/** Read a `--names` file: a JSON or YAML mapping of ip, ip:port or CIDR to a service name. */
export function loadNamesFile(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new NamesFileError(`cannot read names file ${path}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new NamesFileError(`names file ${path} is not valid JSON/YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new NamesFileError(`names file ${path} must map addresses to names`);
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (typeof v !== 'string' && typeof v !== 'number') throw new NamesFileError(`names file ${path}: value for ${k} is not a name`);
    out[k] = String(v);
  }
  return out;
}

export function endpointKey(e: Endpoint): string {
  return e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
}

function splitKey(key: string): [string, number] {
  const at = key.lastIndexOf(':');
  const ip = key.slice(0, at).replace(/^\[|\]$/g, '');
  return [ip, Number(key.slice(at + 1))];
}

function normaliseKey(key: string): string {
  if (isIP(key)) return key;
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(key);
  if (bracketed) return `[${bracketed[1]}]:${bracketed[2]}`;
  return key;
}

function stripPort(host: string): string {
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']'));
  const colon = host.indexOf(':');
  return colon >= 0 && host.indexOf(':', colon + 1) < 0 ? host.slice(0, colon) : host;
}

function ipToBigInt(ip: string): bigint {
  if (isIP(ip) === 4) return ip.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const parse = (s: string | undefined): number[] => (s ? s.split(':').flatMap(hextetOrV4) : []);
  const left = parse(head);
  const right = parse(tail);
  const groups = tail === undefined ? left : [...left, ...new Array(8 - left.length - right.length).fill(0), ...right];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

function hextetOrV4(part: string): number[] {
  if (!part.includes('.')) return [parseInt(part, 16)];
  const [a, b, c, d] = part.split('.').map(Number) as [number, number, number, number];
  return [(a << 8) | b, (c << 8) | d];
}

function maskOf(value: bigint, bits: number, v6: boolean): bigint {
  const width = v6 ? 128n : 32n;
  const hostBits = width - BigInt(bits);
  return (value >> hostBits) << hostBits;
}
