/** Command bytes of the MySQL client/server protocol (the names without the COM_ prefix). */
export const COMMAND_NAMES: ReadonlyMap<number, string> = new Map([
  [0x01, 'QUIT'],
  [0x02, 'INIT_DB'],
  [0x03, 'QUERY'],
  [0x04, 'FIELD_LIST'],
  [0x05, 'CREATE_DB'],
  [0x06, 'DROP_DB'],
  [0x07, 'REFRESH'],
  [0x08, 'SHUTDOWN'],
  [0x09, 'STATISTICS'],
  [0x0a, 'PROCESS_INFO'],
  [0x0c, 'PROCESS_KILL'],
  [0x0d, 'DEBUG'],
  [0x0e, 'PING'],
  [0x0f, 'TIME'],
  [0x11, 'CHANGE_USER'],
  [0x12, 'BINLOG_DUMP'],
  [0x13, 'TABLE_DUMP'],
  [0x15, 'REGISTER_SLAVE'],
  [0x16, 'STMT_PREPARE'],
  [0x17, 'STMT_EXECUTE'],
  [0x18, 'STMT_SEND_LONG_DATA'],
  [0x19, 'STMT_CLOSE'],
  [0x1a, 'STMT_RESET'],
  [0x1b, 'SET_OPTION'],
  [0x1c, 'STMT_FETCH'],
  [0x1e, 'BINLOG_DUMP_GTID'],
  [0x1f, 'RESET_CONNECTION'],
  [0x20, 'CLONE'],
  [0xfa, 'STMT_BULK_EXECUTE'], // MariaDB
]);

export const COM_QUIT = 0x01;
export const COM_INIT_DB = 0x02;
export const COM_QUERY = 0x03;
export const COM_FIELD_LIST = 0x04;
export const COM_STATISTICS = 0x09;
export const COM_PROCESS_KILL = 0x0c;
export const COM_DEBUG = 0x0d;
export const COM_PING = 0x0e;
export const COM_CHANGE_USER = 0x11;
/** A replica asking for the binary log: the server streams its events until the connection ends. */
export const COM_BINLOG_DUMP = 0x12;
export const COM_BINLOG_DUMP_GTID = 0x1e;
export const COM_STMT_PREPARE = 0x16;
export const COM_STMT_EXECUTE = 0x17;
export const COM_STMT_SEND_LONG_DATA = 0x18;
export const COM_STMT_CLOSE = 0x19;
export const COM_STMT_RESET = 0x1a;
export const COM_SET_OPTION = 0x1b;
export const COM_STMT_FETCH = 0x1c;
/** MariaDB: one prepared statement executed for a whole batch of parameter rows (statement id first, as EXECUTE). */
export const COM_STMT_BULK_EXECUTE = 0xfa;
export const COM_RESET_CONNECTION = 0x1f;

/** Commands the server never answers. */
export const NO_RESPONSE_COMMANDS: ReadonlySet<number> = new Set([COM_QUIT, COM_STMT_CLOSE, COM_STMT_SEND_LONG_DATA]);

export function commandName(code: number): string {
  return COMMAND_NAMES.get(code) ?? `UNKNOWN_0x${code.toString(16).padStart(2, '0')}`;
}

/** Capability flags (protocol::CapabilityFlags). */
export const CLIENT_CONNECT_WITH_DB = 0x00000008;
export const CLIENT_COMPRESS = 0x00000020;
export const CLIENT_PROTOCOL_41 = 0x00000200;
export const CLIENT_SSL = 0x00000800;
export const CLIENT_SECURE_CONNECTION = 0x00008000;
export const CLIENT_PLUGIN_AUTH = 0x00080000;
export const CLIENT_CONNECT_ATTRS = 0x00100000;
export const CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA = 0x00200000;
export const CLIENT_DEPRECATE_EOF = 0x01000000;
export const CLIENT_QUERY_ATTRIBUTES = 0x08000000;

/** Server status flag: another result follows this one. */
export const SERVER_MORE_RESULTS_EXISTS = 0x0008;

/** Payload length of a packet that continues in the next one. */
export const MAX_PACKET_PAYLOAD = 0xffffff;

export const OK_HEADER = 0x00;
export const EOF_HEADER = 0xfe;
export const ERR_HEADER = 0xff;
export const LOCAL_INFILE_HEADER = 0xfb;
