import type { MysqlResponseInfo } from '../types.js';
import {
  COM_BINLOG_DUMP,
  COM_BINLOG_DUMP_GTID,
  COM_CHANGE_USER,
  COM_DEBUG,
  COM_FIELD_LIST,
  COM_SET_OPTION,
  COM_STATISTICS,
  COM_STMT_FETCH,
  COM_STMT_PREPARE,
  EOF_HEADER,
  ERR_HEADER,
  LOCAL_INFILE_HEADER,
  OK_HEADER,
  SERVER_MORE_RESULTS_EXISTS,
} from './constants.js';
import type { MysqlPacket } from './framing.js';
import { PayloadReader, isEofPacket, isTerminator, parseErr, parseOk, parsePrepareOk, parseTerminator, type PrepareOk } from './wire.js';

/** Pseudo command code of the login handshake (0x00 is COM_SLEEP, which clients never send). */
export const LOGIN_COMMAND = -1;

/**
 * What the reader wants next after a packet. 'not-mine': the response had ended before this packet
 * (possible only when CLIENT_DEPRECATE_EOF is unknown, after a PREPARE); it belongs to the next one.
 */
export type ResponseStep = 'more' | 'done' | 'client-data' | 'not-mine';

const SERVER_STATUS_CURSOR_EXISTS = 0x0040;
const PROGRESS_REPORT_CODE = 0xffff;

type Phase =
  | 'first'
  | 'definitions'
  | 'optional-eof'
  | 'rows'
  | 'binlog'
  | 'client-data'
  | 'done';

/**
 * Follows the server's answer to one command, packet by packet, and sums it up. Which packet ends
 * the response depends on the command (result sets, PREPARE definitions, LOCAL INFILE, auth rounds).
 */
export class ResponseReader {
  ok = true;
  errorCode: number | null = null;
  sqlState: string | null = null;
  errorMessage: string | null = null;
  rows: number | null = null;
  columns: number | null = null;
  affectedRows: number | null = null;
  lastInsertId: number | null = null;
  warnings: number | null = null;
  /** Results seen (result sets and OK packets) when the server sent more than one. */
  results = 0;
  prepared: PrepareOk | null = null;
  malformed = 0;

  private phase: Phase = 'first';
  /** Definitions left in the current group; -1: until a terminator (FIELD_LIST). */
  private definitionsLeft = 0;
  /** PREPARE: column definitions that follow the parameter definitions. */
  private pendingColumnDefinitions = 0;

  /** `deprecateEof`: CLIENT_DEPRECATE_EOF as negotiated, null when the login was not seen. */
  constructor(
    private readonly command: number,
    private readonly deprecateEof: boolean | null,
  ) {}

  get finished(): boolean {
    return this.phase === 'done';
  }

  /** The answer to a BINLOG_DUMP: events as long as the replica stays (counted in `rows`). */
  get streaming(): boolean {
    return this.phase === 'binlog';
  }

  /** LOCAL INFILE data or an auth round: the client's packets belong to this exchange. */
  get awaitingClient(): boolean {
    return this.phase === 'client-data';
  }

  /** The client's part of a LOCAL INFILE / auth round is over (empty packet / auth data sent). */
  clientPacket(packet: MysqlPacket): void {
    if (this.command === LOGIN_COMMAND || this.command === COM_CHANGE_USER) this.phase = 'first';
    else if (packet.length === 0) this.phase = 'first';
  }

  accept(packet: MysqlPacket): ResponseStep {
    switch (this.phase) {
      case 'first':
        this.first(packet);
        break;
      case 'definitions':
        this.definition(packet);
        break;
      case 'optional-eof':
        if (isEofPacket(packet.payload, packet.length)) {
          this.afterDefinitions(packet);
        } else if (this.command === COM_STMT_PREPARE && this.pendingColumnDefinitions === 0) {
          this.phase = 'done';
          return 'not-mine';
        } else {
          this.afterDefinitions(null);
          const next = this.phase as Phase; // changed by afterDefinitions
          if (next === 'rows') this.row(packet);
          else if (next === 'definitions') this.definition(packet);
        }
        break;
      case 'rows':
        this.row(packet);
        break;
      case 'binlog':
        this.binlogEvent(packet);
        break;
      case 'client-data':
        // The server spoke while the client was expected to: take it as the next answer.
        this.phase = 'first';
        this.first(packet);
        break;
      case 'done':
        break;
    }
    const phase = this.phase as Phase;
    return phase === 'done' ? 'done' : phase === 'client-data' ? 'client-data' : 'more';
  }

  info(): MysqlResponseInfo {
    return {
      ok: this.ok,
      errorCode: this.errorCode,
      sqlState: this.sqlState,
      errorMessage: this.errorMessage,
      rows: this.rows,
      columns: this.columns,
      affectedRows: this.affectedRows,
      lastInsertId: this.lastInsertId,
      warnings: this.warnings,
    };
  }

  private first(packet: MysqlPacket): void {
    const payload = packet.payload;
    if (packet.length === 0) {
      this.malformed++;
      return;
    }
    const header = payload[0]!;
    if (header === ERR_HEADER) {
      const err = parseErr(payload);
      if (!err) this.malformed++;
      if (err?.code === PROGRESS_REPORT_CODE) return; // MariaDB progress report, the answer follows
      this.ok = false;
      this.errorCode = err?.code ?? null;
      this.sqlState = err?.sqlState ?? null;
      this.errorMessage = err?.message ?? null;
      this.phase = 'done';
      return;
    }
    switch (this.command) {
      case COM_STATISTICS:
        this.phase = 'done'; // a bare string
        return;
      case LOGIN_COMMAND:
      case COM_CHANGE_USER:
        if (header === OK_HEADER) this.okPacket(packet);
        else if (header === EOF_HEADER) this.phase = 'client-data'; // auth switch request
        else if (header === 0x01 && payload[1] === 0x03) this.phase = 'first'; // fast auth ok, OK follows
        else if (header === 0x01) this.phase = 'client-data'; // auth more data
        else this.malformed++;
        return;
      case COM_FIELD_LIST:
        this.columns = 0;
        this.definitionsLeft = -1;
        this.phase = 'definitions';
        this.definition(packet);
        return;
      case COM_STMT_FETCH:
        this.rows ??= 0;
        this.phase = 'rows';
        this.row(packet);
        return;
      case COM_STMT_PREPARE:
        if (header === OK_HEADER) this.prepareOk(packet);
        else this.malformed++;
        return;
      case COM_BINLOG_DUMP:
      case COM_BINLOG_DUMP_GTID:
        this.rows = 0;
        this.phase = 'binlog';
        this.binlogEvent(packet);
        return;
    }
    if (header === OK_HEADER) {
      this.okPacket(packet);
    } else if (header === EOF_HEADER) {
      // SET_OPTION and DEBUG answer with EOF; for others an EOF here is unexpected but final.
      if (this.command !== COM_SET_OPTION && this.command !== COM_DEBUG) this.malformed++;
      this.terminate(packet);
    } else if (header === LOCAL_INFILE_HEADER) {
      this.phase = 'client-data';
    } else {
      this.resultSetHeader(packet);
    }
  }

  /** One packet of a binary log stream: an event (OK byte, then the event), an EOF (non-blocking dump at the end of the log) or an error. */
  private binlogEvent(packet: MysqlPacket): void {
    const header = packet.payload[0];
    if (header === ERR_HEADER) {
      this.phase = 'first';
      this.first(packet);
    } else if (header === OK_HEADER && packet.length > 1) {
      this.rows!++;
    } else if (isEofPacket(packet.payload, packet.length)) {
      this.phase = 'done';
    } else {
      this.malformed++;
    }
  }

  private okPacket(packet: MysqlPacket): void {
    const ok = parseOk(packet.payload);
    if (!ok) {
      this.malformed++;
      this.phase = 'done';
      return;
    }
    this.results++;
    this.affectedRows = (this.affectedRows ?? 0) + ok.affectedRows;
    if (ok.lastInsertId !== 0 || this.lastInsertId === null) this.lastInsertId = ok.lastInsertId;
    this.warnings = (this.warnings ?? 0) + ok.warnings;
    this.phase = ok.status & SERVER_MORE_RESULTS_EXISTS ? 'first' : 'done';
  }

  private prepareOk(packet: MysqlPacket): void {
    const prepared = parsePrepareOk(packet.payload);
    if (!prepared) {
      this.malformed++;
      this.phase = 'done';
      return;
    }
    this.prepared = prepared;
    this.columns = prepared.columns;
    this.warnings = prepared.warnings;
    this.pendingColumnDefinitions = prepared.columns;
    this.startDefinitions(prepared.params);
  }

  private resultSetHeader(packet: MysqlPacket): void {
    const reader = new PayloadReader(packet.payload);
    const count = reader.lenenc();
    if (count === null || count === 0) {
      this.malformed++;
      this.phase = 'done';
      return;
    }
    this.results++;
    this.columns ??= count;
    this.rows ??= 0;
    // One byte after the count is the "metadata follows" flag of MariaDB's cached metadata
    // (MARIADB_CLIENT_CACHE_METADATA) or MySQL 8's optional metadata (CLIENT_OPTIONAL_RESULTSET_METADATA);
    // the packet's length tells, login seen or not. 0: no column definitions.
    if (packet.length === packet.payload.length && reader.remaining === 1 && reader.u8() === 0) {
      this.phase = this.deprecateEof === true ? 'rows' : 'optional-eof';
      return;
    }
    this.startDefinitions(count);
  }

  private startDefinitions(count: number): void {
    if (count > 0) {
      this.definitionsLeft = count;
      this.phase = 'definitions';
    } else {
      this.afterDefinitions(null);
    }
  }

  private definition(packet: MysqlPacket): void {
    if (packet.payload[0] === ERR_HEADER) {
      this.phase = 'first';
      this.first(packet);
      return;
    }
    if (this.definitionsLeft < 0) {
      // FIELD_LIST: definitions until the terminator
      if (isTerminator(packet.payload, packet.length)) this.terminate(packet);
      else this.columns = (this.columns ?? 0) + 1;
      return;
    }
    if (--this.definitionsLeft > 0) return;
    if (this.deprecateEof === true && this.command === COM_STMT_PREPARE) this.afterDefinitions(null);
    else this.phase = 'optional-eof';
  }

  /** Definitions of one group are over (`eof` is the EOF that follows them without DEPRECATE_EOF). */
  private afterDefinitions(eof: MysqlPacket | null): void {
    if (this.command === COM_STMT_PREPARE) {
      const columns = this.pendingColumnDefinitions;
      this.pendingColumnDefinitions = 0;
      if (columns > 0) {
        this.definitionsLeft = columns;
        this.phase = 'definitions';
      } else {
        this.phase = 'done';
      }
      return;
    }
    if (eof) {
      const status = parseTerminator(eof.payload, eof.length)?.status ?? 0;
      if (status & SERVER_STATUS_CURSOR_EXISTS) {
        this.phase = 'done'; // rows come with COM_STMT_FETCH
        return;
      }
    }
    this.phase = 'rows';
  }

  private row(packet: MysqlPacket): void {
    const header = packet.payload[0];
    if (header === ERR_HEADER) {
      this.phase = 'first';
      this.first(packet);
    } else if (packet.length > 0 && isTerminator(packet.payload, packet.length)) {
      this.terminate(packet);
    } else {
      this.rows = (this.rows ?? 0) + 1;
    }
  }

  private terminate(packet: MysqlPacket): void {
    const terminator = parseTerminator(packet.payload, packet.length);
    if (!terminator) {
      this.malformed++;
      this.phase = 'done';
      return;
    }
    this.warnings = (this.warnings ?? 0) + terminator.warnings;
    this.phase = terminator.status & SERVER_MORE_RESULTS_EXISTS ? 'first' : 'done';
  }
}
