// One key's history: every put and delete of it since the last compaction, oldest first. This
// is etcd's keyIndex and its backend rows in one: a record is what etcd stores at revision
// (main, sub). A key's life ("generation") starts with a put (version 1) and ends with a
// tombstone; the next put starts a new one.
import { assert, EMPTY_BYTES } from "../lib/index.js";
import { addDigest, hashRecord, type RecordDigest } from "./record-digest.js";
import type { KeyValue } from "./types.js";

export interface KeyRecord {
  /** The revision of the write (etcd's main revision); the KeyValue's modRevision. */
  readonly main: number;
  /** The write's position within its revision's txn (etcd's sub revision). */
  readonly sub: number;
  /** True for a delete; then createRevision, version and lease are 0 and value is empty. */
  readonly tombstone: boolean;
  readonly createRevision: number;
  readonly version: number;
  readonly value: Uint8Array;
  readonly lease: number;
}

export function liveRecord(
  main: number,
  sub: number,
  createRevision: number,
  version: number,
  value: Uint8Array,
  lease: number,
): KeyRecord {
  return { main, sub, tombstone: false, createRevision, version, value, lease };
}

export function tombstoneRecord(main: number, sub: number): KeyRecord {
  return {
    main,
    sub,
    tombstone: true,
    createRevision: 0,
    version: 0,
    value: EMPTY_BYTES,
    lease: 0,
  };
}

/** (main, sub) order. */
export function compareRevisions(a: KeyRecord, b: KeyRecord): number {
  return a.main !== b.main ? a.main - b.main : a.sub - b.sub;
}

/**
 * What one record counts toward the store's size (KvStore.storedBytes): its key and value
 * bytes, plus this much for its fixed fields (revisions, version, lease) — about what they take
 * encoded, as in a snapshot.
 */
export const RECORD_OVERHEAD_BYTES = 24;

/**
 * Running totals shared by the histories of one index: stored bytes, and the sums of every
 * record's hashes (record-digest.ts), kept as records come and go.
 */
export interface SizeAccount extends RecordDigest {
  bytes: number;
}

export class KeyHistory {
  /** Ascending by (main, sub); never empty while the key is in the index. */
  readonly records: KeyRecord[] = [];
  /** This key's records' share of the store's size (RECORD_OVERHEAD_BYTES). */
  private ownBytes = 0;
  private account: SizeAccount | undefined;

  constructor(
    /** The store's own copy. */
    readonly key: Uint8Array,
    /** keyIdOf(key): the key's name in maps. */
    readonly id: string,
  ) {}

  get bytes(): number {
    return this.ownBytes;
  }

  /** Counts this history's bytes, now and from now on, in `account`. */
  attach(account: SizeAccount): void {
    this.account = account;
    account.bytes += this.ownBytes;
    // The records' hashes are summed here, not kept per key (an object per key, 4 MB at 100,000
    // keys): a history is attached once, when created empty or restored from a snapshot.
    for (const r of this.records) addDigest(account, hashRecord(this.key, r), 1);
  }

  private recordBytes(r: KeyRecord): number {
    return this.key.length + r.value.length + RECORD_OVERHEAD_BYTES;
  }

  /** Counts a record in (sign 1) or out (-1): its bytes and its hashes. */
  private count(r: KeyRecord, sign: 1 | -1): void {
    const delta = sign * this.recordBytes(r);
    this.ownBytes += delta;
    if (this.account !== undefined) {
      this.account.bytes += delta;
      addDigest(this.account, hashRecord(this.key, r), sign);
    }
  }

  latest(): KeyRecord | undefined {
    return this.records[this.records.length - 1];
  }

  /** The latest record if the key exists now. */
  latestLive(): KeyRecord | undefined {
    const r = this.latest();
    return r !== undefined && !r.tombstone ? r : undefined;
  }

  /** Index of the newest record with main ≤ revision, or -1. */
  indexAt(revision: number): number {
    let lo = 0;
    let hi = this.records.length; // answer in [lo - 1, hi - 1]
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.records[mid]!.main <= revision) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }

  /** The key's record as of `revision` if the key existed then. */
  liveAt(revision: number): KeyRecord | undefined {
    const r = this.records[this.indexAt(revision)];
    return r !== undefined && !r.tombstone ? r : undefined;
  }

  /** Index of the oldest record with main ≥ revision (records.length if none). */
  indexFrom(revision: number): number {
    return this.indexAt(revision - 1) + 1;
  }

  append(record: KeyRecord): void {
    const last = this.latest();
    assert(last === undefined || compareRevisions(last, record) < 0, "kv: record out of order");
    assert(!(record.tombstone && last?.tombstone === true), "kv: delete of a deleted key");
    this.records.push(record);
    this.count(record, 1);
  }

  /**
   * Drops history below `revision`, keeping the newest record at or below it: the key's state
   * at the compaction point, so reads at that revision still work. A tombstone there is kept
   * only when it is exactly at `revision` (so a watch from there still sees the delete), and
   * goes at the next compaction. Returns whether any record is left.
   */
  compact(revision: number): boolean {
    const i = this.indexAt(revision);
    if (i >= 0) {
      const r = this.records[i]!;
      const dropThrough = r.tombstone && r.main < revision ? i : i - 1;
      if (dropThrough >= 0) {
        for (const d of this.records.splice(0, dropThrough + 1)) this.count(d, -1);
      }
    }
    return this.records.length > 0;
  }

  keyValueOf(record: KeyRecord): KeyValue {
    return {
      key: this.key,
      createRevision: record.createRevision,
      modRevision: record.main,
      version: record.version,
      value: record.value,
      lease: record.lease,
    };
  }
}
