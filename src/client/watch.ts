// A watch over etcd's bidirectional Watch stream, as an async iterator of events. When the
// stream breaks (the member stopped, UNAVAILABLE, the server ended the stream) the watch
// reopens on the next endpoint from the revision after the last event it delivered (or after
// the revision it was created at), so consumers see no gap and no duplicate. A compacted start
// revision or a cancel by the server ends the iteration with a KvClientError.
import * as grpc from "@grpc/grpc-js";
import { KvClientError } from "./errors.js";
import type { KeyValue, RawHeader, RawKv } from "./wire.js";
import { type Bytes, prefixRangeEnd, toBytes, toKv } from "./wire.js";

export interface WatchOptions {
  readonly prefix?: boolean;
  readonly rangeEnd?: Bytes;
  /** The first revision to deliver (history is replayed). Default: changes after the watch starts. */
  readonly startRevision?: number;
  readonly prevKv?: boolean;
  readonly noPut?: boolean;
  readonly noDelete?: boolean;
}

export interface WatchEvent {
  readonly type: "put" | "delete";
  readonly kv: KeyValue;
  readonly prevKv: KeyValue | undefined;
}

interface RawWatchResponse {
  header: RawHeader;
  watch_id: string;
  created: boolean;
  canceled: boolean;
  compact_revision: string;
  cancel_reason: string;
  events: { type: string | number; kv: RawKv; prev_kv: RawKv | null }[];
}

export type OpenWatchStream = (endpoint: number) => grpc.ClientDuplexStream<unknown, unknown>;

export interface WatchLimits {
  /** Consecutive failed (re)connections before the watch gives up. */
  readonly reconnectAttempts: number;
  /** Events buffered for a slow consumer before the stream is paused. */
  readonly bufferEventsMax: number;
  readonly endpointCount: number;
  readonly firstEndpoint: number;
}

const BACKOFF_MS_MAX = 1000;

function isPut(type: string | number): boolean {
  return type === 0 || type === "Put" || type === "PUT";
}

export class Watch implements AsyncIterable<WatchEvent> {
  /** Resolves with the store revision the watch was (first) created at. */
  readonly created: Promise<number>;
  private resolveCreated!: (revision: number) => void;
  private rejectCreated!: (error: Error) => void;
  private isCreated = false;
  private readonly buffer: WatchEvent[] = [];
  private waiter: (() => void) | undefined;
  private failure: Error | undefined;
  private closed = false;
  private stream: grpc.ClientDuplexStream<unknown, unknown> | undefined;
  private paused = false;
  private endpoint: number;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The next revision to deliver; 0 until the first watch is created (then header + 1). */
  private nextRevision: number;
  /** How many times the watch was re-created on a new stream (for tests and logs). */
  reconnects = 0;

  constructor(
    private readonly open: OpenWatchStream,
    private readonly key: Bytes,
    private readonly options: WatchOptions,
    private readonly limits: WatchLimits,
  ) {
    this.created = new Promise<number>((resolve, reject) => {
      this.resolveCreated = resolve;
      this.rejectCreated = reject;
    });
    this.created.catch(() => {}); // the iterator reports the failure too
    this.nextRevision = options.startRevision ?? 0;
    this.endpoint = limits.firstEndpoint;
    this.connect();
  }

  /** Ends the watch: the iterator finishes (done) after the events already buffered. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.stream?.cancel();
    this.stream = undefined;
    if (!this.isCreated)
      this.rejectCreated(new KvClientError(grpc.status.CANCELLED, "watch closed"));
    this.wake();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    try {
      for (;;) {
        const event = this.buffer.shift();
        if (event !== undefined) {
          if (this.paused && this.buffer.length < this.limits.bufferEventsMax / 2) {
            this.paused = false;
            this.stream?.resume();
          }
          yield event;
          continue;
        }
        if (this.failure !== undefined) throw this.failure;
        if (this.closed) return;
        await new Promise<void>((resolve) => {
          this.waiter = resolve;
        });
      }
    } finally {
      this.close();
    }
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  private fail(error: Error): void {
    if (this.failure !== undefined || this.closed) return;
    this.failure = error;
    if (!this.isCreated) this.rejectCreated(error);
    this.stream?.cancel();
    this.stream = undefined;
    this.closed = true;
    this.wake();
  }

  private connect(): void {
    if (this.closed) return;
    const k = toBytes(this.key);
    const rangeEnd = this.options.prefix
      ? prefixRangeEnd(k)
      : this.options.rangeEnd !== undefined
        ? toBytes(this.options.rangeEnd)
        : Buffer.alloc(0);
    const filters: number[] = [];
    if (this.options.noPut) filters.push(0);
    if (this.options.noDelete) filters.push(1);
    const stream = this.open(this.endpoint % this.limits.endpointCount);
    this.stream = stream;
    let statusCode: number | undefined;
    let ended = false;
    const settle = (): void => {
      if (this.stream !== stream || statusCode === undefined || !ended) return;
      this.stream = undefined;
      this.retry(statusCode);
    };
    stream.on("data", (raw: RawWatchResponse) => {
      if (this.stream === stream) this.receive(raw);
    });
    stream.on("error", () => {}); // the status carries it
    stream.on("status", (s: grpc.StatusObject) => {
      statusCode = s.code;
      settle();
    });
    stream.on("end", () => {
      ended = true;
      settle();
    });
    stream.write({
      create_request: {
        key: k,
        range_end: rangeEnd,
        start_revision: String(this.nextRevision),
        prev_kv: this.options.prevKv ?? false,
        filters,
        progress_notify: false,
      },
    });
  }

  private retry(code: number): void {
    if (this.closed) return;
    const retryable =
      code === grpc.status.OK ||
      code === grpc.status.UNAVAILABLE ||
      code === grpc.status.DEADLINE_EXCEEDED ||
      code === grpc.status.CANCELLED;
    this.failures++;
    if (!retryable || this.failures > this.limits.reconnectAttempts) {
      this.fail(new KvClientError(code, `watch stream lost (status ${grpc.status[code] ?? code})`));
      return;
    }
    this.endpoint++;
    const delay = Math.min(
      25 * 2 ** Math.floor(this.failures / this.limits.endpointCount),
      BACKOFF_MS_MAX,
    );
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.reconnects++;
      this.connect();
    }, delay);
  }

  private receive(r: RawWatchResponse): void {
    if (r.canceled) {
      const compact = Number(r.compact_revision);
      this.fail(
        compact > 0
          ? new KvClientError(
              grpc.status.OUT_OF_RANGE,
              `etcdserver: mvcc: required revision has been compacted (compact revision ${compact})`,
            )
          : new KvClientError(
              grpc.status.CANCELLED,
              r.cancel_reason || "watch canceled by the server",
            ),
      );
      return;
    }
    if (r.created) {
      this.failures = 0;
      const revision = Number(r.header.revision);
      if (this.nextRevision === 0) this.nextRevision = revision + 1;
      if (!this.isCreated) {
        this.isCreated = true;
        this.resolveCreated(revision);
      }
    }
    for (const e of r.events) {
      const kv = toKv(e.kv);
      if (kv.modRevision < this.nextRevision) continue; // already delivered before a reconnect
      this.buffer.push({
        type: isPut(e.type) ? "put" : "delete",
        kv,
        prevKv: e.prev_kv ? toKv(e.prev_kv) : undefined,
      });
    }
    const last = r.events.at(-1);
    if (last !== undefined) {
      this.nextRevision = Math.max(this.nextRevision, Number(last.kv.mod_revision) + 1);
    }
    if (this.buffer.length >= this.limits.bufferEventsMax && !this.paused) {
      this.paused = true;
      this.stream?.pause();
    }
    if (this.buffer.length > 0) this.wake();
  }
}
