// Txn: every compare target and result, multi-key compares, branches, nested txns, one revision
// with sub revisions for all writes, reads of the txn's own writes, etcd's duplicate-key and
// op-count rules, and atomicity when a chosen op fails its state check.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  COMPARE_RESULTS,
  type Compare,
  type CompareResult,
  KvStore,
  type RequestOp,
} from "../../src/kv/index.js";
import { b, ctx, keysOf, kvString, s, throwsKv } from "./helpers.js";

const put = (key: string, value = "v"): RequestOp => ({
  type: "put",
  request: { key: b(key), value: b(value) },
});
const del = (key: string, rangeEnd?: string): RequestOp => ({
  type: "deleteRange",
  request: rangeEnd === undefined ? { key: b(key) } : { key: b(key), rangeEnd: b(rangeEnd) },
});
const get = (key: string, rangeEnd?: string): RequestOp => ({
  type: "range",
  request: rangeEnd === undefined ? { key: b(key) } : { key: b(key), rangeEnd: b(rangeEnd) },
});

/** k: created at 2, rewritten at 3 (version 2, value "v2", lease 7). */
function store(): KvStore {
  const kv = new KvStore();
  kv.leaseGrant({ ttl: 100, id: 7 }, ctx());
  kv.put({ key: b("k"), value: b("v1") });
  kv.put({ key: b("k"), value: b("v2"), lease: 7 });
  return kv;
}

function holds(kv: KvStore, compare: Compare): boolean {
  return kv.txn({ compare: [compare] }).succeeded;
}

describe("compares", () => {
  const expect = (order: number): Record<CompareResult, boolean> => ({
    EQUAL: order === 0,
    GREATER: order > 0,
    LESS: order < 0,
    NOT_EQUAL: order !== 0,
  });

  test("every target with every result", () => {
    const kv = store();
    const cases: [Compare["target"], Partial<Compare>, Partial<Compare>, Partial<Compare>][] = [
      // target, operand below the key's, equal, above
      ["VERSION", { version: 1 }, { version: 2 }, { version: 3 }],
      ["CREATE", { createRevision: 1 }, { createRevision: 2 }, { createRevision: 3 }],
      ["MOD", { modRevision: 2 }, { modRevision: 3 }, { modRevision: 4 }],
      ["VALUE", { value: b("v1") }, { value: b("v2") }, { value: b("v3") }],
      ["LEASE", { lease: 6 }, { lease: 7 }, { lease: 8 }],
    ];
    for (const [target, below, equal, above] of cases) {
      for (const result of COMPARE_RESULTS) {
        for (const [operand, order] of [
          [below, 1],
          [equal, 0],
          [above, -1],
        ] as const) {
          const c = { key: b("k"), target, result, ...operand };
          assert.equal(holds(kv, c), expect(order)[result], `${target} ${result} ${order}`);
        }
      }
    }
    assert.equal(kv.revision, 3, "compares alone write nothing");
  });

  test("a missing key compares as zeros; VALUE on a missing key always fails", () => {
    const kv = store();
    const missing = b("nope");
    assert.equal(
      holds(kv, { key: missing, target: "CREATE", result: "EQUAL", createRevision: 0 }),
      true,
    );
    assert.equal(holds(kv, { key: missing, target: "VERSION", result: "EQUAL" }), true);
    assert.equal(holds(kv, { key: missing, target: "MOD", result: "LESS", modRevision: 1 }), true);
    assert.equal(holds(kv, { key: missing, target: "LEASE", result: "EQUAL", lease: 0 }), true);
    assert.equal(
      holds(kv, { key: missing, target: "VALUE", result: "EQUAL", value: b("") }),
      false,
    );
    assert.equal(
      holds(kv, { key: missing, target: "VALUE", result: "NOT_EQUAL", value: b("x") }),
      false,
    );
  });

  test("compares with range_end: every key in the range must pass", () => {
    const kv = new KvStore();
    kv.put({ key: b("p/a"), value: b("1") }); // 2
    kv.put({ key: b("p/b"), value: b("1") }); // 3
    kv.put({ key: b("p/c"), value: b("2") }); // 4
    const range = { key: b("p/"), rangeEnd: b("p0") };
    assert.equal(holds(kv, { ...range, target: "MOD", result: "LESS", modRevision: 5 }), true);
    assert.equal(holds(kv, { ...range, target: "MOD", result: "LESS", modRevision: 4 }), false);
    assert.equal(holds(kv, { ...range, target: "VALUE", result: "EQUAL", value: b("1") }), false);
    assert.equal(
      holds(kv, {
        key: b("p/a"),
        rangeEnd: b("p/c"),
        target: "VALUE",
        result: "EQUAL",
        value: b("1"),
      }),
      true,
    );
    assert.equal(
      holds(kv, {
        key: b("q"),
        rangeEnd: b("r"),
        target: "CREATE",
        result: "EQUAL",
        createRevision: 0,
      }),
      true,
      "an empty range compares a zero KeyValue",
    );
    const all = { key: Uint8Array.of(0), rangeEnd: Uint8Array.of(0) };
    assert.equal(holds(kv, { ...all, target: "VERSION", result: "EQUAL", version: 1 }), true);
  });

  test("all compares must hold", () => {
    const kv = store();
    const ok: Compare = { key: b("k"), target: "VERSION", result: "EQUAL", version: 2 };
    const bad: Compare = { key: b("k"), target: "VERSION", result: "EQUAL", version: 3 };
    assert.equal(kv.txn({ compare: [ok, ok] }).succeeded, true);
    assert.equal(kv.txn({ compare: [ok, bad] }).succeeded, false);
    assert.equal(kv.txn({}).succeeded, true, "no compares: success");
  });
});

describe("branches and revisions", () => {
  test("success runs on success, failure on failure", () => {
    const kv = store();
    const when = (version: number) => ({
      compare: [{ key: b("k"), target: "VERSION" as const, result: "EQUAL" as const, version }],
      success: [put("yes")],
      failure: [put("no")],
    });
    assert.equal(kv.txn(when(2)).succeeded, true);
    assert.equal(kv.txn(when(9)).succeeded, false);
    assert.deepEqual(keysOf(kv.range({ key: b("n"), rangeEnd: b("z") }).kvs), ["no", "yes"]);
  });

  test("all writes of a txn share one revision; sub revisions order the events", () => {
    const kv = store();
    const batches: string[][] = [];
    kv.subscribe((batch) =>
      batches.push(batch.events.map((e) => `${batch.revision}:${e.type}:${s(e.kv.key)}`)),
    );
    const r = kv.txn({ success: [put("x"), put("y"), del("k"), put("z")] });
    assert.equal(r.header.revision, 4);
    assert.equal(kv.revision, 4);
    for (const key of ["x", "y", "z"]) {
      assert.equal(kvString(kv.range({ key: b(key) }).kvs[0]!), `${key}=v@4/4/1`);
    }
    assert.deepEqual(batches, [["4:PUT:x", "4:PUT:y", "4:DELETE:k", "4:PUT:z"]]);
  });

  test("a txn that writes nothing makes no revision", () => {
    const kv = store();
    const r = kv.txn({ success: [get("k"), del("missing")] });
    assert.equal(r.header.revision, 3);
    assert.equal(kv.revision, 3);
    assert.equal(r.responses.length, 2);
  });

  test("ranges inside a txn see the txn's earlier writes", () => {
    const kv = store();
    kv.put({ key: b("j"), value: b("j") }); // 4
    const r = kv.txn({ success: [get("k"), put("k", "new"), get("k"), del("j"), get("j")] });
    const ranges = r.responses.filter((x) => x.type === "range");
    assert.deepEqual(
      ranges.map((x) => x.response.kvs.map(kvString)),
      [["k=v2@2/3/2/L7"], ["k=new@2/5/3"], []],
    );
    assert.ok(r.responses.every((x) => x.response.header.revision === 5));
  });

  test("compares see the state before the txn, even in nested txns", () => {
    const kv = store();
    const r = kv.txn({
      success: [
        put("k", "changed"),
        {
          type: "txn",
          request: {
            compare: [{ key: b("k"), target: "VALUE", result: "EQUAL", value: b("v2") }],
            success: [put("saw-old")],
            failure: [put("saw-new")],
          },
        },
      ],
    });
    assert.equal(r.succeeded, true);
    const nested = r.responses[1]!;
    assert.equal(nested.type === "txn" && nested.response.succeeded, true);
    assert.equal(kv.range({ key: b("saw-old") }).count, 1);
  });

  test("nested txns choose their own branch; responses nest", () => {
    const kv = store();
    const r = kv.txn({
      compare: [{ key: b("k"), target: "VERSION", result: "GREATER", version: 0 }],
      success: [
        {
          type: "txn",
          request: {
            compare: [{ key: b("k"), target: "LEASE", result: "EQUAL", lease: 99 }],
            success: [put("a")],
            failure: [put("b"), { type: "txn", request: { success: [put("c"), get("b")] } }],
          },
        },
      ],
    });
    assert.deepEqual(keysOf(kv.range({ key: b("a"), rangeEnd: b("d") }).kvs), ["b", "c"]);
    const outer = r.responses[0]!;
    assert.ok(outer.type === "txn");
    assert.equal(outer.response.succeeded, false);
    const inner = outer.response.responses[1]!;
    assert.ok(inner.type === "txn");
    const read = inner.response.responses[1]!;
    assert.ok(read.type === "range");
    assert.deepEqual(read.response.kvs.map(kvString), ["b=v@4/4/1"]);
  });

  test("put prevKv and delete prevKvs inside a txn", () => {
    const kv = store();
    kv.put({ key: b("o"), value: b("old") });
    const r = kv.txn({
      success: [
        { type: "put", request: { key: b("o"), value: b("x"), prevKv: true } },
        { type: "deleteRange", request: { key: b("k"), prevKv: true } },
      ],
    });
    const [p, d] = r.responses;
    assert.ok(p?.type === "put" && d?.type === "deleteRange");
    assert.equal(kvString(p.response.prevKv!), "o=old@4/4/1");
    assert.equal(d.response.deleted, 1);
    assert.deepEqual(d.response.prevKvs.map(kvString), ["k=v2@2/3/2/L7"]);
  });
});

describe("txn rules", () => {
  const dup = "etcdserver: duplicate key given in txn request";

  test("the same key put twice in a branch is refused", () => {
    const kv = store();
    throwsKv(() => kv.txn({ success: [put("a"), put("a")] }), "DUPLICATE_KEY", dup);
    throwsKv(() => kv.txn({ failure: [put("a"), put("a")] }), "DUPLICATE_KEY", dup);
    assert.equal(kv.revision, 3);
  });

  test("a put inside a deleted range is refused; overlapping deletes are fine", () => {
    const kv = store();
    throwsKv(() => kv.txn({ success: [del("a", "c"), put("b")] }), "DUPLICATE_KEY");
    throwsKv(() => kv.txn({ success: [put("b"), del("b")] }), "DUPLICATE_KEY");
    // range_end "\0" covers every key above the start.
    throwsKv(
      () => kv.txn({ success: [del("a", String.fromCharCode(0)), put("zzz")] }),
      "DUPLICATE_KEY",
    );
    kv.txn({ success: [del("a", "c"), del("b", "d"), del("k")] });
    kv.txn({ success: [del("a", "c"), put("c")] });
    assert.equal(kv.range({ key: b("c") }).count, 1);
  });

  test("duplicates across nesting levels are refused; then/else of one txn may share keys", () => {
    const kv = store();
    const nested = (success: RequestOp[], failure: RequestOp[]): RequestOp => ({
      type: "txn",
      request: { success, failure },
    });
    throwsKv(() => kv.txn({ success: [put("a"), nested([put("a")], [])] }), "DUPLICATE_KEY");
    throwsKv(() => kv.txn({ success: [del("a"), nested([], [put("a")])] }), "DUPLICATE_KEY");
    throwsKv(() => kv.txn({ success: [put("a"), nested([del("a")], [])] }), "DUPLICATE_KEY");
    throwsKv(
      () => kv.txn({ success: [nested([put("a")], []), nested([put("a")], [])] }),
      "DUPLICATE_KEY",
    );
    kv.txn({ success: [nested([put("a", "then")], [put("a", "else")])] });
    assert.equal(s(kv.range({ key: b("a") }).kvs[0]!.value), "then");
    kv.txn({ success: [put("a", "s")], failure: [put("a", "f")] });
  });

  test("too many ops: etcd's limit (128 by default) and its budget for nested txns", () => {
    const kv = new KvStore();
    const many = (n: number) => Array.from({ length: n }, (_, i) => put(`k${i}`));
    kv.txn({ success: many(128) });
    throwsKv(
      () => kv.txn({ success: many(129) }),
      "TOO_MANY_OPS",
      "etcdserver: too many operations in txn request",
    );
    const compares = Array.from({ length: 129 }, () => ({
      key: b("k"),
      target: "VERSION" as const,
      result: "EQUAL" as const,
    }));
    throwsKv(() => kv.txn({ compare: compares }), "TOO_MANY_OPS");
    // The parent's 100 ops leave 28 for the nested txn.
    const parent = (nestedOps: number): RequestOp[] => [
      ...many(99),
      {
        type: "txn",
        request: { success: Array.from({ length: nestedOps }, (_, i) => put(`n${i}`)) },
      },
    ];
    kv.txn({ success: parent(28) });
    throwsKv(() => kv.txn({ success: parent(29) }), "TOO_MANY_OPS");
    const small = new KvStore({ txnOpsMax: 2 });
    throwsKv(() => small.txn({ success: many(3) }), "TOO_MANY_OPS");
  });

  test("nesting deeper than txnDepthMax is refused", () => {
    const kv = new KvStore({ txnDepthMax: 3 });
    let txn = { success: [put("deep")] };
    for (let i = 0; i < 3; i++)
      txn = { success: [{ type: "txn", request: txn } as RequestOp] } as never;
    kv.txn(txn);
    txn = { success: [{ type: "txn", request: txn } as RequestOp] } as never;
    throwsKv(() => kv.txn(txn), "INVALID_ARGUMENT");
  });

  test("empty keys anywhere are refused", () => {
    const kv = store();
    const empty = new Uint8Array(0);
    throwsKv(
      () => kv.txn({ compare: [{ key: empty, target: "VERSION", result: "EQUAL" }] }),
      "EMPTY_KEY",
    );
    throwsKv(() => kv.txn({ failure: [{ type: "put", request: { key: empty } }] }), "EMPTY_KEY");
    throwsKv(
      () => kv.txn({ success: [{ type: "txn", request: { success: [get("")] } }] }),
      "EMPTY_KEY",
    );
  });

  test("a failing op on the chosen path aborts the whole txn before any write", () => {
    const kv = store();
    const before = kv.snapshot();
    throwsKv(
      () =>
        kv.txn({ success: [put("a"), { type: "put", request: { key: b("b"), lease: 12345 } }] }),
      "LEASE_NOT_FOUND",
    );
    throwsKv(
      () =>
        kv.txn({
          success: [put("a"), { type: "put", request: { key: b("nokey"), ignoreValue: true } }],
        }),
      "KEY_NOT_FOUND",
    );
    throwsKv(
      () =>
        kv.txn({ success: [put("a"), { type: "range", request: { key: b("k"), revision: 99 } }] }),
      "FUTURE_REVISION",
    );
    assert.deepEqual(kv.snapshot(), before);
    // The branch not taken is not checked against state, as in etcd.
    kv.txn({
      success: [put("a")],
      failure: [{ type: "put", request: { key: b("b"), lease: 12345 } }],
    });
    assert.equal(kv.revision, 4);
  });
});
