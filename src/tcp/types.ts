import type { Counters } from '../util/counters.js';

/** 0: client → server (requests), 1: server → client (responses). */
export type Direction = 0 | 1;
export const CLIENT_TO_SERVER: Direction = 0;
export const SERVER_TO_CLIENT: Direction = 1;

export interface Endpoint {
  ip: string;
  port: number;
}

/** How a direction of a connection ended. */
export type EndReason = 'fin' | 'rst' | 'idle' | 'eof';

/** The input of the assembler: one TCP segment (DecodedPacket satisfies it). */
export interface TcpSegment {
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  payload: Uint8Array;
  /** The IPv4 identification (-1 or absent for IPv6) and the TCP checksum field: with them a copy of a packet seen again is told from a retransmission (copies.ts). */
  ipId?: number;
  tcpChecksum?: number;
}

/** Per-direction counters of one connection (Zeek conn.log style). */
export interface DirectionStats {
  packets: number;
  /** Payload bytes delivered in order to the handler (retransmissions excluded). */
  payloadBytes: number;
  retransmittedBytes: number;
  /** Packets seen a second time (copies.ts): dropped, not retransmissions. */
  copies: number;
  outOfOrderSegments: number;
  gaps: number;
  gapBytes: number;
}

/** A tracked TCP connection. The assembler owns it; handlers may read it at any time. */
export interface Flow {
  /** Sequential connection number in capture order, from 1. */
  readonly id: number;
  readonly client: Endpoint;
  readonly server: Endpoint;
  /** A SYN (or SYN-ACK) was seen, so roles are certain. */
  readonly handshake: boolean;
  /** µs timestamps of the first and the latest packet. */
  readonly startTs: number;
  readonly lastTs: number;
  /**
   * Absolute TCP sequence number of stream offset 0 per direction (ISN+1 when the SYN was seen,
   * else the first sequence number seen), or null before any byte of that direction.
   */
  readonly baseSeq: [number | null, number | null];
  readonly stats: [DirectionStats, DirectionStats];
  /** How each direction ended, null while open. */
  readonly ended: [EndReason | null, EndReason | null];
  /**
   * The server address the client dialed, when the capture saw this connection both before and after
   * destination NAT (`server` is then the address that answered); else null.
   */
  readonly dialedServer?: Endpoint | null;
  /**
   * The stream offset of direction `dir` that the other side has acknowledged so far (its highest ACK),
   * null before either is known. A parser can tell from it that an answer was sent before a request
   * had arrived: then it answers an earlier one. Optional for flows made by library users.
   */
  acknowledgedOffset?(dir: Direction): number | null;
  /** Whether swapRoles is still allowed (no data delivered to the handler yet). */
  readonly canSwapRoles: boolean;
  /**
   * Swap client and server roles (a protocol detector found the guess from ports wrong).
   * Only allowed before the handler consumed any data; later deliveries use the new roles.
   */
  swapRoles(): void;
}

/**
 * What a protocol implements per connection. `bytes` is valid only during the call (the assembler
 * may reuse or release it afterwards): copy what you keep. `offset` is the stream offset of the
 * first byte (counting gap bytes), so `flow.baseSeq[dir] + offset` (mod 2^32) is its sequence number.
 */
export interface StreamHandler {
  data(dir: Direction, bytes: Uint8Array, ts: number, offset: number): void;
  /** `lostBytes` bytes of this direction were never captured; -1 when the amount is unknown. */
  gap(dir: Direction, lostBytes: number, ts: number, offset: number): void;
  end(dir: Direction, reason: EndReason, ts: number): void;
  /** The connection is gone (both ends ended, flushed as idle, or end of capture). Last call. */
  close(ts: number): void;
}

export interface StreamFactory {
  open(flow: Flow): StreamHandler;
}

export interface AssemblerOptions {
  factory: StreamFactory;
  counters: Counters;
  /** Flush a connection after this much packet time without packets (µs). Default 600 s. */
  idleTimeoutUs?: number;
  /** Out-of-order bytes buffered per connection direction before a gap is forced. Default 4 MiB. */
  maxBufferedBytesPerConnection?: number;
  /** Out-of-order bytes buffered in total before the oldest buffers are forced out. Default 256 MiB. */
  maxBufferedBytesTotal?: number;
  /** Ports that are servers when no handshake was seen (lower port otherwise wins). */
  serverPorts?: ReadonlySet<number>;
  /** Called when a flow is closed and forgotten, after handler.close (for conn.log style listings). */
  onFlowClosed?: (flow: Flow) => void;
}
