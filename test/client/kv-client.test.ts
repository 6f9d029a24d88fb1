// KvClient against a real single-member Ordo cluster (in-process Member over a temp WAL):
// KV, Txn, leases, watch and endpoint status/health over the services member.ts registers.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { KvClient, KvClientError, type WatchEvent } from "../../src/client/index.js";
import { type RunningMember, startMember, withTimeout } from "./harness.js";

describe("KvClient on a real member", () => {
  let m: RunningMember;
  let c: KvClient;
  before(async () => {
    m = await startMember();
    c = new KvClient([m.endpoint], { timeoutMs: 5000 });
  });
  after(async () => {
    c?.close();
    await m?.close();
  });

  test("put, get, delete", async () => {
    const put = await c.put("kv/a", "1");
    assert.ok(put.revision > 0);
    await c.put("kv/b", "2");
    const got = await c.get("kv/", { prefix: true });
    assert.deepEqual(
      got.kvs.map((kv) => [kv.key, kv.value]),
      [
        ["kv/a", "1"],
        ["kv/b", "2"],
      ],
    );
    const del = await c.delete("kv/", { prefix: true, prevKv: true });
    assert.equal(del.deleted, 2);
    assert.deepEqual(del.prevKvs.map((kv) => kv.key).sort(), ["kv/a", "kv/b"]);
    assert.equal((await c.get("kv/", { prefix: true })).count, 0);
  });

  test("txn: compares choose success or failure, results are typed by op", async () => {
    await c.put("txn/k", "v1");
    const ok = await c.txn({
      compare: [{ key: "txn/k", target: "value", op: "==", value: "v1" }],
      success: [
        { type: "put", key: "txn/k", value: "v2", prevKv: true },
        { type: "get", key: "txn/k" },
      ],
      failure: [{ type: "delete", key: "txn/k" }],
    });
    assert.equal(ok.succeeded, true);
    const [put, get] = ok.responses;
    assert.equal(put?.type, "put");
    assert.equal(put?.type === "put" ? put.prevKv?.value : undefined, "v1");
    assert.equal(get?.type === "get" ? get.kvs[0]?.value : undefined, "v2");

    const no = await c.txn({
      compare: [{ key: "txn/k", target: "version", op: ">", value: 5 }],
      success: [{ type: "put", key: "txn/k", value: "never" }],
      failure: [{ type: "delete", key: "txn/k" }],
    });
    assert.equal(no.succeeded, false);
    assert.deepEqual(no.responses[0]?.type === "delete" ? no.responses[0].deleted : -1, 1);
    assert.equal(await c.compareAndSwap("txn/k", null, "fresh"), true);
    assert.equal(await c.compareAndSwap("txn/k", "stale", "x"), false);
  });

  test("leases: grant, attach, time-to-live with keys, keep-alive, list, revoke", async () => {
    const lease = await c.leaseGrant(60);
    assert.equal(lease.ttl, 60);
    await c.put("lease/k", "v", { lease: lease.id });
    const ttl = await c.leaseTimeToLive(lease.id, { keys: true });
    assert.equal(ttl.grantedTtl, 60);
    assert.ok(ttl.ttl > 0 && ttl.ttl <= 60);
    assert.deepEqual(ttl.keys, ["lease/k"]);
    const kept = await c.leaseKeepAliveOnce(lease.id);
    assert.deepEqual(kept, { id: lease.id, ttl: 60 });
    assert.ok((await c.leaseList()).includes(lease.id));
    await c.leaseRevoke(lease.id);
    assert.equal((await c.get("lease/k")).count, 0);
    assert.equal((await c.leaseTimeToLive(lease.id)).ttl, -1);
    assert.equal(KvClient.leaseGone(await c.leaseKeepAliveOnce(lease.id)), true);
    await assert.rejects(c.leaseRevoke(lease.id), KvClientError);
  });

  test("watch: live events after created, then history from a start revision", async () => {
    const w = c.watch("watch/", { prefix: true, prevKv: true });
    const created = await withTimeout(w.created, "watch created");
    await c.put("watch/a", "1");
    await c.put("watch/a", "2");
    await c.delete("watch/a");
    const events: WatchEvent[] = [];
    await withTimeout(
      (async () => {
        for await (const e of w) {
          events.push(e);
          if (events.length === 3) break;
        }
      })(),
      "three watch events",
    );
    assert.deepEqual(
      events.map((e) => [e.type, e.kv.key, e.kv.value, e.prevKv?.value]),
      [
        ["put", "watch/a", "1", undefined],
        ["put", "watch/a", "2", "1"],
        ["delete", "watch/a", "", "2"],
      ],
    );
    assert.ok((events[0]?.kv.modRevision ?? 0) > created);

    // The same history again, replayed from the first event's revision.
    const replay = c.watch("watch/a", { startRevision: events[0]?.kv.modRevision ?? 0 });
    const again: string[] = [];
    await withTimeout(
      (async () => {
        for await (const e of replay) {
          again.push(`${e.type}:${e.kv.value}`);
          if (again.length === 3) break;
        }
      })(),
      "replayed events",
    );
    assert.deepEqual(again, ["put:1", "put:2", "delete:"]);
  });

  test("status and health of the endpoint", async () => {
    const [s] = await c.status();
    assert.ok(s?.ok);
    assert.equal(s.value.memberId, m.member.memberId);
    assert.equal(s.value.isLeader, true);
    assert.ok(s.value.raftTerm >= 1 && s.value.revision >= 1);
    const [h] = await c.health();
    assert.ok(h?.ok && h.value.healthy);
  });

  test("an unreachable endpoint is reported, not thrown, by status", async () => {
    const two = new KvClient([m.endpoint, "127.0.0.1:1"], { timeoutMs: 1000, attempts: 1 });
    try {
      const results = await two.status();
      assert.equal(results[0]?.ok, true);
      assert.equal(results[1]?.ok, false);
    } finally {
      two.close();
    }
  });
});
