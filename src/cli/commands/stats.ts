import type { Command } from 'commander';
import { openCaptureSource } from '../../capture/file-source.js';
import { analyze } from '../../pipeline.js';
import { buildStatsDocument, renderStats } from '../../export/stats.js';
import { Counters } from '../../util/counters.js';
import { Progress } from '../progress.js';

export function registerStats(program: Command): void {
  program
    .command('stats')
    .description('What a capture holds: formats, link types, packets, protocols, malformed packets, TCP connections, loss')
    .argument('<capture...>', 'pcap/pcapng files (gzip allowed), merged by time; - reads stdin')
    .option('--json', 'one JSON document with stable field names (docs/formats.md)')
    .option('--flows', 'list every TCP connection (conn.log style)')
    .action(async (paths: string[], opts: { json?: boolean; flows?: boolean }) => {
      const counters = new Counters();
      const progress = new Progress(paths);
      const result = await analyze(
        openCaptureSource(paths, { counters }),
        { analyzers: [], counters, keepFlows: Boolean(opts.flows) },
        (packets, read) => progress.update(packets, read),
      );
      progress.done();
      const doc = buildStatsDocument(result, result.files, Boolean(opts.flows));
      process.stdout.write(opts.json ? JSON.stringify(doc, null, 2) + '\n' : renderStats(doc));
    });
}
