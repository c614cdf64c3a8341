import type { Endpoint } from '../tcp/types.js';
import { endpointKey } from './naming.js';

/** Calls seen carrying ids other than those of the requests around them before a server is taken to make up its own. */
const MIN_FOREIGN_CALLS = 10;
/** Servers remembered; the oldest is forgotten first. */
const MAX_SERVERS = 65_536;

/**
 * Which servers pass on the ids of the requests they serve, and which make up new ones for their
 * calls: a gateway overwriting the client's X-Request-ID with its own (nginx's `proxy_set_header
 * X-Request-ID $request_id`, Apache's `RequestHeader set X-Request-ID %{UNIQUE_ID}e`, HAProxy's
 * `unique-id-header`). A call whose ids match nothing is linked by timing only to an exchange that
 * carried no ids (two ids that differ say two requests), unless that exchange's server rewrites:
 * seen serving requests with ids, at least MIN_FOREIGN_CALLS times, while calls carrying other ids
 * went out, and never seen passing an id on.
 */
export class IdRewriters {
  private readonly passing = new Set<string>();
  private readonly foreign = new Map<string, number>();

  /** A call was linked by an id to an exchange into `server`: it passes ids on. */
  passesOn(server: Endpoint): void {
    const key = endpointKey(server);
    if (this.passing.has(key)) return;
    if (this.passing.size >= MAX_SERVERS) this.passing.delete(this.passing.values().next().value!);
    this.passing.add(key);
  }

  /** A call carrying ids that matched nothing lay inside exchanges into `servers` that carried other ids. */
  sawForeign(servers: Iterable<Endpoint>): void {
    const seen = new Set<string>();
    for (const server of servers) {
      const key = endpointKey(server);
      if (seen.has(key)) continue;
      seen.add(key);
      if (!this.foreign.has(key) && this.foreign.size >= MAX_SERVERS) this.foreign.delete(this.foreign.keys().next().value!);
      this.foreign.set(key, (this.foreign.get(key) ?? 0) + 1);
    }
  }

  rewrites(server: Endpoint): boolean {
    const key = endpointKey(server);
    return !this.passing.has(key) && (this.foreign.get(key) ?? 0) >= MIN_FOREIGN_CALLS;
  }

  clear(): void {
    this.passing.clear();
    this.foreign.clear();
  }
}
