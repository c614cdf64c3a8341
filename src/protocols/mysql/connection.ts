import type { AnalyzerContext, Exchange, MysqlRequestInfo, ProtocolHandler } from '../types.js';
import type { Direction, EndReason } from '../../tcp/types.js';
import {
  CLIENT_COMPRESS,
  CLIENT_DEPRECATE_EOF,
  CLIENT_QUERY_ATTRIBUTES,
  CLIENT_SECURE_CONNECTION,
  CLIENT_SSL,
  COM_BINLOG_DUMP,
  COM_CHANGE_USER,
  COM_FIELD_LIST,
  COM_INIT_DB,
  COM_PROCESS_KILL,
  COM_QUERY,
  COM_RESET_CONNECTION,
  COM_SET_OPTION,
  COM_STMT_CLOSE,
  COM_STMT_BULK_EXECUTE,
  COM_STMT_EXECUTE,
  COM_STMT_FETCH,
  COM_STMT_PREPARE,
  COM_STMT_RESET,
  COM_STMT_SEND_LONG_DATA,
  ERR_HEADER,
  NO_RESPONSE_COMMANDS,
  commandName,
} from './constants.js';
import { detectGreeting, isBinlogEventPayload, looksLikeBinlogEvent, looksLikeCommand, looksLikeCompressedCommand, looksLikeSql } from './detect.js';
import { COMPRESSED_HEADER_LENGTH, CompressedDeframer, PacketFramer, type MysqlPacket } from './framing.js';
import { placeholderCount, readExecuteParams } from './execute-params.js';
import { normalizeSql } from './normalize.js';
import { commandText, parseChangeUser, queryTextStart, statementIdOf } from './requests.js';
import { LOGIN_COMMAND, ResponseReader } from './response.js';
import { PayloadReader, parseGreeting, parseHandshakeResponse, readU24 } from './wire.js';

export interface MysqlAnalyzerOptions {
  /** SQL text kept per command; longer text is cut and the exchange gets a note. Default 1 MiB. */
  maxSqlBytes?: number;
}

/**
 * MysqlRequestInfo plus the command's argument when it is not SQL (Zeek's `arg`): the user of
 * LOGIN / CHANGE_USER, the schema of INIT_DB, the table of FIELD_LIST, the id of PROCESS_KILL.
 */
export interface MysqlCommandInfo extends MysqlRequestInfo {
  argument: string | null;
}

/** Bytes of a response packet kept (enough for OK, ERR, EOF, PREPARE OK and greetings). */
const RESPONSE_KEEP_BYTES = 4096;
/** Room for the query-attribute block in front of the SQL text. */
const QUERY_ATTRIBUTE_ALLOWANCE = 4096;
/** Statement id MariaDB uses in a pipelined EXECUTE for "the statement prepared just before". */
const LAST_PREPARED_STATEMENT = 0xffffffff;

/** An SQL-level PREPARE: it takes a statement id from the same count as COM_STMT_PREPARE. */
const SQL_PREPARE = /^\s*PREPARE\s/i;
const USE_STATEMENT = /^\s*(?:\/\*[\s\S]*?\*\/\s*)*use\s+(?:`([^`]+)`|([^\s;`]+))/i;

type Phase = 'start' | 'await-greeting' | 'await-login' | 'commands' | 'encrypted';

interface PendingExchange {
  index: number;
  code: number;
  request: MysqlCommandInfo;
  contextText: string | null;
  startUs: number;
  requestEndUs: number;
  requestSeq: number | null;
  requestBytes: number;
  responseStartUs: number | null;
  endUs: number | null;
  responseBytes: number;
  notes: string[];
  reader: ResponseReader;
  /** Schema that becomes current when the command succeeds (INIT_DB, USE, CHANGE_USER, LOGIN). */
  switchesDatabase: string | null;
  /** An EXECUTE's parameter values (Exchange.linkValues). */
  linkValues?: readonly string[];
}

interface DirectionState {
  framer: PacketFramer;
  deframer: CompressedDeframer | null;
  /** Packet boundaries are known. */
  synced: boolean;
}

/** One MySQL connection: login, then one exchange per command. */
export class MysqlConnection implements ProtocolHandler {
  private phase: Phase = 'start';
  private readonly directions: [DirectionState, DirectionState];
  /** Negotiated capabilities; null when the login was not captured. */
  private capabilities: number | null = null;
  private serverCapabilities = 0;
  private database: string | null = null;
  private readonly statements = new Map<number, string>();
  private lastPreparedSql: string | null = null;
  /**
   * The id the server gives the next prepared statement, when known: servers number a connection's
   * statements 1, 2, 3... (a failed PREPARE uses one too), so a PREPARE whose answer the capture lost
   * still tells which id its SQL has. Unknown before a login or an answered PREPARE, and after an
   * SQL-level PREPARE (it takes ids from the same count).
   */
  private nextStatementId: number | null = null;
  /** Statement ids known only that way. */
  private readonly inferredStatements = new Set<number>();
  /** Per statement id: its parameter count (from the PREPARE answer) and the types last sent for them. */
  private readonly statementParams = new Map<number, { count: number; types: number[] | null }>();
  private readonly pending: PendingExchange[] = [];
  private nextIndex = 0;
  /** Set while handling a packet that turns compression on, so the framing loop stops after it. */
  private compressionStarting = false;
  /** After an SSL request whose session can be decrypted: the raw bytes go there, the plaintext comes back. */
  private tls: ProtocolHandler | null = null;
  private tlsStarting = false;

  constructor(
    private readonly ctx: AnalyzerContext,
    private readonly maxSqlBytes: number,
  ) {
    this.directions = [
      { framer: new PacketFramer(maxSqlBytes + QUERY_ATTRIBUTE_ALLOWANCE), deframer: null, synced: false },
      { framer: new PacketFramer(RESPONSE_KEEP_BYTES), deframer: null, synced: false },
    ];
  }

  /**
   * A binary log stream is not in flight for the correlator: it lasts as long as the replica does,
   * and nothing waits for a database's answers to make calls of its own.
   */
  oldestInFlightUs(): number | null {
    const head = this.pending[0];
    return head === undefined || head.reader.streaming ? null : head.startUs;
  }

  data(dir: Direction, bytes: Uint8Array, ts: number, offset: number): void {
    if (this.tls) return this.tls.data(dir, bytes, ts, offset);
    this.receive(dir, bytes, ts, offset);
  }

  private receive(dir: Direction, bytes: Uint8Array, ts: number, offset: number): void {
    if (this.phase === 'encrypted' || bytes.length === 0) return;
    if (this.phase === 'start') this.begin(dir, bytes);
    const state = this.directions[dir];
    if (!state.synced && !this.trySync(dir, bytes)) {
      this.count(dir === 0 ? 'unsynced-request-bytes' : 'unsynced-response-bytes', bytes.length);
      if (dir === 1) this.count('responses-without-request');
      return;
    }
    this.feed(dir, bytes, ts, offset);
  }

  gap(dir: Direction, lostBytes: number, ts: number, offset: number): void {
    if (this.tls) return this.tls.gap(dir, lostBytes, ts, offset);
    this.lost(dir, ts);
  }

  private lost(dir: Direction, ts: number): void {
    if (this.phase === 'encrypted') return;
    this.count('gaps');
    const state = this.directions[dir];
    if (state.framer.partial) this.count(dir === 0 ? 'requests-cut-by-gap' : 'responses-cut-by-gap');
    state.framer.reset();
    state.deframer?.reset();
    state.synced = false;
    if (this.phase !== 'commands') this.phase = 'commands'; // a login cut by a gap cannot be followed
    if (dir === 0) {
      for (const x of this.pending) x.notes.push('gap in request stream');
    } else {
      this.flush('gap in response stream');
    }
  }

  end(_dir: Direction, _reason: EndReason, _ts: number): void {
    // Pending exchanges wait for close: the other direction may still deliver their responses.
  }

  close(ts: number): void {
    this.tls?.close(ts);
    if (this.directions[0].framer.partial) this.count('requests-cut-at-end');
    this.flush(null);
  }

  private begin(dir: Direction, bytes: Uint8Array): void {
    if (dir === 1 && detectGreeting(bytes) !== 'no') {
      this.phase = 'await-greeting';
      this.directions[0].synced = true;
      this.directions[1].synced = true;
    } else {
      this.phase = 'commands';
      this.count('midstream-connections');
    }
  }

  private trySync(dir: Direction, bytes: Uint8Array): boolean {
    const state = this.directions[dir];
    if (dir === 0) {
      const queryAttributes = this.capabilities === null ? undefined : (this.capabilities & CLIENT_QUERY_ATTRIBUTES) !== 0;
      if (state.deframer) {
        state.synced = looksLikeCompressedCommand(bytes, 0);
      } else if (looksLikeCommand(bytes, 0, { mustFillChunk: true, queryAttributes })) {
        state.synced = true;
      } else if (this.capabilities === null && looksLikeCompressedCommand(bytes, 0)) {
        this.startCompression();
        state.synced = true;
      }
      return state.synced;
    }
    const head = this.pending[0];
    if (!head && looksLikeBinlogEvent(bytes, 0)) return (state.synced = true);
    if (!head || head.responseStartUs !== null || head.reader.awaitingClient) return false;
    if (state.deframer) {
      // A stored frame shows the inner sequence id; a zlib one is taken on trust.
      const stored = bytes.length > COMPRESSED_HEADER_LENGTH + 4 && readU24(bytes, 4) === 0;
      state.synced = stored ? bytes[COMPRESSED_HEADER_LENGTH + 3] === 1 : bytes[COMPRESSED_HEADER_LENGTH] === 0x78;
    } else {
      state.synced = bytes.length >= 4 && bytes[3] === 1;
    }
    return state.synced;
  }

  private startCompression(): void {
    this.count('compressed-connections');
    for (const state of this.directions) {
      state.deframer = new CompressedDeframer();
      state.framer.reset();
    }
  }

  private feed(dir: Direction, bytes: Uint8Array, ts: number, offset: number): void {
    const state = this.directions[dir];
    if (state.deframer) {
      state.deframer.push(
        bytes,
        ts,
        offset,
        (frame) => this.feedPackets(dir, frame.bytes, frame.startTs, frame.endTs, frame.offset, false),
        (reason) => {
          this.count(reason);
          state.framer.reset();
        },
      );
      return;
    }
    this.feedPackets(dir, bytes, ts, ts, offset, true);
  }

  private feedPackets(dir: Direction, bytes: Uint8Array, firstTs: number, lastTs: number, offset: number, exact: boolean): void {
    const framer = this.directions[dir].framer;
    framer.push(bytes, firstTs, lastTs, offset, exact);
    for (let packet = framer.next(); packet; packet = framer.next()) {
      this.onPacket(dir, packet);
      if (this.tlsStarting) {
        // What follows the SSL request (often in the same segment) is the TLS handshake.
        this.tlsStarting = false;
        const rest = framer.takeRest();
        for (const state of this.directions) {
          state.framer.reset();
          state.synced = true;
        }
        if (rest.length > 0) this.tls!.data(dir, rest, lastTs, offset + (bytes.length - rest.length));
        return;
      }
      if (this.phase === 'encrypted') {
        framer.reset();
        return;
      }
      if (this.compressionStarting) {
        this.compressionStarting = false;
        const rest = framer.takeRest();
        this.startCompression();
        if (rest.length > 0) this.feed(dir, rest, lastTs, offset + (bytes.length - rest.length));
        return;
      }
    }
  }

  /** Where the TLS session (after an SSL request) hands the decrypted bytes: this connection, as in the clear. */
  private plaintext(): ProtocolHandler {
    return {
      data: (dir, bytes, ts, offset) => this.receive(dir, bytes, ts, offset),
      gap: (dir, _lost, ts) => this.lost(dir, ts),
      end: () => {},
      close: () => {},
      oldestInFlightUs: () => null,
    };
  }

  private onPacket(dir: Direction, packet: MysqlPacket): void {
    switch (this.phase) {
      case 'await-greeting':
        if (dir === 1) this.onGreeting(packet);
        else this.count('client-packets-before-greeting');
        return;
      case 'await-login':
        if (dir === 0) this.onHandshakeResponse(packet);
        else this.count('responses-without-request');
        return;
      default:
        if (dir === 0) this.onClientPacket(packet);
        else this.onServerPacket(packet);
    }
  }

  private onGreeting(packet: MysqlPacket): void {
    if (packet.payload[0] === ERR_HEADER) {
      // The server refused the connection before any login (too many connections, host blocked).
      const x = this.open(LOGIN_COMMAND, packet, { sql: null, argument: null });
      x.requestBytes = 0;
      x.requestSeq = null;
      this.onServerPacket(packet);
      this.phase = 'commands';
      return;
    }
    const greeting = parseGreeting(packet.payload);
    if (!greeting) {
      this.count('malformed-greetings');
      this.phase = 'commands';
      return;
    }
    this.serverCapabilities = greeting.capabilities;
    this.phase = 'await-login';
  }

  private onHandshakeResponse(packet: MysqlPacket): void {
    const response = parseHandshakeResponse(packet.payload, CLIENT_SSL);
    if (!response) {
      this.count('malformed-handshake-responses');
      this.phase = 'commands';
      return;
    }
    if (response.sslRequest) {
      this.count('encrypted-connections');
      this.phase = 'encrypted';
      this.tls = this.ctx.startTls?.(this.plaintext()) ?? null;
      // Inside TLS the client sends its real HandshakeResponse, then commands, as in the clear.
      if (this.tls) {
        this.count('tls-handed-over');
        this.phase = 'await-login';
        this.tlsStarting = true;
      }
      return;
    }
    this.capabilities = (response.capabilities & (this.serverCapabilities || 0xffffffff)) >>> 0;
    this.phase = 'commands';
    const x = this.open(LOGIN_COMMAND, packet, { sql: null, argument: response.user });
    x.request.database = response.database;
    x.switchesDatabase = response.database;
  }

  private onClientPacket(packet: MysqlPacket): void {
    if (packet.seq !== 0) {
      const current = this.pending.find((x) => x.reader.awaitingClient);
      if (!current) {
        this.count('unexpected-client-packets');
        return;
      }
      current.reader.clientPacket(packet);
      current.requestEndUs = packet.endTs;
      current.requestBytes += packet.wireBytes;
      return;
    }
    if (packet.length === 0) {
      this.count('malformed-packets');
      return;
    }
    const code = packet.payload[0]!;
    const x = this.open(code, packet, this.describeCommand(code, packet));
    if (NO_RESPONSE_COMMANDS.has(code)) {
      this.pending.pop();
      this.emit(x);
    }
  }

  private onServerPacket(packet: MysqlPacket): void {
    for (;;) {
      const head = this.pending[0] ?? this.binlogStreamBeforeCapture(packet);
      if (!head) {
        this.count('responses-without-request');
        return;
      }
      const step = head.reader.accept(packet);
      if (step === 'not-mine') {
        this.finish();
        continue;
      }
      head.responseStartUs ??= packet.startTs;
      head.endUs = packet.endTs;
      head.responseBytes += packet.wireBytes;
      if (step === 'done') this.finish();
      return;
    }
  }

  /** A replica's binary log stream whose BINLOG_DUMP came before the capture: an exchange from its first event. */
  private binlogStreamBeforeCapture(packet: MysqlPacket): PendingExchange | undefined {
    if (this.nextIndex !== 0 || !isBinlogEventPayload(packet.payload, packet.length)) return undefined;
    const x = this.open(COM_BINLOG_DUMP, packet, { sql: null, argument: null });
    x.requestBytes = 0;
    x.requestSeq = null;
    x.notes.push('request before capture');
    this.count('binlog-streams-before-capture');
    return x;
  }

  private open(code: number, packet: MysqlPacket, described: { sql: string | null; argument: string | null }): PendingExchange {
    // Offsets inside TLS count plaintext bytes: they map to no TCP sequence number.
    const base = this.tls ? null : this.ctx.flow.baseSeq[0];
    const capabilities = this.capabilities;
    const x: PendingExchange = {
      index: this.nextIndex++,
      code,
      request: {
        command: code === LOGIN_COMMAND ? 'LOGIN' : commandName(code),
        sql: described.sql,
        normalizedSql: described.sql === null ? null : normalizeSql(described.sql),
        statementId: null,
        database: this.database,
        argument: described.argument,
      },
      contextText: code === COM_QUERY || code === COM_STMT_PREPARE ? described.sql : null,
      startUs: packet.startTs,
      requestEndUs: packet.endTs,
      requestSeq: base === null ? null : (base + packet.startOffset) % 0x100000000,
      requestBytes: packet.wireBytes,
      responseStartUs: null,
      endUs: null,
      responseBytes: 0,
      notes: [],
      reader: new ResponseReader(code, capabilities === null ? null : (capabilities & CLIENT_DEPRECATE_EOF) !== 0),
      switchesDatabase: null,
    };
    if (described.sql !== null && packet.length > packet.payload.length) {
      x.notes.push(`sql truncated at ${this.maxSqlBytes} bytes`);
      this.count('sql-truncated');
    }
    this.pending.push(x);
    if (code !== LOGIN_COMMAND) this.completeRequest(x, packet);
    return x;
  }

  private describeCommand(code: number, packet: MysqlPacket): { sql: string | null; argument: string | null } {
    const payload = packet.payload;
    switch (code) {
      case COM_QUERY: {
        const start = this.queryStart(payload);
        if (start < 0) this.count('malformed-query-attributes');
        return { sql: commandText(payload, Math.max(1, start), false), argument: null };
      }
      case COM_STMT_PREPARE:
        return { sql: commandText(payload, 1, false), argument: null };
      case COM_INIT_DB:
        return { sql: null, argument: commandText(payload, 1, false) };
      case COM_FIELD_LIST:
        return { sql: null, argument: commandText(payload, 1, true) };
      case COM_PROCESS_KILL:
        return { sql: null, argument: String(statementIdOf(payload) ?? '') };
      case COM_SET_OPTION:
        return { sql: null, argument: String(new PayloadReader(payload, 1).u16()) };
      case COM_CHANGE_USER: {
        const secure = ((this.capabilities ?? CLIENT_SECURE_CONNECTION) & CLIENT_SECURE_CONNECTION) !== 0;
        return { sql: null, argument: parseChangeUser(payload, secure)?.user ?? null };
      }
      default:
        return { sql: null, argument: null };
    }
  }

  /** With query attributes unknown (no login seen), the text is where SQL plausibly starts. */
  private queryStart(payload: Uint8Array): number {
    if (this.capabilities !== null) return queryTextStart(payload, (this.capabilities & CLIENT_QUERY_ATTRIBUTES) !== 0);
    if (looksLikeSql(payload, 1, Math.min(payload.length, 64))) return 1;
    return queryTextStart(payload, true);
  }

  /** Per-command bookkeeping once the request is known: statements, schema switches. */
  private completeRequest(x: PendingExchange, packet: MysqlPacket): void {
    switch (x.code) {
      case COM_QUERY: {
        const use = x.request.sql === null ? null : USE_STATEMENT.exec(x.request.sql);
        if (use) x.switchesDatabase = use[1] ?? use[2] ?? null;
        if (x.request.sql !== null && SQL_PREPARE.test(x.request.sql)) this.nextStatementId = null;
        return;
      }
      case COM_INIT_DB:
        x.switchesDatabase = x.request.argument;
        return;
      case COM_CHANGE_USER: {
        const secure = ((this.capabilities ?? CLIENT_SECURE_CONNECTION) & CLIENT_SECURE_CONNECTION) !== 0;
        x.switchesDatabase = parseChangeUser(packet.payload, secure)?.database ?? null;
        this.nextStatementId = null; // a new session: whether numbering restarts is the server's affair
        return;
      }
      case COM_RESET_CONNECTION:
        this.nextStatementId = null;
        return;
      case COM_STMT_PREPARE:
        this.lastPreparedSql = x.request.sql;
        return;
      case COM_STMT_EXECUTE:
        this.resolveStatement(x, statementIdOf(packet.payload));
        this.readParams(x, packet.payload);
        return;
      case COM_STMT_CLOSE:
      case COM_STMT_RESET:
      case COM_STMT_FETCH:
      case COM_STMT_SEND_LONG_DATA:
      case COM_STMT_BULK_EXECUTE:
        this.resolveStatement(x, statementIdOf(packet.payload));
        return;
    }
  }

  private resolveStatement(x: PendingExchange, id: number | null): void {
    x.request.statementId = id;
    const sql = id === LAST_PREPARED_STATEMENT ? this.lastPreparedSql : id === null ? null : (this.statements.get(id) ?? null);
    // A PREPARE still waiting for its answer gets its id then; EXECUTE pipelined behind it is resolved at emit.
    if (sql !== null) this.setStatementSql(x, sql);
    if (x.code === COM_STMT_CLOSE && id !== null) {
      this.statements.delete(id);
      this.statementParams.delete(id);
    }
  }

  /** An EXECUTE's parameters, for the correlator (not with query attributes, which change the layout). */
  private readParams(x: PendingExchange, payload: Uint8Array): void {
    const id = x.request.statementId;
    const params = id === null ? undefined : this.statementParams.get(id);
    if (!params || this.capabilities === null || (this.capabilities & CLIENT_QUERY_ATTRIBUTES) !== 0) return;
    const read = readExecuteParams(payload, params.count, params.types);
    if (read === null) return;
    params.types = read.types;
    x.linkValues = read.values.filter((v): v is string => v !== null);
  }

  private setStatementSql(x: PendingExchange, sql: string): void {
    x.request.sql = sql;
    x.request.normalizedSql = normalizeSql(sql);
  }

  /** The head exchange's response is complete. */
  private finish(): void {
    const x = this.pending.shift()!;
    this.emit(x);
  }

  private emit(x: PendingExchange): void {
    const reader = x.reader;
    const answered = reader.finished;
    if (answered && reader.ok) this.applySuccess(x);
    if (x.code === COM_STMT_PREPARE && !(answered && reader.ok)) this.preparedWithoutId(x, answered);
    if (x.request.statementId !== null && x.request.sql === null && x.code !== COM_STMT_PREPARE) {
      const sql = this.statements.get(x.request.statementId);
      if (sql !== undefined) this.setStatementSql(x, sql);
      else {
        x.notes.push('statement prepared before capture');
        this.count('statements-prepared-before-capture');
      }
    }
    if (x.code !== COM_STMT_PREPARE && x.request.statementId !== null && this.inferredStatements.has(x.request.statementId)) {
      x.notes.push('statement id inferred: the answer to its PREPARE was lost');
    }
    if (reader.results > 1) x.notes.push(`${reader.results} result sets`);
    if (reader.malformed > 0) this.count('malformed-packets', reader.malformed);
    const hasResponse = x.responseStartUs !== null;
    if (!answered && reader.streaming) x.notes.push('binlog stream still open');
    else if (!answered && hasResponse) x.notes.push('response incomplete');
    if (answered && !reader.ok) this.count('errors');
    this.count('exchanges');
    const exchange: Exchange = {
      protocol: 'mysql',
      connectionId: this.ctx.flow.id,
      client: this.ctx.flow.client,
      server: this.ctx.flow.server,
      index: x.index,
      requestSeq: x.requestSeq,
      streamId: null,
      startUs: x.startUs,
      requestEndUs: x.requestEndUs,
      responseStartUs: x.responseStartUs,
      endUs: x.endUs,
      request: x.request,
      response: hasResponse ? reader.info() : null,
      requestHeaders: [],
      responseHeaders: [],
      contextText: x.contextText,
      bytes: { request: x.requestBytes, response: x.responseBytes },
      notes: x.notes,
      linkValues: x.linkValues,
    };
    this.ctx.emit(exchange);
  }

  private applySuccess(x: PendingExchange): void {
    if (x.switchesDatabase !== null) this.database = x.switchesDatabase;
    if (x.code === LOGIN_COMMAND) {
      if (this.capabilities !== null && this.capabilities & CLIENT_COMPRESS) this.compressionStarting = true;
      this.nextStatementId = 1;
    } else if (x.code === COM_STMT_PREPARE) {
      const prepared = x.reader.prepared;
      if (prepared && x.request.sql !== null) {
        x.request.statementId = prepared.statementId;
        this.statements.set(prepared.statementId, x.request.sql);
        this.statementParams.set(prepared.statementId, { count: prepared.params, types: null });
        this.inferredStatements.delete(prepared.statementId);
      }
      this.nextStatementId = prepared ? prepared.statementId + 1 : null;
    }
  }

  /** A PREPARE that failed (it used an id all the same) or whose answer was lost (it got the next id). */
  private preparedWithoutId(x: PendingExchange, answered: boolean): void {
    const prepared = x.reader.prepared;
    if (prepared && x.request.sql !== null) {
      // The answer's first packet was read (its column definitions were not): the id is known.
      x.request.statementId = prepared.statementId;
      this.statements.set(prepared.statementId, x.request.sql);
      this.statementParams.set(prepared.statementId, { count: prepared.params, types: null });
      this.nextStatementId = prepared.statementId + 1;
      return;
    }
    const id = this.nextStatementId;
    if (id === null) return;
    this.nextStatementId = id + 1;
    if (answered || x.request.sql === null) return;
    x.request.statementId = id;
    x.notes.push('statement id inferred: the answer was lost');
    this.statements.set(id, x.request.sql);
    this.statementParams.set(id, { count: placeholderCount(x.request.sql), types: null });
    this.inferredStatements.add(id);
    this.count('statement-ids-inferred');
  }

  /** Emit every pending exchange; with `note` after a loss, else at the end of the connection. */
  private flush(note: string | null): void {
    while (this.pending.length > 0) {
      const x = this.pending.shift()!;
      if (note !== null) x.notes.push(note);
      else if (x.responseStartUs === null) x.notes.push('no response seen');
      this.emit(x);
    }
  }

  private count(name: string, n = 1): void {
    this.ctx.counters.add(`mysql.${name}`, n);
  }
}

