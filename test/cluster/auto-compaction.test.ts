// Auto-compaction on real member processes: periodic with a 2 s retention; the leader's
// Compaction goes through the log, so every member compacts. Observed with etcdctl: reads of
// an old revision become "compacted", and every member's hashkv reports a compact revision.
import assert from "node:assert/strict";
import { test } from "node:test";
import { etcdctl, etcdctlMissing } from "./etcdctl.js";
import { startProcessCluster } from "./processes.js";

test("--auto-compaction-mode periodic --auto-compaction-retention 2s: every member compacts", {
  timeout: 120_000,
  skip: etcdctlMissing,
}, async () => {
  const cluster = await startProcessCluster(3, [
    "--auto-compaction-mode",
    "periodic",
    "--auto-compaction-retention",
    "2s",
  ]);
  try {
    const all = cluster.endpoints.join(",");
    for (let i = 0; i < 5; i++) assert.equal((await etcdctl(all, ["put", "k", `v${i}`])).code, 0);
    // Poll a signal (each probe a real read), bounded: the read at revision 2 gets compacted.
    const deadline = Date.now() + 30_000;
    let last = "";
    for (;;) {
      await etcdctl(all, ["put", "tick", "x"]); // history keeps moving, as under load
      const r = await etcdctl(all, ["get", "k", "--rev=2"]);
      last = r.out;
      if (/required revision has been compacted/.test(r.out)) break;
      assert.ok(Date.now() < deadline, `no compaction within 30 s: ${last}`);
    }
    const hashes = await etcdctl(all, ["endpoint", "hashkv", "--cluster", "-w", "json"]);
    assert.equal(hashes.code, 0, hashes.out);
    const rows = JSON.parse(hashes.out) as { HashKV: { compact_revision?: number } }[];
    assert.equal(rows.length, 3);
    for (const row of rows) assert.ok((row.HashKV.compact_revision ?? 0) >= 2, hashes.out);
  } finally {
    cluster.stop();
  }
});
