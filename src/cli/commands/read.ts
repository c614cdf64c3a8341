import { VERSION } from '../../version.js';
import { Option, type Command } from 'commander';
import { openCaptureSource } from '../../capture/file-source.js';
import { loadNamesFile } from '../../correlate/naming.js';
import { expectsResponse, hasUnknownOutcome } from '../../correlate/outcome.js';
import { NdjsonExchangeWriter } from '../../export/ndjson.js';
import { FailureSummary, renderReport, SlowestTraces } from '../../export/report.js';
import { renderServiceMap, SERVICE_MAP_FORMATS, type ServiceMapFormat } from '../../export/service-map/formats.js';
import { TracesJsonWriter } from '../../export/traces.js';
import { analyze, type AnalysisResult } from '../../pipeline.js';
import { createAnalyzers, parsePortHints } from '../../protocols/index.js';
import type { ProtoMessageDecoder } from '../../protocols/grpc/proto-decoder.js';
import { readKeyLogFiles, TlsKeyLog } from '../../protocols/tls/keylog.js';
import { Counters } from '../../util/counters.js';
import type { BatchingSpanExporter } from '../../export/transport.js';
import type { SpanRecord } from '../../correlate/types.js';
import { CliError } from '../errors.js';
import { openOutput, writeFileAtomic, type Output } from '../output.js';
import { Progress } from '../progress.js';

export interface AnalysisFlags {
  exchanges?: string;
  traces?: string;
  serviceMap?: string;
  serviceMapFormat: ServiceMapFormat;
  names?: string;
  requestIdHeader?: string[];
  port?: string[];
  proto?: string[];
  tlsKeylog?: string[];
  linger: string;
  clockTolerance: string;
  reorderWindow: string;
  idleTimeout: string;
  slowest: string;
  report: boolean;
  otlp?: string;
  otlpHeader?: string[];
  otlpFormat?: string;
  zipkin?: string;
  spanKinds: string;
  local?: string[];
  sqlText: string;
}

/** The options `read` and `capture` share: outputs, naming, id headers, port hints. */
export function addAnalysisOptions(cmd: Command): Command {
  return cmd
    .option('--exchanges <file>', 'write every exchange as NDJSON (- = stdout)')
    .option('--traces <file>', 'write every trace as a tree of spans (JSON)')
    .option('--service-map <file>', 'write the service map')
    .addOption(new Option('--service-map-format <format>', 'service map shape').choices(SERVICE_MAP_FORMATS as string[]).default('json'))
    .option('--names <file>', 'JSON or YAML: ip, ip:port or CIDR → service name')
    .option('--request-id-header <name>', 'request-id header to read (repeatable; default X-Request-ID, X-Correlation-ID, Request-Id)', collect)
    .option('--port <proto=ports>', 'treat these server ports as a protocol, e.g. http=8080,9000 (repeatable)', collect)
    .option('--proto <file...>', '.proto files: decode the first gRPC request/response message of known methods')
    .option('--tls-keylog <file>', 'TLS session secrets (NSS key log: SSLKEYLOGFILE): decrypt and analyse those sessions (repeatable)', collect)
    .option('--linger <seconds>', 'packet time an exchange waits for the request that caused it', '30')
    .option('--reorder-window <ms>', 'packet time within which packets that came out of timestamp order (-i any, multi-queue captures) are put back in order; 0 = as they came', '10')
    .option('--idle-timeout <seconds>', 'packet time without packets after which a connection is taken as gone (pooled and gRPC connections sit quiet for minutes)', '600')
    .option('--clock-tolerance <ms>', 'slack when testing that a call lies within its parent (merged captures of hosts whose clocks differ)', '1')
    .option('--slowest <n>', 'slowest traces drawn in the report', '5')
    .option('--no-report', 'do not print the terminal report')
    .option('--otlp <url|file>', 'export spans as OTLP: http(s)://host:4318 (POST /v1/traces) or a file (.json/.jsonl: OTLP/JSON lines, else length-prefixed protobuf)')
    .option('--otlp-header <K=V>', 'HTTP header for the OTLP endpoint, e.g. Authorization=Bearer... (repeatable)', collect)
    .addOption(new Option('--otlp-format <format>', 'OTLP encoding (default: protobuf, json for .json/.jsonl files)').choices(['protobuf', 'json']))
    .option('--zipkin <url|file>', 'export spans as Zipkin v2 JSON: http(s)://host:9411 (POST /api/v2/spans) or a file')
    .option('--span-kinds <kinds>', 'which halves of each call to export: client,server', 'client,server')
    .option('--local <ip...>', 'export only the halves whose side lives on these addresses (captures taken on one host)')
    .addOption(new Option('--sql-text <mode>', 'SQL exported in db.query.text').choices(['normalized', 'full']).default('normalized'));
}

/** `--reorder-window` in µs. */
export function parseReorderWindow(text: string): number {
  const ms = Number(text);
  if (!Number.isFinite(ms) || ms < 0) throw new CliError(`--reorder-window must be a number of milliseconds, got ${text}`);
  return Math.round(ms * 1000);
}

export function registerRead(program: Command): void {
  addAnalysisOptions(
    program
      .command('read')
      .description('Read captures and produce exchanges, traces and a service map')
      .argument('<capture...>', 'pcap/pcapng files (gzip allowed), merged by time; - reads stdin'),
  ).action(async (paths: string[], flags: AnalysisFlags) => {
    const reorderWindowUs = parseReorderWindow(flags.reorderWindow);
    const counters = new Counters();
    const session = await AnalysisSession.open(flags, counters);
    const progress = new Progress(paths);
    // Ctrl-C stops reading and finishes with what was read (outputs, report); a second one quits.
    const stop = new AbortController();
    const onSigint = (): void => {
      if (stop.signal.aborted) process.exit(130);
      process.stderr.write('wirespan: interrupted, finishing what was read (Ctrl-C again to quit now)\n');
      stop.abort();
    };
    process.on('SIGINT', onSigint);
    const result = await analyze(
      openCaptureSource(paths, {
        counters,
        reorderWindowUs,
        onDecryptionSecrets: (type, data) => {
          if (!session.tlsKeys.addSecretsBlock(type, data)) counters.add('capture.decryption-secrets-not-tls');
        },
      }),
      session.pipelineOptions(),
      (n, b) => {
        progress.update(n, b);
        return session.whenExportersReady();
      },
      stop.signal,
    );
    progress.done();
    const warnings = result.files.flatMap((f) => f.warnings.map((w) => `${f.name}: ${w}`));
    if (result.interrupted) warnings.push(`interrupted after ${result.packetsRead} packets: what came later was not read`);
    await session.finish(result, warnings);
    process.off('SIGINT', onSigint);
    if (result.interrupted) {
      process.exitCode = 130;
      // A pending read of stdin would keep the process alive.
      if (paths.includes('-')) process.stdin.destroy();
    }
  });
}

/** Outputs and options of one analysis run, shared by `read` and `capture`. */
export class AnalysisSession {
  private readonly slowest: SlowestTraces;
  private readonly failures = new FailureSummary();
  /** Answers whose status could not be read (hasUnknownOutcome). */
  private unknownOutcomes = 0;
  private exchangesOut: Output | null = null;
  private tracesOut: Output | null = null;
  private tracesWriter: TracesJsonWriter | null = null;
  private exchangeWriter: NdjsonExchangeWriter | null = null;
  private readonly byProtocol: Record<string, { exchanges: number; errors: number; incomplete: number }> = {};
  private traces = 0;
  private readonly exporters: { name: string; exporter: BatchingSpanExporter<SpanRecord> }[] = [];

  private constructor(
    readonly flags: AnalysisFlags,
    readonly counters: Counters,
    private readonly names: Record<string, string>,
    private readonly protoDecoder: ProtoMessageDecoder | undefined,
    private readonly live: boolean,
    /** `--tls-keylog` files, and the key logs pcapng files carry as they are read. */
    readonly tlsKeys: TlsKeyLog,
  ) {
    this.slowest = new SlowestTraces(positiveInt(flags.slowest, '--slowest', true));
    if (flags.exchanges) {
      this.exchangesOut = openOutput(flags.exchanges);
      this.exchangeWriter = new NdjsonExchangeWriter(this.exchangesOut.stream, { lineBuffered: live });
    }
    if (flags.traces) {
      const out = (this.tracesOut = openOutput(flags.traces));
      this.tracesWriter = new TracesJsonWriter((text) => out.stream.write(text));
    }
  }

  /** Exporters (and protobufjs, node:http...) are loaded only when asked for: startup time counts. */
  private async openExporters(): Promise<void> {
    const f = this.flags;
    if (!f.otlp && !f.zipkin) return;
    const { createOtlpExporter, parseOtlpFormat, parseSpanKinds, parseSqlText } = await import('../../export/otlp/exporter.js');
    const { createZipkinExporter } = await import('../../export/zipkin/exporter.js');
    const { parseHeaderFlags } = await import('../../export/transport.js');
    try {
      const selection = {
        spanKinds: parseSpanKinds(f.spanKinds),
        localAddresses: new Set(f.local ?? []),
        sqlText: parseSqlText(f.sqlText),
        counters: this.counters,
      };
      if (f.otlp) {
        this.exporters.push({
          name: 'OTLP',
          exporter: createOtlpExporter({
            ...selection,
            target: f.otlp,
            format: f.otlpFormat ? parseOtlpFormat(f.otlpFormat) : undefined,
            headers: parseHeaderFlags(f.otlpHeader ?? []),
            scopeVersion: VERSION,
          }),
        });
      }
      if (f.zipkin) this.exporters.push({ name: 'Zipkin', exporter: createZipkinExporter({ ...selection, target: f.zipkin }) });
    } catch (err) {
      throw new CliError((err as Error).message);
    }
  }

  /** Back-pressure: reading waits while an exporter's queue is full. */
  async whenExportersReady(): Promise<void> {
    for (const e of this.exporters) await e.exporter.whenReady();
  }

  /** `live`: write each exchange line as it comes (a live capture's file can be tailed). */
  static async open(flags: AnalysisFlags, counters: Counters, { live = false } = {}): Promise<AnalysisSession> {
    const names = flags.names ? loadNamesFile(flags.names) : {};
    let decoder: ProtoMessageDecoder | undefined;
    if (flags.proto && flags.proto.length > 0) {
      try {
        const { ProtoMessageDecoder } = await import('../../protocols/grpc/proto-decoder.js');
        decoder = await ProtoMessageDecoder.load(flags.proto);
      } catch (err) {
        throw new CliError(`cannot load --proto files: ${(err as Error).message}`);
      }
    }
    let tlsKeys = new TlsKeyLog();
    if (flags.tlsKeylog && flags.tlsKeylog.length > 0) {
      try {
        // Live, a key log may not exist yet: the programs captured write it as their sessions begin.
        tlsKeys = readKeyLogFiles(flags.tlsKeylog, { mayNotExistYet: live });
      } catch (err) {
        throw new CliError(`--tls-keylog: ${(err as Error).message}`);
      }
    }
    const session = new AnalysisSession(flags, counters, names, decoder, live, tlsKeys);
    await session.openExporters();
    return session;
  }

  pipelineOptions(): Parameters<typeof analyze>[1] {
    const f = this.flags;
    let portHints;
    try {
      portHints = parsePortHints(f.port ?? []);
    } catch (err) {
      throw new CliError((err as Error).message);
    }
    const linger = Number(f.linger);
    if (!Number.isFinite(linger) || linger < 0) throw new CliError(`--linger must be a number of seconds, got ${f.linger}`);
    const idle = Number(f.idleTimeout);
    if (!Number.isFinite(idle) || idle <= 0) throw new CliError(`--idle-timeout must be a positive number of seconds, got ${f.idleTimeout}`);
    const tolerance = Number(f.clockTolerance);
    if (!Number.isFinite(tolerance) || tolerance < 0) throw new CliError(`--clock-tolerance must be a number of milliseconds, got ${f.clockTolerance}`);
    return {
      analyzers: createAnalyzers({ protoDecoder: this.protoDecoder }),
      counters: this.counters,
      portHints,
      tlsKeys: this.tlsKeys,
      waitForTlsSecrets: this.live,
      requestIdHeaders: f.requestIdHeader,
      names: this.names,
      lingerUs: linger * 1e6,
      idleTimeoutUs: Math.round(idle * 1e6),
      toleranceUs: Math.round(tolerance * 1000),
      onSpan: (span) => {
        const c = (this.byProtocol[span.protocol] ??= { exchanges: 0, errors: 0, incomplete: 0 });
        c.exchanges++;
        if (span.error) c.errors++;
        if (span.response === null && expectsResponse(span)) c.incomplete++;
        if (hasUnknownOutcome(span)) this.unknownOutcomes++;
        this.exchangeWriter?.write(span);
        for (const e of this.exporters) e.exporter.add(span);
      },
      onTrace: (tree) => {
        this.traces++;
        if (this.flags.report) {
          this.slowest.add(tree);
          this.failures.add(tree);
        }
        this.tracesWriter?.add(tree);
      },
    };
  }

  async finish({ serviceMap, unanalysed, totals }: Pick<AnalysisResult, 'serviceMap' | 'unanalysed' | 'totals'>, warnings: string[]): Promise<void> {
    this.tracesWriter?.close();
    this.exchangeWriter?.flush();
    await this.exchangesOut?.close();
    await this.tracesOut?.close();
    if (this.flags.serviceMap) writeFileAtomic(this.flags.serviceMap, renderServiceMap(serviceMap, this.flags.serviceMapFormat));
    let undelivered = 0;
    for (const { name, exporter } of this.exporters) {
      const summary = await exporter.shutdown();
      if (summary.failedSpans > 0) {
        undelivered += summary.failedSpans;
        warnings.push(`${name}: ${summary.failedSpans} spans NOT delivered (${summary.exportedSpans} delivered): ${summary.errors.join('; ')}`);
      } else if (this.flags.report) {
        warnings.push(`${name}: ${summary.exportedSpans} spans delivered`);
      }
      for (const said of summary.warnings) warnings.push(`${name}: ${said}`);
    }
    if (undelivered > 0) {
      process.stderr.write(`wirespan: ${undelivered} spans were not delivered to the exporters\n`);
      process.exitCode = 1;
    }
    if (!this.flags.report) return;
    const usesStdout = [this.flags.exchanges, this.flags.traces, this.flags.serviceMap].includes('-');
    const out = usesStdout ? process.stderr : process.stdout;
    const unknown = this.counters.get('http2.hpack-unknown-fields');
    if (unknown > 0) warnings.push(`${unknown} HTTP/2 header fields unknown (HPACK state from before the capture, or lost in a gap)`);
    if (this.unknownOutcomes > 0) {
      warnings.push(`${this.unknownOutcomes} HTTP/2 or gRPC answers whose status could not be read (HPACK state from before the capture or lost in a gap): not counted as errors`);
    }
    const realigned = this.counters.get('http2.hpack-realigning');
    if (realigned > 0) {
      warnings.push(`${realigned} gaps in HTTP/2 header tables read across by inference (the exchanges say so in their notes)`);
    }
    if (totals.truncatedPackets > 0) {
      warnings.push(
        `${totals.truncatedPackets} packets cut short by the capture's snapshot length: what they lost counts as TCP gaps (capture whole packets: tcpdump -s 0)`,
      );
    }
    const encrypted = this.counters.get('mysql.encrypted-connections') - this.counters.get('mysql.tls-handed-over');
    if (encrypted > 0) warnings.push(`${encrypted} MySQL connections switched to TLS after the greeting: their commands are not visible without the session secrets (--tls-keylog)`);
    const tunnelled = this.counters.get('http.tunnel-bytes');
    if (tunnelled > 0) warnings.push(`${tunnelled} bytes after an HTTP upgrade or CONNECT (WebSocket, tunnels) not analysed`);
    const reordered = this.counters.get('capture.reordered');
    if (reordered > 0) warnings.push(`${reordered} packets that came out of timestamp order (several queues or interfaces) were put back in order`);
    const late = this.counters.get('capture.reorder-too-late');
    if (late > 0) warnings.push(`${late} packets came later than --reorder-window allows and were taken as they came`);
    const gaps = this.counters.get('tcp.gaps');
    if (gaps > 0) warnings.push(`${gaps} TCP gaps (${this.counters.get('tcp.gap-bytes')} bytes never captured)`);
    const twins = this.counters.get('tcp.nat-twins');
    if (twins > 0) {
      warnings.push(`${twins} connections seen twice, before and after address translation (NAT): each analysed once, between the real client and server (dialedServer keeps the address dialed)`);
    }
    const badKeyLines = this.tlsKeys.malformedLines;
    if (badKeyLines > 0) warnings.push(`${badKeyLines} TLS key log lines not understood (neither a key log label, a comment nor blank): skipped`);
    const skipped = this.counters.get('capture.files-skipped');
    if (skipped > 0) warnings.push(`${skipped} files in the directories given are not captures: skipped`);
    const copies = this.counters.get('tcp.copies');
    if (copies > 0) warnings.push(`${copies} TCP packets seen a second time (another interface of the host, a SPAN session) dropped as copies, not counted as retransmissions`);
    const noCaller = this.counters.get('correlate.timing-no-caller');
    if (noCaller > 0) warnings.push(`${noCaller} calls from an address several services share left as roots: none of those services was seen making them`);
    const ambiguous = this.counters.get('correlate.timing-ambiguous');
    if (ambiguous > 0) warnings.push(`${ambiguous} timing-only parent links chosen among several candidates`);
    const failing = this.failures.top();
    out.write(
      renderReport(
        {
          exchangesByProtocol: this.byProtocol,
          traces: this.traces,
          serviceMap,
          failing: failing.kinds,
          failingOther: failing.others,
          slowest: this.slowest.list(),
          unanalysed,
          tlsDecrypted: this.counters.get('tls.decrypted-sessions.tls13') + this.counters.get('tls.decrypted-sessions.tls12'),
          warnings,
        },
        Boolean(out.isTTY),
      ),
    );
  }
}


function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function positiveInt(value: string, flag: string, allowZero = false): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < (allowZero ? 0 : 1)) throw new CliError(`${flag} must be a whole number, got ${value}`);
  return n;
}
