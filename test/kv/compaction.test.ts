// Compaction: history below the compaction revision goes, each key's state at it stays; reads
// and event replays below it fail with COMPACTED; compacting again at or below it, or above the
// current revision, fails like etcd.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { KvStore } from "../../src/kv/index.js";
import { b, keysOf, kvString, throwsKv } from "./helpers.js";

const all = { key: Uint8Array.of(0), rangeEnd: Uint8Array.of(0) };

/** a: 2 put, 4 put, 6 delete, 8 put; b: 3 put, 5 delete; c: 7 put. Revision 8. */
function history(): KvStore {
  const kv = new KvStore();
  kv.put({ key: b("a"), value: b("a1") }); // 2
  kv.put({ key: b("b"), value: b("b1") }); // 3
  kv.put({ key: b("a"), value: b("a2") }); // 4
  kv.deleteRange({ key: b("b") }); // 5
  kv.deleteRange({ key: b("a") }); // 6
  kv.put({ key: b("c"), value: b("c1") }); // 7
  kv.put({ key: b("a"), value: b("a3") }); // 8
  return kv;
}

describe("compaction", () => {
  test("reads at and above the compaction revision still work; below: COMPACTED", () => {
    const kv = history();
    const before = [4, 5, 6, 7, 8].map((rev) =>
      kv.range({ ...all, revision: rev }).kvs.map(kvString),
    );
    const r = kv.compact({ revision: 4 });
    assert.equal(r.header.revision, 8);
    assert.equal(kv.compactRevision, 4);
    assert.equal(kv.revision, 8, "compaction makes no revision");
    const after = [4, 5, 6, 7, 8].map((rev) =>
      kv.range({ ...all, revision: rev }).kvs.map(kvString),
    );
    assert.deepEqual(after, before);
    assert.deepEqual(after[0], ["a=a2@2/4/2", "b=b1@3/3/1"]);
    const e = throwsKv(
      () => kv.range({ ...all, revision: 3 }),
      "COMPACTED",
      "mvcc: required revision has been compacted",
    );
    assert.equal(e.compactRevision, 4);
    assert.equal(kv.range({ ...all, revision: 0 }).kvs.length, 2, "current reads are unaffected");
  });

  test("compacting at or below the compaction point, or in the future, fails", () => {
    const kv = history();
    throwsKv(() => kv.compact({ revision: 9 }), "FUTURE_REVISION");
    kv.compact({ revision: 5 });
    throwsKv(() => kv.compact({ revision: 5 }), "COMPACTED");
    throwsKv(() => kv.compact({ revision: 3 }), "COMPACTED");
    kv.compact({ revision: 8 });
    assert.equal(kv.compactRevision, 8);
  });

  test("keys deleted below the compaction revision are forgotten; versions survive", () => {
    const kv = history();
    kv.compact({ revision: 6 });
    // b's tombstone (5) is below 6: b is gone. a's tombstone is exactly at 6: kept for watchers.
    assert.equal(kv.hashKV().hashRevision, 8);
    kv.compact({ revision: 7 });
    assert.deepEqual(kv.range(all).kvs.map(kvString), ["a=a3@8/8/1", "c=c1@7/7/1"]);
    kv.put({ key: b("c"), value: b("c2") });
    assert.equal(kvString(kv.range({ key: b("c") }).kvs[0]!), "c=c2@7/9/2");
    kv.put({ key: b("b"), value: b("new") });
    assert.equal(kvString(kv.range({ key: b("b") }).kvs[0]!), "b=new@10/10/1");
  });

  test("compaction shrinks the snapshot but not the current state", () => {
    const kv = new KvStore();
    for (let i = 0; i < 50; i++) kv.put({ key: b(`k${i % 5}`), value: b(`value-${i}`) });
    const size = kv.snapshot().length;
    const current = kv.range(all).kvs.map(kvString);
    kv.compact({ revision: kv.revision });
    assert.ok(kv.snapshot().length < size / 5);
    assert.deepEqual(kv.range(all).kvs.map(kvString), current);
    assert.deepEqual(keysOf(kv.range(all).kvs), ["k0", "k1", "k2", "k3", "k4"]);
  });

  test("events below the compaction revision: COMPACTED with the revision; at it: replayed", () => {
    const kv = history();
    kv.compact({ revision: 6 });
    const e = throwsKv(() => kv.events({ ...all, startRevision: 5 }), "COMPACTED");
    assert.equal(e.compactRevision, 6);
    const events = kv.events({ ...all, startRevision: 6 }).events;
    assert.deepEqual(
      events.map((x) => `${x.type} ${kvString(x.kv)} prev=${x.prevKv ? kvString(x.prevKv) : "-"}`),
      [
        "DELETE a=@0/6/0 prev=-", // its previous version was compacted away
        "PUT c=c1@7/7/1 prev=-",
        "PUT a=a3@8/8/1 prev=-",
      ],
    );
  });

  test("hashKV: below the compaction point COMPACTED, above the revision FUTURE_REVISION", () => {
    const kv = history();
    kv.compact({ revision: 4 });
    throwsKv(() => kv.hashKV({ revision: 3 }), "COMPACTED");
    throwsKv(() => kv.hashKV({ revision: 9 }), "FUTURE_REVISION");
    const h = kv.hashKV({ revision: 5 });
    assert.equal(h.hashRevision, 5);
    assert.equal(h.compactRevision, 4);
    assert.notEqual(kv.hashKV({ revision: 5 }).hash, kv.hashKV({ revision: 8 }).hash);
  });
});
