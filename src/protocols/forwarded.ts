import { isIP } from 'node:net';

/**
 * The client a proxy says it forwarded for: the first `for=` of `Forwarded` (RFC 7239), else the
 * left-most address of `X-Forwarded-For`; null when neither names an IP address (`unknown`,
 * obfuscated `_identifiers`, garbage). Ports and IPv6 brackets are taken off. Any client can write
 * these headers: this is what the request claims, as OpenTelemetry's `client.address` means it.
 */
export function forwardedClient(forwarded: string | null, xForwardedFor: string | null): string | null {
  if (forwarded !== null) {
    const element = forwarded.split(',')[0]!;
    for (const pair of element.split(';')) {
      const eq = pair.indexOf('=');
      if (eq < 0 || pair.slice(0, eq).trim().toLowerCase() !== 'for') continue;
      const address = bareAddress(pair.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1'));
      if (address !== null) return address;
    }
  }
  if (xForwardedFor !== null) return bareAddress(xForwardedFor.split(',')[0]!.trim());
  return null;
}

/** `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]:4711`, `2001:db8::1` → the address; else null. */
function bareAddress(text: string): string | null {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    const inner = close > 0 ? text.slice(1, close) : '';
    return isIP(inner) === 6 ? inner.toLowerCase() : null;
  }
  if (isIP(text) !== 0) return text.toLowerCase();
  const colon = text.lastIndexOf(':');
  const host = colon > 0 ? text.slice(0, colon) : '';
  return isIP(host) === 4 ? host : null;
}
