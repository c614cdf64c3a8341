import protobuf from 'protobufjs';

export interface ProtoMessageDecoderOptions {
  /** Largest JSON text kept per decoded message; larger results are cut. Default 4096. */
  maxJsonLength?: number;
}

/** What `decode` returns when the JSON text of a message exceeds maxJsonLength. */
export interface TruncatedMessage {
  truncated: true;
  json: string;
}

/**
 * Decodes gRPC messages with the request/response types of the methods declared in `.proto` files
 * (`--proto`). Results are plain JSON values (64-bit integers as strings, bytes as base64, enums by
 * name), cut to a bounded size.
 */
export class ProtoMessageDecoder {
  private readonly types = new Map<string, protobuf.Type | null>();
  private readonly maxJsonLength: number;

  private constructor(
    private readonly root: protobuf.Root,
    opts: ProtoMessageDecoderOptions,
  ) {
    this.maxJsonLength = opts.maxJsonLength ?? 4096;
  }

  static async load(files: string[], opts: ProtoMessageDecoderOptions = {}): Promise<ProtoMessageDecoder> {
    const root = await new protobuf.Root().load(files, { keepCase: true });
    root.resolveAll();
    return new ProtoMessageDecoder(root, opts);
  }

  /** True when `path` (`/pkg.Service/Method`) names a method of the loaded files. */
  knows(path: string): boolean {
    return this.typeFor(path, 'request') !== null;
  }

  /**
   * Decode one message of `path`'s request or response type. Returns undefined when the method is
   * unknown, `{ error }` when the bytes do not decode as that type.
   */
  decode(path: string, direction: 'request' | 'response', bytes: Uint8Array): unknown {
    const type = this.typeFor(path, direction);
    if (!type) return undefined;
    let value: unknown;
    try {
      value = type.toObject(type.decode(bytes), { longs: String, enums: String, bytes: String, defaults: false });
    } catch (err) {
      return { error: `not a ${type.fullName.slice(1)}: ${(err as Error).message}` };
    }
    const json = JSON.stringify(value);
    if (json.length <= this.maxJsonLength) return JSON.parse(json) as unknown;
    const cut: TruncatedMessage = { truncated: true, json: json.slice(0, this.maxJsonLength) };
    return cut;
  }

  private typeFor(path: string, direction: 'request' | 'response'): protobuf.Type | null {
    const key = `${direction} ${path}`;
    const cached = this.types.get(key);
    if (cached !== undefined) return cached;
    const type = this.resolve(path, direction);
    this.types.set(key, type);
    return type;
  }

  private resolve(path: string, direction: 'request' | 'response'): protobuf.Type | null {
    const match = /^\/([^/]+)\/([^/]+)$/.exec(path);
    if (!match) return null;
    const service = this.root.lookup(match[1]!);
    if (!(service instanceof protobuf.Service)) return null;
    const method = service.methods[match[2]!];
    if (!method) return null;
    method.resolve();
    return (direction === 'request' ? method.resolvedRequestType : method.resolvedResponseType) ?? null;
  }
}
