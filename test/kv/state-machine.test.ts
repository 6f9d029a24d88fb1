// KvStateMachine: the byte-level StateMachine. Determinism (two replicas, one seeded workload,
// identical results, snapshots and hashes), snapshot → restore → continue equal to never
// snapshotting, canonical codecs (decode then encode gives the same bytes), and totality: random
// and mutated command bytes give error results, never exceptions.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  decodeCommand,
  decodeQuery,
  decodeResponse,
  decodeResult,
  encodeCommand,
  encodeQuery,
  encodeResult,
  KvError,
  type KvQuery,
  KvStateMachine,
  KvStore,
} from "../../src/kv/index.js";
import { b, ctx, kvString, TestRandom } from "./helpers.js";
import { Workload, type WorkloadStep } from "./workload.js";

function applyStep(sm: KvStateMachine, step: WorkloadStep): Uint8Array {
  return sm.apply(encodeCommand(step.command), ctx(step.timestampMs, step.seed));
}

function steps(seed: number, count: number): WorkloadStep[] {
  const w = new Workload(seed);
  return Array.from({ length: count }, () => w.next());
}

const equalBytes = (a: Uint8Array, c: Uint8Array) =>
  a.length === c.length && a.every((x, i) => x === c[i]);

describe("determinism", () => {
  for (const seed of [1, 2, 3, 4]) {
    test(`seed=${seed}: two replicas agree on every result, snapshot and hash`, () => {
      const one = new KvStateMachine();
      const two = new KvStateMachine();
      let errors = 0;
      let writes = 0;
      for (const [i, step] of steps(seed, 1500).entries()) {
        const r1 = applyStep(one, step);
        const r2 = applyStep(two, step);
        assert.ok(equalBytes(r1, r2), `seed=${seed} step ${i}: results differ`);
        const result = decodeResult(r1);
        if (!result.ok) errors++;
        else if (result.response.type !== "Range") writes++;
        assert.ok(equalBytes(encodeResult(result), r1), `seed=${seed} step ${i}: result codec`);
        if (i % 100 === 0) {
          assert.ok(
            equalBytes(one.snapshot(), two.snapshot()),
            `seed=${seed} step ${i}: snapshots`,
          );
        }
      }
      assert.ok(equalBytes(one.snapshot(), two.snapshot()));
      assert.equal(one.hash(), two.hash());
      assert.deepEqual(one.store.hashKV(), two.store.hashKV());
      // The workload exercised both paths and moved the store along.
      assert.ok(errors > 50 && writes > 500, `errors=${errors} writes=${writes}`);
      assert.ok(one.store.revision > 200);
    });
  }

  test("different histories give different hashes", () => {
    const one = new KvStore();
    const two = new KvStore();
    one.put({ key: b("a"), value: b("1") });
    two.put({ key: b("a"), value: b("2") });
    assert.notEqual(one.hash(), two.hash());
    assert.notEqual(one.hashKV().hash, two.hashKV().hash);
  });
});

describe("snapshot and restore", () => {
  for (const seed of [11, 12, 13]) {
    test(`seed=${seed}: snapshot → restore → continue equals never snapshotting`, () => {
      const all = steps(seed, 1200);
      const straight = new KvStateMachine();
      let restored = new KvStateMachine();
      for (const [i, step] of all.entries()) {
        if (i % 300 === 150) {
          const snap = restored.snapshot();
          restored = new KvStateMachine();
          restored.restore(snap);
          assert.ok(equalBytes(restored.snapshot(), snap), "restore then snapshot is the identity");
          assert.ok(equalBytes(snap, straight.snapshot()));
        }
        const r1 = applyStep(straight, step);
        const r2 = applyStep(restored, step);
        assert.ok(equalBytes(r1, r2), `seed=${seed} step ${i}: results differ after restore`);
      }
      assert.ok(equalBytes(straight.snapshot(), restored.snapshot()));
      assert.equal(straight.hash(), restored.hash());
    });
  }

  test("restore keeps leases with their keys, revisions and the compaction point", () => {
    const kv = new KvStore();
    kv.leaseGrant({ ttl: 30, id: 7 }, ctx(1000));
    kv.put({ key: b("x"), value: b("1"), lease: 7 });
    kv.put({ key: b("y"), value: b("2") });
    kv.put({ key: b("y"), value: b("3") });
    kv.compact({ revision: 3 });
    const copy = KvStore.fromSnapshot(kv.snapshot());
    assert.equal(copy.revision, 4);
    assert.equal(copy.compactRevision, 3);
    assert.deepEqual(
      copy.leaseTimeToLive({ id: 7, nowMs: 1000, keys: true }).keys.map((k) => k[0]),
      [0x78],
    );
    assert.equal(copy.leaseTimeToLive({ id: 7, nowMs: 1000 }).ttl, 30);
    copy.leaseRevoke({ id: 7 });
    assert.equal(copy.range({ key: b("x") }).count, 0);
    assert.deepEqual(
      copy.range({ key: b("y"), revision: 3 }).kvs.map(kvString),
      kv.range({ key: b("y"), revision: 3 }).kvs.map(kvString),
    );
  });

  test("corrupt snapshots are refused with CORRUPT_SNAPSHOT and change nothing", () => {
    const rng = new TestRandom(99);
    const source = new KvStateMachine();
    for (const step of steps(5, 300)) applyStep(source, step);
    const good = source.snapshot();
    const target = new KvStore();
    target.put({ key: b("mine"), value: b("1") });
    const before = target.snapshot();
    let refused = 0;
    for (let i = 0; i < 2000; i++) {
      const bad = mutate(rng, good);
      try {
        target.restore(bad);
        // Whatever decodes is canonical: it re-encodes to the same bytes.
        assert.ok(equalBytes(target.snapshot(), bad), "accepted snapshot must be canonical");
        target.restore(before);
      } catch (e) {
        assert.ok(e instanceof KvError && e.code === "CORRUPT_SNAPSHOT", String(e));
        assert.ok(equalBytes(target.snapshot(), before));
        refused++;
      }
    }
    assert.ok(refused > 1500, `refused ${refused}`);
  });
});

/** One to three random edits: flip, overwrite, insert, delete or truncate. */
function mutate(rng: TestRandom, input: Uint8Array): Uint8Array {
  let out = input.slice();
  const edits = 1 + rng.int(3);
  for (let e = 0; e < edits; e++) {
    const at = rng.int(out.length + 1);
    switch (rng.int(5)) {
      case 0:
        if (at < out.length) out[at] = out[at]! ^ (1 << rng.int(8));
        break;
      case 1:
        if (at < out.length) out[at] = rng.int(256);
        break;
      case 2:
        out = Uint8Array.from([...out.subarray(0, at), rng.int(256), ...out.subarray(at)]);
        break;
      case 3:
        out = Uint8Array.from([...out.subarray(0, at), ...out.subarray(at + 1)]);
        break;
      default:
        out = out.slice(0, at);
    }
  }
  return out;
}

describe("codec", () => {
  test("commands and queries survive encode → decode → encode byte for byte", () => {
    const w = new Workload(21);
    for (let i = 0; i < 1000; i++) {
      const bytes = encodeCommand(w.next().command);
      assert.ok(equalBytes(encodeCommand(decodeCommand(bytes)), bytes));
    }
    const queries: KvQuery[] = [
      { type: "Range", request: { key: b("a"), rangeEnd: b("z"), limit: 3, sortOrder: "DESCEND" } },
      { type: "LeaseTimeToLive", request: { id: 5, keys: true, nowMs: 123 } },
      { type: "LeaseLeases" },
      { type: "HashKV", request: { revision: 4 } },
      { type: "Status" },
      { type: "Events", request: { key: b("a"), startRevision: 2, limit: 10 } },
    ];
    for (const q of queries) {
      const bytes = encodeQuery(q);
      assert.ok(equalBytes(encodeQuery(decodeQuery(bytes)), bytes), q.type);
    }
  });

  test("unencodable values are INVALID_ARGUMENT, not crashes", () => {
    assert.throws(
      () => encodeCommand({ type: "Put", request: { key: b("a"), lease: 2 ** 60 } }),
      (e) => e instanceof KvError && e.code === "INVALID_ARGUMENT",
    );
    assert.throws(
      () =>
        encodeCommand({ type: "Range", request: { key: b("a"), sortOrder: "SIDEWAYS" as never } }),
      (e) => e instanceof KvError && e.code === "INVALID_ARGUMENT",
    );
  });

  test("the command codec is strict: trailing bytes, unknown tags, bad flags", () => {
    const good = encodeCommand({ type: "Put", request: { key: b("a"), value: b("v") } });
    const malformed = (bytes: Uint8Array) =>
      assert.throws(
        () => decodeCommand(bytes),
        (e) => e instanceof KvError && e.code === "MALFORMED",
      );
    malformed(Uint8Array.from([...good, 0]));
    malformed(good.slice(0, good.length - 1));
    malformed(Uint8Array.of(1, 99));
    malformed(Uint8Array.of(2, 2));
    malformed(Uint8Array.of(1, 14)); // Status is a query, not a command
    const flags = good.slice();
    flags[flags.length - 1] = 0x80;
    malformed(flags);
    malformed(new Uint8Array(0));
  });
});

describe("the StateMachine adapter", () => {
  test("apply runs commands; query answers reads; errors come back as error results", () => {
    const sm = new KvStateMachine();
    const put = decodeResponse(
      sm.apply(encodeCommand({ type: "Put", request: { key: b("k"), value: b("v") } }), ctx()),
    );
    assert.equal(put.type === "Put" && put.response.header.revision, 2);
    const got = decodeResponse(sm.query(encodeQuery({ type: "Range", request: { key: b("k") } })));
    assert.ok(got.type === "Range");
    assert.deepEqual(got.response.kvs.map(kvString), ["k=v@2/2/1"]);
    const bad = decodeResult(
      sm.apply(encodeCommand({ type: "Put", request: { key: new Uint8Array(0) } }), ctx()),
    );
    assert.deepEqual(bad, {
      ok: false,
      error: { code: "EMPTY_KEY", message: "etcdserver: key is not provided", compactRevision: 0 },
    });
    sm.apply(encodeCommand({ type: "Compaction", request: { revision: 2 } }), ctx());
    const compacted = decodeResult(
      sm.query(encodeQuery({ type: "Range", request: { key: b("k"), revision: 1 } })),
    );
    assert.ok(
      !compacted.ok &&
        compacted.error.code === "COMPACTED" &&
        compacted.error.compactRevision === 2,
    );
    assert.throws(
      () =>
        decodeResponse(
          sm.query(encodeQuery({ type: "Events", request: { key: b("k"), startRevision: 1 } })),
        ),
      KvError,
    );
    const status = decodeResponse(sm.query(encodeQuery({ type: "Status" })));
    assert.ok(status.type === "Status");
    assert.deepEqual(status.response, {
      header: { revision: 2 },
      compactRevision: 2,
      keys: 1,
      leases: 0,
    });
  });

  test("commands above requestBytesMax are REQUEST_TOO_LARGE", () => {
    const sm = new KvStateMachine({ requestBytesMax: 100 });
    const big = encodeCommand({
      type: "Put",
      request: { key: b("k"), value: new Uint8Array(200) },
    });
    const r = decodeResult(sm.apply(big, ctx()));
    assert.ok(!r.ok && r.error.code === "REQUEST_TOO_LARGE");
    assert.equal(r.ok || r.error.message, "etcdserver: request is too large");
    assert.equal(sm.store.revision, 1);
  });

  test("key and value size limits", () => {
    const kv = new KvStore({ keyBytesMax: 4, valueBytesMax: 8 });
    kv.put({ key: b("abcd"), value: new Uint8Array(8) });
    assert.throws(
      () => kv.put({ key: b("abcde") }),
      (e) => e instanceof KvError && e.code === "KEY_TOO_LARGE",
    );
    assert.throws(
      () => kv.put({ key: b("a"), value: new Uint8Array(9) }),
      (e) => e instanceof KvError && e.code === "VALUE_TOO_LARGE",
    );
    assert.equal(new KvStore().limits.keyBytesMax, 64 * 1024);
    assert.equal(new KvStore().limits.requestBytesMax, 1.5 * 1024 * 1024);
  });

  test("random and mutated command bytes give error results, never exceptions", () => {
    const rng = new TestRandom(4242);
    const sm = new KvStateMachine();
    const valid = steps(31, 300).map((step) => encodeCommand(step.command));
    for (const bytes of valid.slice(0, 100)) sm.apply(bytes, ctx());
    let errors = 0;
    for (let i = 0; i < 6000; i++) {
      const input = i % 3 === 0 ? rng.bytes(40) : mutate(rng, rng.pick(valid));
      const out = sm.apply(input, ctx(1_700_000_000_000 + i, i));
      const result = decodeResult(out);
      if (!result.ok) errors++;
      const q = sm.query(input);
      decodeResult(q);
    }
    assert.ok(errors > 3000, `errors=${errors}`);
    // The store is still sound: its snapshot restores to the same bytes.
    const snap = sm.snapshot();
    const copy = new KvStateMachine();
    copy.restore(snap);
    assert.ok(equalBytes(copy.snapshot(), snap));
  });

  test("deeply nested txn bytes are refused without exhausting the stack", () => {
    const depth = 100_000;
    const bytes = new Uint8Array(2 + depth * 4);
    bytes[0] = 1; // version
    bytes[1] = 4; // Txn
    // Each level: 0 compares, 1 success op of type txn (3), ... ; the tail is truncated.
    for (let i = 0; i < depth; i++) bytes.set([0, 1, 3], 2 + i * 3);
    const r = decodeResult(new KvStateMachine().apply(bytes, ctx()));
    assert.ok(!r.ok && r.error.code === "MALFORMED");
  });
});
