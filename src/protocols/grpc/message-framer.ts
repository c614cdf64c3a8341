/**
 * Counts gRPC length-prefixed messages (1 byte compressed flag + 4 bytes big-endian length + message)
 * in one direction of a stream, fed with DATA payload pieces as they arrive.
 */
export interface GrpcMessageFramerOptions {
  /** Keep a copy of the first message when it is uncompressed and at most this long (0: never). */
  captureFirstUpTo?: number;
}

export class GrpcMessageFramer {
  messages = 0;
  /** Message bytes (without the 5-byte prefixes) of the messages started so far. */
  messageBytes = 0;
  compressedMessages = 0;
  /** Lost bytes fell where the framing could not be followed: counts are a lower bound from then. */
  lostSync = false;
  /** A message prefix had a flag byte other than 0 or 1: this is probably not gRPC framing. */
  badFlag = false;
  /** First message, when captured (see captureFirstUpTo). */
  firstMessage: Uint8Array | null = null;
  /**
   * DATA frames that ended exactly at a message boundary, after at least one message: evidence that
   * the framing followed is the sender's (see endOfFrame).
   */
  alignedFrameEnds = 0;

  private prefixHave = 0;
  private compressedFlag = 0;
  private length = 0;
  private bodyRemaining = 0;
  private capture: Uint8Array | null = null;
  private captureHave = 0;
  private readonly captureFirstUpTo: number;

  constructor(opts: GrpcMessageFramerOptions = {}) {
    this.captureFirstUpTo = opts.captureFirstUpTo ?? 0;
  }

  /** A message prefix or body is incomplete. */
  get partial(): boolean {
    return !this.lostSync && (this.prefixHave > 0 || this.bodyRemaining > 0);
  }

  /** Everything pushed so far is whole, well-flagged gRPC messages (at least one). */
  get looksLikeGrpc(): boolean {
    return this.messages > 0 && !this.badFlag && !this.lostSync && !this.partial;
  }

  push(bytes: Uint8Array, start: number, end: number): void {
    if (this.lostSync) return;
    let pos = start;
    while (pos < end) {
      if (this.bodyRemaining > 0) {
        const n = Math.min(this.bodyRemaining, end - pos);
        if (this.capture) {
          this.capture.set(bytes.subarray(pos, pos + n), this.captureHave);
          this.captureHave += n;
        }
        this.bodyRemaining -= n;
        pos += n;
        if (this.bodyRemaining === 0) this.finishMessage();
        continue;
      }
      const b = bytes[pos++]!;
      if (this.prefixHave === 0) {
        this.compressedFlag = b;
        this.length = 0;
      } else {
        this.length = this.length * 256 + b;
      }
      if (++this.prefixHave === 5) this.startMessage();
    }
  }

  /** The DATA frame whose bytes were pushed last is complete. */
  endOfFrame(): void {
    if (this.messages > 0 && !this.lostSync && this.prefixHave === 0 && this.bodyRemaining === 0) this.alignedFrameEnds++;
  }

  /** `n` bytes were lost; the framing survives only when they fall inside one message body. */
  skip(n: number): void {
    if (this.lostSync) return;
    if (n >= 0 && n < this.bodyRemaining) {
      this.bodyRemaining -= n;
      this.capture = null;
      return;
    }
    this.lostSync = true;
    this.capture = null;
  }

  private startMessage(): void {
    this.prefixHave = 0;
    this.messages++;
    this.messageBytes += this.length;
    if (this.compressedFlag & 1) this.compressedMessages++;
    if (this.compressedFlag > 1) this.badFlag = true;
    this.bodyRemaining = this.length;
    if (this.messages === 1 && this.compressedFlag === 0 && this.length <= this.captureFirstUpTo) {
      this.capture = new Uint8Array(this.length);
      this.captureHave = 0;
    }
    if (this.length === 0) this.finishMessage();
  }

  private finishMessage(): void {
    if (this.capture) {
      this.firstMessage = this.capture;
      this.capture = null;
    }
  }
}
