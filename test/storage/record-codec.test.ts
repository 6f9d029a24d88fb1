// The on-disk record format: CRC-32C is the Castagnoli polynomial, every record type round-trips
// through the scanner, and damaged or foreign bytes are reported, never decoded into something.
import assert from "node:assert/strict";
import { test } from "node:test";
import { asIndex, asNodeId, asTerm } from "../../src/raft/types.js";
import { BatchBuffer } from "../../src/storage/batch-buffer.js";
import { crc32c } from "../../src/storage/crc32c.js";
import {
  checkedRecordBytes,
  decodePayload,
  entriesRecordBytesMax,
  entriesRecords,
  RECORD_HEADER_BYTES,
  readRecordHeader,
  type WalRecord,
} from "../../src/storage/record-codec.js";
import { scanSegment } from "../../src/storage/segment-scanner.js";
import { decodeSnapshot, encodeSnapshotHead } from "../../src/storage/snapshot-file.js";
import { entry, entryRange, hardState, snapshot } from "./wal-helpers.js";

function encodeBatch(records: readonly WalRecord[]): Buffer {
  let bytes = 0;
  for (const r of records) bytes += checkedRecordBytes(r);
  return Buffer.from(new BatchBuffer().encode(records, bytes));
}

test("CRC-32C: the standard check value and incremental use", () => {
  assert.equal(crc32c(Buffer.from("123456789")), 0xe3069283);
  assert.equal(crc32c(Buffer.from("56789"), crc32c(Buffer.from("1234"))), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
});

test("every record type round-trips through one batch", () => {
  const records: WalRecord[] = [
    { type: "SegmentHeader", seq: 7, firstIndex: asIndex(2 ** 40) },
    // Index 17 is a ConfChange entry; one entry has no data; one a term near 2^53.
    { type: "Entries", entries: [entry(16, 1), entry(17, 1, 0), entry(18, 2 ** 50, 1000)] },
    {
      type: "HardState",
      hardState: { term: asTerm(2 ** 52), vote: asNodeId("nöde-7"), commit: asIndex(12) },
    },
    { type: "HardState", hardState: hardState(0, 0, "") },
    { type: "SnapshotMark", index: asIndex(99), term: asTerm(4), install: true },
    { type: "SnapshotMark", index: asIndex(100), term: asTerm(4), install: false },
  ];
  const bytes = encodeBatch(records);
  const scan = scanSegment(bytes, true);
  const batches = [...scan];
  assert.equal(batches.length, 1);
  assert.equal(batches[0]?.offset, 0);
  assert.equal(batches[0]?.end, bytes.length);
  assert.deepEqual(
    batches[0]?.records.map((r) => r.record),
    records,
  );
});

test("appends larger than the record limit are split into several entries records", () => {
  const big = entryRange(1, 3, 1).map((e, i) => ({
    ...e,
    data: new Uint8Array(entriesRecordBytesMax / 2 - 100).fill(i),
  }));
  const records = entriesRecords(big);
  assert.equal(records.length, 2);
  assert.deepEqual(
    records.flatMap((r) => (r.type === "Entries" ? r.entries.map((e) => e.index) : [])),
    [1, 2, 3],
  );
  assert.deepEqual(entriesRecords([]), []);
});

test("decoding rejects what it does not know, with a reason", () => {
  const unknown = decodePayload(99, Buffer.alloc(4));
  assert.equal(unknown.ok, false);
  const nested = decodePayload(1, Buffer.alloc(8));
  assert.equal(nested.ok, false);
  // An entries record claiming more entries than its bytes can hold.
  const bytes = encodeBatch([{ type: "Entries", entries: [entry(5, 1, 10)] }]);
  const payload = Buffer.from(bytes.subarray(20 + RECORD_HEADER_BYTES));
  payload.writeUInt32LE(1000, 8);
  const decoded = decodePayload(3, payload);
  assert.equal(decoded.ok, false);
  if (!decoded.ok) assert.match(decoded.reason, /count/);
});

test("record headers: a batch header is a checksummed record of type 1", () => {
  const bytes = encodeBatch([{ type: "HardState", hardState: hardState(1, 1) }]);
  const header = readRecordHeader(bytes, 0);
  assert.equal(header.kind, 1);
  assert.equal(header.length, 8);
  assert.equal(header.reserved, 0);
  assert.equal(bytes.readUInt32LE(RECORD_HEADER_BYTES + 4), 1, "one record in the batch");
});

test("snapshot files round-trip and name the offset of damage", () => {
  const snap = snapshot(42, 3, 500);
  const file = Buffer.concat([encodeSnapshotHead(snap), snap.data]);
  const decoded = decodeSnapshot(file);
  assert.ok(decoded.ok);
  if (decoded.ok) assert.deepEqual(decoded.snapshot, snap);
  const damaged = Buffer.from(file);
  damaged[damaged.length - 1]! ^= 0x80;
  const result = decodeSnapshot(damaged);
  assert.equal(result.ok, false);
  if (!result.ok) assert.equal(result.offset, 8);
  const short = decodeSnapshot(file.subarray(0, 30));
  assert.equal(short.ok, false);
});
