// Compatibility with the npm `etcd3` client (a devDependency): put/get/delete, a txn through
// its if/then/else builder, a watch receiving a put, and a lease grant + put with the lease +
// revoke, against a real single-member Ordo cluster.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Etcd3 } from "etcd3";
import { type RunningMember, startMember, withTimeout } from "./harness.js";

describe("npm etcd3 against a real member", () => {
  let m: RunningMember;
  let etcd: Etcd3;
  before(async () => {
    m = await startMember();
    etcd = new Etcd3({ hosts: `http://${m.endpoint}`, dialTimeout: 3000 });
  });
  after(async () => {
    etcd?.close();
    await m?.close();
  });

  test("put, get, getAll prefix, delete", async () => {
    await etcd.put("e3/a").value("1");
    await etcd.put("e3/b").value("2");
    assert.equal(await etcd.get("e3/a").string(), "1");
    assert.deepEqual(await etcd.getAll().prefix("e3/").strings(), { "e3/a": "1", "e3/b": "2" });
    await etcd.delete().key("e3/a");
    assert.equal(await etcd.get("e3/a").string(), null);
    assert.equal(await etcd.getAll().prefix("e3/").count(), 1);
  });

  test("txn: if value == then put else get", async () => {
    await etcd.put("e3/t").value("old");
    const yes = await etcd
      .if("e3/t", "Value", "==", "old")
      .then(etcd.put("e3/t").value("new"))
      .commit();
    assert.equal(yes.succeeded, true);
    const no = await etcd
      .if("e3/t", "Value", "==", "old")
      .then(etcd.put("e3/t").value("never"))
      .else(etcd.get("e3/t"))
      .commit();
    assert.equal(no.succeeded, false);
    assert.equal(no.responses[0]?.response_range?.kvs[0]?.value.toString(), "new");
  });

  test("a watch receives a put", async () => {
    const watcher = await withTimeout(etcd.watch().key("e3/w").create(), "watcher created");
    try {
      const received = new Promise<string>((resolve) => {
        watcher.on("put", (kv) => resolve(kv.value.toString()));
      });
      await etcd.put("e3/w").value("hello");
      assert.equal(await withTimeout(received, "the put event"), "hello");
    } finally {
      await watcher.cancel();
    }
  });

  test("lease grant, put with the lease, revoke removes the key", async () => {
    const lease = etcd.lease(60, { autoKeepAlive: false });
    const id = await lease.grant();
    assert.match(id, /^\d+$/); // etcd3 1.x gives lease ids as decimal strings
    await lease.put("e3/l").value("leased");
    const kv = (await etcd.get("e3/l").exec()).kvs[0];
    assert.equal(kv?.lease, id);
    await lease.revoke();
    assert.equal(await etcd.get("e3/l").string(), null);
  });
});
