// The MVCC key-value store: etcd v3's data model as a deterministic, synchronous object. It owns
// the revision counter, every key's history back to the compaction point, the leases, and the
// event stream watches are built from. It never reads a clock or global randomness: time and
// randomness arrive as arguments (the ApplyContext of the log entry being applied).
//
// Revisions follow etcd: an empty store is at revision 1; every write request that changes
// something (a put, a delete that finds keys, a txn with such ops, a lease revoke with keys)
// makes exactly one new revision, and its changes are numbered within it by a sub revision. A
// request that changes nothing leaves the revision alone.
//
// Every write runs in two phases. First it checks everything that could fail: the request's
// shape, then the state it depends on (compares, leases, ignore_value's key, read revisions).
// Then it mutates, and from there nothing may fail: a KvError after the first change is turned
// into an assertion, because a half-applied command would be a divergence waiting to happen.

import {
  AssertionError,
  assert,
  assertNever,
  ByteWriter,
  CRC32C_INIT,
  copyBytes,
  crc32cFinish,
  crc32cUpdate,
  EMPTY_BYTES,
} from "../lib/index.js";
import type { ApplyContext } from "../rsm/state-machine.js";
import { type AlarmRequest, type AlarmResponse, AlarmStore } from "./alarm-store.js";
import { AuthStore } from "./auth-store.js";
import {
  compactedError,
  futureRevisionError,
  invalidArgumentError,
  KvError,
  keyNotFoundError,
  leaseExistsError,
  leaseNotFoundError,
  leaseTtlTooLargeError,
} from "./errors.js";
import { compareRevisions, type KeyHistory, liveRecord, tombstoneRecord } from "./key-history.js";
import { KeyIndex, spanOf } from "./key-index.js";
import { Lessor } from "./lessor.js";
import {
  type KvLimits,
  LEASE_EXTEND_MAX_MS,
  LEASE_TTL_MAX_SECONDS,
  resolveLimits,
  TIMESTAMP_MAX_MS,
} from "./limits.js";
import { needsAllRows, shapeRows } from "./range-shape.js";
import {
  checkDeleteRangeRequest,
  checkInteger,
  checkKeyRange,
  checkPutRequest,
  checkRangeRequest,
  checkTxnRequest,
} from "./request-check.js";
import { decodeSnapshot, encodeSnapshot, type MvccState } from "./snapshot-codec.js";
import { encodeStateDigest } from "./state-digest.js";
import { compareHoldsForAll } from "./txn-compare.js";
import type {
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  EventBatch,
  EventsRequest,
  EventsResponse,
  HashKVRequest,
  HashKVResponse,
  KeyValue,
  KvEvent,
  LeaseExpireRequest,
  LeaseExpireResponse,
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseKeepAliveRequest,
  LeaseKeepAliveResponse,
  LeaseLeasesResponse,
  LeaseRenewAllRequest,
  LeaseRenewAllResponse,
  LeaseRevokeRequest,
  LeaseRevokeResponse,
  LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  ResponseHeader,
  ResponseOp,
  StatusResponse,
  TxnRequest,
  TxnResponse,
} from "./types.js";

/** What a lease grant needs from the entry: the leader's time, and randomness for a new ID. */
export type LeaseGrantContext = Pick<ApplyContext, "timestampMs" | "random">;
/** What renewing or expiring leases needs from the entry: the leader's time. */
export type LeaderTimeContext = Pick<ApplyContext, "timestampMs">;

/**
 * Called synchronously at the end of every write that made a revision, after the store is
 * consistent again. It may read the store; it may not write to it (that would be a write
 * outside the log). A listener that throws is counted in `listenerErrors` and skipped.
 */
export type EventListener = (batch: EventBatch) => void;

/** One change of the write in progress: which key, and where its new record sits. */
interface Change {
  readonly history: KeyHistory;
  readonly recordIndex: number;
}

/** The write in progress (etcd's storeTxnWrite): its revision and its changes so far. */
interface WriteBatch {
  readonly main: number;
  sub: number;
  readonly changes: Change[];
}

/** A header the txn fills in once its final revision is known. */
interface PendingHeader {
  revision: number;
}

/**
 * A grant with ID 0 draws IDs from [1, 2^53) (safe integers, positive like etcd's int64 IDs)
 * until one is free; after this many collisions (never, in practice) it answers LEASE_EXISTS.
 */
const leaseIdDrawsMax = 64;

export class KvStore {
  readonly limits: KvLimits;
  private state: MvccState = {
    revision: 1,
    compactRevision: 0,
    index: new KeyIndex(),
    lessor: new Lessor(),
    auth: new AuthStore(),
    alarms: new AlarmStore(),
  };
  private readonly listeners: EventListener[] = [];
  private listenerErrorCount = 0;
  private writing: WriteBatch | null = null;
  private notifying = false;

  constructor(limits: Partial<KvLimits> = {}) {
    this.limits = resolveLimits(limits);
  }

  /**
   * The store's size: key and value bytes of every record history holds (compaction frees
   * them), plus RECORD_OVERHEAD_BYTES per record. Maintenance.Status reports it as dbSizeInUse.
   */
  get storedBytes(): number {
    return this.state.index.storedBytes;
  }

  /** The current revision: 1 for an empty store, +1 per write that changed something. */
  get revision(): number {
    return this.state.revision;
  }

  /** The revision history was compacted at (0: never). Reads below it fail with COMPACTED. */
  get compactRevision(): number {
    return this.state.compactRevision;
  }

  /** The replicated auth state (users, roles, permissions, the auth revision). */
  get auth(): AuthStore {
    return this.state.auth;
  }

  /** The replicated alarms (NOSPACE), as every replica holds them. */
  get alarms(): AlarmStore {
    return this.state.alarms;
  }

  /** The keys attached to a lease (none for an unknown lease), in key order. */
  leaseKeys(id: number): Uint8Array[] {
    const lease = this.state.lessor.get(id);
    if (lease === undefined) return [];
    const keys: Uint8Array[] = [];
    for (const keyId of [...lease.keyIds].sort()) {
      const history = this.state.index.getById(keyId);
      if (history !== undefined) keys.push(history.key);
    }
    return keys;
  }

  /** How many times a listener threw. */
  get listenerErrors(): number {
    return this.listenerErrorCount;
  }

  // ---- reads ----------------------------------------------------------------------------

  range(req: RangeRequest): RangeResponse {
    checkRangeRequest(req, this.limits);
    return this.rangeAt(req, this.state.revision);
  }

  // ---- writes ---------------------------------------------------------------------------

  put(req: PutRequest): PutResponse {
    checkPutRequest(req, this.limits);
    this.checkPutState(req);
    const batch = this.beginWrite();
    const prevKv = infallible(() => this.applyPut(batch, req));
    this.endWrite(batch);
    return withPrevKv({ revision: this.state.revision }, prevKv);
  }

  deleteRange(req: DeleteRangeRequest): DeleteRangeResponse {
    checkDeleteRangeRequest(req, this.limits);
    const batch = this.beginWrite();
    const { deleted, prevKvs } = infallible(() => this.applyDeleteRange(batch, req));
    this.endWrite(batch);
    return { header: { revision: this.state.revision }, deleted, prevKvs };
  }

  /**
   * Compares read the state before the txn; the ops of the chosen branches run in order, and a
   * range inside sees the txn's earlier writes (as in etcd). All writes share one revision.
   */
  txn(req: TxnRequest): TxnResponse {
    checkTxnRequest(req, this.limits);
    const decisions: boolean[] = [];
    this.planTxn(req, decisions, 0);
    const batch = this.beginWrite();
    const header: PendingHeader = { revision: 0 };
    const cursor = { next: 0 };
    const response = infallible(() => this.runTxn(batch, req, decisions, cursor, header, 0));
    assert(cursor.next === decisions.length, "kv: txn ran a different path than planned");
    this.endWrite(batch);
    header.revision = this.state.revision;
    return response;
  }

  /**
   * Drops history below `revision`, keeping each key's state at it. etcd's rules: compacting at
   * or below the compaction point is COMPACTED, above the current revision FUTURE_REVISION.
   */
  compact(req: CompactionRequest): CompactionResponse {
    checkInteger("revision", req.revision);
    const revision = req.revision;
    if (revision <= this.state.compactRevision) throw compactedError(this.state.compactRevision);
    if (revision > this.state.revision) throw futureRevisionError();
    this.assertIdle();
    for (const history of this.state.index.all()) history.compact(revision);
    this.state.index.dropEmpty();
    this.state.compactRevision = revision;
    assert(this.state.compactRevision <= this.state.revision, "kv: compacted past the revision");
    return { header: { revision: this.state.revision } };
  }

  // ---- leases ---------------------------------------------------------------------------

  /**
   * ID 0 picks a fresh ID from the entry's PRNG (same on every replica); an ID in use is
   * LEASE_EXISTS. The TTL is raised to limits.leaseTtlMinSeconds, as etcd raises it to its
   * minimum; the expiry is the leader's timestamp plus the TTL.
   */
  leaseGrant(req: LeaseGrantRequest, ctx: LeaseGrantContext): LeaseGrantResponse {
    checkInteger("TTL", req.ttl);
    checkInteger("lease ID", req.id);
    checkLeaderTime(ctx.timestampMs);
    const requestedTtl = req.ttl ?? 0;
    if (requestedTtl > LEASE_TTL_MAX_SECONDS) throw leaseTtlTooLargeError();
    let id = req.id ?? 0;
    if (id < 0) throw invalidArgumentError("lease ID must not be negative");
    if (id !== 0 && this.state.lessor.has(id)) throw leaseExistsError();
    if (id === 0) id = this.chooseLeaseId(ctx);
    const ttl = Math.max(requestedTtl, this.limits.leaseTtlMinSeconds);
    this.assertIdle();
    this.state.lessor.grant(id, ttl, ctx.timestampMs + ttl * 1000);
    return { header: { revision: this.state.revision }, id, ttl };
  }

  /** Deletes the lease's keys (in key order, one revision for all of them), then the lease. */
  leaseRevoke(req: LeaseRevokeRequest): LeaseRevokeResponse {
    checkInteger("lease ID", req.id);
    if (!this.state.lessor.has(req.id)) throw leaseNotFoundError();
    this.revokeLease(req.id);
    return { header: { revision: this.state.revision } };
  }

  /**
   * Restarts the lease's TTL from the leader's timestamp. A lease past its expiry is already
   * lost (etcd answers the same): it only waits for the LeaseExpire command to remove it.
   */
  leaseKeepAlive(req: LeaseKeepAliveRequest, ctx: LeaderTimeContext): LeaseKeepAliveResponse {
    checkInteger("lease ID", req.id);
    checkLeaderTime(ctx.timestampMs);
    const lease = this.state.lessor.get(req.id);
    if (lease === undefined || lease.expiryMs <= ctx.timestampMs) throw leaseNotFoundError();
    this.assertIdle();
    lease.expiryMs = ctx.timestampMs + lease.ttlSeconds * 1000;
    return { header: { revision: this.state.revision }, id: lease.id, ttl: lease.ttlSeconds };
  }

  /**
   * Revokes the leases whose expiry is at or before the entry's leader timestamp, oldest
   * first, each in its own revision. This command is the only way a lease runs out.
   */
  leaseExpire(req: LeaseExpireRequest, ctx: LeaderTimeContext): LeaseExpireResponse {
    checkInteger("limit", req.limit);
    checkLeaderTime(ctx.timestampMs);
    const limit = (req.limit ?? 0) > 0 ? req.limit! : this.limits.leaseExpireMax;
    const revoked: number[] = [];
    for (const lease of this.state.lessor.expired(ctx.timestampMs, limit)) {
      this.revokeLease(lease.id);
      revoked.push(lease.id);
    }
    return { header: { revision: this.state.revision }, revoked };
  }

  /** expiry = leader timestamp + extendMs + TTL for every lease (etcd's lessor Promote). */
  leaseRenewAll(req: LeaseRenewAllRequest, ctx: LeaderTimeContext): LeaseRenewAllResponse {
    checkInteger("extend", req.extendMs);
    checkLeaderTime(ctx.timestampMs);
    const extendMs = req.extendMs ?? 0;
    if (extendMs < 0 || extendMs > LEASE_EXTEND_MAX_MS) {
      throw invalidArgumentError(`lease extension ${extendMs} ms out of range`);
    }
    this.assertIdle();
    const leases = this.state.lessor.sorted();
    for (const lease of leases)
      lease.expiryMs = ctx.timestampMs + extendMs + lease.ttlSeconds * 1000;
    return { header: { revision: this.state.revision }, renewed: leases.length };
  }

  /** Remaining TTL measured against the caller's `nowMs`; TTL -1 when there is no such lease. */
  leaseTimeToLive(req: LeaseTimeToLiveRequest): LeaseTimeToLiveResponse {
    checkInteger("lease ID", req.id);
    checkInteger("now", req.nowMs);
    const header = { revision: this.state.revision };
    const lease = this.state.lessor.get(req.id);
    if (lease === undefined) return { header, id: req.id, ttl: -1, grantedTtl: 0, keys: [] };
    const keys: Uint8Array[] = [];
    if (req.keys === true) {
      for (const id of [...lease.keyIds].sort()) {
        const history = this.state.index.getById(id);
        assert(history !== undefined, "kv: lease names a key the index lacks");
        keys.push(history.key);
      }
    }
    const ttl = Math.max(0, Math.floor((lease.expiryMs - req.nowMs) / 1000));
    return { header, id: lease.id, ttl, grantedTtl: lease.ttlSeconds, keys };
  }

  leaseLeases(): LeaseLeasesResponse {
    const leases = this.state.lessor.sorted().map((lease) => ({ id: lease.id }));
    return { header: { revision: this.state.revision }, leases };
  }

  /**
   * The leases a LeaseExpire command at leader time `nowMs` would revoke, oldest expiry first.
   * Pure: the leader calls it on its own clock to decide when to propose LeaseExpire.
   */
  expiredLeases(nowMs: number, limit = this.limits.leaseExpireMax): number[] {
    checkInteger("now", nowMs);
    checkInteger("limit", limit);
    if (limit < 0) throw invalidArgumentError("limit must not be negative");
    return this.state.lessor.expired(nowMs, limit).map((lease) => lease.id);
  }

  // ---- alarms ---------------------------------------------------------------------------

  /**
   * etcd's applierV3backend.Alarm: GET lists the alarms of a type (NONE: all), ACTIVATE raises
   * one and answers it, DEACTIVATE clears one and answers it (nothing when it was not raised).
   * Only NOSPACE is raised through the log: Ordo's CORRUPT alarm is the runtime's divergence
   * check, so a request to raise it is refused and one to clear it finds nothing here.
   */
  alarm(req: AlarmRequest): AlarmResponse {
    this.assertIdle();
    const header = { revision: this.state.revision };
    const alarms = this.state.alarms;
    switch (req.action) {
      case "GET":
        return { header, alarms: alarms.get(req.alarm) };
      case "ACTIVATE":
        if (req.alarm !== "NOSPACE") {
          throw invalidArgumentError(
            `only NOSPACE is raised through the log, not ${req.alarm} (ordo raises CORRUPT from its divergence check)`,
          );
        }
        return { header, alarms: [alarms.activate(req.memberId, req.alarm)] };
      case "DEACTIVATE": {
        if (req.alarm === "NONE") return { header, alarms: [] };
        const cleared = alarms.deactivate(req.memberId, req.alarm);
        return { header, alarms: cleared === undefined ? [] : [cleared] };
      }
      default:
        return assertNever(req.action, "alarm action");
    }
  }

  // ---- watch support --------------------------------------------------------------------

  /**
   * The events of keys in [key, rangeEnd) from `startRevision` on, in revision order: what a
   * watch created with that start revision replays before it follows live events. Below the
   * compaction point it fails with COMPACTED (carrying the compact revision, as a watch
   * response does). Events are rebuilt from history, so a change whose previous version was
   * compacted away comes without prevKv (etcd behaves the same).
   */
  events(req: EventsRequest): EventsResponse {
    checkKeyRange(req.key, req.rangeEnd, this.limits);
    checkInteger("start revision", req.startRevision);
    checkInteger("limit", req.limit);
    const current = this.state.revision;
    const header = { revision: current };
    const start = req.startRevision;
    if (start <= 0 || start > current) {
      return { header, events: [], nextRevision: Math.max(start, current + 1) };
    }
    if (start < this.state.compactRevision) throw compactedError(this.state.compactRevision);
    const found: Change[] = [];
    for (const history of this.state.index.histories(spanOf(req.key, req.rangeEnd))) {
      const records = history.records;
      for (let i = history.indexFrom(start); i < records.length; i++) {
        found.push({ history, recordIndex: i });
      }
    }
    found.sort((a, b) =>
      compareRevisions(a.history.records[a.recordIndex]!, b.history.records[b.recordIndex]!),
    );
    const limit = (req.limit ?? 0) > 0 ? req.limit! : this.limits.eventsMax;
    const end = cutAtRevision(found, limit);
    const next = found[end];
    return {
      header,
      events: found.slice(0, end).map(eventOf),
      nextRevision: next === undefined ? current + 1 : mainOf(next),
    };
  }

  /** Registers a listener for every later write's events; returns the unsubscribe function. */
  subscribe(listener: EventListener): () => void {
    if (this.listeners.length >= this.limits.listenersMax) {
      throw new KvError(
        "TOO_MANY_LISTENERS",
        `kv: at most ${this.limits.listenersMax} event listeners`,
      );
    }
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  // ---- status, hashes, snapshots ----------------------------------------------------------

  status(): StatusResponse {
    let keys = 0;
    for (const history of this.state.index.all()) if (history.latestLive() !== undefined) keys++;
    return {
      header: { revision: this.state.revision },
      compactRevision: this.state.compactRevision,
      keys,
      leases: this.state.lessor.size,
    };
  }

  /** A digest of the whole state (CRC-32C of the snapshot): equal states, equal hashes. */
  hash(): number {
    return crc32cFinish(crc32cUpdate(CRC32C_INIT, this.snapshot()));
  }

  /**
   * Maintenance.HashKV: CRC-32C over every record at or below `revision` (0: current) that
   * history still holds, key by key. Replicas that applied the same log agree; the number is
   * not etcd's (its input is bbolt's row format).
   */
  hashKV(req: HashKVRequest = {}): HashKVResponse {
    checkInteger("revision", req.revision);
    const revision = this.resolveReadRevision(req.revision ?? 0, this.state.revision);
    let crc = CRC32C_INIT;
    // One writer for every key, reset between them, and a view of its bytes: the CRC consumes
    // them at once (no buffer and no copy per key).
    const w = new ByteWriter(256);
    for (const history of this.state.index.all()) {
      w.reset();
      for (const r of history.records) {
        if (r.main > revision) break;
        w.bytesVarint(history.key);
        w.uvarint(r.main);
        w.uvarint(r.sub);
        w.bool(r.tombstone);
        w.uvarint(r.createRevision);
        w.uvarint(r.version);
        w.uvarint(r.lease);
        w.bytesVarint(r.value);
      }
      crc = crc32cUpdate(crc, w.finish());
    }
    return {
      header: { revision: this.state.revision },
      hash: crc32cFinish(crc),
      compactRevision: this.state.compactRevision,
      hashRevision: revision,
    };
  }

  /**
   * A digest of the whole state (state-digest.ts): stores that applied the same log agree, and
   * a store whose records, leases, revisions or auth state differ does not. O(leases), not
   * O(records): the runtime's divergence checks call it (StateMachine.digest).
   */
  digest(): Uint8Array {
    assert(this.writing === null, "kv: digest during a write");
    return encodeStateDigest(this.state);
  }

  /** The whole state, deterministically encoded: stores that applied the same log agree. */
  snapshot(): Uint8Array {
    assert(this.writing === null, "kv: snapshot during a write");
    return encodeSnapshot(this.state);
  }

  /**
   * Replaces the state with a snapshot's (all or nothing: a corrupt snapshot throws
   * CORRUPT_SNAPSHOT and leaves the store as it was). Listeners stay subscribed but hear
   * nothing about the jump: whoever restores must resynchronise its watches.
   */
  restore(snapshot: Uint8Array): void {
    this.assertIdle();
    const previous = this.state.auth;
    this.state = decodeSnapshot(snapshot);
    // Alarms came with the snapshot: a member restored from one raised while it was away
    // refuses writes as the others do.
    this.state.auth.adoptListeners(previous);
    this.state.auth.forgetTokens();
  }

  static fromSnapshot(snapshot: Uint8Array, limits: Partial<KvLimits> = {}): KvStore {
    const store = new KvStore(limits);
    store.restore(snapshot);
    return store;
  }

  // ---- internals --------------------------------------------------------------------------

  /**
   * etcd's rangeKeys: revision ≤ 0 reads the current one; above `current` is FUTURE_REVISION,
   * below the compaction point COMPACTED.
   */
  private resolveReadRevision(requested: number, current: number): number {
    if (requested > current) throw futureRevisionError();
    const revision = requested <= 0 ? current : requested;
    if (revision < this.state.compactRevision) throw compactedError(this.state.compactRevision);
    return revision;
  }

  /** A range as seen at `current` (the store's revision, or the txn's own inside a txn). */
  private rangeAt(req: RangeRequest, current: number): RangeResponse {
    const revision = this.resolveReadRevision(req.revision ?? 0, current);
    const header = { revision: current };
    const countOnly = req.countOnly === true;
    const limit = req.limit ?? 0;
    const rowsMax = countOnly ? 0 : needsAllRows(req) || limit <= 0 ? Infinity : limit + 1;
    let count = 0;
    const rows: KeyValue[] = [];
    for (const history of this.state.index.histories(spanOf(req.key, req.rangeEnd))) {
      const record = history.liveAt(revision);
      if (record === undefined) continue;
      count++;
      if (rows.length < rowsMax) rows.push(history.keyValueOf(record));
    }
    if (countOnly) return { header, kvs: [], more: false, count };
    const { kvs, more } = shapeRows(rows, req);
    return { header, kvs, more, count };
  }

  /** ignore_value / ignore_lease need the key; a named lease must exist. */
  private checkPutState(req: PutRequest): void {
    const lease = req.lease ?? 0;
    if (lease !== 0 && !this.state.lessor.has(lease)) throw leaseNotFoundError();
    if (req.ignoreValue === true || req.ignoreLease === true) {
      if (this.state.index.get(req.key)?.latestLive() === undefined) throw keyNotFoundError();
    }
  }

  private beginWrite(): WriteBatch {
    this.assertIdle();
    const batch: WriteBatch = { main: this.state.revision + 1, sub: 0, changes: [] };
    this.writing = batch;
    return batch;
  }

  private endWrite(batch: WriteBatch): void {
    assert(this.writing === batch, "kv: end of a write that is not in progress");
    this.writing = null;
    if (batch.changes.length === 0) return;
    assert(batch.sub === batch.changes.length, "kv: sub revisions skipped");
    assert(batch.main === this.state.revision + 1, "kv: revisions must advance by one");
    this.state.revision = batch.main;
    if (this.listeners.length > 0)
      this.notify({ revision: batch.main, events: batch.changes.map(eventOf) });
  }

  private notify(batch: EventBatch): void {
    this.notifying = true;
    try {
      for (const listener of this.listeners.slice()) {
        try {
          listener(batch);
        } catch {
          this.listenerErrorCount++;
        }
      }
    } finally {
      this.notifying = false;
    }
  }

  private assertIdle(): void {
    assert(this.writing === null, "kv: re-entrant write");
    assert(!this.notifying, "kv: an event listener tried to change the store");
  }

  private applyPut(batch: WriteBatch, req: PutRequest): KeyValue | undefined {
    const history = this.state.index.getOrCreate(req.key);
    const prev = history.latestLive();
    const ignoreValue = req.ignoreValue === true;
    const ignoreLease = req.ignoreLease === true;
    assert(prev !== undefined || (!ignoreValue && !ignoreLease), "kv: ignore_* without a key");
    const value = ignoreValue ? prev!.value : copyBytes(req.value ?? EMPTY_BYTES);
    const lease = ignoreLease ? prev!.lease : (req.lease ?? 0);
    const record = liveRecord(
      batch.main,
      batch.sub++,
      prev === undefined ? batch.main : prev.createRevision,
      prev === undefined ? 1 : prev.version + 1,
      value,
      lease,
    );
    history.append(record);
    batch.changes.push({ history, recordIndex: history.records.length - 1 });
    const lessor = this.state.lessor;
    if (prev !== undefined && prev.lease !== 0 && prev.lease !== lease) {
      lessor.detach(prev.lease, history.id);
    }
    if (lease !== 0) lessor.attach(lease, history.id);
    return req.prevKv === true && prev !== undefined ? history.keyValueOf(prev) : undefined;
  }

  private applyDeleteRange(
    batch: WriteBatch,
    req: DeleteRangeRequest,
  ): { deleted: number; prevKvs: KeyValue[] } {
    const prevKvs: KeyValue[] = [];
    let deleted = 0;
    for (const history of this.state.index.histories(spanOf(req.key, req.rangeEnd))) {
      const prev = this.deleteKey(batch, history);
      if (prev === undefined) continue;
      deleted++;
      if (req.prevKv === true) prevKvs.push(history.keyValueOf(prev));
    }
    return { deleted, prevKvs };
  }

  /** Writes a tombstone if the key exists; returns the record it ended. */
  private deleteKey(batch: WriteBatch, history: KeyHistory) {
    const prev = history.latestLive();
    if (prev === undefined) return undefined;
    history.append(tombstoneRecord(batch.main, batch.sub++));
    batch.changes.push({ history, recordIndex: history.records.length - 1 });
    if (prev.lease !== 0) this.state.lessor.detach(prev.lease, history.id);
    return prev;
  }

  /**
   * Phase one of a txn (etcd's compareToPath and checkRequests): decide every compare on the
   * path against the state before the txn, recording each decision in visit order, and check
   * what the chosen ops need from the state. Depth was bounded by checkTxnRequest.
   */
  private planTxn(txn: TxnRequest, decisions: boolean[], depth: number): void {
    assert(depth <= this.limits.txnDepthMax, "kv: txn depth not checked");
    const revision = this.state.revision;
    let succeeded = true;
    for (const c of txn.compare ?? []) {
      const kvs: KeyValue[] = [];
      for (const history of this.state.index.histories(spanOf(c.key, c.rangeEnd))) {
        const record = history.liveAt(revision);
        if (record !== undefined) kvs.push(history.keyValueOf(record));
      }
      if (!compareHoldsForAll(c, kvs)) {
        succeeded = false;
        break;
      }
    }
    decisions.push(succeeded);
    for (const op of (succeeded ? txn.success : txn.failure) ?? []) {
      switch (op.type) {
        case "range":
          this.resolveReadRevision(op.request.revision ?? 0, revision);
          break;
        case "put":
          this.checkPutState(op.request);
          break;
        case "deleteRange":
          break;
        case "txn":
          this.planTxn(op.request, decisions, depth + 1);
          break;
      }
    }
  }

  /** Phase two: run the planned path. Nested responses share the txn's final header. */
  private runTxn(
    batch: WriteBatch,
    txn: TxnRequest,
    decisions: readonly boolean[],
    cursor: { next: number },
    header: PendingHeader,
    depth: number,
  ): TxnResponse {
    assert(depth <= this.limits.txnDepthMax, "kv: txn depth not checked");
    const succeeded = decisions[cursor.next++];
    assert(succeeded !== undefined, "kv: txn path shorter than planned");
    const responses: ResponseOp[] = [];
    for (const op of (succeeded ? txn.success : txn.failure) ?? []) {
      switch (op.type) {
        case "range": {
          // Reads inside a txn see its earlier writes: they read at the txn's own revision.
          const current = batch.changes.length > 0 ? batch.main : this.state.revision;
          const result = this.rangeAt(op.request, current);
          responses.push({ type: "range", response: { ...result, header } });
          break;
        }
        case "put":
          responses.push({
            type: "put",
            response: withPrevKv(header, this.applyPut(batch, op.request)),
          });
          break;
        case "deleteRange": {
          const { deleted, prevKvs } = this.applyDeleteRange(batch, op.request);
          responses.push({ type: "deleteRange", response: { header, deleted, prevKvs } });
          break;
        }
        case "txn":
          responses.push({
            type: "txn",
            response: this.runTxn(batch, op.request, decisions, cursor, header, depth + 1),
          });
          break;
      }
    }
    return { header, succeeded, responses };
  }

  private revokeLease(id: number): void {
    const lease = this.state.lessor.get(id);
    assert(lease !== undefined, "kv: revoke of a missing lease");
    const batch = this.beginWrite();
    infallible(() => {
      for (const keyId of [...lease.keyIds].sort()) {
        const history = this.state.index.getById(keyId);
        assert(history !== undefined, "kv: lease names a key the index lacks");
        assert(this.deleteKey(batch, history) !== undefined, "kv: lease names a deleted key");
      }
      this.state.lessor.remove(id);
    });
    this.endWrite(batch);
  }

  private chooseLeaseId(ctx: LeaseGrantContext): number {
    for (let draw = 0; draw < leaseIdDrawsMax; draw++) {
      const high = ctx.random.int(2 ** 21);
      const low = ctx.random.int(2 ** 32);
      assert(Number.isInteger(high) && Number.isInteger(low), "kv: ctx.random broke its contract");
      const id = high * 2 ** 32 + low;
      if (id > 0 && !this.state.lessor.has(id)) return id;
    }
    throw leaseExistsError();
  }
}

function checkLeaderTime(timestampMs: number): void {
  if (!Number.isSafeInteger(timestampMs) || timestampMs < 0 || timestampMs > TIMESTAMP_MAX_MS) {
    throw invalidArgumentError(`leader timestamp ${String(timestampMs)} out of range`);
  }
}

/** Runs the mutating phase of a write, where an operating error would mean a half-done write. */
function infallible<T>(mutate: () => T): T {
  try {
    return mutate();
  } catch (e) {
    if (e instanceof KvError) {
      throw new AssertionError(`kv: ${e.code} after a write began: ${e.message}`);
    }
    throw e;
  }
}

function withPrevKv(header: ResponseHeader, prevKv: KeyValue | undefined): PutResponse {
  return prevKv === undefined ? { header } : { header, prevKv };
}

function mainOf(change: Change): number {
  return change.history.records[change.recordIndex]!.main;
}

/** The event a record stands for; the key's previous record, if live, is its prevKv. */
function eventOf(change: Change): KvEvent {
  const { history, recordIndex } = change;
  const record = history.records[recordIndex];
  assert(record !== undefined, "kv: event of a missing record");
  const prev = history.records[recordIndex - 1];
  const kv = history.keyValueOf(record);
  const type = record.tombstone ? "DELETE" : "PUT";
  return prev === undefined || prev.tombstone
    ? { type, kv }
    : { type, kv, prevKv: history.keyValueOf(prev) };
}

/**
 * How many of the sorted changes to return under `limit` without splitting a revision: cut
 * before the revision the limit falls in, unless that revision is the first, which then goes
 * whole (a watch must make progress).
 */
function cutAtRevision(found: readonly Change[], limit: number): number {
  if (found.length <= limit) return found.length;
  const boundary = mainOf(found[limit]!);
  let end = limit;
  while (end > 0 && mainOf(found[end - 1]!) === boundary) end--;
  if (end > 0) return end;
  end = limit;
  while (end < found.length && mainOf(found[end]!) === boundary) end++;
  return end;
}
