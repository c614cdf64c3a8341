export type LiveCaptureErrorCode =
  | 'ERR_NO_PERMISSION'
  | 'ERR_NO_DEVICE'
  | 'ERR_BAD_FILTER'
  | 'ERR_BACKEND_MISSING'
  | 'ERR_CAPTURE_FAILED';

/** A capture that cannot start or went wrong; one-line message, exit code 2 for the CLI. */
export class LiveCaptureError extends Error {
  override readonly name = 'LiveCaptureError';
  readonly exitCode = 2;

  constructor(
    readonly code: LiveCaptureErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The one-line advice for a capture refused for lack of privileges. */
export function permissionAdvice(iface: string, detail: string, program: string | null): string {
  const fix = program
    ? `run as root (sudo) or grant the capture helper the capabilities: setcap cap_net_raw,cap_net_admin=eip ${program}`
    : `run as root (sudo) or grant node the capabilities: setcap cap_net_raw,cap_net_admin=eip $(command -v node)`;
  return `no permission to capture on ${iface} (${detail}): needs CAP_NET_RAW (and CAP_NET_ADMIN for promiscuous mode); ${fix}`;
}

/**
 * Turns a libpcap/tcpdump/dumpcap error text into a LiveCaptureError that names the cause and keeps
 * libpcap's own words. `filter` is given when the text comes from checking that filter.
 */
export function classifyCaptureError(text: string, iface: string, program: string | null, filter?: string): LiveCaptureError {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l.length > 0 && !/^(Capturing on|File:|Running as user)/.test(l));
  const all = lines.join(' ');
  const detail = /\(([^()]*(?:Operation not permitted|Permission denied|No such device)[^()]*)\)/i.exec(all)?.[1];
  if (/permission|Operation not permitted/i.test(all)) {
    return new LiveCaptureError('ERR_NO_PERMISSION', permissionAdvice(iface, detail ?? 'Operation not permitted', program));
  }
  if (/No such device|There is no device named|no suitable device|doesn't exist/i.test(all)) {
    return new LiveCaptureError('ERR_NO_DEVICE', `no such interface: ${iface} (${detail ?? 'No such device exists'}); \`wirespan interfaces\` lists them`);
  }
  const first = (lines.find((l) => /^(tcpdump|dumpcap|cap):/.test(l)) ?? lines[0] ?? 'capture failed').replace(/^(tcpdump|dumpcap|cap): /, '');
  if (filter !== undefined) {
    // dumpcap wraps libpcap's words: "That string isn't a valid capture filter (<libpcap message>)."
    const libpcap = /valid capture filter \((.*)\)\.?/.exec(all)?.[1] ?? first;
    return new LiveCaptureError('ERR_BAD_FILTER', `invalid capture filter "${filter}": ${libpcap}`);
  }
  return new LiveCaptureError('ERR_CAPTURE_FAILED', `capture on ${iface} failed: ${first}`);
}
