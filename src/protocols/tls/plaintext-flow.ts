import { FlowView } from '../flow-view.js';

/**
 * A decrypted TLS connection as its plaintext handler sees it: the same connection, but stream
 * offsets count plaintext bytes, so they map to no TCP sequence number (`baseSeq` null) and say
 * nothing of what was acknowledged.
 */
export class PlaintextFlow extends FlowView {
  override get baseSeq(): [number | null, number | null] {
    return [null, null];
  }
  override acknowledgedOffset(): null {
    return null;
  }
}
