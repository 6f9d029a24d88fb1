// Range: etcd's range_end conventions, sort orders and targets, limit with `more`, count, the
// revision filters, keys_only and count_only.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { KvStore, type RangeRequest } from "../../src/kv/index.js";
import { prefixEnd } from "../../src/lib/index.js";
import { b, keysOf, s, throwsKv } from "./helpers.js";

/** a, ab, abc, b, c: made in that order (revisions 2..6), then ab and c rewritten (7, 8). */
function sample(): KvStore {
  const kv = new KvStore();
  kv.put({ key: b("a"), value: b("5") }); // 2
  kv.put({ key: b("ab"), value: b("3") }); // 3
  kv.put({ key: b("abc"), value: b("4") }); // 4
  kv.put({ key: b("b"), value: b("1") }); // 5
  kv.put({ key: b("c"), value: b("2") }); // 6
  kv.put({ key: b("ab"), value: b("9") }); // 7
  kv.put({ key: b("c"), value: b("0") }); // 8
  return kv;
}

const keys = (kv: KvStore, req: RangeRequest) => keysOf(kv.range(req).kvs);

describe("range_end conventions", () => {
  test("empty range_end: the key alone", () => {
    const kv = sample();
    assert.deepEqual(keys(kv, { key: b("ab") }), ["ab"]);
    assert.deepEqual(keys(kv, { key: b("ab"), rangeEnd: new Uint8Array(0) }), ["ab"]);
    assert.deepEqual(keys(kv, { key: b("zz") }), []);
  });

  test("range_end: the half-open range [key, range_end)", () => {
    const kv = sample();
    assert.deepEqual(keys(kv, { key: b("ab"), rangeEnd: b("b") }), ["ab", "abc"]);
    assert.deepEqual(keys(kv, { key: b("a"), rangeEnd: b("c") }), ["a", "ab", "abc", "b"]);
  });

  test('range_end "\\0": every key at or above key; key "\\0" too: all keys', () => {
    const kv = sample();
    const zero = Uint8Array.of(0);
    assert.deepEqual(keys(kv, { key: b("abc"), rangeEnd: zero }), ["abc", "b", "c"]);
    assert.deepEqual(keys(kv, { key: zero, rangeEnd: zero }), ["a", "ab", "abc", "b", "c"]);
  });

  test("prefix: range_end = prefix with its last byte + 1", () => {
    const kv = sample();
    assert.deepEqual([...prefixEnd(b("ab"))], [...b("ac")]);
    assert.deepEqual(keys(kv, { key: b("ab"), rangeEnd: prefixEnd(b("ab")) }), ["ab", "abc"]);
    assert.deepEqual(keys(kv, { key: b("a"), rangeEnd: prefixEnd(b("a")) }), ["a", "ab", "abc"]);
    assert.deepEqual([...prefixEnd(Uint8Array.of(0x61, 0xff))], [0x62]);
    assert.deepEqual([...prefixEnd(Uint8Array.of(0xff, 0xff))], [0], "all-0xff: every key above");
  });

  test("key ≥ range_end: empty", () => {
    const kv = sample();
    assert.deepEqual(keys(kv, { key: b("b"), rangeEnd: b("b") }), []);
    assert.deepEqual(keys(kv, { key: b("c"), rangeEnd: b("a") }), []);
    assert.equal(kv.range({ key: b("c"), rangeEnd: b("a") }).count, 0);
  });
});

describe("sort", () => {
  const all = { key: Uint8Array.of(0), rangeEnd: Uint8Array.of(0) };

  test("default and ASCEND by KEY: key order; DESCEND by KEY: reversed", () => {
    const kv = sample();
    assert.deepEqual(keys(kv, all), ["a", "ab", "abc", "b", "c"]);
    assert.deepEqual(keys(kv, { ...all, sortOrder: "ASCEND" }), ["a", "ab", "abc", "b", "c"]);
    assert.deepEqual(keys(kv, { ...all, sortOrder: "DESCEND" }), ["c", "b", "abc", "ab", "a"]);
  });

  test("every target, both orders", () => {
    const kv = sample();
    // versions: a1 ab2 abc1 b1 c2; create: a2 ab3 abc4 b5 c6; mod: a2 abc4 b5 ab7 c8;
    // values: c0 b1 abc4... see sample().
    assert.deepEqual(keys(kv, { ...all, sortTarget: "VERSION", sortOrder: "ASCEND" }), [
      "a",
      "abc",
      "b",
      "ab",
      "c",
    ]);
    assert.deepEqual(keys(kv, { ...all, sortTarget: "VERSION", sortOrder: "DESCEND" }), [
      "ab",
      "c",
      "a",
      "abc",
      "b",
    ]);
    assert.deepEqual(keys(kv, { ...all, sortTarget: "CREATE", sortOrder: "DESCEND" }), [
      "c",
      "b",
      "abc",
      "ab",
      "a",
    ]);
    assert.deepEqual(keys(kv, { ...all, sortTarget: "MOD", sortOrder: "ASCEND" }), [
      "a",
      "abc",
      "b",
      "ab",
      "c",
    ]);
    assert.deepEqual(keys(kv, { ...all, sortTarget: "MOD", sortOrder: "DESCEND" }), [
      "c",
      "ab",
      "b",
      "abc",
      "a",
    ]);
    const values = (req: RangeRequest) => kv.range(req).kvs.map((x) => s(x.value));
    assert.deepEqual(values({ ...all, sortTarget: "VALUE", sortOrder: "ASCEND" }), [
      "0",
      "1",
      "4",
      "5",
      "9",
    ]);
    assert.deepEqual(values({ ...all, sortTarget: "VALUE", sortOrder: "DESCEND" }), [
      "9",
      "5",
      "4",
      "1",
      "0",
    ]);
  });

  test("a target other than KEY with order NONE sorts ascending (etcd's rule)", () => {
    const kv = sample();
    assert.deepEqual(keys(kv, { ...all, sortTarget: "MOD" }), ["a", "abc", "b", "ab", "c"]);
  });
});

describe("limit, more and count", () => {
  const all = { key: Uint8Array.of(0), rangeEnd: Uint8Array.of(0) };

  test("limit cuts the answer and sets more; count is the total", () => {
    const kv = sample();
    const r = kv.range({ ...all, limit: 2 });
    assert.deepEqual(keysOf(r.kvs), ["a", "ab"]);
    assert.equal(r.more, true);
    assert.equal(r.count, 5);
    const exact = kv.range({ ...all, limit: 5 });
    assert.equal(exact.more, false);
    assert.equal(exact.kvs.length, 5);
    const none = kv.range({ ...all, limit: 0 });
    assert.equal(none.kvs.length, 5);
    assert.equal(kv.range({ ...all, limit: -1 }).kvs.length, 5, "negative: no limit");
  });

  test("limit applies after sorting", () => {
    const kv = sample();
    const r = kv.range({ ...all, sortTarget: "MOD", sortOrder: "DESCEND", limit: 2 });
    assert.deepEqual(keysOf(r.kvs), ["c", "ab"]);
    assert.equal(r.more, true);
  });

  test("countOnly: no kvs, the count", () => {
    const kv = sample();
    const r = kv.range({ key: b("a"), rangeEnd: b("b"), countOnly: true });
    assert.deepEqual(r.kvs, []);
    assert.equal(r.count, 3);
    assert.equal(r.more, false);
  });

  test("keysOnly: keys without values", () => {
    const kv = sample();
    const r = kv.range({ key: b("a"), rangeEnd: b("b"), keysOnly: true });
    assert.deepEqual(keysOf(r.kvs), ["a", "ab", "abc"]);
    assert.ok(r.kvs.every((x) => x.value.length === 0 && x.version > 0));
  });

  test("min/max mod and create revision filters; count stays the unfiltered total", () => {
    const kv = sample();
    assert.deepEqual(keys(kv, { ...all, minModRevision: 5 }), ["ab", "b", "c"]);
    assert.deepEqual(keys(kv, { ...all, maxModRevision: 4 }), ["a", "abc"]);
    assert.deepEqual(keys(kv, { ...all, minCreateRevision: 4 }), ["abc", "b", "c"]);
    assert.deepEqual(keys(kv, { ...all, maxCreateRevision: 3 }), ["a", "ab"]);
    const both = kv.range({ ...all, minCreateRevision: 3, maxModRevision: 5, limit: 1 });
    assert.deepEqual(keysOf(both.kvs), ["abc"]);
    assert.equal(both.more, true);
    assert.equal(both.count, 5);
  });

  test("ranges at an old revision with a limit", () => {
    const kv = sample();
    const r = kv.range({ ...all, revision: 4, limit: 2 });
    assert.deepEqual(keysOf(r.kvs), ["a", "ab"]);
    assert.equal(s(r.kvs[1]!.value), "3");
    assert.equal(r.count, 3);
    assert.equal(r.more, true);
  });
});

describe("range errors", () => {
  test("empty key", () => {
    const kv = sample();
    throwsKv(
      () => kv.range({ key: new Uint8Array(0) }),
      "EMPTY_KEY",
      "etcdserver: key is not provided",
    );
  });

  test("bad enums and unsafe numbers are INVALID_ARGUMENT", () => {
    const kv = sample();
    throwsKv(() => kv.range({ key: b("a"), sortOrder: "UP" as never }), "INVALID_ARGUMENT");
    throwsKv(() => kv.range({ key: b("a"), limit: 1.5 }), "INVALID_ARGUMENT");
    throwsKv(() => kv.range({ key: b("a"), revision: 2 ** 60 }), "INVALID_ARGUMENT");
  });
});
