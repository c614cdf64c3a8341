import { VERSION } from '../version.js';
import { Command, CommanderError } from 'commander';
import { CliError } from './errors.js';
import { registerStats } from './commands/stats.js';
import { registerRead } from './commands/read.js';
import { registerCapture } from './commands/capture.js';
import { registerInterfaces } from './commands/interfaces.js';

/** Builds the program; every command registers itself from its own file. */
export function buildProgram(): Command {
  const program = new Command('wirespan')
    .description('Distributed traces and a service map from packet captures, without touching the applications')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerStats(program);
  registerRead(program);
  registerCapture(program);
  registerInterfaces(program);
  return program;
}

/** Runs the CLI and returns the exit code; the one place that decides it. */
export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`wirespan: ${message.split('\n')[0]}\n`);
    if (process.env.WIRESPAN_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    return err instanceof CliError ? err.exitCode : (err as { exitCode?: number }).exitCode ?? 2;
  }
}

