import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { CapCaptureSource, CAP_FIX, loadCap } from './cap-source.js';
import { LiveCaptureError } from './errors.js';
import { HelperCaptureSource } from './helper-source.js';
import { dumpcapSpec, tcpdumpSpec } from './helpers.js';
import type { LiveBackendName, LiveCaptureOptions, LivePacketSource } from './types.js';

export const LIVE_BACKENDS: readonly LiveBackendName[] = ['dumpcap', 'tcpdump', 'cap'];

export interface OpenLiveCaptureOptions extends LiveCaptureOptions {
  /** Forces a backend; otherwise the first installed of dumpcap, tcpdump, cap. */
  backend?: LiveBackendName;
  /** Module specifier for cap (tests point it elsewhere); default 'cap'. */
  capModule?: string;
  /** Search path for the helper programs; default $PATH. */
  searchPath?: string;
}

const INSTALL_HINT: Record<'dumpcap' | 'tcpdump', string> = {
  dumpcap: 'apt-get install wireshark-common (or tshark)',
  tcpdump: 'apt-get install tcpdump',
};

/** A live capture from the chosen (or best installed) backend, not yet started. */
export async function openLiveCapture(opts: OpenLiveCaptureOptions): Promise<LivePacketSource> {
  const searchPath = opts.searchPath ?? process.env.PATH ?? '';
  if (opts.backend === 'cap') return new CapCaptureSource(await loadCap(opts.capModule), opts);
  if (opts.backend !== undefined) {
    const program = findProgram(opts.backend, searchPath);
    if (program === null) {
      throw new LiveCaptureError('ERR_BACKEND_MISSING', `${opts.backend} is not on PATH: ${INSTALL_HINT[opts.backend]}`);
    }
    return helperSource(opts.backend, program, opts);
  }
  for (const name of ['dumpcap', 'tcpdump'] as const) {
    const program = findProgram(name, searchPath);
    if (program !== null) return helperSource(name, program, opts);
  }
  try {
    return new CapCaptureSource(await loadCap(opts.capModule), opts);
  } catch (error) {
    throw new LiveCaptureError(
      'ERR_BACKEND_MISSING',
      `no capture backend: install tcpdump (apt-get install tcpdump) or dumpcap (wireshark-common), or build cap (${CAP_FIX}); ${(error as Error).message}`,
    );
  }
}

function helperSource(name: 'dumpcap' | 'tcpdump', program: string, opts: LiveCaptureOptions): LivePacketSource {
  return new HelperCaptureSource(name === 'dumpcap' ? dumpcapSpec(program) : tcpdumpSpec(program), opts);
}

/** The executable `name` on the search path (like `command -v`), or null. */
export function findProgram(name: string, searchPath: string): string | null {
  for (const dir of searchPath.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}
