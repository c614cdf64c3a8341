import { spawnSync } from 'node:child_process';

/** Whether a system tool is on PATH (tests that need it skip with the reason otherwise). */
export function hasTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}
