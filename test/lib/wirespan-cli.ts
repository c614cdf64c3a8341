/**
 * Runs the real CLI (`node bin/wirespan.js ...`, cwd = repo root) as a child process, so exit codes,
 * stdout/stderr separation and stdin are tested as a user meets them.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import type { StatsDocument } from '../../src/export/stats.js';

export const CLI = resolve('bin/wirespan.js');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: readonly string[], opts: { stdin?: Uint8Array } = {}): Promise<CliRun> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
    child.stdin.on('error', () => {}); // the CLI may exit before reading all of stdin
    child.stdin.end(opts.stdin ?? Buffer.alloc(0));
  });
}

/** `wirespan stats --json [--flows] FILE...`, which must succeed. */
export async function statsJson(files: readonly string[], opts: { flows?: boolean; stdin?: Uint8Array } = {}): Promise<StatsDocument> {
  const run = await runCli(['stats', '--json', ...(opts.flows ? ['--flows'] : []), ...files], { stdin: opts.stdin });
  if (run.code !== 0) throw new Error(`wirespan stats ${files.join(' ')} exited ${run.code}: ${run.stderr}`);
  return JSON.parse(run.stdout) as StatsDocument;
}
