// Ordo's TypeScript client for the etcd v3 KV API: an endpoint list, leader-independent
// requests (any member serves any request), and retries on another endpoint when a member is
// unavailable. Keys and values are strings or bytes.
import * as grpc from "@grpc/grpc-js";
import { serviceClient } from "../server/proto.js";

export interface KeyValue {
  readonly key: string;
  readonly value: string;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  readonly lease: string;
}

export interface GetOptions {
  readonly prefix?: boolean;
  readonly rangeEnd?: string;
  readonly limit?: number;
  readonly revision?: number;
  readonly keysOnly?: boolean;
  readonly countOnly?: boolean;
  readonly serializable?: boolean;
}

export interface GetResult {
  readonly kvs: KeyValue[];
  readonly count: number;
  readonly more: boolean;
  readonly revision: number;
}

export class KvClientError extends Error {
  override readonly name = "KvClientError";
  constructor(
    readonly grpcCode: number,
    message: string,
  ) {
    super(message);
  }
}

interface RawKv {
  key: Buffer;
  value: Buffer;
  create_revision: string;
  mod_revision: string;
  version: string;
  lease: string;
}

type Unary = (
  req: unknown,
  meta: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: (e: grpc.ServiceError | null, res: unknown) => void,
) => void;

/** "foo" → "fop": the range_end that selects every key with the prefix (etcd's GetPrefixRangeEnd). */
export function prefixRangeEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if ((end[i] as number) < 0xff) {
      end[i] = (end[i] as number) + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

export class KvClient {
  private readonly clients: grpc.Client[];
  private current = 0;

  constructor(
    readonly endpoints: readonly string[],
    private readonly options: { timeoutMs?: number; attempts?: number } = {},
  ) {
    if (endpoints.length === 0) throw new Error("no endpoints");
    const Ctor = serviceClient("KV");
    this.clients = endpoints.map(
      (e) => new Ctor(e.replace(/^https?:\/\//, ""), grpc.credentials.createInsecure()),
    );
  }

  close(): void {
    for (const c of this.clients) c.close();
  }

  async put(
    key: string,
    value: string,
    options: { lease?: string; prevKv?: boolean } = {},
  ): Promise<{ revision: number; prevKv: KeyValue | undefined }> {
    const res = (await this.call("Put", {
      key: Buffer.from(key),
      value: Buffer.from(value),
      lease: options.lease ?? "0",
      prev_kv: options.prevKv ?? false,
    })) as { header: { revision: string }; prev_kv: RawKv | null };
    return {
      revision: Number(res.header.revision),
      prevKv: res.prev_kv ? toKv(res.prev_kv) : undefined,
    };
  }

  async get(key: string, options: GetOptions = {}): Promise<GetResult> {
    const k = Buffer.from(key);
    const rangeEnd = options.prefix
      ? prefixRangeEnd(k)
      : options.rangeEnd !== undefined
        ? Buffer.from(options.rangeEnd)
        : Buffer.alloc(0);
    const res = (await this.call("Range", {
      key: k,
      range_end: rangeEnd,
      limit: String(options.limit ?? 0),
      revision: String(options.revision ?? 0),
      keys_only: options.keysOnly ?? false,
      count_only: options.countOnly ?? false,
      serializable: options.serializable ?? false,
    })) as { header: { revision: string }; kvs: RawKv[]; count: string; more: boolean };
    return {
      kvs: res.kvs.map(toKv),
      count: Number(res.count),
      more: res.more,
      revision: Number(res.header.revision),
    };
  }

  async delete(
    key: string,
    options: { prefix?: boolean; prevKv?: boolean } = {},
  ): Promise<{ deleted: number; revision: number }> {
    const k = Buffer.from(key);
    const res = (await this.call("DeleteRange", {
      key: k,
      range_end: options.prefix ? prefixRangeEnd(k) : Buffer.alloc(0),
      prev_kv: options.prevKv ?? false,
    })) as { header: { revision: string }; deleted: string };
    return { deleted: Number(res.deleted), revision: Number(res.header.revision) };
  }

  /** Compare-and-swap in one Txn: put `value` if the key's value is `expected` (null: absent). */
  async compareAndSwap(key: string, expected: string | null, value: string): Promise<boolean> {
    const compare =
      expected === null
        ? { result: "EQUAL", target: "VERSION", key: Buffer.from(key), version: "0" }
        : { result: "EQUAL", target: "VALUE", key: Buffer.from(key), value: Buffer.from(expected) };
    const res = (await this.call("Txn", {
      compare: [compare],
      success: [{ request_put: { key: Buffer.from(key), value: Buffer.from(value) } }],
      failure: [],
    })) as { succeeded: boolean };
    return res.succeeded;
  }

  /** Sends a KV request, moving to the next endpoint when one is unavailable. */
  private async call(method: string, request: unknown): Promise<unknown> {
    const attempts = this.options.attempts ?? this.clients.length * 3;
    let last: grpc.ServiceError | undefined;
    for (let attempt = 0; attempt < attempts; attempt++) {
      const client = this.clients[this.current % this.clients.length] as grpc.Client;
      try {
        return await new Promise((resolve, reject) => {
          const fn = (client as unknown as Record<string, Unary>)[method] as Unary;
          fn.call(
            client,
            request,
            new grpc.Metadata(),
            { deadline: Date.now() + (this.options.timeoutMs ?? 5000) },
            (e, res) => (e ? reject(e) : resolve(res)),
          );
        });
      } catch (e) {
        const err = e as grpc.ServiceError;
        last = err;
        if (err.code !== grpc.status.UNAVAILABLE && err.code !== grpc.status.DEADLINE_EXCEEDED) {
          throw new KvClientError(err.code, err.details || err.message);
        }
        this.current++;
        await new Promise((r) =>
          setTimeout(r, Math.min(50 * 2 ** Math.floor(attempt / this.clients.length), 1000)),
        );
      }
    }
    throw new KvClientError(
      last?.code ?? grpc.status.UNAVAILABLE,
      last?.details || "no endpoint answered",
    );
  }
}

function toKv(raw: RawKv): KeyValue {
  return {
    key: raw.key.toString(),
    value: raw.value.toString(),
    createRevision: Number(raw.create_revision),
    modRevision: Number(raw.mod_revision),
    version: Number(raw.version),
    lease: raw.lease,
  };
}
