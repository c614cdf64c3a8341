/**
 * Which addresses belong to one host, as far as the capture has shown (docs/ids.md, "Callers on a
 * shared address"). Each address starts as a host of its own. A loopback connection is made on the
 * capture host, so when the calls of one are found to be made by a server at another address (nginx
 * answering on 10.0.0.5:80 and calling its upstream on 127.0.0.1:3000), that address is the same
 * host: from then on exchanges into either are possible parents of calls from either.
 */
export class HostGroups {
  /** Address → the key of its group (the first address of the group). */
  private readonly keyOfIp = new Map<string, string>();
  private readonly members = new Map<string, string[]>();

  keyOf(ip: string): string {
    return this.keyOfIp.get(ip) ?? ip;
  }

  /** The addresses of `ip`'s host. */
  addressesOf(ip: string): readonly string[] {
    return this.members.get(this.keyOf(ip)) ?? [ip];
  }

  /** `a` and `b` are one host; returns the key that went away (merged into the other), or null. */
  join(a: string, b: string): { from: string; into: string } | null {
    const [into, from] = [this.keyOf(a), this.keyOf(b)];
    if (into === from) return null;
    const moved = this.members.get(from) ?? [from];
    const kept = this.members.get(into) ?? [into];
    for (const ip of moved) this.keyOfIp.set(ip, into);
    this.keyOfIp.set(into, into);
    this.members.set(into, [...kept, ...moved]);
    this.members.delete(from);
    return { from, into };
  }

  clear(): void {
    this.keyOfIp.clear();
    this.members.clear();
  }
}

/** 127.0.0.0/8, ::1 and IPv4-mapped loopback: traffic that never left the capture host. */
export function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1' || ip.startsWith('::ffff:127.');
}
