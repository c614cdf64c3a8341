/** Why a byte stream could not be read as a capture. Stable codes, one-line messages. */
export type CaptureErrorCode =
  | 'ERR_NOT_A_CAPTURE'
  | 'ERR_NO_CAPTURES'
  | 'ERR_TRUNCATED_HEADER'
  | 'ERR_CORRUPT_RECORD'
  | 'ERR_GZIP_NOT_DECODED'
  | 'ERR_CORRUPT_GZIP';

/**
 * Thrown when a capture cannot be read on (not a capture at all, or a record length that makes the
 * rest of the file meaningless). Packets before the failure have already been handed out.
 */
export class CaptureFormatError extends Error {
  override readonly name = 'CaptureFormatError';
  readonly code: CaptureErrorCode;
  /** Byte offset in the (decompressed) stream where the problem starts, when known. */
  readonly offset: number | undefined;

  constructor(code: CaptureErrorCode, message: string, offset?: number) {
    super(message);
    this.code = code;
    this.offset = offset;
  }
}
