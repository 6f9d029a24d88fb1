// WAL records: the byte layout of everything a segment file holds, and its encoders/decoders.
//
// Record = 12-byte header + payload, integers little-endian:
//    0  u32  crc       CRC-32C of bytes 4 .. end of payload (so it covers length and type too)
//    4  u32  length    payload bytes
//    8  u8   type      RecordKind
//    9  u8×3 reserved  zero
//   12  payload
// u64 fields hold safe integers (< 2^53): indexes and terms are JS numbers everywhere else.
//
// Entries go in runs: one Entries record holds consecutive entries (one append's, or those of
// appends in one batch that continue it), so a batch of 256 entries costs one checksum, not 256
// (the checksum call dominates encoding).
//
// Every write to a segment is one batch: a Batch record (payload: u32 bodyBytes, u32 records)
// followed by exactly that many records filling exactly bodyBytes. Recovery applies a batch only
// when all of it is whole and valid, so one append's entries and hard state become durable
// together or not at all, and the batch header tells recovery where the last write ended, which
// is what lets it tell a torn last write (cut it) from damage to acknowledged data (refuse).

import { assert } from "../lib/index.js";
import type { Entry, EntryType, HardState, Index, Term } from "../raft/index.js";
import { asIndex, asNodeId, asTerm } from "../raft/index.js";
import { crc32c } from "./crc32c.js";

export const RECORD_HEADER_BYTES = 12;
const BATCH_PAYLOAD_BYTES = 8;
export const BATCH_HEADER_BYTES = RECORD_HEADER_BYTES + BATCH_PAYLOAD_BYTES;
/** Largest payload of one record; an entry's data must fit. */
export const recordPayloadBytesMax = 64 * 1024 * 1024;
/** Bounds what a (checksummed) batch header may claim, so a bad one cannot make us allocate. */
export const batchRecordsMax = 4 * 1024 * 1024;
export const batchBodyBytesMax = 2 ** 31 - 1;
const voteBytesMax = 1024;

/** Record type codes on disk. Never renumber: old files must stay readable. */
export const RecordKind = {
  Batch: 1,
  SegmentHeader: 2,
  Entries: 3,
  HardState: 4,
  SnapshotMark: 5,
} as const;

/** First payload bytes of a segment header: "OWAL". */
const SEGMENT_MAGIC = 0x4c41574f;
export const SEGMENT_FORMAT_VERSION = 1;

/** Entries payload: u64 firstIndex, u32 count, then per entry u64 term, u8 type, u32 dataBytes, data. */
const ENTRIES_FIXED_BYTES = 12;
const ENTRY_FIXED_BYTES = 13;
/** An append whose entries exceed this is split over several Entries records. */
export const entriesRecordBytesMax = 4 * 1024 * 1024;
const HARD_STATE_FIXED_BYTES = 18;
const SEGMENT_HEADER_BYTES = 24;
const SNAPSHOT_MARK_BYTES = 17;

export type WalRecord =
  /** First record of every segment: which segment this is and the index its log continues at. */
  | { readonly type: "SegmentHeader"; readonly seq: number; readonly firstIndex: Index }
  /**
   * Consecutive log entries (at least one). An entry at or below the last index truncates the
   * log from there first.
   */
  | { readonly type: "Entries"; readonly entries: readonly Entry[] }
  | { readonly type: "HardState"; readonly hardState: HardState }
  /**
   * A snapshot at (index, term) is durable in its own file. `install`: it came from the leader
   * and replaced the whole log (entries before this record are void); otherwise the node took
   * it of its own state and later entries stay.
   */
  | {
      readonly type: "SnapshotMark";
      readonly index: Index;
      readonly term: Term;
      readonly install: boolean;
    };

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

// Hot path (every entry): assertion messages are constants, never built per call.
function writeU64(buf: Buffer, offset: number, value: number): void {
  assert(Number.isSafeInteger(value) && value >= 0, "u64 field out of range");
  buf.writeUInt32LE(value % 0x100000000, offset);
  buf.writeUInt32LE((value / 0x100000000) >>> 0, offset + 4);
}

/** A u64 as a number, or undefined when it is not a safe integer (only damage writes those). */
function readU64(buf: Buffer, offset: number): number | undefined {
  const low = buf.readUInt32LE(offset);
  const high = buf.readUInt32LE(offset + 4);
  if (high > 0x1fffff) return undefined;
  return high * 2 ** 32 + low;
}

function payloadBytes(record: WalRecord): number {
  switch (record.type) {
    case "SegmentHeader":
      return SEGMENT_HEADER_BYTES;
    case "Entries": {
      let bytes = ENTRIES_FIXED_BYTES;
      for (const e of record.entries) bytes += ENTRY_FIXED_BYTES + e.data.byteLength;
      return bytes;
    }
    case "HardState":
      return HARD_STATE_FIXED_BYTES + Buffer.byteLength(record.hardState.vote, "utf8");
    case "SnapshotMark":
      return SNAPSHOT_MARK_BYTES;
  }
}

/** Writes `record`'s payload at `at`; returns its length. */
function writePayload(record: WalRecord, buf: Buffer, at: number): number {
  switch (record.type) {
    case "SegmentHeader":
      buf.writeUInt32LE(SEGMENT_MAGIC, at);
      buf.writeUInt16LE(SEGMENT_FORMAT_VERSION, at + 4);
      buf.writeUInt16LE(0, at + 6);
      writeU64(buf, at + 8, record.seq);
      writeU64(buf, at + 16, record.firstIndex);
      return SEGMENT_HEADER_BYTES;
    case "Entries":
      return writeEntries(record.entries, buf, at);
    case "HardState":
      return writeHardState(record.hardState, buf, at);
    case "SnapshotMark":
      writeU64(buf, at, record.index);
      writeU64(buf, at + 8, record.term);
      buf.writeUInt8(record.install ? 1 : 0, at + 16);
      return SNAPSHOT_MARK_BYTES;
  }
}

function writeHardState(hs: HardState, buf: Buffer, at: number): number {
  writeU64(buf, at, hs.term);
  writeU64(buf, at + 8, hs.commit);
  const voteBytes = buf.write(hs.vote, at + HARD_STATE_FIXED_BYTES, "utf8");
  buf.writeUInt16LE(voteBytes, at + 16);
  return HARD_STATE_FIXED_BYTES + voteBytes;
}

// The last buffer encoded into and a view of it (the writer's buffer, until it is replaced).
let viewed: Buffer | undefined;
let cachedView: DataView = new DataView(new ArrayBuffer(0));

function dataViewOf(buf: Buffer): DataView {
  if (buf !== viewed) {
    cachedView = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    viewed = buf;
  }
  return cachedView;
}

function writeEntries(entries: readonly Entry[], buf: Buffer, at: number): number {
  writeU64(buf, at, entries[0]!.index);
  // A DataView in a small function of its own: per-entry Buffer.write* calls, or this loop
  // inside the big switch, showed up in profiles at 256 entries a batch. The view is kept while
  // the writer encodes into the same buffer (group commit: one Entries record per append).
  const view = dataViewOf(buf);
  view.setUint32(at + 8, entries.length, true);
  let p = at + ENTRIES_FIXED_BYTES;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const term: number = e.term;
    const length = e.data.byteLength;
    view.setUint32(p, term % 0x100000000, true);
    view.setUint32(p + 4, (term / 0x100000000) >>> 0, true);
    view.setUint8(p + 8, e.type === "Normal" ? 0 : 1);
    view.setUint32(p + 9, length, true);
    buf.set(e.data, p + ENTRY_FIXED_BYTES);
    p += ENTRY_FIXED_BYTES + length;
  }
  return p - at;
}

const kindOf: Record<WalRecord["type"], number> = {
  SegmentHeader: RecordKind.SegmentHeader,
  Entries: RecordKind.Entries,
  HardState: RecordKind.HardState,
  SnapshotMark: RecordKind.SnapshotMark,
};

function writeHeaderAndCrc(buf: Buffer, at: number, kind: number, length: number): void {
  // Once per record (per append, in group commit): the cached view, not Buffer.write* calls.
  const view = dataViewOf(buf);
  view.setUint32(at + 4, length, true);
  // Type and the three zero reserved bytes in one little-endian u32.
  view.setUint32(at + 8, kind, true);
  const end = at + RECORD_HEADER_BYTES + length;
  view.setUint32(at, crc32c(buf.subarray(at + 4, end)), true);
}

/** Entries as Entries records of at most entriesRecordBytesMax payload bytes each (at least one entry each). */
export function entriesRecords(entries: readonly Entry[]): WalRecord[] {
  const records: WalRecord[] = [];
  let start = 0;
  let bytes = ENTRIES_FIXED_BYTES;
  for (let i = 0; i < entries.length; i++) {
    const size = ENTRY_FIXED_BYTES + entries[i]!.data.byteLength;
    if (i > start && bytes + size > entriesRecordBytesMax) {
      records.push({ type: "Entries", entries: entries.slice(start, i) });
      start = i;
      bytes = ENTRIES_FIXED_BYTES;
    }
    bytes += size;
  }
  if (entries.length > start)
    records.push({ type: "Entries", entries: start === 0 ? entries : entries.slice(start) });
  return records;
}

/**
 * Checks that `record` can be encoded and returns the bytes it takes on disk. The writer calls
 * this when an append arrives (so a bad one fails its caller) and encodes later, at flush time.
 */
export function checkedRecordBytes(record: WalRecord): number {
  const length = checkedPayloadBytes(record);
  assert(length <= recordPayloadBytesMax, "record exceeds the record payload limit");
  return RECORD_HEADER_BYTES + length;
}

/**
 * One record of a batch as the writer queues it, without a WalRecord wrapper per append: an
 * array of entries is one Entries record, a bare HardState one HardState record.
 */
export type BatchItem = WalRecord | readonly Entry[] | HardState;

/** Fixed bytes of an Entries record (record header and payload head), without its entries. */
export const ENTRIES_RECORD_OVERHEAD_BYTES = RECORD_HEADER_BYTES + ENTRIES_FIXED_BYTES;
/** Bytes one entry adds to an Entries record beyond its data. */
export const ENTRY_OVERHEAD_BYTES = ENTRY_FIXED_BYTES;

/** Checks `hardState` can be encoded; returns the bytes its HardState record takes on disk. */
export function checkedHardStateRecordBytes(hardState: HardState): number {
  const voteBytes = Buffer.byteLength(hardState.vote, "utf8");
  assert(voteBytes <= voteBytesMax, "vote id too long");
  return RECORD_HEADER_BYTES + HARD_STATE_FIXED_BYTES + voteBytes;
}

/** Encodes `records` back to back into `buf` from `at`; returns the offset after the last. */
export function encodeRecordsInto(records: readonly BatchItem[], buf: Buffer, at: number): number {
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    let kind: number;
    let length: number;
    // Sized beforehand; writing past `buf` would throw a RangeError.
    if (Array.isArray(r)) {
      kind = RecordKind.Entries;
      length = writeEntries(r as readonly Entry[], buf, at + RECORD_HEADER_BYTES);
    } else if ("type" in r) {
      kind = kindOf[r.type];
      length = writePayload(r, buf, at + RECORD_HEADER_BYTES);
    } else {
      kind = RecordKind.HardState;
      length = writeHardState(r as HardState, buf, at + RECORD_HEADER_BYTES);
    }
    assert(at + RECORD_HEADER_BYTES + length <= buf.length, "encode: record past the buffer");
    writeHeaderAndCrc(buf, at, kind, length);
    at += RECORD_HEADER_BYTES + length;
  }
  return at;
}

/** Encodes `records` back to back into one new buffer. */
export function encodeRecords(records: readonly WalRecord[]): Buffer {
  let total = 0;
  for (const r of records) total += checkedRecordBytes(r);
  const buf = Buffer.allocUnsafeSlow(total);
  const end = encodeRecordsInto(records, buf, 0);
  assert(end === total, "encodeRecords: size mismatch");
  return buf;
}

/** Writes the header record that opens a batch of `recordCount` records filling `bodyBytes`. */
export function writeBatchHeader(
  buf: Buffer,
  at: number,
  bodyBytes: number,
  recordCount: number,
): void {
  assert(recordCount >= 1 && recordCount <= batchRecordsMax, "batch record count out of range");
  assert(
    bodyBytes >= recordCount * RECORD_HEADER_BYTES && bodyBytes <= batchBodyBytesMax,
    "batch size out of range",
  );
  buf.writeUInt32LE(bodyBytes, at + RECORD_HEADER_BYTES);
  buf.writeUInt32LE(recordCount, at + RECORD_HEADER_BYTES + 4);
  writeHeaderAndCrc(buf, at, RecordKind.Batch, BATCH_PAYLOAD_BYTES);
}

/** Asserts `r` can be encoded; returns its payload bytes (one pass over its entries). */
function checkedPayloadBytes(r: WalRecord): number {
  switch (r.type) {
    case "SegmentHeader":
      assert(r.seq >= 1 && r.firstIndex >= 1, "segment header: seq and firstIndex start at 1");
      return SEGMENT_HEADER_BYTES;
    case "Entries": {
      const entries = r.entries;
      const first = entries[0];
      assert(first !== undefined && first.index >= 1, "entries record: none, or index below 1");
      let bytes = ENTRIES_FIXED_BYTES;
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i]!;
        // Per entry: constant messages, no strings built on the hot path.
        assert(e.index === first.index + i, "entries record: entries not consecutive");
        assert(Number.isSafeInteger(e.term) && e.term >= 0, "entries record: term out of range");
        bytes += ENTRY_FIXED_BYTES + e.data.byteLength;
      }
      return bytes;
    }
    case "HardState":
      assert(Buffer.byteLength(r.hardState.vote, "utf8") <= voteBytesMax, "vote id too long");
      return payloadBytes(r);
    case "SnapshotMark":
      assert(r.index >= 1, "snapshot mark at index 0");
      return SNAPSHOT_MARK_BYTES;
  }
}

export interface RecordHeader {
  readonly crc: number;
  readonly length: number;
  readonly kind: number;
  /** The three reserved bytes as one number; must be 0. */
  readonly reserved: number;
}

/** Reads the 12 header bytes at `at`; the caller checks that they are there. */
export function readRecordHeader(bytes: Buffer, at: number): RecordHeader {
  assert(at + RECORD_HEADER_BYTES <= bytes.length, "record header past the buffer");
  return {
    crc: bytes.readUInt32LE(at),
    length: bytes.readUInt32LE(at + 4),
    kind: bytes.readUInt8(at + 8),
    reserved: bytes.readUIntLE(at + 9, 3),
  };
}

/** Whether the record at `at` (whole, per `header.length`) matches its checksum. */
export function recordCrcMatches(bytes: Buffer, at: number, header: RecordHeader): boolean {
  const end = at + RECORD_HEADER_BYTES + header.length;
  assert(end <= bytes.length, "record past the buffer");
  return crc32c(bytes.subarray(at + 4, end)) === header.crc;
}

export interface BatchHeader {
  readonly bodyBytes: number;
  readonly recordCount: number;
}

export function decodeBatchPayload(payload: Buffer): BatchHeader {
  assert(payload.length === BATCH_PAYLOAD_BYTES, "batch payload size");
  return { bodyBytes: payload.readUInt32LE(0), recordCount: payload.readUInt32LE(4) };
}

export const BATCH_PAYLOAD_LENGTH = BATCH_PAYLOAD_BYTES;

export type DecodeResult =
  | { readonly ok: true; readonly record: WalRecord }
  | { readonly ok: false; readonly reason: string };

const fail = (reason: string): DecodeResult => ({ ok: false, reason });

/**
 * Decodes a checksummed payload of record kind `kind`. Data on disk is untrusted, so every field
 * is range-checked and failures are results, not assertions. Entry data is copied out, so the
 * record does not pin the (large) buffer the segment was read into.
 */
export function decodePayload(kind: number, payload: Buffer): DecodeResult {
  switch (kind) {
    case RecordKind.SegmentHeader:
      return decodeSegmentHeader(payload);
    case RecordKind.Entries:
      return decodeEntries(payload);
    case RecordKind.HardState:
      return decodeHardState(payload);
    case RecordKind.SnapshotMark:
      return decodeSnapshotMark(payload);
    case RecordKind.Batch:
      return fail("batch header inside a batch");
    default:
      return fail(`unknown record type ${kind}`);
  }
}

function decodeSegmentHeader(p: Buffer): DecodeResult {
  if (p.length !== SEGMENT_HEADER_BYTES) return fail("segment header of wrong size");
  if (p.readUInt32LE(0) !== SEGMENT_MAGIC) return fail("segment header without magic");
  const version = p.readUInt16LE(4);
  if (version !== SEGMENT_FORMAT_VERSION) return fail(`unsupported segment version ${version}`);
  const seq = readU64(p, 8);
  const firstIndex = readU64(p, 16);
  if (seq === undefined || seq < 1 || firstIndex === undefined || firstIndex < 1) {
    return fail("segment header seq or firstIndex out of range");
  }
  return { ok: true, record: { type: "SegmentHeader", seq, firstIndex: asIndex(firstIndex) } };
}

function decodeEntries(p: Buffer): DecodeResult {
  if (p.length < ENTRIES_FIXED_BYTES) return fail("entries record too short");
  const firstIndex = readU64(p, 0);
  const count = p.readUInt32LE(8);
  if (firstIndex === undefined || firstIndex < 1 || count < 1)
    return fail("entries record: first index or count out of range");
  if (!Number.isSafeInteger(firstIndex + count))
    return fail("entries record: indexes out of range");
  if (count > (p.length - ENTRIES_FIXED_BYTES) / ENTRY_FIXED_BYTES)
    return fail("entries record: count exceeds its bytes");
  const entries: Entry[] = [];
  let at = ENTRIES_FIXED_BYTES;
  for (let i = 0; i < count; i++) {
    if (p.length - at < ENTRY_FIXED_BYTES)
      return fail(`entries record: entry ${firstIndex + i} cut short`);
    const term = readU64(p, at);
    const code = p.readUInt8(at + 8);
    const dataBytes = p.readUInt32LE(at + 9);
    const type: EntryType | undefined =
      code === 0 ? "Normal" : code === 1 ? "ConfChange" : undefined;
    if (term === undefined)
      return fail(`entries record: term of entry ${firstIndex + i} out of range`);
    if (type === undefined)
      return fail(`entries record: unknown type ${code} of entry ${firstIndex + i}`);
    const start = at + ENTRY_FIXED_BYTES;
    if (dataBytes > p.length - start)
      return fail(`entries record: data of entry ${firstIndex + i} runs past the record`);
    // Copied out, so recovered entries do not pin the whole segment's buffer.
    const data = new Uint8Array(p.subarray(start, start + dataBytes));
    entries.push({ index: asIndex(firstIndex + i), term: asTerm(term), type, data });
    at = start + dataBytes;
  }
  if (at !== p.length) return fail("entries record: bytes after its last entry");
  assert(entries.length === count, "entries record: decoded count");
  return { ok: true, record: { type: "Entries", entries } };
}

function decodeHardState(p: Buffer): DecodeResult {
  if (p.length < HARD_STATE_FIXED_BYTES) return fail("hard state record too short");
  const term = readU64(p, 0);
  const commit = readU64(p, 8);
  const voteBytes = p.readUInt16LE(16);
  if (term === undefined || commit === undefined)
    return fail("hard state term or commit out of range");
  if (voteBytes > voteBytesMax || HARD_STATE_FIXED_BYTES + voteBytes !== p.length) {
    return fail("hard state vote length does not match the record");
  }
  let vote: string;
  try {
    vote = utf8Decoder.decode(p.subarray(HARD_STATE_FIXED_BYTES));
  } catch {
    return fail("hard state vote is not UTF-8");
  }
  const hardState: HardState = {
    term: asTerm(term),
    vote: asNodeId(vote),
    commit: asIndex(commit),
  };
  return { ok: true, record: { type: "HardState", hardState } };
}

function decodeSnapshotMark(p: Buffer): DecodeResult {
  if (p.length !== SNAPSHOT_MARK_BYTES) return fail("snapshot mark of wrong size");
  const index = readU64(p, 0);
  const term = readU64(p, 8);
  const kind = p.readUInt8(16);
  if (index === undefined || index < 1 || term === undefined)
    return fail("snapshot mark index or term out of range");
  if (kind > 1) return fail(`unknown snapshot mark kind ${kind}`);
  return {
    ok: true,
    record: {
      type: "SnapshotMark",
      index: asIndex(index),
      term: asTerm(term),
      install: kind === 1,
    },
  };
}
