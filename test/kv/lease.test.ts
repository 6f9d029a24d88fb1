// Leases: grants (chosen or given IDs, minimum and maximum TTL), keep-alive, time-to-live
// measured against a caller's "now", listing; and expiry only through the LeaseExpire command at
// the leader's timestamp, which deletes the attached keys in one revision with DELETE events.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { KvStore, LEASE_TTL_MAX_SECONDS } from "../../src/kv/index.js";
import { b, ctx, keysOf, s, throwsKv } from "./helpers.js";

const t0 = 1_700_000_000_000;

describe("lease grant", () => {
  test("ID 0: chosen from the entry's PRNG, the same for the same seed, positive and safe", () => {
    const one = new KvStore();
    const two = new KvStore();
    const a = one.leaseGrant({ ttl: 10 }, ctx(t0, 42));
    const c = two.leaseGrant({ ttl: 10, id: 0 }, ctx(t0, 42));
    assert.equal(a.id, c.id);
    assert.ok(Number.isSafeInteger(a.id) && a.id > 0);
    const d = one.leaseGrant({ ttl: 10 }, ctx(t0, 43));
    assert.notEqual(d.id, a.id);
    assert.equal(one.revision, 1, "granting makes no revision");
  });

  test("ID 0 with a PRNG that keeps colliding draws again", () => {
    const kv = new KvStore();
    const first = kv.leaseGrant({ ttl: 10 }, ctx(t0, 5)).id;
    // The same seed draws `first` again, then moves on.
    const second = kv.leaseGrant({ ttl: 10 }, ctx(t0, 5)).id;
    assert.notEqual(first, second);
  });

  test("a given ID is used; an ID in use is LEASE_EXISTS; negative IDs are refused", () => {
    const kv = new KvStore();
    assert.equal(kv.leaseGrant({ ttl: 10, id: 123 }, ctx()).id, 123);
    throwsKv(
      () => kv.leaseGrant({ ttl: 10, id: 123 }, ctx()),
      "LEASE_EXISTS",
      "etcdserver: lease already exists",
    );
    throwsKv(() => kv.leaseGrant({ ttl: 10, id: -1 }, ctx()), "INVALID_ARGUMENT");
  });

  test("TTL below the minimum is raised to it (2 s by default); above etcd's maximum refused", () => {
    const kv = new KvStore();
    assert.equal(kv.leaseGrant({ ttl: 1, id: 1 }, ctx()).ttl, 2);
    assert.equal(kv.leaseGrant({ ttl: 0, id: 2 }, ctx()).ttl, 2);
    assert.equal(kv.leaseGrant({ ttl: -5, id: 3 }, ctx()).ttl, 2);
    assert.equal(kv.leaseGrant({ ttl: 30, id: 4 }, ctx()).ttl, 30);
    assert.equal(
      kv.leaseGrant({ ttl: LEASE_TTL_MAX_SECONDS, id: 5 }, ctx()).ttl,
      LEASE_TTL_MAX_SECONDS,
    );
    throwsKv(
      () => kv.leaseGrant({ ttl: LEASE_TTL_MAX_SECONDS + 1, id: 6 }, ctx()),
      "LEASE_TTL_TOO_LARGE",
      "etcdserver: too large lease TTL",
    );
    const custom = new KvStore({ leaseTtlMinSeconds: 5 });
    assert.equal(custom.leaseGrant({ ttl: 1, id: 1 }, ctx()).ttl, 5);
  });

  test("a leader timestamp that is not a safe non-negative integer is refused", () => {
    const kv = new KvStore();
    throwsKv(() => kv.leaseGrant({ ttl: 10, id: 1 }, ctx(Number.NaN)), "INVALID_ARGUMENT");
    throwsKv(() => kv.leaseGrant({ ttl: 10, id: 1 }, ctx(-1)), "INVALID_ARGUMENT");
    assert.equal(kv.leaseLeases().leases.length, 0);
  });
});

describe("lease life", () => {
  test("time to live is measured against the caller's now; unknown leases answer TTL -1", () => {
    const kv = new KvStore();
    kv.leaseGrant({ ttl: 10, id: 9 }, ctx(t0));
    kv.put({ key: b("b"), value: b("1"), lease: 9 });
    kv.put({ key: b("a"), value: b("2"), lease: 9 });
    const at = (nowMs: number) => kv.leaseTimeToLive({ id: 9, nowMs, keys: true });
    assert.equal(at(t0).ttl, 10);
    assert.equal(at(t0 + 2500).ttl, 7, "whole seconds, truncated");
    assert.equal(at(t0 + 10_000).ttl, 0);
    assert.equal(at(t0 + 99_000).ttl, 0, "past expiry but not yet expired: 0");
    assert.equal(at(t0).grantedTtl, 10);
    assert.deepEqual(at(t0).keys.map(s), ["a", "b"]);
    assert.deepEqual(kv.leaseTimeToLive({ id: 9, nowMs: t0 }).keys, []);
    const missing = kv.leaseTimeToLive({ id: 8, nowMs: t0 });
    assert.equal(missing.ttl, -1);
    assert.equal(missing.grantedTtl, 0);
  });

  test("keep-alive restarts the TTL from the leader's time; an expired lease cannot be kept", () => {
    const kv = new KvStore();
    kv.leaseGrant({ ttl: 10, id: 9 }, ctx(t0));
    const r = kv.leaseKeepAlive({ id: 9 }, ctx(t0 + 8000));
    assert.deepEqual([r.id, r.ttl], [9, 10]);
    assert.equal(kv.leaseTimeToLive({ id: 9, nowMs: t0 + 8000 }).ttl, 10);
    assert.deepEqual(kv.expiredLeases(t0 + 17_999), []);
    assert.deepEqual(kv.expiredLeases(t0 + 18_000), [9]);
    throwsKv(() => kv.leaseKeepAlive({ id: 9 }, ctx(t0 + 18_000)), "LEASE_NOT_FOUND");
    throwsKv(() => kv.leaseKeepAlive({ id: 1 }, ctx(t0)), "LEASE_NOT_FOUND");
  });

  test("leases lists every lease by ID", () => {
    const kv = new KvStore();
    for (const id of [30, 10, 20]) kv.leaseGrant({ ttl: 10, id }, ctx());
    assert.deepEqual(kv.leaseLeases().leases, [{ id: 10 }, { id: 20 }, { id: 30 }]);
  });

  test("a put under another lease, or none, moves the key off its lease", () => {
    const kv = new KvStore();
    kv.leaseGrant({ ttl: 10, id: 1 }, ctx(t0));
    kv.leaseGrant({ ttl: 10, id: 2 }, ctx(t0));
    kv.put({ key: b("k"), value: b("v"), lease: 1 });
    kv.put({ key: b("k"), value: b("v"), lease: 2 });
    kv.put({ key: b("j"), value: b("v"), lease: 1 });
    kv.put({ key: b("j"), value: b("v") });
    const keys = (id: number) => kv.leaseTimeToLive({ id, nowMs: t0, keys: true }).keys.map(s);
    assert.deepEqual(keys(1), []);
    assert.deepEqual(keys(2), ["k"]);
    kv.deleteRange({ key: b("k") });
    assert.deepEqual(keys(2), []);
    kv.leaseRevoke({ id: 1 });
    assert.equal(kv.range({ key: b("j") }).count, 1, "a key no longer attached survives");
  });
});

describe("revoke and expiry", () => {
  test("revoke deletes the attached keys in one revision with DELETE events", () => {
    const kv = new KvStore();
    kv.leaseGrant({ ttl: 10, id: 5 }, ctx(t0));
    for (const k of ["c", "a", "b"]) kv.put({ key: b(k), value: b(k), lease: 5 });
    kv.put({ key: b("free"), value: b("x") });
    const seen: string[] = [];
    kv.subscribe((batch) => {
      for (const e of batch.events)
        seen.push(`${batch.revision} ${e.type} ${s(e.kv.key)} prev=${s(e.prevKv!.value)}`);
    });
    const r = kv.leaseRevoke({ id: 5 });
    assert.equal(r.header.revision, 6);
    assert.deepEqual(seen, ["6 DELETE a prev=a", "6 DELETE b prev=b", "6 DELETE c prev=c"]);
    assert.deepEqual(keysOf(kv.range({ key: Uint8Array.of(0), rangeEnd: Uint8Array.of(0) }).kvs), [
      "free",
    ]);
    assert.equal(kv.leaseTimeToLive({ id: 5, nowMs: t0 }).ttl, -1);
    throwsKv(() => kv.leaseRevoke({ id: 5 }), "LEASE_NOT_FOUND");
  });

  test("revoking a lease without keys makes no revision", () => {
    const kv = new KvStore();
    kv.leaseGrant({ ttl: 10, id: 5 }, ctx(t0));
    assert.equal(kv.leaseRevoke({ id: 5 }).header.revision, 1);
  });

  test("leases never expire by themselves: only LeaseExpire at the leader's time revokes", () => {
    const kv = new KvStore();
    kv.leaseGrant({ ttl: 10, id: 1 }, ctx(t0));
    kv.leaseGrant({ ttl: 20, id: 2 }, ctx(t0));
    kv.leaseGrant({ ttl: 5, id: 3 }, ctx(t0));
    kv.put({ key: b("k1"), value: b("v"), lease: 1 });
    kv.put({ key: b("k2"), value: b("v"), lease: 2 });
    kv.put({ key: b("k3a"), value: b("v"), lease: 3 });
    kv.put({ key: b("k3b"), value: b("v"), lease: 3 });
    // Long after every expiry, nothing has happened: no clock is read.
    assert.equal(kv.leaseLeases().leases.length, 3);
    assert.equal(kv.range({ key: b("k"), rangeEnd: b("l") }).count, 4);
    // The leader's clock says 10 s passed: leases 3 (5 s) and 1 (10 s) are due, oldest first.
    assert.deepEqual(kv.expiredLeases(t0 + 10_000), [3, 1]);
    const events: string[] = [];
    kv.subscribe((batch) =>
      events.push(`${batch.revision}:${batch.events.map((e) => s(e.kv.key)).join(",")}`),
    );
    const r = kv.leaseExpire({}, ctx(t0 + 10_000));
    assert.deepEqual(r.revoked, [3, 1]);
    assert.deepEqual(events, ["6:k3a,k3b", "7:k1"], "one revision per revoked lease");
    assert.equal(r.header.revision, 7);
    assert.deepEqual(keysOf(kv.range({ key: b("k"), rangeEnd: b("l") }).kvs), ["k2"]);
    assert.deepEqual(kv.expiredLeases(t0 + 10_000), []);
    assert.deepEqual(kv.leaseExpire({}, ctx(t0 + 19_999)).revoked, []);
    assert.deepEqual(kv.leaseExpire({}, ctx(t0 + 20_000)).revoked, [2]);
  });

  test("LeaseExpire honours its limit", () => {
    const kv = new KvStore();
    for (let id = 1; id <= 5; id++) kv.leaseGrant({ ttl: 10, id }, ctx(t0));
    assert.deepEqual(kv.leaseExpire({ limit: 2 }, ctx(t0 + 60_000)).revoked, [1, 2]);
    assert.deepEqual(kv.expiredLeases(t0 + 60_000, 1), [3]);
    assert.deepEqual(kv.leaseExpire({}, ctx(t0 + 60_000)).revoked, [3, 4, 5]);
  });

  test("LeaseRenewAll restarts every lease's clock at the new leader's time", () => {
    const kv = new KvStore();
    kv.leaseGrant({ ttl: 10, id: 1 }, ctx(t0));
    kv.leaseGrant({ ttl: 20, id: 2 }, ctx(t0));
    const r = kv.leaseRenewAll({ extendMs: 1000 }, ctx(t0 + 15_000));
    assert.equal(r.renewed, 2);
    assert.deepEqual(kv.expiredLeases(t0 + 25_999), []);
    assert.deepEqual(kv.expiredLeases(t0 + 26_000), [1]);
    assert.deepEqual(kv.expiredLeases(t0 + 36_000), [1, 2]);
    throwsKv(() => kv.leaseRenewAll({ extendMs: -1 }, ctx(t0)), "INVALID_ARGUMENT");
  });
});
