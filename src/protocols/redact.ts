/**
 * What a request target may carry that must not be written out (OpenTelemetry's URL conventions, the
 * bar for what a trace may hold): the password and user of an absolute URL's userinfo, and the values
 * of query parameters known to be credentials. Keys are kept, values replaced by `REDACTED`.
 */

/** Query keys whose values are credentials (case-sensitive, as the conventions list them). */
const SENSITIVE_QUERY_KEYS: ReadonlySet<string> = new Set(['AWSAccessKeyId', 'Signature', 'sig', 'X-Goog-Signature']);

export const REDACTED = 'REDACTED';

/** The target with credentials replaced; the same string when there are none (the usual case). */
export function redactTarget(target: string): string {
  const query = target.indexOf('?');
  const hasUserinfo = target.includes('@') && /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(target);
  if (query < 0 && !hasUserinfo) return target;
  let head = query < 0 ? target : target.slice(0, query);
  if (hasUserinfo) head = head.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, `$1${REDACTED}:${REDACTED}@`);
  if (query < 0) return head;
  const fragment = target.indexOf('#', query);
  const rest = fragment < 0 ? target.slice(query + 1) : target.slice(query + 1, fragment);
  const tail = fragment < 0 ? '' : target.slice(fragment);
  const params = rest.split('&').map((param) => {
    const eq = param.indexOf('=');
    return eq > 0 && SENSITIVE_QUERY_KEYS.has(param.slice(0, eq)) ? `${param.slice(0, eq)}=${REDACTED}` : param;
  });
  return `${head}?${params.join('&')}${tail}`;
}
