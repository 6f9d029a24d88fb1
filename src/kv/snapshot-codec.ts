// The snapshot format of the MVCC state. Deterministic: keys in byte order, each key's records
// in revision order, leases by ID, canonical varints (src/codec/byte-writer.ts), and nothing derived
// (a lease's key set is rebuilt from the keys' latest records). So two stores that applied the
// same commands produce identical bytes, and hash() can digest them.
//
//   snapshot := magic "OKV" version=1 revision compactRevision
//               keyCount { key recordCount { main sub flags [createRevision version lease value] } }
//               leaseCount { id ttlSeconds expiryMs }
//   flags    := bit 0: tombstone (then the bracketed fields are absent)
//   version=2 appends the auth state (auth-store.ts AuthStore.encode); a store whose auth state
//   is untouched writes version 1, byte for byte what it wrote before auth existed.
//   version=3 appends the auth state (always) and then the replicated alarms (alarm-store.ts
//   AlarmStore.encode); written only while an alarm is raised, so a store without alarms
//   writes what it wrote before alarms existed, and versions 1 and 2 still load (no alarms).
//
// Decoding checks every invariant the store relies on and fails with CORRUPT_SNAPSHOT.
import { assert, ByteReader, ByteWriter, compareBytes, copyBytes } from "../lib/index.js";
import { AlarmStore } from "./alarm-store.js";
import { AuthStore } from "./auth-store.js";
import { keyIdOf } from "./bytes.js";
import { kvCodecError } from "./errors.js";
import { KeyHistory, type KeyRecord, liveRecord, tombstoneRecord } from "./key-history.js";
import { KeyIndex } from "./key-index.js";
import { Lessor } from "./lessor.js";
import { LEASE_TTL_MAX_SECONDS } from "./limits.js";

/** Everything the store is. */
export interface MvccState {
  revision: number;
  compactRevision: number;
  readonly index: KeyIndex;
  readonly lessor: Lessor;
  readonly auth: AuthStore;
  readonly alarms: AlarmStore;
}

const magic = [0x4f, 0x4b, 0x56]; // "OKV"
const formatVersion = 1;
const formatVersionWithAuth = 2;
const formatVersionWithAlarms = 3;

export function encodeSnapshot(state: MvccState): Uint8Array {
  try {
    return encodeSnapshotUnmapped(state);
  } catch (e) {
    throw kvCodecError(e, "INVALID_ARGUMENT", "snapshot");
  }
}

function encodeSnapshotUnmapped(state: MvccState): Uint8Array {
  const w = new ByteWriter(1024);
  for (const b of magic) w.u8(b);
  const withAlarms = !state.alarms.pristine;
  const withAuth = withAlarms || !state.auth.pristine;
  w.u8(withAlarms ? formatVersionWithAlarms : withAuth ? formatVersionWithAuth : formatVersion);
  w.uvarint(state.revision);
  w.uvarint(state.compactRevision);
  w.uvarint(state.index.size);
  for (const history of state.index.all()) {
    assert(history.records.length > 0, "kv: snapshot of a key without history");
    w.bytesVarint(history.key);
    w.uvarint(history.records.length);
    for (const r of history.records) {
      w.uvarint(r.main);
      w.uvarint(r.sub);
      w.u8(r.tombstone ? 1 : 0);
      if (r.tombstone) continue;
      w.uvarint(r.createRevision);
      w.uvarint(r.version);
      w.uvarint(r.lease);
      w.bytesVarint(r.value);
    }
  }
  encodeLeases(w, state.lessor);
  if (withAuth) state.auth.encode(w);
  if (withAlarms) state.alarms.encode(w);
  return w.finishExact(); // kept: the runtime stores and sends it
}

/** The leases by id: count { id ttlSeconds expiryMs } (the snapshot's and the digest's). */
export function encodeLeases(w: ByteWriter, lessor: Lessor): void {
  const leases = lessor.sorted();
  w.uvarint(leases.length);
  for (const lease of leases) {
    w.uvarint(lease.id);
    w.uvarint(lease.ttlSeconds);
    w.uvarint(lease.expiryMs);
  }
}

/** Throws KvError CORRUPT_SNAPSHOT for bytes encodeSnapshot could not have produced. */
export function decodeSnapshot(bytes: Uint8Array): MvccState {
  try {
    return decodeSnapshotUnmapped(bytes);
  } catch (e) {
    throw kvCodecError(e, "CORRUPT_SNAPSHOT", "snapshot");
  }
}

function decodeSnapshotUnmapped(bytes: Uint8Array): MvccState {
  const r: ByteReader = new ByteReader(bytes);
  for (const b of magic) if (r.u8() !== b) r.fail("not a kv snapshot");
  const version = r.u8();
  if (
    version !== formatVersion &&
    version !== formatVersionWithAuth &&
    version !== formatVersionWithAlarms
  ) {
    r.fail(`unknown format version ${version}`);
  }
  const revision = r.uvarint();
  const compactRevision = r.uvarint();
  if (revision < 1 || compactRevision > revision) r.fail("revisions out of order");
  const index = new KeyIndex();
  const keyCount = r.count("count", Number.MAX_SAFE_INTEGER, 3);
  let prevKey: Uint8Array | undefined;
  for (let k = 0; k < keyCount; k++) {
    const key = copyBytes(r.bytesVarintView());
    if (key.length === 0) r.fail("empty key");
    if (prevKey !== undefined && compareBytes(prevKey, key) >= 0) r.fail("keys out of order");
    prevKey = key;
    const history = new KeyHistory(key, keyIdOf(key));
    const recordCount = r.count("count", Number.MAX_SAFE_INTEGER, 3);
    if (recordCount === 0) r.fail("key without history");
    for (let i = 0; i < recordCount; i++) {
      const record = readRecord(r);
      checkRecord(r, history, record, revision, compactRevision);
      history.append(record);
    }
    index.appendSorted(history);
  }
  const lessor = new Lessor();
  const leaseCount = r.count("count", Number.MAX_SAFE_INTEGER, 3);
  let prevId = 0;
  for (let i = 0; i < leaseCount; i++) {
    const id = r.uvarint();
    const ttlSeconds = r.uvarint();
    const expiryMs = r.uvarint();
    if (id <= prevId) r.fail("lease IDs out of order");
    if (ttlSeconds < 1 || ttlSeconds > LEASE_TTL_MAX_SECONDS) r.fail("lease TTL out of range");
    prevId = id;
    lessor.grant(id, ttlSeconds, expiryMs);
  }
  const auth = version >= formatVersionWithAuth ? AuthStore.decode(r) : new AuthStore();
  const alarms = version >= formatVersionWithAlarms ? AlarmStore.decode(r) : new AlarmStore();
  if (version === formatVersionWithAlarms && alarms.pristine) r.fail("version 3 without alarms");
  r.end();
  for (const history of index.all()) {
    const latest = history.latestLive();
    if (latest === undefined || latest.lease === 0) continue;
    if (!lessor.has(latest.lease)) r.fail("a key is attached to a missing lease");
    lessor.attach(latest.lease, history.id);
  }
  return { revision, compactRevision, index, lessor, auth, alarms };
}

function readRecord(r: ByteReader): KeyRecord {
  const main = r.uvarint();
  const sub = r.uvarint();
  const tombstone = r.flags(1) === 1;
  if (tombstone) return tombstoneRecord(main, sub);
  const createRevision = r.uvarint();
  const version = r.uvarint();
  const lease = r.uvarint();
  const value = copyBytes(r.bytesVarintView());
  return liveRecord(main, sub, createRevision, version, value, lease);
}

/**
 * The invariants of a key's history: revisions ascend and lie in (0, revision]; only the first
 * record may be at or below the compaction point, and a tombstone there only exactly at it; a
 * tombstone follows a live record; versions count up from 1 with one create revision per life.
 */
function checkRecord(
  r: ByteReader,
  history: KeyHistory,
  record: KeyRecord,
  revision: number,
  compactRevision: number,
): void {
  const prev = history.latest();
  if (record.main < 1 || record.main > revision) r.fail("record revision out of range");
  // A txn never writes a key twice (the duplicate-key rule): one record per key per revision.
  if (prev !== undefined && prev.main >= record.main) r.fail("records out of order");
  if (prev !== undefined && record.main <= compactRevision) r.fail("history below compaction");
  if (prev === undefined && record.tombstone && record.main !== compactRevision) {
    // Only compaction at exactly its revision leaves a tombstone first (see KeyHistory.compact).
    r.fail("history starts with a tombstone");
  }
  if (record.tombstone) {
    if (prev?.tombstone === true) r.fail("delete of a deleted key");
    return;
  }
  if (prev === undefined) {
    if (record.version < 1 || record.createRevision < 1 || record.createRevision > record.main) {
      r.fail("bad first record");
    }
  } else if (prev.tombstone) {
    if (record.version !== 1 || record.createRevision !== record.main) r.fail("bad re-creation");
  } else if (record.version !== prev.version + 1 || record.createRevision !== prev.createRevision) {
    r.fail("bad version sequence");
  }
}
