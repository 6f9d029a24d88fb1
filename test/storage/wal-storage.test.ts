// WalStorage as a LogStorage: what goes in comes back after a reopen, truncation is durable,
// group commit coalesces, segments roll, and misuse gets typed errors.
import assert from "node:assert/strict";
import { constants } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { AssertionError } from "../../src/lib/index.js";
import { StorageError, WalStorage } from "../../src/storage/index.js";
import { encodeRecords, entriesRecords, type WalRecord } from "../../src/storage/record-codec.js";
import {
  assertEntries,
  entry,
  entryRange,
  hardState,
  openAndLoad,
  removeDir,
  segmentNames,
  snapshot,
  tempDir,
} from "./wal-helpers.js";

test("a new directory loads empty and holds one segment", async () => {
  const dir = await tempDir("wal-new");
  try {
    const { wal, state } = await openAndLoad(join(dir, "data"));
    assert.deepEqual(state.hardState, hardState(0, 0, ""));
    assert.equal(state.snapshot, undefined);
    assert.equal(state.entries.length, 0);
    assert.deepEqual(await segmentNames(join(dir, "data")), [
      "0000000000000001-0000000000000001.wal",
    ]);
    await wal.close();
  } finally {
    await removeDir(dir);
  }
});

test("entries and hard state survive close and reopen", async () => {
  const dir = await tempDir("wal-reopen");
  try {
    const { wal } = await openAndLoad(dir);
    await wal.append(entryRange(1, 10, 1), hardState(1, 0));
    await wal.append(entryRange(11, 20, 2), hardState(2, 15, "n2"));
    await wal.append([], hardState(2, 20, "n2"));
    await wal.close();
    const again = await openAndLoad(dir);
    assertEntries(again.state.entries, [...entryRange(1, 10, 1), ...entryRange(11, 20, 2)]);
    assert.deepEqual(again.state.hardState, hardState(2, 20, "n2"));
    await again.wal.append(entryRange(21, 25, 2), undefined);
    await again.wal.close();
    const third = await openAndLoad(dir);
    assert.equal(third.state.entries.length, 25);
    assert.deepEqual(third.state.hardState, hardState(2, 20, "n2"));
    await third.wal.close();
  } finally {
    await removeDir(dir);
  }
});

test("truncating a conflicting suffix is durable", async () => {
  const dir = await tempDir("wal-truncate");
  try {
    const { wal } = await openAndLoad(dir);
    await wal.append(entryRange(1, 10, 1), hardState(1, 3));
    // Follower log repair: the leader of term 3 overwrites from index 6, with a shorter log.
    await wal.append(entryRange(6, 7, 3), hardState(3, 5));
    await wal.close();
    const again = await openAndLoad(dir);
    assertEntries(again.state.entries, [...entryRange(1, 5, 1), ...entryRange(6, 7, 3)]);
    // Appending on from the repaired log, then truncating again within one batch.
    await again.wal.append(entryRange(8, 9, 3), undefined);
    await again.wal.append(entryRange(9, 9, 4), hardState(4, 8));
    await again.wal.close();
    const third = await openAndLoad(dir);
    assertEntries(third.state.entries, [
      ...entryRange(1, 5, 1),
      ...entryRange(6, 8, 3),
      entry(9, 4),
    ]);
    await third.wal.close();
  } finally {
    await removeDir(dir);
  }
});

test("group commit: appends made during an fsync share the next one; promises resolve in order", async () => {
  const dir = await tempDir("wal-group");
  try {
    const { wal } = await openAndLoad(dir);
    const order: number[] = [];
    const appends: Promise<void>[] = [];
    for (let i = 1; i <= 300; i++) {
      appends.push(wal.append([entry(i, 1)], hardState(1, i - 1)).then(() => void order.push(i)));
    }
    await Promise.all(appends);
    assert.deepEqual(
      order,
      Array.from({ length: 300 }, (_, i) => i + 1),
    );
    const stats = wal.stats();
    assert.equal(stats.appends, 300);
    // The first append goes alone; the rest pile up behind its fsync: a handful of batches.
    assert.ok(
      stats.fsyncs <= 10,
      `expected coalescing, got ${stats.fsyncs} fsyncs for 300 appends`,
    );
    assert.equal(stats.batches, stats.fsyncs);
    await wal.close();
    const again = await openAndLoad(dir);
    assertEntries(again.state.entries, entryRange(1, 300, 1));
    assert.deepEqual(again.state.hardState, hardState(1, 299));
    await again.wal.close();
  } finally {
    await removeDir(dir);
  }
});

test("one batch is one write: its bytes are one batch record on disk", async () => {
  const dir = await tempDir("wal-batch");
  try {
    const { wal } = await openAndLoad(dir);
    const file = join(dir, (await segmentNames(dir))[0]!);
    const sizeBefore = (await readFile(file)).length;
    await wal.append(entryRange(1, 3, 1), undefined);
    const before = wal.stats();
    await Promise.all([
      wal.append(entryRange(4, 6, 1), undefined),
      wal.append(entryRange(7, 9, 1), hardState(1, 2)),
    ]);
    const after = wal.stats();
    assert.equal(after.fsyncs - before.fsyncs, 1, "two appends made during no fsync share one");
    await wal.close();
    const bytes = await readFile(file);
    assert.equal(bytes.length - sizeBefore, after.bytesWritten);
    // The second batch's header says it holds 2 records: one run of entries 4..9 (the second
    // append's entries continue the first's record), a hard state.
    const secondBatch = sizeBefore + (before.bytesWritten as number);
    assert.equal(bytes.readUInt8(secondBatch + 8), 1, "a batch record");
    assert.equal(bytes.readUInt32LE(secondBatch + 16), 2);
  } finally {
    await removeDir(dir);
  }
});

test("appends sharing a batch settle together, in call order, as exactly their records", async () => {
  const dir = await tempDir("wal-shared-batch");
  try {
    const { wal } = await openAndLoad(dir);
    const file = join(dir, (await segmentNames(dir))[0]!);
    await wal.append(entryRange(1, 3, 1), hardState(1, 1));
    const sizeBefore = (await readFile(file)).length;
    // A deferred hard state rides in the next synced append; an empty append still waits its turn.
    await wal.append([], hardState(1, 2), false);
    const order: string[] = [];
    const appends = [
      wal.append(entryRange(4, 6, 1), undefined),
      wal.append([], undefined),
      wal.append(entryRange(7, 7, 2), hardState(2, 5)),
      wal.append(entryRange(8, 9, 2), undefined),
      wal.append(entryRange(10, 11, 2), undefined),
      wal.append(entryRange(11, 12, 2), undefined),
    ];
    appends.forEach((p, i) => {
      void p.then(() => order.push(`append ${i}`));
    });
    await Promise.all(appends);
    assert.deepEqual(order, [
      "append 0",
      "append 1",
      "append 2",
      "append 3",
      "append 4",
      "append 5",
    ]);
    assert.equal(wal.stats().fsyncs, 2, "one for the first append, one for all four");
    await wal.close();
    // Byte for byte what encodeRecords gives for: each append's entries (the deferred hard state
    // after the first), the third's hard state; entries continuing the Entries record just before
    // them extend it (8..9 and 10..11); entries rewriting the log (11..12) start a record.
    const expected: WalRecord[] = [
      ...entriesRecords(entryRange(4, 6, 1)),
      { type: "HardState", hardState: hardState(1, 2) },
      ...entriesRecords(entryRange(7, 7, 2)),
      { type: "HardState", hardState: hardState(2, 5) },
      ...entriesRecords(entryRange(8, 11, 2)),
      ...entriesRecords(entryRange(11, 12, 2)),
    ];
    const body = encodeRecords(expected);
    const written = (await readFile(file)).subarray(sizeBefore);
    assert.equal(written.readUInt32LE(12), body.length, "batch header: body bytes");
    assert.equal(written.readUInt32LE(16), expected.length, "batch header: records");
    assert.deepEqual(written.subarray(20), body);
    const again = await openAndLoad(dir);
    assertEntries(again.state.entries, [...entryRange(1, 6, 1), ...entryRange(7, 12, 2)]);
    assert.deepEqual(again.state.hardState, hardState(2, 5));
    await again.wal.close();
  } finally {
    await removeDir(dir);
  }
});

test("a failed batch rejects every append in it and every later one with IO", async () => {
  const dir = await tempDir("wal-shared-failure");
  try {
    const { wal } = await openAndLoad(dir);
    await wal.append(entryRange(1, 1, 1), undefined);
    // Make the next (O_DSYNC, so durable) write fail, as a disk error would.
    const active = (wal as unknown as { active: { handle: { write(): Promise<unknown> } } }).active;
    active.handle.write = () => Promise.reject(new Error("EIO (injected)"));
    const results = await Promise.allSettled([
      wal.append(entryRange(2, 2, 1), undefined),
      wal.append(entryRange(3, 3, 1), hardState(1, 3)),
    ]);
    for (const r of results) {
      assert.ok(
        r.status === "rejected" && r.reason instanceof StorageError && r.reason.code === "IO",
      );
    }
    await assert.rejects(
      wal.append(entryRange(4, 4, 1), undefined),
      (e: unknown) => e instanceof StorageError && e.code === "IO",
    );
    await wal.close();
  } finally {
    await removeDir(dir);
  }
});

test("many segments: the log rolls over and reads back whole, continuing after reopen", async () => {
  const dir = await tempDir("wal-segments");
  try {
    const options = { segmentBytesMax: 4096 };
    const { wal } = await openAndLoad(dir, options);
    for (let i = 1; i <= 600; i += 6)
      await wal.append(
        entryRange(i, i + 5, 1 + Math.floor(i / 100)),
        hardState(1 + Math.floor(i / 100), i),
      );
    const segments = await segmentNames(dir);
    assert.ok(segments.length >= 20, `expected many segments, got ${segments.length}`);
    for (const [i, name] of segments.entries()) {
      assert.ok(name.startsWith(String(i + 1).padStart(16, "0")), name);
    }
    await wal.close();
    const again = await openAndLoad(dir, options);
    assert.equal(again.state.entries.length, 600);
    for (const [i, e] of again.state.entries.entries()) assert.equal(e.index, i + 1);
    await again.wal.append(entryRange(601, 700, 7), hardState(7, 650));
    await again.wal.close();
    const third = await openAndLoad(dir, options);
    assert.equal(third.state.entries.length, 700);
    assert.deepEqual(third.state.hardState, hardState(7, 650));
    await third.wal.close();
  } finally {
    await removeDir(dir);
  }
});

test("an entry larger than a segment gets a segment of its own", async () => {
  const dir = await tempDir("wal-large");
  try {
    const { wal } = await openAndLoad(dir, { segmentBytesMax: 4096 });
    await wal.append([entry(1, 1, 100), entry(2, 1, 20_000), entry(3, 1, 100)], hardState(1, 1));
    await wal.append([entry(4, 1, 10)], undefined);
    await wal.close();
    const again = await openAndLoad(dir, { segmentBytesMax: 4096 });
    assertEntries(again.state.entries, [
      entry(1, 1, 100),
      entry(2, 1, 20_000),
      entry(3, 1, 100),
      entry(4, 1, 10),
    ]);
    await again.wal.close();
  } finally {
    await removeDir(dir);
  }
});

test("misuse: typed errors for closed, overloaded and bad options; assertions for bugs", async () => {
  const dir = await tempDir("wal-misuse");
  try {
    await assert.rejects(
      WalStorage.open(dir, { segmentBytesMax: 10 }),
      (e: unknown) => e instanceof StorageError && e.code === "INVALID_ARGUMENT",
    );
    const { wal } = await openAndLoad(dir, { pendingBytesMax: 4096 });
    await wal.append(entryRange(1, 2, 1), undefined);
    await assert.rejects(
      wal.load(),
      (e: unknown) => e instanceof StorageError && e.code === "INVALID_ARGUMENT",
    );
    assert.throws(() => wal.append([entry(5, 1)], undefined), AssertionError);
    assert.throws(() => wal.append([entry(3, 1), entry(5, 1)], undefined), AssertionError);
    // Queue more bytes than pendingBytesMax while a write is in flight (each rewrites index 3).
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, () => wal.append([entry(3, 1, 250)], undefined)),
    );
    const overloaded = results.filter(
      (r) =>
        r.status === "rejected" &&
        r.reason instanceof StorageError &&
        r.reason.code === "OVERLOADED",
    );
    assert.ok(overloaded.length > 0, "some appends are refused with OVERLOADED");
    await assert.rejects(
      wal.saveSnapshot(snapshot(10_000, 1)),
      (e: unknown) => e instanceof StorageError && e.code === "INVALID_ARGUMENT",
    );
    await wal.close();
    await wal.close();
    await assert.rejects(
      wal.append([], hardState(1, 1)),
      (e: unknown) => e instanceof StorageError && e.code === "CLOSED",
    );
    await assert.rejects(
      wal.load(),
      (e: unknown) => e instanceof StorageError && e.code === "CLOSED",
    );
  } finally {
    await removeDir(dir);
  }
});

test("entries a snapshot covers are skipped on append, as the simulator's disk does", async () => {
  const dir = await tempDir("wal-skip");
  try {
    const { wal } = await openAndLoad(dir);
    await wal.append(entryRange(1, 10, 1), hardState(1, 10));
    await wal.saveSnapshot(snapshot(8, 1));
    await wal.append(entryRange(7, 12, 1), undefined);
    await wal.close();
    const again = await openAndLoad(dir);
    assert.equal(again.state.snapshot?.meta.index, 8);
    assertEntries(again.state.entries, entryRange(9, 12, 1));
    await again.wal.close();
  } finally {
    await removeDir(dir);
  }
});

/** A copy of the segment files as a crash at this moment would leave them (no LOCK). */
async function crashCopy(dir: string, label: string): Promise<string> {
  const copy = await tempDir(label);
  for (const name of await segmentNames(dir)) {
    await writeFile(join(copy, name), await readFile(join(dir, name)));
  }
  return copy;
}

test("a hard state appended without sync costs no write and rides in the next synced batch", async () => {
  const dir = await tempDir("wal-deferred");
  const copies: string[] = [];
  try {
    const { wal } = await openAndLoad(dir);
    await wal.append(entryRange(1, 5, 1), hardState(1, 2));
    const before = wal.stats();
    const [segment] = await segmentNames(dir);
    const bytesBefore = (await readFile(join(dir, segment!))).length;

    await wal.append([], hardState(1, 5), false);
    const deferred = wal.stats();
    assert.equal(deferred.fsyncs, before.fsyncs, "no fsync for a commit index alone");
    assert.equal(deferred.batches, before.batches);
    assert.equal(deferred.deferredHardStates, before.deferredHardStates + 1);
    assert.equal((await readFile(join(dir, segment!))).length, bytesBefore, "nothing written");

    // A crash now loses the deferred commit index, and only that.
    copies.push(await crashCopy(dir, "wal-deferred-crash1"));
    const lost = await openAndLoad(copies[0]!);
    assert.deepEqual(lost.state.hardState, hardState(1, 2));
    assert.equal(lost.state.entries.length, 5);
    await lost.wal.close();

    // The next synced write carries it: a crash after that keeps commit 5.
    await wal.append(entryRange(6, 7, 1), undefined);
    assert.equal(wal.stats().fsyncs, before.fsyncs + 1);
    copies.push(await crashCopy(dir, "wal-deferred-crash2"));
    const kept = await openAndLoad(copies[1]!);
    assert.deepEqual(kept.state.hardState, hardState(1, 5));
    assert.equal(kept.state.entries.length, 7);
    await kept.wal.close();
    await wal.close();
  } finally {
    await removeDir(dir);
    for (const copy of copies) await removeDir(copy);
  }
});

test("close makes a deferred hard state durable", async () => {
  const dir = await tempDir("wal-deferred-close");
  try {
    const { wal } = await openAndLoad(dir);
    await wal.append(entryRange(1, 3, 2), hardState(2, 1));
    await wal.append([], hardState(2, 3), false);
    await wal.close();
    const reopened = await openAndLoad(dir);
    assert.deepEqual(reopened.state.hardState, hardState(2, 3));
    await reopened.wal.close();
  } finally {
    await removeDir(dir);
  }
});

test("without sync, entries or a new term or vote are refused as a bug", async () => {
  const dir = await tempDir("wal-deferred-misuse");
  try {
    const { wal } = await openAndLoad(dir);
    await wal.append(entryRange(1, 2, 1), hardState(1, 1));
    await assert.rejects(wal.append(entryRange(3, 3, 1), undefined, false), AssertionError);
    await assert.rejects(wal.append([], hardState(2, 1), false), AssertionError);
    await assert.rejects(wal.append([], hardState(1, 1, "n2"), false), AssertionError);
    assert.equal(wal.stats().deferredHardStates, 0);
    await wal.close();
  } finally {
    await removeDir(dir);
  }
});

test("the active segment is written O_DSYNC, in a new directory, after reopen and after a rollover", async (t) => {
  if (process.platform !== "linux") {
    t.skip("reads the open flags from /proc/self/fdinfo");
    return;
  }
  const dir = await tempDir("wal-dsync");
  // fdinfo's "flags:" line is octal; O_DSYNC is the bit a write waits on the disk for.
  const dsync = async (wal: WalStorage): Promise<boolean> => {
    const fd = (wal as unknown as { active: { handle: { fd: number } } }).active.handle.fd;
    const info = await readFile(`/proc/self/fdinfo/${fd}`, "utf8");
    const flags = Number.parseInt(/^flags:\s*([0-7]+)/m.exec(info)?.[1] ?? "0", 8);
    return (flags & constants.O_DSYNC) === constants.O_DSYNC;
  };
  try {
    const options = { segmentBytesMax: 4096 };
    const first = await openAndLoad(dir, options);
    assert.ok(await dsync(first.wal), "a new directory's first segment");
    await first.wal.append(entryRange(1, 1, 1), hardState(1, 1));
    await first.wal.close();
    const second = await openAndLoad(dir, options);
    assert.ok(await dsync(second.wal), "the segment reopened");
    const before = (second.wal as unknown as { active: { name: string } }).active.name;
    for (let i = 2; i <= 80; i += 4) await second.wal.append(entryRange(i, i + 3, 1), undefined);
    const after = (second.wal as unknown as { active: { name: string } }).active.name;
    assert.notEqual(after, before, "the appends rolled over to a new segment");
    assert.ok(await dsync(second.wal), "the segment a rollover created");
    await second.wal.close();
  } finally {
    await removeDir(dir);
  }
});
