// Snapshots and compaction: round trips, retention, install, fallback to an older snapshot when
// the newest is damaged, and the states a crash can leave between the snapshot file, its WAL
// mark and the removal of old segments.
import assert from "node:assert/strict";
import { readdir, readFile, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { CorruptionError, StorageError } from "../../src/storage/index.js";
import { writeSnapshotFile } from "../../src/storage/snapshot-file.js";
import {
  assertEntries,
  entryRange,
  hardState,
  openAndLoad,
  removeDir,
  segmentNames,
  snapshot,
  snapshotNames,
  tempDir,
} from "./wal-helpers.js";

const small = { segmentBytesMax: 2048 };

test("saveSnapshot round trip: snapshot plus the entries after it, prefix compacted", async () => {
  const dir = await tempDir("snap-roundtrip");
  try {
    const { wal } = await openAndLoad(dir, small);
    for (let i = 1; i <= 200; i += 10)
      await wal.append(entryRange(i, i + 9, 1), hardState(1, i + 9));
    const segmentsBefore = (await segmentNames(dir)).length;
    await wal.saveSnapshot(snapshot(150, 1));
    const segmentsAfter = await segmentNames(dir);
    assert.ok(segmentsAfter.length < segmentsBefore, "covered segments were removed");
    await wal.append(entryRange(201, 210, 2), hardState(2, 205));
    await wal.close();
    const again = await openAndLoad(dir, small);
    assert.deepEqual(again.state.snapshot, snapshot(150, 1));
    assertEntries(again.state.entries, [...entryRange(151, 200, 1), ...entryRange(201, 210, 2)]);
    assert.deepEqual(again.state.hardState, hardState(2, 205));
    // Reopening after compaction, then compacting again, then reopening again.
    await again.wal.saveSnapshot(snapshot(205, 2));
    await again.wal.close();
    const third = await openAndLoad(dir, small);
    assert.equal(third.state.snapshot?.meta.index, 205);
    assertEntries(third.state.entries, entryRange(206, 210, 2));
    await third.wal.close();
  } finally {
    await removeDir(dir);
  }
});

test("retention keeps snapshotsKeep snapshots and the log back to the oldest of them", async () => {
  const dir = await tempDir("snap-retention");
  try {
    const { wal } = await openAndLoad(dir, { ...small, snapshotsKeep: 3 });
    for (let round = 1; round <= 6; round++) {
      const from = (round - 1) * 50 + 1;
      for (let i = from; i < from + 50; i += 10)
        await wal.append(entryRange(i, i + 9, 1), hardState(1, i + 9));
      await wal.saveSnapshot(snapshot(round * 50 - 5, 1));
    }
    assert.deepEqual(await snapshotNames(dir), [
      "0000000000000195-0000000000000001.snap",
      "0000000000000245-0000000000000001.snap",
      "0000000000000295-0000000000000001.snap",
    ]);
    const [oldestSegment] = await segmentNames(dir);
    const firstIndex = Number(oldestSegment!.slice(17, 33));
    assert.ok(
      firstIndex <= 196,
      `the log reaches back to the oldest kept snapshot (starts at ${firstIndex})`,
    );
    await wal.close();
  } finally {
    await removeDir(dir);
  }
});

test("installSnapshot replaces the whole log; appends continue after it", async () => {
  const dir = await tempDir("snap-install");
  try {
    const { wal } = await openAndLoad(dir, small);
    for (let i = 1; i <= 100; i += 10) await wal.append(entryRange(i, i + 9, 1), hardState(1, 50));
    await wal.installSnapshot(snapshot(500, 4));
    await wal.append(entryRange(501, 510, 4), hardState(4, 505, "n3"));
    for (const name of await segmentNames(dir)) {
      assert.ok(Number(name.slice(17, 33)) >= 501, `the replaced log is gone, yet ${name} is left`);
    }
    await wal.close();
    const again = await openAndLoad(dir, small);
    assert.deepEqual(again.state.snapshot, snapshot(500, 4));
    assertEntries(again.state.entries, entryRange(501, 510, 4));
    assert.deepEqual(again.state.hardState, hardState(4, 505, "n3"));
    await assert.rejects(
      again.wal.installSnapshot(snapshot(400, 5)),
      (e: unknown) => e instanceof StorageError && e.code === "INVALID_ARGUMENT",
    );
    await again.wal.close();
  } finally {
    await removeDir(dir);
  }
});

test("an install in the middle of queued appends orders with them", async () => {
  const dir = await tempDir("snap-install-order");
  try {
    const { wal } = await openAndLoad(dir, small);
    await wal.append(entryRange(1, 10, 1), hardState(1, 5));
    const before = wal.append(entryRange(11, 20, 1), undefined);
    const install = wal.installSnapshot(snapshot(300, 2));
    const after = wal.append(entryRange(301, 305, 2), hardState(2, 300));
    await Promise.all([before, install, after]);
    await wal.close();
    const again = await openAndLoad(dir, small);
    assert.equal(again.state.snapshot?.meta.index, 300);
    assertEntries(again.state.entries, entryRange(301, 305, 2));
    await again.wal.close();
  } finally {
    await removeDir(dir);
  }
});

test("a damaged newest snapshot: the older one loads, with the log after it; the damaged one is set aside", async () => {
  const dir = await tempDir("snap-fallback");
  try {
    const { wal } = await openAndLoad(dir, small);
    for (let i = 1; i <= 100; i += 10)
      await wal.append(entryRange(i, i + 9, 1), hardState(1, i + 9));
    await wal.saveSnapshot(snapshot(40, 1));
    await wal.saveSnapshot(snapshot(80, 1));
    await wal.close();
    const newest = join(dir, "0000000000000080-0000000000000001.snap");
    const bytes = await readFile(newest);
    bytes[bytes.length - 3]! ^= 0x10;
    await writeFile(newest, bytes);
    const again = await openAndLoad(dir, small);
    assert.deepEqual(again.state.snapshot, snapshot(40, 1));
    assertEntries(again.state.entries, entryRange(41, 100, 1));
    assert.equal(again.wal.recovery.damagedSnapshots.length, 1);
    assert.equal(again.wal.recovery.damagedSnapshots[0]?.file, newest);
    assert.ok(again.logs.some((l) => l.level === "warn" && l.message.includes("damaged snapshot")));
    assert.ok((await readdir(dir)).includes("0000000000000080-0000000000000001.snap.broken"));
    await again.wal.close();
  } finally {
    await removeDir(dir);
  }
});

test("a damaged installed snapshot cannot be replaced by an older one: refuse to start", async () => {
  const dir = await tempDir("snap-install-damaged");
  try {
    const { wal } = await openAndLoad(dir, small);
    await wal.append(entryRange(1, 10, 1), hardState(1, 10));
    await wal.saveSnapshot(snapshot(10, 1));
    await wal.installSnapshot(snapshot(50, 3));
    await wal.close();
    // Put the older snapshot back as if retention had kept it, then damage the installed one.
    await writeSnapshotFile(dir, snapshot(10, 1));
    const installed = join(dir, "0000000000000050-0000000000000003.snap");
    const bytes = await readFile(installed);
    bytes[60]! ^= 1;
    await writeFile(installed, bytes);
    await assert.rejects(
      openAndLoad(dir, small),
      (e: unknown) => e instanceof CorruptionError && e.code === "CORRUPTION",
    );
  } finally {
    await removeDir(dir);
  }
});

test("crash after a saved snapshot's file, before its mark: loads, keeps the entries after it", async () => {
  const dir = await tempDir("snap-crash-save");
  try {
    const { wal } = await openAndLoad(dir, small);
    await wal.append(entryRange(1, 60, 1), hardState(1, 60));
    await wal.close();
    await writeSnapshotFile(dir, snapshot(30, 1));
    const again = await openAndLoad(dir, small);
    assert.equal(again.state.snapshot?.meta.index, 30);
    assertEntries(again.state.entries, entryRange(31, 60, 1));
    await again.wal.close();
  } finally {
    await removeDir(dir);
  }
});

test("crash after an installed snapshot's file, before its mark: entries of another history go", async () => {
  const dir = await tempDir("snap-crash-install");
  try {
    const { wal } = await openAndLoad(dir, small);
    await wal.append(entryRange(1, 60, 1), hardState(1, 20));
    await wal.close();
    // The leader's snapshot at 40 has term 2: our entry 40 (term 1) is from another history.
    await writeSnapshotFile(dir, snapshot(40, 2));
    const again = await openAndLoad(dir, small);
    assert.equal(again.state.snapshot?.meta.index, 40);
    assert.equal(again.state.entries.length, 0);
    assert.equal(again.wal.recovery.droppedAfterSnapshot, 20);
    await again.wal.close();
  } finally {
    await removeDir(dir);
  }
});

test("crash during compaction (oldest segments removed, newer ones not) still loads", async () => {
  const dir = await tempDir("snap-crash-compact");
  try {
    const { wal } = await openAndLoad(dir, small);
    for (let i = 1; i <= 150; i += 10)
      await wal.append(entryRange(i, i + 9, 1), hardState(1, i + 9));
    await wal.close();
    await writeSnapshotFile(dir, snapshot(120, 1));
    // Compaction removes oldest first, each removal durable: a crash leaves a suffix. Remove the
    // segments it would have removed first, stopping part-way.
    const segments = await segmentNames(dir);
    for (const name of segments.slice(0, 3)) await unlink(join(dir, name));
    const again = await openAndLoad(dir, small);
    assert.equal(again.state.snapshot?.meta.index, 120);
    assertEntries(again.state.entries, entryRange(121, 150, 1));
    await again.wal.close();
  } finally {
    await removeDir(dir);
  }
});

test("leftover temp files are removed on open; snapshots without any segment refuse to start", async () => {
  const dir = await tempDir("snap-temp");
  try {
    const { wal } = await openAndLoad(dir, small);
    await wal.append(entryRange(1, 5, 1), hardState(1, 5));
    await wal.close();
    await writeFile(join(dir, "0000000000000005-0000000000000001.snap.tmp"), "half a snapshot");
    const again = await openAndLoad(dir, small);
    assert.deepEqual(again.wal.recovery.tempFilesRemoved, [
      "0000000000000005-0000000000000001.snap.tmp",
    ]);
    assert.ok(!(await readdir(dir)).some((n) => n.endsWith(".tmp")));
    await again.wal.saveSnapshot(snapshot(5, 1));
    await again.wal.close();
    for (const name of await segmentNames(dir)) await unlink(join(dir, name));
    await assert.rejects(
      openAndLoad(dir, small),
      (e: unknown) => e instanceof CorruptionError && /hard state/.test(e.message),
    );
  } finally {
    await removeDir(dir);
  }
});

test("a snapshot taken in a joint configuration keeps it, auto-leave flag included", async () => {
  const dir = await tempDir("snap-joint");
  try {
    const { wal } = await openAndLoad(dir, small);
    await wal.append(entryRange(1, 20, 1), hardState(1, 20));
    const base = snapshot(20, 1);
    const joint = {
      ...base,
      meta: {
        ...base.meta,
        confState: {
          voters: base.meta.confState.voters,
          votersOutgoing: base.meta.confState.voters.slice(0, 1),
          learners: [],
          autoLeave: true,
        },
      },
    };
    await wal.saveSnapshot(joint);
    await wal.close();
    const again = await openAndLoad(dir, small);
    assert.deepEqual(again.state.snapshot?.meta.confState, joint.meta.confState);
    await again.wal.close();
  } finally {
    await removeDir(dir);
  }
});
