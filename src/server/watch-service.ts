// etcd v3's Watch service (one bidirectional stream carrying many watches) over the member's
// local store. Events reach a watch as this replica applies writes: the service subscribes
// once to the store (KvStore.subscribe, called synchronously at the end of every write) and
// fans each revision's events out to the matching watches.
//
// A watch with a start revision in the past is "syncing": it replays history with Events
// queries (serializable: this replica's own store) while live batches for it are buffered.
// Because the watch is registered with the hub before the first query runs, every revision
// after the registration arrives live, and every revision up to the last query's header
// revision was replayed: flushing the buffered batches above that revision leaves neither a gap
// nor a duplicate. The same machinery resynchronises watches when the store jumps ahead (a
// snapshot install: the next batch's revision is not the last one plus one).
//
// Responses follow etcd 3.4's serverWatchStream: `created` first (watch_id -1 and canceled with
// a reason when the watch cannot be created), events batched per revision, a compacted start
// revision → compact_revision and canceled, a cancel → canceled, a progress request → a header
// with watch_id -1 and no events, progress_notify → periodic empty responses for watches that
// had no events since the last tick.
//
// Bounds: every stream queues at most streamEventsMax events / streamBytesMax bytes (replayed,
// buffered while syncing, or waiting for the client to read); the watch that would exceed them
// is canceled with a reason and its queued events dropped. Replay waits for room before each
// chunk. Nothing a client sends can throw out of a handler.

import * as grpc from "@grpc/grpc-js";
import {
  authError,
  type EventBatch,
  type EventListener,
  type EventsResponse,
  encodeQuery,
  type KeyValue,
  KvError,
  type KvEvent,
} from "../kv/index.js";
import { bytesEqual, compareBytes, EMPTY_BYTES } from "../lib/index.js";
import { type AuthGate, credentialsOfCall } from "./auth-gate.js";
import {
  boolFromEtcd,
  headerToEtcd,
  int64FromEtcd,
  int64ToEtcd,
  keyValueToEtcd,
  type MemberHeader,
} from "./etcd-mapping.js";
import { responseOf, statusOf } from "./kv-service.js";

export interface WatchBackend {
  /** Answers an encoded KvQuery (only Events queries, serializable, are sent). */
  read(query: Uint8Array, mode: "linearizable" | "serializable"): Promise<Uint8Array>;
  /** The local store's subscribe: the listener hears every later write's events, synchronously. */
  subscribe(listener: EventListener): () => void;
  /** The local store's current revision. */
  revision(): number;
  header(): MemberHeader;
}

export interface WatchServiceOptions {
  /** How often progress_notify watches get an empty response (etcd: 10 minutes). */
  readonly progressNotifyIntervalMs?: number;
  /** Events one stream may hold queued or buffered before the watch adding more is canceled. */
  readonly streamEventsMax?: number;
  /** The same bound in bytes (keys and values of events and prev_kvs). */
  readonly streamBytesMax?: number;
  /** Events per replay query. */
  readonly replayChunkEvents?: number;
  /** Watches one stream may hold. */
  readonly watchesPerStreamMax?: number;
  /** Hears internal failures (a broken backend, a bug), for logging. */
  readonly onInternalError?: (what: string, error: unknown) => void;
  /**
   * Authorization (auth-gate.ts): a watch is created only with read permission on its range
   * (etcd's isWatchPermitted); otherwise it is answered created and canceled, "permission
   * denied" (an invalid token too, as in etcd).
   */
  readonly auth?: AuthGate;
}

export interface WatchService {
  readonly handlers: grpc.UntypedServiceImplementation;
  /** Ends every open stream (status OK) and stops listening to the store. */
  close(): void;
  /** Open watches over all streams (for tests and metrics). */
  watchCount(): number;
}

export const DEFAULT_PROGRESS_NOTIFY_INTERVAL_MS = 10 * 60 * 1000;
const DEFAULTS = {
  streamEventsMax: 100_000,
  streamBytesMax: 64 * 1024 * 1024,
  replayChunkEvents: 1000,
  watchesPerStreamMax: 10_000,
};
/** etcd's clientv3.InvalidWatchID. */
const INVALID_WATCH_ID = -1;
/** Replay queries one watch may make (each returns at least one revision): a bound, not a limit. */
const REPLAY_ROUNDS_MAX = 10_000_000;

type Filter = "NOPUT" | "NODELETE";

interface Watcher {
  readonly id: number;
  readonly stream: WatchStream;
  readonly key: Uint8Array;
  readonly rangeEnd: Uint8Array;
  readonly prevKv: boolean;
  readonly noPut: boolean;
  readonly noDelete: boolean;
  readonly progressNotify: boolean;
  /** The first revision not yet delivered (or replayed). */
  nextRevision: number;
  /** Replaying history: live batches go to `pending`. */
  syncing: boolean;
  /** A revision gap was seen while syncing: the replay must read again before it ends. */
  gapSeen: boolean;
  pending: Pending[];
  sentSinceTick: boolean;
  canceled: boolean;
}

interface Pending {
  readonly revision: number;
  readonly events: readonly KvEvent[];
  readonly bytes: number;
}

interface Outgoing {
  readonly watcher: Watcher | undefined;
  readonly response: object;
  readonly events: number;
  readonly bytes: number;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function bytesOf(value: unknown, name: string): Uint8Array {
  if (value === undefined || value === null) return EMPTY_BYTES;
  if (!(value instanceof Uint8Array)) {
    throw new KvError("INVALID_ARGUMENT", `etcdserver: ${name} must be bytes`);
  }
  return Uint8Array.from(value); // kept for the watch's life: never a view of the message buffer
}

function filterOf(value: unknown): Filter {
  if (value === 0 || (typeof value === "string" && value.toUpperCase() === "NOPUT")) return "NOPUT";
  if (value === 1 || (typeof value === "string" && value.toUpperCase() === "NODELETE")) {
    return "NODELETE";
  }
  throw new KvError("INVALID_ARGUMENT", "etcdserver: unknown watch filter");
}

function isMessage(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function kvBytes(kv: KeyValue | undefined): number {
  return kv === undefined ? 0 : kv.key.length + kv.value.length + 64;
}

function matches(w: Watcher, key: Uint8Array): boolean {
  if (w.rangeEnd.length === 0) return bytesEqual(key, w.key);
  if (compareBytes(key, w.key) < 0) return false;
  return (w.rangeEnd.length === 1 && w.rangeEnd[0] === 0) || compareBytes(key, w.rangeEnd) < 0;
}

/** The events of one revision this watch wants, filtered and with prev_kv only when asked. */
function select(w: Watcher, events: readonly KvEvent[]): KvEvent[] {
  const out: KvEvent[] = [];
  for (const e of events) {
    if (!matches(w, e.kv.key)) continue;
    if (e.type === "PUT" ? w.noPut : w.noDelete) continue;
    out.push(w.prevKv ? e : { type: e.type, kv: e.kv });
  }
  return out;
}

function eventToEtcd(e: KvEvent): object {
  return {
    type: e.type === "PUT" ? 0 : 1,
    kv: keyValueToEtcd(e.kv),
    prev_kv: e.prevKv === undefined ? null : keyValueToEtcd(e.prevKv),
  };
}

function sizeOf(events: readonly KvEvent[]): number {
  let bytes = 0;
  for (const e of events) bytes += kvBytes(e.kv) + kvBytes(e.prevKv);
  return bytes;
}

/** Every watch of the service, behind one store subscription. */
class WatchHub {
  private readonly watchers = new Set<Watcher>();
  private unsubscribe: (() => void) | undefined;
  private lastRevision = 0;

  constructor(
    private readonly backend: WatchBackend,
    private readonly internalError: (what: string, error: unknown) => void,
  ) {}

  get size(): number {
    return this.watchers.size;
  }

  /** Throws (TOO_MANY_LISTENERS) when the store refuses the subscription. */
  add(w: Watcher): void {
    if (this.unsubscribe === undefined) {
      this.unsubscribe = this.backend.subscribe((batch) => this.onBatch(batch));
      this.lastRevision = this.backend.revision();
    }
    this.watchers.add(w);
  }

  remove(w: Watcher): void {
    this.watchers.delete(w);
    if (this.watchers.size === 0 && this.unsubscribe !== undefined) {
      this.unsubscribe();
      this.unsubscribe = undefined;
    }
  }

  private onBatch(batch: EventBatch): void {
    const gap = batch.revision !== this.lastRevision + 1;
    this.lastRevision = batch.revision;
    for (const w of [...this.watchers]) {
      try {
        w.stream.deliver(w, batch, gap);
      } catch (e) {
        this.internalError("watch delivery", e);
        w.stream.cancelWatch(w, `ordo: internal error: ${messageOf(e)}`);
      }
    }
  }
}

interface Limits {
  readonly progressNotifyIntervalMs: number;
  readonly streamEventsMax: number;
  readonly streamBytesMax: number;
  readonly replayChunkEvents: number;
  readonly watchesPerStreamMax: number;
}

/** One Watch call: its watches, its ordered output queue and the writes to the client. */
class WatchStream {
  private readonly watchers = new Map<number, Watcher>();
  private readonly queue: Outgoing[] = [];
  private queuedEvents = 0;
  private queuedBytes = 0;
  /** Events (and bytes) buffered in syncing watches' `pending`. */
  private pendingEvents = 0;
  private pendingBytes = 0;
  private nextId = 0;
  private blocked = false;
  private closed = false;
  private progressPending = false;
  private progressTimer: NodeJS.Timeout | undefined;
  /** Resolvers waiting for the queue to have room (replays). */
  private roomWaiters: (() => void)[] = [];

  constructor(
    private readonly call: grpc.ServerDuplexStream<unknown, object>,
    private readonly hub: WatchHub,
    private readonly backend: WatchBackend,
    private readonly limits: Limits,
    private readonly internalError: (what: string, error: unknown) => void,
    private readonly onClosed: (stream: WatchStream) => void,
    private readonly authorize?: (key: Uint8Array, rangeEnd: Uint8Array) => void,
  ) {
    call.on("data", (message: unknown) => {
      try {
        this.receive(message);
      } catch (e) {
        this.internalError("watch request", e);
      }
    });
    // etcd keeps serving after the client half-closes; the client ends the call by cancelling.
    call.on("end", () => {});
    call.on("error", () => this.close());
    call.on("cancelled", () => this.close());
    call.on("close", () => this.close());
    call.on("drain", () => {
      this.blocked = false;
      this.pump();
    });
  }

  get watchCount(): number {
    return this.watchers.size;
  }

  /** Ends the call (status OK) and drops every watch. */
  end(): void {
    if (this.closed) return;
    this.close();
    try {
      this.call.end();
    } catch {
      // Already ended.
    }
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.watchers.values()) {
      w.canceled = true;
      w.pending = [];
      this.hub.remove(w);
    }
    this.pendingEvents = 0;
    this.pendingBytes = 0;
    this.watchers.clear();
    this.queue.length = 0;
    this.queuedEvents = 0;
    this.queuedBytes = 0;
    if (this.progressTimer !== undefined) clearInterval(this.progressTimer);
    this.progressTimer = undefined;
    this.wakeRoomWaiters();
    this.onClosed(this);
  }

  // ---- requests -------------------------------------------------------------------------------

  private receive(message: unknown): void {
    if (this.closed || !isMessage(message)) return;
    const create = message.create_request;
    const cancel = message.cancel_request;
    if (isMessage(create)) this.create(create);
    else if (isMessage(cancel)) this.cancelRequest(cancel);
    else if (isMessage(message.progress_request)) this.progressRequest();
  }

  private create(m: Readonly<Record<string, unknown>>): void {
    let w: Watcher;
    let startRevision: number;
    try {
      const key = bytesOf(m.key, "key");
      const rangeEnd = bytesOf(m.range_end, "range_end");
      startRevision = int64FromEtcd(m.start_revision, "start_revision");
      const requestedId = int64FromEtcd(m.watch_id, "watch_id");
      const filters = Array.isArray(m.filters) ? m.filters.map(filterOf) : [];
      const prevKv = boolFromEtcd(m.prev_kv, "prev_kv");
      const progressNotify = boolFromEtcd(m.progress_notify, "progress_notify");
      const openEnded = rangeEnd.length === 1 && rangeEnd[0] === 0;
      if (rangeEnd.length > 0 && !openEnded && compareBytes(key, rangeEnd) >= 0) {
        throw new KvError("INVALID_ARGUMENT", "mvcc: watcher range is empty");
      }
      if (requestedId < 0) throw new KvError("INVALID_ARGUMENT", "etcdserver: negative watch ID");
      this.authorize?.(key, rangeEnd);
      if (requestedId !== 0 && this.watchers.has(requestedId)) {
        throw new KvError(
          "INVALID_ARGUMENT",
          "mvcc: duplicate watch ID provided on the WatchStream",
        );
      }
      if (this.watchers.size >= this.limits.watchesPerStreamMax) {
        throw new KvError(
          "INVALID_ARGUMENT",
          `ordo: at most ${this.limits.watchesPerStreamMax} watches per stream`,
        );
      }
      let id = requestedId;
      if (id === 0) {
        for (let i = 0; i <= this.watchers.size && this.watchers.has(this.nextId); i++) {
          this.nextId++;
        }
        id = this.nextId++;
      }
      const current = this.backend.revision();
      w = {
        id,
        stream: this,
        key,
        rangeEnd,
        prevKv,
        noPut: filters.includes("NOPUT"),
        noDelete: filters.includes("NODELETE"),
        progressNotify,
        nextRevision: startRevision > 0 ? startRevision : current + 1,
        syncing: startRevision > 0 && startRevision <= current,
        gapSeen: false,
        pending: [],
        sentSinceTick: false,
        canceled: false,
      };
      this.hub.add(w);
    } catch (e) {
      this.enqueue(undefined, {
        ...this.base(INVALID_WATCH_ID),
        created: true,
        canceled: true,
        cancel_reason: createRefusalReason(e),
      });
      return;
    }
    this.watchers.set(w.id, w);
    this.enqueue(w, { ...this.base(w.id), created: true });
    if (w.progressNotify) this.startProgressTimer();
    if (w.syncing) void this.sync(w);
  }

  private cancelRequest(m: Readonly<Record<string, unknown>>): void {
    let id: number;
    try {
      id = int64FromEtcd(m.watch_id, "watch_id");
    } catch {
      return;
    }
    const w = this.watchers.get(id);
    if (w === undefined) return; // etcd answers an unknown ID with nothing
    this.drop(w);
    this.enqueue(undefined, { ...this.base(w.id), canceled: true });
  }

  private progressRequest(): void {
    this.progressPending = true;
    this.maybeSendProgress();
  }

  /** A progress response may only claim a revision every watch of the stream has caught up to. */
  private maybeSendProgress(): void {
    if (!this.progressPending || this.closed) return;
    for (const w of this.watchers.values()) if (w.syncing) return;
    this.progressPending = false;
    this.enqueue(undefined, this.base(INVALID_WATCH_ID));
  }

  private startProgressTimer(): void {
    if (this.progressTimer !== undefined) return;
    this.progressTimer = setInterval(
      () => this.progressTick(),
      this.limits.progressNotifyIntervalMs,
    );
    this.progressTimer.unref();
  }

  private progressTick(): void {
    for (const w of this.watchers.values()) {
      if (!w.progressNotify || w.syncing) continue;
      if (!w.sentSinceTick) this.enqueue(w, this.base(w.id));
      w.sentSinceTick = false;
    }
  }

  // ---- events ---------------------------------------------------------------------------------

  /** Called by the hub, synchronously inside the store's write. */
  deliver(w: Watcher, batch: EventBatch, gap: boolean): void {
    if (w.canceled || this.closed) return;
    if (gap) {
      // The store jumped (a snapshot install): replay what this watch missed.
      if (w.syncing) {
        w.gapSeen = true;
        this.release(w.pending);
        w.pending = [];
      } else {
        w.syncing = true;
        void this.sync(w);
      }
    }
    if (batch.revision < w.nextRevision) return;
    const events = select(w, batch.events);
    if (w.syncing) {
      if (events.length === 0) return;
      const bytes = sizeOf(events);
      if (!this.hold(w, events.length, bytes)) return;
      w.pending.push({ revision: batch.revision, events, bytes });
      this.pendingEvents += events.length;
      this.pendingBytes += bytes;
      return;
    }
    w.nextRevision = batch.revision + 1;
    if (events.length > 0) this.sendEvents(w, batch.revision, events);
  }

  /** Replays history from w.nextRevision, then flushes the live batches buffered meanwhile. */
  private async sync(w: Watcher): Promise<void> {
    try {
      for (let round = 0; ; round++) {
        if (round >= REPLAY_ROUNDS_MAX) throw new Error("replay does not end");
        await this.roomForReplay();
        if (w.canceled || this.closed) return;
        w.gapSeen = false;
        const res = await this.readEvents(w);
        if (w.canceled || this.closed) return;
        let start = 0;
        while (start < res.events.length) {
          const revision = res.events[start]!.kv.modRevision;
          let end = start;
          while (end < res.events.length && res.events[end]!.kv.modRevision === revision) end++;
          const events = select(w, res.events.slice(start, end));
          if (events.length > 0 && !this.sendEvents(w, revision, events)) return;
          start = end;
        }
        w.nextRevision = Math.max(w.nextRevision, res.nextRevision);
        if (res.nextRevision > res.header.revision && !w.gapSeen) break;
      }
      const pending = w.pending;
      w.pending = [];
      w.syncing = false;
      this.release(pending);
      for (const p of pending) {
        if (p.revision < w.nextRevision) continue;
        w.nextRevision = p.revision + 1;
        if (!this.sendEvents(w, p.revision, p.events)) return;
      }
      this.maybeSendProgress();
    } catch (e) {
      if (w.canceled || this.closed) return;
      if (e instanceof KvError && e.code === "COMPACTED") {
        this.drop(w);
        this.enqueue(undefined, {
          ...this.base(w.id),
          canceled: true,
          compact_revision: int64ToEtcd(e.compactRevision, "compact_revision"),
        });
      } else {
        const status = statusOf(e);
        if (status.code === grpc.status.INTERNAL) this.internalError("watch replay", e);
        this.cancelWatch(w, status.details);
      }
      this.maybeSendProgress();
    }
  }

  private async readEvents(w: Watcher): Promise<EventsResponse> {
    const query = encodeQuery({
      type: "Events",
      request: {
        key: w.key,
        rangeEnd: w.rangeEnd,
        startRevision: w.nextRevision,
        limit: this.limits.replayChunkEvents,
      },
    });
    return responseOf(await this.backend.read(query, "serializable"), "Events");
  }

  /** Queues one revision's events for w; false when that canceled the watch (no room). */
  private sendEvents(w: Watcher, revision: number, events: readonly KvEvent[]): boolean {
    const bytes = sizeOf(events);
    if (!this.hold(w, events.length, bytes)) return false;
    w.sentSinceTick = true;
    this.enqueue(
      w,
      { ...this.base(w.id, revision), events: events.map(eventToEtcd) },
      events.length,
      bytes,
    );
    return true;
  }

  /** Counts events the stream will hold for w; cancels w (false) when the bounds would break. */
  private hold(w: Watcher, events: number, bytes: number): boolean {
    const heldEvents = this.queuedEvents + this.pendingEvents;
    const heldBytes = this.queuedBytes + this.pendingBytes;
    if (
      heldEvents + events > this.limits.streamEventsMax ||
      heldBytes + bytes > this.limits.streamBytesMax
    ) {
      this.cancelWatch(
        w,
        `ordo: watch canceled: the client reads too slowly (more than ${this.limits.streamEventsMax} events or ${this.limits.streamBytesMax} bytes buffered)`,
      );
      return false;
    }
    return true;
  }

  /** Stops counting pending batches that are flushed or dropped. */
  private release(pending: readonly Pending[]): void {
    for (const p of pending) {
      this.pendingEvents -= p.events.length;
      this.pendingBytes -= p.bytes;
    }
  }

  /** Cancels w with a reason, dropping what it still had queued. */
  cancelWatch(w: Watcher, reason: string): void {
    if (w.canceled || this.closed) return;
    this.drop(w);
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const item = this.queue[i]!;
      if (item.watcher !== w || item.events === 0) continue;
      this.queue.splice(i, 1);
      this.queuedEvents -= item.events;
      this.queuedBytes -= item.bytes;
    }
    this.enqueue(undefined, { ...this.base(w.id), canceled: true, cancel_reason: reason });
    this.wakeRoomWaiters();
  }

  private drop(w: Watcher): void {
    w.canceled = true;
    this.release(w.pending);
    w.pending = [];
    this.watchers.delete(w.id);
    this.hub.remove(w);
    this.maybeSendProgress();
  }

  // ---- output ---------------------------------------------------------------------------------

  private base(watchId: number, revision: number = this.backend.revision()): object {
    return {
      header: headerToEtcd({ revision }, this.backend.header()),
      watch_id: int64ToEtcd(watchId, "watch_id"),
      created: false,
      canceled: false,
      compact_revision: "0",
      cancel_reason: "",
      fragment: false,
      events: [],
    };
  }

  private enqueue(w: Watcher | undefined, response: object, events = 0, bytes = 0): void {
    if (this.closed) return;
    this.queue.push({ watcher: w, response, events, bytes });
    this.queuedEvents += events;
    this.queuedBytes += bytes;
    this.pump();
  }

  private pump(): void {
    // Bounded by the queue's length: each turn removes one item.
    while (!this.blocked && !this.closed && this.queue.length > 0) {
      const item = this.queue.shift()!;
      this.queuedEvents -= item.events;
      this.queuedBytes -= item.bytes;
      let more: boolean;
      try {
        more = this.call.write(item.response);
      } catch (e) {
        this.internalError("watch write", e);
        this.end();
        return;
      }
      if (!more) this.blocked = true;
    }
    this.wakeRoomWaiters();
  }

  /** Resolves once the queue is at most half full (or the stream is gone). */
  private roomForReplay(): Promise<void> {
    const hasRoom = (): boolean =>
      this.closed ||
      (this.queuedEvents <= this.limits.streamEventsMax / 2 &&
        this.queuedBytes <= this.limits.streamBytesMax / 2 &&
        !this.blocked);
    if (hasRoom()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (hasRoom()) resolve();
        else this.roomWaiters.push(check);
      };
      this.roomWaiters.push(check);
    });
  }

  private wakeRoomWaiters(): void {
    if (this.roomWaiters.length === 0) return;
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const wake of waiters) wake();
  }
}

/** The options' limits, with defaults; each must be a positive integer. */
function limitsOf(options: WatchServiceOptions): Limits {
  const limits: Limits = {
    progressNotifyIntervalMs:
      options.progressNotifyIntervalMs ?? DEFAULT_PROGRESS_NOTIFY_INTERVAL_MS,
    streamEventsMax: options.streamEventsMax ?? DEFAULTS.streamEventsMax,
    streamBytesMax: options.streamBytesMax ?? DEFAULTS.streamBytesMax,
    replayChunkEvents: options.replayChunkEvents ?? DEFAULTS.replayChunkEvents,
    watchesPerStreamMax: options.watchesPerStreamMax ?? DEFAULTS.watchesPerStreamMax,
  };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`watch-service: ${name} must be a positive integer`);
    }
  }
  return limits;
}

/**
 * The stream's range check, run for each watch it creates (the caller read from the call each
 * time); any auth failure is refused as etcd 3.4 refuses it, PERMISSION_DENIED. Undefined
 * without a gate: nothing is checked.
 */
function authorizerOf(
  call: grpc.ServerDuplexStream<unknown, object>,
  gate: AuthGate | undefined,
): ((key: Uint8Array, rangeEnd: Uint8Array) => void) | undefined {
  if (gate === undefined) return undefined;
  return (key, rangeEnd) => {
    try {
      gate.checkRange(gate.authInfo(credentialsOfCall(call)), key, rangeEnd);
    } catch (e) {
      if (e instanceof KvError && e.code.startsWith("AUTH_")) {
        throw authError("AUTH_PERMISSION_DENIED");
      }
      throw e;
    }
  };
}

/**
 * The Watch service's handlers, for `server.addService(serviceDefinition("Watch"),
 * service.handlers)`. Call close() before shutting the server down: open watch streams
 * otherwise keep a graceful shutdown waiting.
 */
export function watchService(
  backend: WatchBackend,
  options: WatchServiceOptions = {},
): WatchService {
  const limits = limitsOf(options);
  const internalError = (what: string, error: unknown): void => {
    try {
      options.onInternalError?.(what, error);
    } catch {
      // A logger's failure must not become the stream's.
    }
  };
  const hub = new WatchHub(backend, internalError);
  const streams = new Set<WatchStream>();
  let closed = false;
  const watch: grpc.handleBidiStreamingCall<unknown, object> = (call) => {
    if (closed) {
      call.emit("error", { code: grpc.status.UNAVAILABLE, details: "etcdserver: server stopped" });
      return;
    }
    const authorize = authorizerOf(call, options.auth);
    try {
      streams.add(
        new WatchStream(
          call,
          hub,
          backend,
          limits,
          internalError,
          (s) => streams.delete(s),
          authorize,
        ),
      );
    } catch (e) {
      internalError("watch stream", e);
      call.emit("error", statusOf(e));
    }
  };
  return {
    handlers: { Watch: watch },
    close: () => {
      closed = true;
      for (const s of [...streams]) s.end();
    },
    watchCount: () => hub.size,
  };
}

/**
 * A refused watch creation's cancel_reason, as etcd 3.4's watch server words it: a permission
 * refusal is the gRPC status error's string (`rpctypes.ErrGRPCPermissionDenied.Error()`:
 * "rpc error: code = PermissionDenied desc = etcdserver: permission denied"), any other the
 * plain error ("mvcc: watcher range is empty").
 */
function createRefusalReason(error: unknown): string {
  const status = statusOf(error);
  return status.code === grpc.status.PERMISSION_DENIED
    ? `rpc error: code = PermissionDenied desc = ${status.details}`
    : status.details;
}
