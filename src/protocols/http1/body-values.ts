/** Most values taken from one body. */
const MAX_VALUES = 32;

/**
 * The scalars a request body's first bytes carry, for matching a call with the request it was made
 * for: the string and number values of JSON (not its keys), the values of a form. The head may be
 * cut anywhere: what is cut is left out. Other content types give nothing.
 */
export function bodyValues(head: Uint8Array | null, contentType: string | null): string[] {
  if (head === null || head.length === 0) return [];
  const type = (contentType ?? '').toLowerCase();
  const text = Buffer.from(head.buffer, head.byteOffset, head.byteLength).toString('utf8');
  if (type.includes('json')) return jsonValues(text);
  if (type.startsWith('application/x-www-form-urlencoded')) return formValues(text);
  return [];
}

const JSON_TOKEN = /"((?:[^"\\]|\\.)*)"(\s*:)?|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;

function jsonValues(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(JSON_TOKEN)) {
    if (out.length >= MAX_VALUES) break;
    if (m[3] !== undefined) {
      // A number cut by the end of the head may be a different number: only those followed by more.
      if (m.index! + m[0].length < text.length) out.push(m[3]);
    } else if (m[2] === undefined) {
      try {
        out.push(JSON.parse(`"${m[1]!}"`) as string);
      } catch {
        // not a well-formed string: left out
      }
    }
  }
  return out;
}

function formValues(text: string): string[] {
  const pairs = text.split('&');
  // The last pair may be cut by the end of the head.
  if (!text.endsWith('&')) pairs.pop();
  const out: string[] = [];
  for (const pair of pairs.slice(0, MAX_VALUES)) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    try {
      out.push(decodeURIComponent(pair.slice(eq + 1).replace(/\+/g, ' ')));
    } catch {
      // a malformed escape: left out
    }
  }
  return out;
}
