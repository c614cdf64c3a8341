import type { Direction, EndReason, Flow, StreamFactory, StreamHandler } from '../../src/tcp/types.js';

export type TcpEvent =
  | { kind: 'data'; flow: number; dir: Direction; bytes: Uint8Array; ts: number; offset: number }
  | { kind: 'gap'; flow: number; dir: Direction; lost: number; ts: number; offset: number }
  | { kind: 'end'; flow: number; dir: Direction; reason: EndReason; ts: number }
  | { kind: 'close'; flow: number; ts: number };

/** A StreamFactory that records every handler call (data copied, since it is only valid during the call). */
export class TcpRecorder implements StreamFactory {
  readonly events: TcpEvent[] = [];
  readonly flows: Flow[] = [];

  constructor(private readonly onOpen?: (flow: Flow) => void) {}

  open(flow: Flow): StreamHandler {
    this.flows.push(flow);
    this.onOpen?.(flow);
    const id = flow.id;
    const events = this.events;
    return {
      data: (dir, bytes, ts, offset) => events.push({ kind: 'data', flow: id, dir, bytes: bytes.slice(), ts, offset }),
      gap: (dir, lost, ts, offset) => events.push({ kind: 'gap', flow: id, dir, lost, ts, offset }),
      end: (dir, reason, ts) => events.push({ kind: 'end', flow: id, dir, reason, ts }),
      close: (ts) => events.push({ kind: 'close', flow: id, ts }),
    };
  }

  /**
   * One line per event, for table tests: `#1 data c @0 "GET /"`, `#1 gap s @5 +3`, `#1 end c fin`,
   * `#1 close` (c = client→server, s = server→client; text shown as latin1).
   */
  lines(): string[] {
    return this.events.map((e) => {
      const dir = e.kind === 'close' ? '' : e.dir === 0 ? 'c' : 's';
      switch (e.kind) {
        case 'data':
          return `#${e.flow} data ${dir} @${e.offset} ${JSON.stringify(Buffer.from(e.bytes).toString('latin1'))}`;
        case 'gap':
          return `#${e.flow} gap ${dir} @${e.offset} +${e.lost}`;
        case 'end':
          return `#${e.flow} end ${dir} ${e.reason}`;
        case 'close':
          return `#${e.flow} close`;
      }
    });
  }

  /** The data and gap events of one direction of one flow, in delivery order. */
  stream(flow: number, dir: Direction): Array<Extract<TcpEvent, { kind: 'data' | 'gap' }>> {
    const out: Array<Extract<TcpEvent, { kind: 'data' | 'gap' }>> = [];
    for (const e of this.events) {
      if ((e.kind === 'data' || e.kind === 'gap') && e.flow === flow && e.dir === dir) out.push(e);
    }
    return out;
  }
}
