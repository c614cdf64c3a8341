import type { Counters } from '../util/counters.js';
import type { Direction, EndReason, Endpoint, Flow, StreamFactory, StreamHandler } from '../tcp/types.js';
import { readProxyHeader } from './proxy-protocol.js';
import { ReversedFlow } from './reversed-flow.js';
import { detectTls } from './tls/detect.js';
import { TlsHandshakeObserver, type TlsHandshakeOutcome } from './tls/handshake-observer.js';
import type { TlsKeyLog } from './tls/keylog.js';
import { PlaintextFlow } from './tls/plaintext-flow.js';
import { TlsSession } from './tls/session.js';
import type { AnalyzerContext, Exchange, ProtocolAnalyzer, ProtocolHandler, ProtocolName, TlsInfo } from './types.js';

export interface DispatcherOptions {
  analyzers: readonly ProtocolAnalyzer[];
  counters: Counters;
  emit(exchange: Exchange): void;
  /** `--port http=8080,9000`: connections to these server ports skip detection. */
  portHints?: ReadonlyMap<number, ProtocolName>;
  /** Bytes per direction examined before a connection is declared unknown. Default 8 KiB. */
  maxDetectBytes?: number;
  /** A connection no analyzer takes: TLS (encrypted), or a protocol wirespan does not know. */
  onUnanalysed?(connection: UnanalysedConnection): void;
  /** Secrets of TLS sessions (`--tls-keylog`, pcapng Decryption Secrets Blocks): those sessions are decrypted and analysed. */
  tlsKeys?: TlsKeyLog;
  /**
   * Live capture: clients write a session's secrets after the capture saw its ClientHello, so every
   * TLS session is followed while the key log files are read again (TlsSessionOptions.waitForSecrets).
   */
  waitForTlsSecrets?: boolean;
}

/** A connection left unanalysed, and what is known of it. */
export interface UnanalysedConnection {
  kind: 'tls' | 'unknown';
  /** The server: the side a TLS ClientHello went to, else the side the TCP layer took for it. */
  server: Endpoint;
  /** TLS: the host name the client asked for (SNI), when it said. */
  serverName: string | null;
  /** TLS: the client, when its ClientHello was seen. */
  client?: Endpoint;
  /** TLS with its keys logged that could not be decrypted after all: why. */
  reason?: string;
  /** TLS not decrypted: how its handshake went, as far as the clear shows. */
  handshake?: TlsHandshakeOutcome;
}

/**
 * Chooses the protocol of each connection and hands its streams to that analyzer.
 *
 * Detection looks at content, not only ports: analyzers whose usual port is the server's are asked
 * first, then the others. Until one says yes, events are held (copied, bounded by maxDetectBytes);
 * then they are replayed into the analyzer's handler in the order they arrived. A detector can prove
 * the roles guessed from ports wrong (a response seen on the "client" side); the roles are then swapped
 * before anything is delivered.
 */
export class ProtocolDispatcher implements StreamFactory {
  private readonly byName = new Map<ProtocolName, ProtocolAnalyzer>();
  /**
   * Connections that had events since `oldestInFlightUs` last looked, or had an exchange in flight
   * then: an exchange begins or ends only inside an event, so the others (idle keep-alive
   * connections, however many) need no look.
   */
  private readonly watched = new Set<DetectingHandler>();

  constructor(private readonly opts: DispatcherOptions) {
    for (const a of opts.analyzers) this.byName.set(a.name, a);
  }

  open(flow: Flow): StreamHandler {
    const handler = new DetectingHandler(flow, this.candidatesFor(flow), this);
    const hinted = this.opts.portHints?.get(flow.server.port) ?? this.opts.portHints?.get(flow.client.port);
    const analyzer = hinted ? this.byName.get(hinted) : undefined;
    if (analyzer) {
      if (this.opts.portHints?.get(flow.server.port) !== hinted) flow.swapRoles();
      this.opts.counters.add(`protocols.connections.${analyzer.name}`);
      handler.startWith(analyzer.open(this.contextFor(flow, handler)));
    }
    return handler;
  }

  /**
   * Per server address, the start (µs) of the oldest exchange begun on an open connection and not
   * emitted yet (connections still being detected do not count); addresses with none are absent.
   */
  inFlightByServerIp(): Map<string, number> {
    const oldest = new Map<string, number>();
    for (const handler of this.watched) {
      const since = handler.inFlightSinceUs();
      if (since === null) {
        this.watched.delete(handler);
        continue;
      }
      const ip = handler.serverIp;
      const known = oldest.get(ip);
      if (known === undefined || since < known) oldest.set(ip, since);
    }
    return oldest;
  }

  /** @internal */
  touched(handler: DetectingHandler): void {
    this.watched.add(handler);
  }

  /** @internal */
  closed(handler: DetectingHandler): void {
    this.watched.delete(handler);
  }

  /** @internal */
  unanalysed(connection: UnanalysedConnection): void {
    this.opts.counters.add(connection.kind === 'tls' ? 'protocols.tls-connections' : 'protocols.unrecognised-connections');
    this.opts.onUnanalysed?.(connection);
  }

  /** @internal */
  contextFor(flow: Flow, connection: DetectingHandler): AnalyzerContext {
    const emit = this.opts.emit;
    const ctx: AnalyzerContext = {
      flow,
      emit: (x) => {
        if (connection.originalClient) x.originalClient = connection.originalClient;
        if (flow.dialedServer) x.dialedServer = flow.dialedServer;
        const tls = connection.tls?.info;
        if (tls) x.tls = tls;
        emit(x);
      },
      counters: this.opts.counters,
      openTunnel: () => {
        this.opts.counters.add('protocols.tunnels');
        const inner = new DetectingHandler(flow, this.candidatesFor(flow), this, 'tunnel');
        inner.originalClient = connection.originalClient;
        return inner;
      },
      startTls: (plaintext) => {
        if ((this.opts.tlsKeys?.size ?? 0) > 0 || this.waitsForSecrets) return this.tlsSession(flow, connection, plaintext);
        this.unanalysed({ kind: 'tls', server: { ...flow.server }, serverName: null });
        return null;
      },
      switchProtocol: (name, upgrade) => {
        const next = this.byName.get(name);
        if (!next) return null;
        this.opts.counters.add(`protocols.switched.${name}`);
        if (upgrade !== undefined && next.openUpgraded) return next.openUpgraded(ctx, upgrade);
        return next.open(ctx);
      },
    };
    return ctx;
  }

  /** @internal */
  get counters(): Counters {
    return this.opts.counters;
  }

  /** @internal */
  get maxDetectBytes(): number {
    return this.opts.maxDetectBytes ?? 8192;
  }

  /** @internal */
  get tlsKeys(): TlsKeyLog | undefined {
    return this.opts.tlsKeys;
  }

  private get waitsForSecrets(): boolean {
    return this.opts.waitForTlsSecrets === true && this.opts.tlsKeys?.followsFiles === true;
  }

  /** @internal Whether the session of this ClientHello random can be decrypted (its secrets are known, or may come). */
  mayDecrypt(clientRandom: string): boolean {
    return this.waitsForSecrets || this.opts.tlsKeys?.get(clientRandom) !== undefined;
  }

  /** @internal The handler of a decrypted TLS connection's plaintext: detection again, without PROXY headers or TLS. */
  openPlaintext(flow: Flow, outer: DetectingHandler): DetectingHandler {
    const inner = new DetectingHandler(new PlaintextFlow(flow), this.candidatesFor(flow), this, 'tls-plaintext');
    inner.originalClient = outer.originalClient;
    return inner;
  }

  /**
   * @internal A TLS session on `connection` whose plaintext goes to `plaintext`; its exchanges (and the
   * plaintext handler's, when it is another DetectingHandler) carry the session's TlsInfo.
   */
  tlsSession(flow: Flow, connection: DetectingHandler, plaintext: ProtocolHandler): TlsSession {
    const session: TlsSession = new TlsSession({
      keys: this.opts.tlsKeys!,
      counters: this.opts.counters,
      plaintext,
      waitForSecrets: this.waitsForSecrets,
      onUndecryptable: (reason, serverName, handshake) =>
        this.unanalysed({ kind: 'tls', server: { ...flow.server }, client: { ...flow.client }, serverName, reason, handshake }),
    });
    connection.tls = session;
    if (plaintext instanceof DetectingHandler) plaintext.tls = session;
    return session;
  }

  private candidatesFor(flow: Flow): ProtocolAnalyzer[] {
    const onPort = (a: ProtocolAnalyzer): boolean =>
      a.defaultPorts.includes(flow.server.port) || a.defaultPorts.includes(flow.client.port);
    return [...this.opts.analyzers.filter(onPort), ...this.opts.analyzers.filter((a) => !onPort(a))];
  }
}

type HeldEvent =
  | { kind: 'data'; dir: Direction; bytes: Uint8Array; ts: number; offset: number }
  | { kind: 'gap'; dir: Direction; lost: number; ts: number; offset: number }
  | { kind: 'end'; dir: Direction; reason: EndReason; ts: number };

/** What the handler of a TLS connection's plaintext knows of its session (filled in at its ServerHello). */
interface TlsSessionRef {
  info: TlsInfo | null;
}

/** Holds a connection's first events until an analyzer recognises them, then forwards to its handler. */
class DetectingHandler implements ProtocolHandler {
  private readonly held: HeldEvent[] = [];
  /** Bytes of each direction since its last gap: what detection looks at. */
  private readonly sample: [Uint8Array[], Uint8Array[]] = [[], []];
  private readonly sampleBytes = [0, 0];
  private readonly rejected: [Set<ProtocolAnalyzer>, Set<ProtocolAnalyzer>] = [new Set(), new Set()];
  private target: ProtocolHandler | null = null;
  private givenUp = false;
  /** The client a PROXY protocol header named; its exchanges carry it. */
  originalClient: Endpoint | null = null;
  /** The client stream's first bytes, while they may still be a PROXY header; null once decided. */
  private proxyCheck: { bytes: Uint8Array; ts: number; offset: number } | null = { bytes: new Uint8Array(0), ts: 0, offset: 0 };
  /** Events came since the dispatcher last asked what is in flight. */
  private touched = false;
  /**
   * The roles were proven reversed after the TCP layer had already delivered data under its guess
   * (the first segments were too short to tell): the analyzer sees a reversed view of the flow and
   * every later event's direction flipped.
   */
  private flipped = false;

  constructor(
    private readonly flow: Flow,
    private readonly candidates: ProtocolAnalyzer[],
    private readonly dispatcher: ProtocolDispatcher,
    /**
     * What the bytes are: a TCP connection's; the plaintext of a decrypted TLS session (no PROXY
     * header, no TLS inside); an HTTP CONNECT tunnel's (no PROXY header).
     */
    private readonly carrying: 'connection' | 'tls-plaintext' | 'tunnel' = 'connection',
  ) {
    if (carrying !== 'connection') this.proxyCheck = null;
  }

  /** The TLS session this connection's exchanges were decrypted from, once there is one. */
  tls: TlsSessionRef | null = null;

  data(dir: Direction, bytes: Uint8Array, ts: number, offset: number): void {
    if (!this.touched) this.touch();
    if (dir === 0 && this.proxyCheck) return this.stripProxyHeader(bytes, ts, offset);
    if (this.target) return this.target.data(this.flipped ? other(dir) : dir, bytes, ts, offset);
    if (this.givenUp) return this.dispatcher.counters.add(UNRECOGNISED_BYTES, bytes.length);
    const copy = bytes.slice();
    this.held.push({ kind: 'data', dir, bytes: copy, ts, offset });
    this.sample[dir].push(copy);
    this.sampleBytes[dir] += copy.length;
    this.detect(dir);
  }

  gap(dir: Direction, lost: number, ts: number, offset: number): void {
    if (!this.touched) this.touch();
    if (dir === 0) this.endProxyCheck();
    if (this.target) return this.target.gap(this.flipped ? other(dir) : dir, lost, ts, offset);
    if (this.givenUp) return;
    this.held.push({ kind: 'gap', dir, lost, ts, offset });
    this.sample[dir] = [];
    this.sampleBytes[dir] = 0;
    this.rejected[dir].clear();
  }

  end(dir: Direction, reason: EndReason, ts: number): void {
    if (!this.touched) this.touch();
    if (dir === 0) this.endProxyCheck();
    if (this.target) return this.target.end(this.flipped ? other(dir) : dir, reason, ts);
    if (this.givenUp) return;
    this.held.push({ kind: 'end', dir, reason, ts });
  }

  close(ts: number): void {
    this.endProxyCheck();
    this.dispatcher.closed(this);
    if (this.target) return this.target.close(ts);
    if (!this.givenUp && this.held.some((e) => e.kind === 'data')) this.giveUp();
  }

  /**
   * A PROXY protocol header (a load balancer's, naming the client it accepted) at the start of the
   * client stream is taken off before any analyzer sees the stream; later bytes keep their offsets.
   */
  private stripProxyHeader(bytes: Uint8Array, ts: number, offset: number): void {
    const check = this.proxyCheck!;
    const joined = check.bytes.length === 0 ? bytes : concat([check.bytes, bytes], check.bytes.length + bytes.length);
    const start = check.bytes.length === 0 ? { ts, offset } : check;
    const header = readProxyHeader(joined);
    if (header.kind === 'more') {
      this.proxyCheck = { bytes: joined.slice(), ts: start.ts, offset: start.offset };
      return;
    }
    this.proxyCheck = null;
    if (header.kind === 'none') return this.data(0, joined, start.ts, start.offset);
    this.originalClient = header.source;
    this.dispatcher.counters.add(`protocols.proxy-protocol-v${header.version}`);
    if (joined.length > header.length) this.data(0, joined.subarray(header.length), ts, start.offset + header.length);
  }

  /** The client stream goes on without its first bytes (a gap, its end): what was held is data. */
  private endProxyCheck(): void {
    const check = this.proxyCheck;
    this.proxyCheck = null;
    if (check && check.bytes.length > 0) this.data(0, check.bytes, check.ts, check.offset);
  }

  get serverIp(): string {
    return this.flipped ? this.flow.client.ip : this.flow.server.ip;
  }

  /** Port hints: the protocol is known before any byte. */
  startWith(target: ProtocolHandler): void {
    this.target = target;
  }

  /**
   * A connection still being detected counts for nothing: a message is recognised as soon as its first
   * line is complete, within the correlator's settle time, while an unknown protocol (a one-way syslog
   * stream, say) may stay undecided until 8 KiB have passed and must not hold every trace back.
   */
  inFlightSinceUs(): number | null {
    this.touched = false;
    return this.oldestInFlightUs();
  }

  oldestInFlightUs(): number | null {
    return this.target ? this.target.oldestInFlightUs() : null;
  }

  private touch(): void {
    this.touched = true;
    this.dispatcher.touched(this);
  }

  private detect(dir: Direction): void {
    const bytes = concat(this.sample[dir], this.sampleBytes[dir]);
    this.sample[dir] = [bytes];
    let undecided = false;
    for (const analyzer of this.candidates) {
      if (this.rejected[dir].has(analyzer)) continue;
      const verdict = safeDetect(analyzer, bytes, dir);
      if (verdict === 'yes') return this.start(analyzer, analyzer.reversed?.(bytes, dir) === true);
      if (verdict === 'no') this.rejected[dir].add(analyzer);
      else undecided = true;
    }
    const tls = this.carrying === 'tls-plaintext' ? ({ tls: 'no' } as const) : detectTls(bytes);
    if (tls.tls === 'yes') {
      // A ClientHello goes to the server; a ServerHello comes from it.
      const towardsServer = bytes[5] === 0x01 ? dir === 0 : dir === 1;
      if (tls.clientRandom !== null && this.dispatcher.mayDecrypt(tls.clientRandom)) {
        return this.startHandler(!towardsServer, 'tls', (flow) => this.dispatcher.tlsSession(flow, this, this.dispatcher.openPlaintext(flow, this)));
      }
      if (tls.clientRandom !== null && (this.dispatcher.tlsKeys?.size ?? 0) > 0) this.dispatcher.counters.add('tls.sessions-without-keys');
      return this.observeTls(towardsServer ? 0 : 1, {
        kind: 'tls',
        server: towardsServer ? this.flow.server : this.flow.client,
        client: towardsServer ? this.flow.client : this.flow.server,
        serverName: tls.serverName,
      });
    }
    if (tls.tls === 'more') undecided = true;
    const exhausted = (d: Direction): boolean =>
      this.rejected[d].size === this.candidates.length || this.sampleBytes[d] >= this.dispatcher.maxDetectBytes;
    if ((!undecided || this.sampleBytes[dir] >= this.dispatcher.maxDetectBytes) && exhausted(0) && exhausted(1)) {
      this.giveUp();
    } else if (this.sampleBytes[0] + this.sampleBytes[1] >= 4 * this.dispatcher.maxDetectBytes) {
      this.giveUp();
    }
  }

  private start(analyzer: ProtocolAnalyzer, reversed: boolean): void {
    this.startHandler(reversed, analyzer.name, (flow) => analyzer.open(this.dispatcher.contextFor(flow, this)));
  }

  private startHandler(reversed: boolean, name: string, open: (flow: Flow) => ProtocolHandler): void {
    let flow = this.flow;
    if (reversed) {
      if (this.flow.canSwapRoles) this.flow.swapRoles();
      else {
        flow = new ReversedFlow(this.flow);
        this.flipped = true;
      }
    }
    const counters = this.dispatcher.counters;
    counters.add(`protocols.connections.${name}`);
    if (reversed) counters.add('protocols.roles-swapped');
    this.handOver(open(flow), reversed);
  }

  /** TLS without its secrets: not analysed, but its handshake is followed in the clear and told with it. */
  private observeTls(clientDir: Direction, connection: UnanalysedConnection): void {
    const server = { ...connection.server };
    const client = connection.client ? { ...connection.client } : undefined;
    const observer = new TlsHandshakeObserver(clientDir, this.dispatcher.counters, (handshake) =>
      this.dispatcher.unanalysed({ ...connection, server, ...(client ? { client } : {}), handshake }),
    );
    this.handOver(observer, false);
  }

  /** From now on events go to `target`; those held so far first, in the order they came. */
  private handOver(target: ProtocolHandler, reversed: boolean): void {
    this.target = target;
    const flip = (d: Direction): Direction => (reversed ? other(d) : d);
    for (const e of this.held.splice(0)) {
      if (e.kind === 'data') target.data(flip(e.dir), e.bytes, e.ts, e.offset);
      else if (e.kind === 'gap') target.gap(flip(e.dir), e.lost, e.ts, e.offset);
      else target.end(flip(e.dir), e.reason, e.ts);
    }
    this.sample[0] = [];
    this.sample[1] = [];
  }

  /** No analyzer takes the connection (TLS goes to observeTls): it is counted and its bytes skipped. */
  private giveUp(): void {
    this.givenUp = true;
    const bytes = this.held.reduce((n, e) => n + (e.kind === 'data' ? e.bytes.length : 0), 0);
    this.held.length = 0;
    this.sample[0] = [];
    this.sample[1] = [];
    this.dispatcher.unanalysed({ kind: 'unknown', server: { ...this.flow.server }, serverName: null });
    this.dispatcher.counters.add(UNRECOGNISED_BYTES, bytes);
  }
}

/** Bytes of connections no analyzer took. */
const UNRECOGNISED_BYTES = 'protocols.unrecognised-bytes';

function other(dir: Direction): Direction {
  return dir === 0 ? 1 : 0;
}

function safeDetect(analyzer: ProtocolAnalyzer, bytes: Uint8Array, dir: Direction): 'yes' | 'no' | 'more' {
  try {
    return analyzer.detect(bytes, dir);
  } catch {
    return 'no';
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
