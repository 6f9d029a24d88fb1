// KvStore.storedBytes: the store's size as Maintenance.Status reports it (dbSizeInUse) — key and
// value bytes of every record history holds plus RECORD_OVERHEAD_BYTES each; compaction frees
// what it drops; a snapshot restores to the same size; a txn counts what it writes.
import assert from "node:assert/strict";
import { test } from "node:test";
import { KvStore } from "../../src/kv/index.js";
import { RECORD_OVERHEAD_BYTES } from "../../src/kv/key-history.js";
import { b } from "./helpers.js";

const rec = (key: string, value: string): number =>
  key.length + value.length + RECORD_OVERHEAD_BYTES;

test("storedBytes counts every record in history, and compaction frees the dropped ones", () => {
  const kv = new KvStore();
  assert.equal(kv.storedBytes, 0);
  kv.put({ key: b("alpha"), value: b("1234567890") }); // 2
  kv.put({ key: b("alpha"), value: b("xy") }); // 3
  kv.put({ key: b("beta"), value: b("") }); // 4
  kv.deleteRange({ key: b("beta") }); // 5: a tombstone record
  const full = rec("alpha", "1234567890") + rec("alpha", "xy") + rec("beta", "") + rec("beta", "");
  assert.equal(kv.storedBytes, full);

  kv.txn({ success: [{ type: "put", request: { key: b("gamma"), value: b("abc") } }] });
  assert.equal(kv.storedBytes, full + rec("gamma", "abc"));

  const restored = KvStore.fromSnapshot(kv.snapshot());
  assert.equal(restored.storedBytes, kv.storedBytes, "a snapshot restores the same size");

  kv.compact({ revision: 6 });
  // alpha keeps its record at 3; beta's tombstone at 5 < 6 goes with its history; gamma stays.
  assert.equal(kv.storedBytes, rec("alpha", "xy") + rec("gamma", "abc"));
});
