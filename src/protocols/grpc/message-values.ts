/** Most values taken from one message, and how deep nested messages are followed. */
const MAX_VALUES = 32;
const MAX_DEPTH = 3;

/**
 * The scalars of a protobuf message read without its schema: varints in decimal, and the
 * length-delimited fields that are printable UTF-8 text as strings; length-delimited fields that
 * parse as messages themselves are followed too (a schemaless reader cannot tell an embedded message
 * from bytes). What does not parse is left out. For matching a call with the request it was made for.
 */
export function messageScalars(bytes: Uint8Array): string[] {
  const out: string[] = [];
  walk(bytes, 0, bytes.length, 0, out);
  return out;
}

/** False when [start, end) is not a well-formed message (its values are then taken back). */
function walk(b: Uint8Array, start: number, end: number, depth: number, out: string[]): boolean {
  const mark = out.length;
  let pos = start;
  while (pos < end) {
    const key = varint(b, pos, end);
    if (key === null || key.value === 0n) return undo(out, mark);
    pos = key.next;
    const wireType = Number(key.value & 7n);
    if (wireType === 0) {
      const v = varint(b, pos, end);
      if (v === null) return undo(out, mark);
      pos = v.next;
      push(out, v.value.toString());
    } else if (wireType === 1 || wireType === 5) {
      pos += wireType === 1 ? 8 : 4;
      if (pos > end) return undo(out, mark);
    } else if (wireType === 2) {
      const length = varint(b, pos, end);
      if (length === null || length.value > BigInt(end - length.next)) return undo(out, mark);
      const from = length.next;
      pos = from + Number(length.value);
      const text = printable(b, from, pos);
      if (text !== null) push(out, text);
      else if (depth < MAX_DEPTH) walk(b, from, pos, depth + 1, out);
    } else {
      return undo(out, mark);
    }
  }
  return true;
}

function undo(out: string[], mark: number): false {
  out.length = mark;
  return false;
}

function push(out: string[], value: string): void {
  if (out.length < MAX_VALUES) out.push(value);
}

function varint(b: Uint8Array, pos: number, end: number): { value: bigint; next: number } | null {
  let value = 0n;
  for (let shift = 0n; pos < end && shift < 70n; shift += 7n) {
    const byte = b[pos++]!;
    value |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return { value, next: pos };
  }
  return null;
}

/** UTF-8 text without control characters, else null. */
function printable(b: Uint8Array, from: number, to: number): string | null {
  if (to === from) return null;
  for (let i = from; i < to; i++) if (b[i]! < 0x20 || b[i] === 0x7f) return null;
  const text = Buffer.from(b.buffer, b.byteOffset + from, to - from).toString('utf8');
  return text.includes('\uFFFD') ? null : text;
}
