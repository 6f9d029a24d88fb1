// Revision and version arithmetic (etcd's data model): an empty store is at revision 1, each
// changing write makes one revision, versions count puts within a key's life and restart after
// a delete; Put's flags; DeleteRange; reads at older revisions.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { KvStore } from "../../src/kv/index.js";
import { b, ctx, keysOf, kvString, s, throwsKv } from "./helpers.js";

describe("revisions and versions", () => {
  test("an empty store is at revision 1 and the first put makes revision 2", () => {
    const kv = new KvStore();
    assert.equal(kv.revision, 1);
    assert.equal(kv.range({ key: b("a") }).header.revision, 1);
    assert.equal(kv.put({ key: b("a"), value: b("1") }).header.revision, 2);
    assert.equal(kv.revision, 2);
  });

  test("put, put, delete, put: create/mod revisions and versions", () => {
    const kv = new KvStore();
    kv.put({ key: b("k"), value: b("v1") }); // rev 2
    assert.equal(kvString(kv.range({ key: b("k") }).kvs[0]!), "k=v1@2/2/1");
    kv.put({ key: b("k"), value: b("v2") }); // rev 3
    assert.equal(kvString(kv.range({ key: b("k") }).kvs[0]!), "k=v2@2/3/2");
    const del = kv.deleteRange({ key: b("k"), prevKv: true }); // rev 4
    assert.equal(del.header.revision, 4);
    assert.equal(del.deleted, 1);
    assert.deepEqual(del.prevKvs.map(kvString), ["k=v2@2/3/2"]);
    assert.equal(kv.range({ key: b("k") }).kvs.length, 0);
    kv.put({ key: b("k"), value: b("v3") }); // rev 5: a new life
    assert.equal(kvString(kv.range({ key: b("k") }).kvs[0]!), "k=v3@5/5/1");
    assert.equal(kv.revision, 5);
  });

  test("writes to different keys each make a revision; other keys keep theirs", () => {
    const kv = new KvStore();
    kv.put({ key: b("a"), value: b("1") });
    kv.put({ key: b("b"), value: b("2") });
    kv.put({ key: b("a"), value: b("3") });
    const all = kv.range({ key: b("a"), rangeEnd: b("c") });
    assert.deepEqual(all.kvs.map(kvString), ["a=3@2/4/2", "b=2@3/3/1"]);
    assert.equal(all.header.revision, 4);
  });

  test("a delete that finds nothing does not make a revision", () => {
    const kv = new KvStore();
    kv.put({ key: b("a"), value: b("1") });
    const r = kv.deleteRange({ key: b("zzz") });
    assert.equal(r.deleted, 0);
    assert.equal(r.header.revision, 2);
    assert.equal(kv.revision, 2);
    kv.deleteRange({ key: b("a") });
    assert.equal(kv.deleteRange({ key: b("a") }).deleted, 0);
    assert.equal(kv.revision, 3);
  });

  test("a delete of several keys is one revision", () => {
    const kv = new KvStore();
    for (const k of ["a", "b", "c", "d"]) kv.put({ key: b(k), value: b(k) });
    const r = kv.deleteRange({ key: b("b"), rangeEnd: b("d"), prevKv: true });
    assert.equal(r.deleted, 2);
    assert.deepEqual(keysOf(r.prevKvs), ["b", "c"]);
    assert.equal(kv.revision, 6);
    assert.deepEqual(keysOf(kv.range({ key: b("\0"), rangeEnd: b("\0") }).kvs), ["a", "d"]);
  });

  test("reads at older revisions see the past; future revisions are refused", () => {
    const kv = new KvStore();
    kv.put({ key: b("k"), value: b("v1") }); // 2
    kv.put({ key: b("k"), value: b("v2") }); // 3
    kv.deleteRange({ key: b("k") }); // 4
    kv.put({ key: b("k"), value: b("v3") }); // 5
    const at = (revision: number) => kv.range({ key: b("k"), revision }).kvs.map(kvString);
    assert.deepEqual(at(1), []);
    assert.deepEqual(at(2), ["k=v1@2/2/1"]);
    assert.deepEqual(at(3), ["k=v2@2/3/2"]);
    assert.deepEqual(at(4), []);
    assert.deepEqual(at(5), ["k=v3@5/5/1"]);
    assert.deepEqual(at(0), ["k=v3@5/5/1"]);
    assert.deepEqual(at(-3), ["k=v3@5/5/1"]);
    const r = kv.range({ key: b("k"), revision: 3 });
    assert.equal(r.header.revision, 5, "the header carries the current revision, not the read one");
    throwsKv(
      () => kv.range({ key: b("k"), revision: 6 }),
      "FUTURE_REVISION",
      "mvcc: required revision is a future revision",
    );
  });
});

describe("put", () => {
  test("prevKv returns the previous KeyValue, absent for a new key", () => {
    const kv = new KvStore();
    assert.equal(kv.put({ key: b("k"), value: b("1"), prevKv: true }).prevKv, undefined);
    const r = kv.put({ key: b("k"), value: b("2"), prevKv: true });
    assert.equal(kvString(r.prevKv!), "k=1@2/2/1");
    assert.equal("prevKv" in kv.put({ key: b("k"), value: b("3") }), false);
  });

  test("ignoreValue keeps the value and ignoreLease keeps the lease", () => {
    const kv = new KvStore();
    const lease = kv.leaseGrant({ ttl: 60, id: 5 }, ctx()).id;
    kv.put({ key: b("k"), value: b("v"), lease });
    kv.put({ key: b("k"), ignoreValue: true, lease });
    assert.equal(kvString(kv.range({ key: b("k") }).kvs[0]!), "k=v@2/3/2/L5");
    kv.put({ key: b("k"), value: b("w"), ignoreLease: true });
    assert.equal(kvString(kv.range({ key: b("k") }).kvs[0]!), "k=w@2/4/3/L5");
    kv.put({ key: b("k"), value: b("x") });
    assert.equal(
      kvString(kv.range({ key: b("k") }).kvs[0]!),
      "k=x@2/5/4",
      "a plain put drops the lease",
    );
  });

  test("ignoreValue / ignoreLease on a missing key: key not found, nothing written", () => {
    const kv = new KvStore();
    throwsKv(
      () => kv.put({ key: b("k"), ignoreValue: true }),
      "KEY_NOT_FOUND",
      "etcdserver: key not found",
    );
    throwsKv(() => kv.put({ key: b("k"), ignoreLease: true }), "KEY_NOT_FOUND");
    kv.put({ key: b("k"), value: b("v") });
    kv.deleteRange({ key: b("k") });
    throwsKv(() => kv.put({ key: b("k"), ignoreValue: true }), "KEY_NOT_FOUND");
    assert.equal(kv.revision, 3);
  });

  test("ignoreValue with a value, ignoreLease with a lease: refused like etcd", () => {
    const kv = new KvStore();
    kv.put({ key: b("k"), value: b("v") });
    throwsKv(
      () => kv.put({ key: b("k"), value: b("x"), ignoreValue: true }),
      "VALUE_PROVIDED",
      "etcdserver: value is provided",
    );
    throwsKv(
      () => kv.put({ key: b("k"), lease: 3, ignoreLease: true }),
      "LEASE_PROVIDED",
      "etcdserver: lease is provided",
    );
  });

  test("a lease that does not exist: refused, nothing written", () => {
    const kv = new KvStore();
    throwsKv(
      () => kv.put({ key: b("k"), value: b("v"), lease: 42 }),
      "LEASE_NOT_FOUND",
      "etcdserver: requested lease not found",
    );
    assert.equal(kv.revision, 1);
    assert.equal(kv.range({ key: b("k") }).count, 0);
  });

  test("the store keeps its own copy of keys and values", () => {
    const kv = new KvStore();
    const key = b("k");
    const value = b("v");
    kv.put({ key, value });
    key[0] = 0x7a;
    value[0] = 0x7a;
    assert.equal(s(kv.range({ key: b("k") }).kvs[0]!.value), "v");
  });

  test("keys and values are bytes: any byte, bytewise order", () => {
    const kv = new KvStore();
    kv.put({ key: Uint8Array.of(0xff), value: Uint8Array.of(0) });
    kv.put({ key: Uint8Array.of(0x00), value: Uint8Array.of(1) });
    kv.put({ key: Uint8Array.of(0x7f, 0x00), value: Uint8Array.of(2) });
    kv.put({ key: Uint8Array.of(0x7f), value: Uint8Array.of(3) });
    const all = kv.range({ key: Uint8Array.of(0), rangeEnd: Uint8Array.of(0) });
    assert.deepEqual(
      all.kvs.map((kv) => [...kv.key]),
      [[0x00], [0x7f], [0x7f, 0x00], [0xff]],
    );
  });
});
