// One process per data directory: a live owner's LOCK refuses a second opener; a dead owner's
// LOCK is stale and taken over; close() releases it.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { type StorageError, WalStorage } from "../../src/storage/index.js";

test("a data directory held by another live process is refused with LOCKED", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ordo-lock-"));
  try {
    // The test runner that started this file is a live process other than this one.
    writeFileSync(join(dir, "LOCK"), `${process.ppid}\n`);
    await assert.rejects(
      WalStorage.open(dir),
      (e: StorageError) => e.code === "LOCKED" && /in use by process/.test(e.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a lock left by a dead process is stale and taken over; close releases it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ordo-lock-"));
  try {
    const dead = spawnSync(process.execPath, ["-e", "process.pid"]).pid as number;
    writeFileSync(join(dir, "LOCK"), `${dead}\n`);
    const wal = await WalStorage.open(dir);
    await wal.load();
    assert.ok(existsSync(join(dir, "LOCK")));
    await wal.close();
    assert.equal(existsSync(join(dir, "LOCK")), false);
    const again = await WalStorage.open(dir);
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
