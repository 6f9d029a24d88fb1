// The chaos workload: real clients (src/client) against the real members while faults run.
//
// - KV clients: each does gets, puts, deletes and compare-and-swaps on a small key space and
//   records every operation in check/'s history format, with wall-clock times (ms since the
//   Unix epoch, fractional). Half the clients speak plain etcd semantics (one attempt per
//   operation: a retry could apply a write twice), half use exactly-once sessions (retries on
//   other endpoints carry the same session and sequence number). A timeout or a broken
//   connection is "unknown", as the checker expects; only a refusal that certainly applied
//   nothing is "fail". Acknowledged puts are kept with the revision they were written at.
//   Readers, one per member and pinned to it, only get: whatever a member answers shows.
// - Watchers: one per member, on the whole chaos key space from the first revision of the run;
//   they record every event as delivered (the client resumes a broken stream from the last
//   revision + 1 on another member).
// - A lease worker grants leases with a key attached, keeps some alive for a while, lets the
//   others lapse, and records when each keep-alive was sent and acknowledged.

import type { HistoryOp } from "../check/index.js";
import { KvClient, type KvClientError, type Watch } from "../client/index.js";
import { Xoshiro128 } from "../raft/index.js";

export const KEY_PREFIX = "chaos/";
const KV_PREFIX = `${KEY_PREFIX}k/`;
const LEASE_PREFIX = `${KEY_PREFIX}l/`;

/** Wall-clock milliseconds with sub-millisecond resolution, monotonic within this process. */
export function wallMs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000) / 1000;
}

export interface AckedWrite {
  readonly key: string;
  readonly value: string;
  readonly revision: number;
}

export interface OperationCounts {
  ok: number;
  fail: number;
  unknown: number;
}

/** gRPC refusals after which the write certainly did not apply (nothing reached the log). */
function certainlyNotApplied(e: KvClientError): boolean {
  // INVALID_ARGUMENT (3), FAILED_PRECONDITION (9), OUT_OF_RANGE (11), RESOURCE_EXHAUSTED (8)
  // are answers of the server about the request itself.
  return e.grpcCode === 3 || e.grpcCode === 9 || e.grpcCode === 11 || e.grpcCode === 8;
}

export interface KvWorkerOptions {
  readonly id: string;
  readonly endpoints: readonly string[];
  readonly exactlyOnce: boolean;
  readonly keys: number;
  readonly seed: number;
  readonly timeoutMs: number;
  /** Pause between operations: pacing on a shared machine, not synchronisation. */
  readonly thinkMs: number;
  readonly opsMax: number;
  /** Only gets (a reader pinned to one member: what a stale member answers shows). */
  readonly readOnly?: boolean;
}

/** The operations a KV worker draws: 40% get, 30% put, 10% delete, 20% compare-and-set. */
type KvOpKind = "get" | "put" | "delete" | "cas";

export class KvWorker {
  readonly history: HistoryOp[] = [];
  readonly acked: AckedWrite[] = [];
  readonly counts: OperationCounts = { ok: 0, fail: 0, unknown: 0 };
  private readonly client: KvClient;
  private readonly prng: Xoshiro128;
  private stopped = false;
  private running: Promise<void> | undefined;
  private seq = 0;
  /** The last value this client saw per key (cas expectations). */
  private readonly seen = new Map<string, string | null>();

  constructor(private readonly o: KvWorkerOptions) {
    this.client = new KvClient(o.endpoints, {
      timeoutMs: o.timeoutMs,
      attempts: o.exactlyOnce ? o.endpoints.length * 2 : 1,
      exactlyOnce: o.exactlyOnce,
    });
    this.prng = new Xoshiro128(o.seed);
  }

  start(): void {
    this.running = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
    this.client.close();
  }

  private async loop(): Promise<void> {
    let failures = 0;
    for (let i = 0; i < this.o.opsMax && !this.stopped; i++) {
      failures = (await this.one()) ? 0 : failures + 1;
      // After a failure, back off (bounded) as a real client does: a member that is down
      // answers at once, and a loop of instant failures would only pile up unknown outcomes.
      const pauseMs = failures === 0 ? this.o.thinkMs : Math.min(1000, 50 * 2 ** failures);
      if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
    }
  }

  /** One operation; false when it did not succeed. */
  private async one(): Promise<boolean> {
    const key = `${KV_PREFIX}${this.prng.int(this.o.keys)}`;
    const roll = this.o.readOnly === true ? 0 : this.prng.int(100);
    const op: KvOpKind = roll < 40 ? "get" : roll < 70 ? "put" : roll < 80 ? "delete" : "cas";
    const value = `${this.o.id}-${++this.seq}`;
    const invoke = wallMs();
    try {
      await this.attempt(op, key, value, invoke);
      return true;
    } catch (e) {
      this.recordFailure(op, key, value, invoke, e as KvClientError);
      return false;
    }
  }

  /** Runs one operation and records its success; throws what the client threw. */
  private async attempt(op: KvOpKind, key: string, value: string, invoke: number): Promise<void> {
    const client = this.o.id;
    switch (op) {
      case "get": {
        const r = await this.client.get(key);
        const output = r.kvs[0]?.value ?? null;
        this.seen.set(key, output);
        this.record({ client, op: "get", key, invoke, complete: wallMs(), status: "ok", output });
        return;
      }
      case "put": {
        const r = await this.client.put(key, value);
        const complete = wallMs();
        this.record({
          client,
          op: "put",
          key,
          value,
          invoke,
          complete,
          status: "ok",
          output: null,
        });
        this.acked.push({ key, value, revision: r.revision });
        return;
      }
      case "delete":
        await this.client.delete(key);
        this.record({
          client,
          op: "delete",
          key,
          invoke,
          complete: wallMs(),
          status: "ok",
          output: null,
        });
        return;
      case "cas":
        return this.compareAndSet(key, value, invoke);
    }
  }

  /** A put if the key still holds what this client last saw (or is absent, if it saw none). */
  private async compareAndSet(key: string, value: string, invoke: number): Promise<void> {
    const expected = this.seen.get(key) ?? null;
    const r = await this.client.txn({
      compare: [
        expected === null
          ? { key, target: "version", op: "==", value: 0 }
          : { key, target: "value", op: "==", value: expected },
      ],
      success: [{ type: "put", key, value }],
    });
    const complete = wallMs();
    const client = this.o.id;
    const output = r.succeeded;
    this.record({
      client,
      op: "cas",
      key,
      value,
      expected,
      invoke,
      complete,
      status: "ok",
      output,
    });
    if (r.succeeded) this.acked.push({ key, value, revision: r.revision });
  }

  private recordFailure(
    op: KvOpKind,
    key: string,
    value: string,
    invoke: number,
    err: KvClientError,
  ): void {
    const client = this.o.id;
    // A session client retries on its own: a refusal of a later attempt says nothing of an
    // earlier one that timed out, so only a single-attempt client's refusal is certain.
    const status =
      !this.o.exactlyOnce && err.name === "KvClientError" && certainlyNotApplied(err)
        ? "fail"
        : "unknown";
    const complete = status === "fail" ? wallMs() : null;
    if (op === "get")
      this.record({ client, op: "get", key, invoke, complete, status, output: null });
    else if (op === "put")
      this.record({ client, op: "put", key, value, invoke, complete, status, output: null });
    else if (op === "delete")
      this.record({ client, op: "delete", key, invoke, complete, status, output: null });
    else
      this.record({
        client,
        op: "cas",
        key,
        value,
        expected: this.seen.get(key) ?? null,
        invoke,
        complete,
        status,
        output: null,
      });
  }

  private record(op: HistoryOp): void {
    this.history.push(op);
    this.counts[op.status]++;
  }
}

/** One delivered watch event, as the chaos checks compare them. */
export interface SeenEvent {
  readonly type: "put" | "delete";
  readonly key: string;
  readonly value: string;
  readonly revision: number;
  /** When this process received it (Date.now(), the clock leases are judged by). */
  readonly atMs: number;
}

/** A watch on the chaos key space from a fixed revision, recording what it delivers. */
export class Watcher {
  readonly events: SeenEvent[] = [];
  private readonly client: KvClient;
  private readonly watch: Watch;
  private done: Promise<void>;
  error: string | undefined;
  private waiters: { revision: number; resolve: () => void }[] = [];

  constructor(
    readonly id: string,
    endpoints: readonly string[],
    startRevision: number,
  ) {
    // Generous reconnect attempts: quorum loss may keep every member unavailable for seconds.
    this.client = new KvClient(endpoints, { attempts: 400, timeoutMs: 2000 });
    this.watch = this.client.watch(KEY_PREFIX, { prefix: true, startRevision });
    this.done = this.consume();
  }

  get reconnects(): number {
    return this.watch.reconnects;
  }

  get lastRevision(): number {
    return this.events.at(-1)?.revision ?? 0;
  }

  private async consume(): Promise<void> {
    try {
      for await (const e of this.watch) {
        this.events.push({
          type: e.type,
          key: e.kv.key,
          value: e.kv.value,
          revision: e.kv.modRevision,
          atMs: Date.now(),
        });
        const rev = e.kv.modRevision;
        this.waiters = this.waiters.filter((w) => {
          if (w.revision > rev) return true;
          w.resolve();
          return false;
        });
      }
    } catch (e) {
      this.error = String((e as Error).message ?? e);
    }
    for (const w of this.waiters) w.resolve();
    this.waiters = [];
  }

  /** Resolves once an event at `revision` or later was delivered (or the watch ended), or after timeoutMs. */
  reached(revision: number, timeoutMs: number): Promise<boolean> {
    if (this.lastRevision >= revision) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(this.lastRevision >= revision), timeoutMs);
      this.waiters.push({
        revision,
        resolve: () => {
          clearTimeout(timer);
          resolve(this.lastRevision >= revision);
        },
      });
    });
  }

  async close(): Promise<void> {
    this.watch.close();
    await this.done;
    this.client.close();
  }
}

/** One lease of the lease worker, with what is known of when it may expire. */
export interface LeaseRecord {
  readonly id: string;
  readonly key: string;
  readonly ttlSeconds: number;
  /** Date.now() when the grant was sent (the lease's TTL runs from a leader time after it). */
  readonly grantSentMs: number;
  /** Date.now() when the last acknowledged keep-alive (or the grant) was sent. */
  lastRenewSentMs: number;
  keepAlives: number;
  /** Whether the worker meant to keep it alive (until keepUntilMs). */
  readonly keepUntilMs: number;
  /** A keep-alive said the lease was gone (Date.now() when it was sent). */
  goneAtSendMs?: number;
}

export class LeaseWorker {
  readonly leases: LeaseRecord[] = [];
  readonly counts: OperationCounts = { ok: 0, fail: 0, unknown: 0 };
  private readonly client: KvClient;
  private readonly prng: Xoshiro128;
  private stopped = false;
  private running: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(
    endpoints: readonly string[],
    seed: number,
    private readonly leasesMax: number,
  ) {
    this.client = new KvClient(endpoints, { attempts: endpoints.length, timeoutMs: 1500 });
    this.prng = new Xoshiro128(seed);
  }

  start(): void {
    this.running = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.running;
    this.client.close();
  }

  private async pause(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async loop(): Promise<void> {
    let nextGrantMs = 0;
    for (let round = 0; round < 100_000 && !this.stopped; round++) {
      const now = Date.now();
      if (now >= nextGrantMs && this.leases.length < this.leasesMax) {
        await this.grant();
        nextGrantMs = Date.now() + this.prng.range(1000, 2500);
      }
      for (const lease of this.leases) {
        if (this.stopped) break;
        if (lease.goneAtSendMs !== undefined || Date.now() > lease.keepUntilMs) continue;
        if (Date.now() - lease.lastRenewSentMs < (lease.ttlSeconds * 1000) / 3) continue;
        await this.keepAlive(lease);
      }
      await this.pause(200);
    }
  }

  private async grant(): Promise<void> {
    const ttlSeconds = this.prng.range(2, 4);
    const keep = this.prng.chance(0.5);
    const sent = Date.now();
    let id: string;
    try {
      id = (await this.client.leaseGrant(ttlSeconds)).id;
    } catch {
      this.counts.unknown++;
      return;
    }
    const key = `${LEASE_PREFIX}${id}`;
    try {
      await this.client.put(key, `lease-${id}`, { lease: id });
    } catch {
      this.counts.unknown++;
      return;
    }
    this.counts.ok++;
    this.leases.push({
      id,
      key,
      ttlSeconds,
      grantSentMs: sent,
      lastRenewSentMs: sent,
      keepAlives: 0,
      keepUntilMs: keep ? sent + this.prng.range(3000, 10_000) : 0,
    });
  }

  private async keepAlive(lease: LeaseRecord): Promise<void> {
    const sent = Date.now();
    try {
      const r = await this.client.leaseKeepAliveOnce(lease.id);
      if (KvClient.leaseGone(r)) lease.goneAtSendMs = sent;
      else {
        lease.lastRenewSentMs = Math.max(lease.lastRenewSentMs, sent);
        lease.keepAlives++;
      }
      this.counts.ok++;
    } catch {
      this.counts.unknown++;
    }
  }
}
