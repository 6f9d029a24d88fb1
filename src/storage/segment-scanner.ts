// Reads one segment file's bytes as a sequence of batches, and decides what the first bad byte
// means: a torn last write (recovery cuts it off) or damage to data that was acknowledged
// (recovery refuses to start).
//
// Why a failure can be called "torn" at all: the writer has at most one write in flight and
// issues the next only after the previous one's fdatasync returned. So only the last batch of the
// last segment can have been cut short by a crash; everything before it was acknowledged.
// A crash leaves a short file (size not fully extended) or, after power loss on some file
// systems, whole unwritten sectors that read as zeros. A flipped bit leaves neither. So in the
// last batch of the last segment:
//   - a batch or record that runs past the end of the file is torn (the write did not finish);
//   - a bad record is torn only if a 512-byte sector inside it reads as zeros (as etcd's WAL
//     decides); a bad batch header only if everything from it to the end of file is zero;
//   - anything else is corruption, and so is any failure before the last batch or segment.
import { assert } from "../lib/index.js";
import {
  BATCH_HEADER_BYTES,
  BATCH_PAYLOAD_LENGTH,
  batchBodyBytesMax,
  batchRecordsMax,
  decodeBatchPayload,
  decodePayload,
  RECORD_HEADER_BYTES,
  RecordKind,
  readRecordHeader,
  recordCrcMatches,
  type WalRecord,
} from "./record-codec.js";

export interface ScannedRecord {
  /** Byte offset of the record's header in the segment. */
  readonly offset: number;
  readonly record: WalRecord;
}

export interface ScannedBatch {
  /** Byte offset of the batch header. */
  readonly offset: number;
  /** Offset just past the batch's last record. */
  readonly end: number;
  readonly records: readonly ScannedRecord[];
}

export type ScanEnd =
  /** Every byte belongs to a valid batch. */
  | { readonly kind: "clean" }
  /** The last write was cut short; the valid log ends at `offset` (a batch boundary). */
  | { readonly kind: "torn"; readonly offset: number; readonly reason: string }
  /** Damage at `offset`, inside (or at the header of) the batch starting at `batchOffset`. */
  | {
      readonly kind: "corrupt";
      readonly offset: number;
      readonly batchOffset: number;
      readonly reason: string;
    };

const SECTOR_BYTES = 512;
/** A zero run shorter than this inside a bad record is taken for data, not an unwritten sector. */
const TORN_ZERO_BYTES_MIN = 64;

interface Failure {
  /** Where the first bad byte is: the offending record's (or batch header's) offset. */
  readonly at: number;
  readonly reason: string;
  /** The batch runs past the end of the file: its write did not finish. */
  readonly short: boolean;
  /** End of the failing batch per its (valid) header; undefined when the header is bad. */
  readonly batchEnd: number | undefined;
  /** End of the failing record as far as it can be told (clipped to the batch). */
  readonly recordEnd: number;
}

type ParseResult =
  | { readonly ok: true; readonly batch: ScannedBatch }
  | { readonly ok: false; readonly failure: Failure };

/**
 * Yields each valid batch of `bytes` in order, then returns how the segment ends.
 * `isLast`: this is the newest segment, the only place a torn write can be.
 */
export function* scanSegment(
  bytes: Buffer,
  isLast: boolean,
): Generator<ScannedBatch, ScanEnd, void> {
  let offset = 0;
  // Each batch takes at least BATCH_HEADER_BYTES, which bounds the loop.
  const batchesMax = Math.floor(bytes.length / BATCH_HEADER_BYTES) + 1;
  for (let n = 0; n <= batchesMax; n++) {
    if (offset === bytes.length) return { kind: "clean" };
    const parsed = parseBatch(bytes, offset);
    if (!parsed.ok) return classify(bytes, isLast, offset, parsed.failure);
    assert(
      parsed.batch.end > offset && parsed.batch.end <= bytes.length,
      "scan: batch end out of range",
    );
    yield parsed.batch;
    offset = parsed.batch.end;
  }
  assert(false, "scan: more batches than bytes allow");
}

function parseBatch(bytes: Buffer, start: number): ParseResult {
  const size = bytes.length;
  const headerFailure = (reason: string, short: boolean): ParseResult => ({
    ok: false,
    failure: {
      at: start,
      reason,
      short,
      batchEnd: undefined,
      recordEnd: Math.min(size, start + BATCH_HEADER_BYTES),
    },
  });
  if (size - start < RECORD_HEADER_BYTES)
    return headerFailure("batch header cut short by end of file", true);
  const header = readRecordHeader(bytes, start);
  if (
    header.kind !== RecordKind.Batch ||
    header.length !== BATCH_PAYLOAD_LENGTH ||
    header.reserved !== 0
  ) {
    return headerFailure("expected a batch header", false);
  }
  if (size - start < BATCH_HEADER_BYTES)
    return headerFailure("batch header cut short by end of file", true);
  if (!recordCrcMatches(bytes, start, header))
    return headerFailure("batch header checksum mismatch", false);
  const { bodyBytes, recordCount } = decodeBatchPayload(
    bytes.subarray(start + RECORD_HEADER_BYTES, start + BATCH_HEADER_BYTES),
  );
  if (
    recordCount < 1 ||
    recordCount > batchRecordsMax ||
    bodyBytes < recordCount * RECORD_HEADER_BYTES ||
    bodyBytes > batchBodyBytesMax
  ) {
    return headerFailure(
      `implausible batch header (${recordCount} records in ${bodyBytes} bytes)`,
      false,
    );
  }
  const end = start + BATCH_HEADER_BYTES + bodyBytes;
  if (end > size) {
    return headerFailure(
      `batch of ${bodyBytes} bytes runs past end of file (${size - start} left)`,
      true,
    );
  }
  return parseRecords(bytes, start, end, recordCount);
}

function parseRecords(bytes: Buffer, start: number, end: number, recordCount: number): ParseResult {
  const records: ScannedRecord[] = [];
  const failure = (at: number, reason: string, recordEnd: number): ParseResult => ({
    ok: false,
    failure: { at, reason, short: false, batchEnd: end, recordEnd: Math.min(recordEnd, end) },
  });
  let at = start + BATCH_HEADER_BYTES;
  for (let i = 0; i < recordCount; i++) {
    if (end - at < RECORD_HEADER_BYTES)
      return failure(at, "record header crosses the batch end", end);
    const header = readRecordHeader(bytes, at);
    const recordEnd = at + RECORD_HEADER_BYTES + header.length;
    if (header.reserved !== 0)
      return failure(at, "record header has non-zero reserved bytes", recordEnd);
    if (recordEnd > end) return failure(at, "record crosses the batch end", recordEnd);
    if (!recordCrcMatches(bytes, at, header))
      return failure(at, "record checksum mismatch", recordEnd);
    const decoded = decodePayload(header.kind, bytes.subarray(at + RECORD_HEADER_BYTES, recordEnd));
    if (!decoded.ok) return failure(at, decoded.reason, recordEnd);
    records.push({ offset: at, record: decoded.record });
    at = recordEnd;
  }
  if (at !== end) return failure(at, "batch holds bytes after its last record", end);
  assert(records.length === recordCount, "scan: record count");
  return { ok: true, batch: { offset: start, end, records } };
}

function classify(bytes: Buffer, isLast: boolean, batchOffset: number, f: Failure): ScanEnd {
  const corrupt: ScanEnd = { kind: "corrupt", offset: f.at, batchOffset, reason: f.reason };
  if (!isLast) return corrupt;
  const torn: ScanEnd = { kind: "torn", offset: batchOffset, reason: f.reason };
  if (f.short) return torn;
  if (f.batchEnd === undefined) return isAllZero(bytes, batchOffset, bytes.length) ? torn : corrupt;
  // A batch written after this one means this one's fsync had returned: it was acknowledged.
  if (f.batchEnd !== bytes.length) return corrupt;
  return hasZeroSector(bytes, f.at, f.recordEnd) ? torn : corrupt;
}

function isAllZero(bytes: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i] !== 0) return false;
  return true;
}

/** Whether some 512-byte-aligned sector's part of [start, end) is all zeros (and not tiny). */
function hasZeroSector(bytes: Buffer, start: number, end: number): boolean {
  const runMin = Math.min(TORN_ZERO_BYTES_MIN, end - start);
  if (runMin <= 0) return false;
  for (
    let sector = Math.floor(start / SECTOR_BYTES) * SECTOR_BYTES;
    sector < end;
    sector += SECTOR_BYTES
  ) {
    const lo = Math.max(start, sector);
    const hi = Math.min(end, sector + SECTOR_BYTES);
    if (hi - lo >= runMin && isAllZero(bytes, lo, hi)) return true;
  }
  return false;
}
