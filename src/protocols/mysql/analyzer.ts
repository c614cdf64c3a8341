import type { Direction } from '../../tcp/types.js';
import type { AnalyzerContext, Detection, ProtocolAnalyzer, ProtocolHandler } from '../types.js';
import { MysqlConnection, type MysqlAnalyzerOptions } from './connection.js';
import { detectGreeting, detectMysql } from './detect.js';

const DEFAULT_MAX_SQL_BYTES = 1 << 20;

/**
 * MySQL / MariaDB classic protocol (not the X protocol on 33060): one exchange per command, the
 * login as a LOGIN exchange, prepared statements resolved to their SQL text.
 */
export class MysqlAnalyzer implements ProtocolAnalyzer {
  readonly name = 'mysql' as const;
  readonly defaultPorts: readonly number[] = [3306, 3307];
  private readonly maxSqlBytes: number;

  constructor(options: MysqlAnalyzerOptions = {}) {
    this.maxSqlBytes = options.maxSqlBytes ?? DEFAULT_MAX_SQL_BYTES;
  }

  detect(first: Uint8Array, dir: Direction): Detection {
    return detectMysql(first, dir);
  }

  /** A greeting is server speech: seen in the client direction, the roles are reversed. */
  reversed(first: Uint8Array, dir: Direction): boolean {
    return dir === 0 && detectGreeting(first) === 'yes';
  }

  open(ctx: AnalyzerContext): ProtocolHandler {
    return new MysqlConnection(ctx, this.maxSqlBytes);
  }
}
