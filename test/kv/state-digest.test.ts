// KvStore.digest, the divergence checks' O(1) view of the whole state: kept incrementally as
// records are appended and compacted away, it must equal the digest of the same state built
// from scratch (a store restored from a snapshot), step after step of a seeded workload; and
// it must change when any part of the state does (a value, a lease, a revision, the auth state).
import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeCommand, KvStateMachine, KvStore } from "../../src/kv/index.js";
import { b, ctx } from "./helpers.js";
import { Workload } from "./workload.js";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

for (const seed of [1, 2, 3]) {
  test(`seed=${seed}: the running digest equals a store rebuilt from its snapshot, at every step`, () => {
    const sm = new KvStateMachine();
    const w = new Workload(seed);
    const seen = new Set<string>();
    for (let i = 0; i < 400; i++) {
      const step = w.next();
      sm.apply(encodeCommand(step.command), ctx(step.timestampMs, step.seed));
      const rebuilt = KvStore.fromSnapshot(sm.snapshot());
      assert.equal(hex(sm.digest()), hex(rebuilt.digest()), `step ${i}: ${step.command.type}`);
      seen.add(hex(sm.digest()));
    }
    // Writes changed it: a constant digest would pass the loop above.
    assert.ok(seen.size > 100, `${seen.size} distinct digests`);
  });
}

test("the digest differs when a value, a lease, a revision, the auth state or an alarm differs", () => {
  const build = (value: string, lease: boolean, extraRevision: boolean, auth: boolean) => {
    const kv = new KvStore();
    if (lease) kv.leaseGrant({ id: 7, ttl: 60 }, ctx());
    kv.put({ key: b("k"), value: b(value) });
    if (extraRevision) kv.put({ key: b("k"), value: b(value) });
    if (auth) kv.auth.userAdd("u", "", true);
    return hex(kv.digest());
  };
  const base = build("v", false, false, false);
  assert.equal(build("v", false, false, false), base, "equal states, equal digests");
  assert.notEqual(build("w", false, false, false), base, "a value");
  assert.notEqual(build("v", true, false, false), base, "a lease");
  assert.notEqual(build("v", false, true, false), base, "a revision");
  assert.notEqual(build("v", false, false, true), base, "the auth state");
  const alarmed = new KvStore();
  alarmed.put({ key: b("k"), value: b("v") });
  alarmed.alarm({ action: "ACTIVATE", memberId: "7", alarm: "NOSPACE" });
  assert.notEqual(hex(alarmed.digest()), base, "an alarm");
});

test("records that came in another order give the same digest; compaction is counted out", () => {
  const one = new KvStore();
  one.txn({
    success: [
      { type: "put", request: { key: b("a"), value: b("1") } },
      { type: "put", request: { key: b("b"), value: b("2") } },
    ],
  });
  const two = KvStore.fromSnapshot(one.snapshot());
  assert.equal(hex(one.digest()), hex(two.digest()));
  one.put({ key: b("a"), value: b("3") });
  one.compact({ revision: 3 });
  assert.equal(hex(one.digest()), hex(KvStore.fromSnapshot(one.snapshot()).digest()));
});
