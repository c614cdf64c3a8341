export { MysqlAnalyzer } from './analyzer.js';
export type { MysqlAnalyzerOptions, MysqlCommandInfo } from './connection.js';
export { normalizeSql } from './normalize.js';
