import { TCP_ACK, TCP_SYN } from '../decode/types.js';

/** A port in the range operating systems pick client ports from, relative to the other port. */
function isEphemeralAgainst(port: number, other: number): boolean {
  return port >= 32768 || (port >= 1024 && other < 1024);
}

/**
 * Whether the destination of the first packet seen on a connection is the server.
 * SYN → its sender is the client; SYN-ACK → its sender is the server; otherwise a configured
 * server port wins, then the lower port when the other one looks ephemeral, and as a last resort
 * the first packet is taken to be sent by the client.
 */
export function destinationIsServer(
  flags: number,
  srcPort: number,
  dstPort: number,
  serverPorts?: ReadonlySet<number>,
): boolean {
  if (flags & TCP_SYN) return (flags & TCP_ACK) === 0;
  const srcListed = serverPorts?.has(srcPort) ?? false;
  const dstListed = serverPorts?.has(dstPort) ?? false;
  if (srcListed !== dstListed) return dstListed;
  if (dstPort < srcPort && isEphemeralAgainst(srcPort, dstPort)) return true;
  if (srcPort < dstPort && isEphemeralAgainst(dstPort, srcPort)) return false;
  return true;
}
