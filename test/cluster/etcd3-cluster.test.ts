// The npm `etcd3` client, unmodified, against a real 3-member Ordo cluster (three processes):
// the operations etcdctl is tested with, from Node.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Etcd3 } from "etcd3";
import { type ProcessCluster, startProcessCluster } from "./processes.js";

async function within<T>(p: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

describe("npm etcd3 against a real 3-member cluster", { timeout: 90_000 }, () => {
  let cluster: ProcessCluster;
  let etcd: Etcd3;
  before(async () => {
    cluster = await startProcessCluster(3);
    etcd = new Etcd3({ hosts: cluster.endpoints.map((e) => `http://${e}`), dialTimeout: 3000 });
    // Wait for the cluster to accept writes.
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        await etcd.put("ready").value("1");
        break;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  });
  after(() => {
    etcd?.close();
    cluster?.stop();
  });

  test("put, get, get at a revision, getAll prefix, delete", async () => {
    const first = await etcd.put("e3/a").value("1");
    await etcd.put("e3/a").value("2");
    await etcd.put("e3/b").value("3");
    assert.equal(await etcd.get("e3/a").string(), "2");
    assert.equal(await etcd.get("e3/a").revision(first.header.revision).string(), "1");
    assert.deepEqual(await etcd.getAll().prefix("e3/").strings(), { "e3/a": "2", "e3/b": "3" });
    await etcd.delete().key("e3/a");
    assert.equal(await etcd.get("e3/a").string(), null);
  });

  test("txn: compare and swap", async () => {
    await etcd.put("e3/t").value("old");
    const yes = await etcd
      .if("e3/t", "Value", "==", "old")
      .then(etcd.put("e3/t").value("new"))
      .commit();
    assert.equal(yes.succeeded, true);
    const no = await etcd
      .if("e3/t", "Value", "==", "old")
      .then(etcd.put("e3/t").value("x"))
      .commit();
    assert.equal(no.succeeded, false);
    assert.equal(await etcd.get("e3/t").string(), "new");
  });

  test("a watch receives a put from another writer", async () => {
    const watcher = await within(etcd.watch().key("e3/w").create(), "watcher created");
    const other = new Etcd3({ hosts: `http://${cluster.endpoints[2]}` });
    try {
      const received = new Promise<string>((resolve) =>
        watcher.on("put", (kv) => resolve(kv.value.toString())),
      );
      await other.put("e3/w").value("hello");
      assert.equal(await within(received, "the put event"), "hello");
    } finally {
      await watcher.cancel();
      other.close();
    }
  });

  test("leases: grant, put with the lease, keep-alive, revoke; an abandoned lease expires", async () => {
    const lease = etcd.lease(60, { autoKeepAlive: false });
    const id = await lease.grant();
    await lease.put("e3/l").value("leased");
    await lease.keepaliveOnce();
    await lease.revoke();
    assert.equal(await etcd.get("e3/l").string(), null);
    const short = etcd.lease(4, { autoKeepAlive: false });
    await short.grant();
    await short.put("e3/s").value("short");
    const deadline = Date.now() + 15_000;
    while ((await etcd.get("e3/s").string()) !== null) {
      assert.ok(Date.now() < deadline, "the key outlived its 4 s lease by far");
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.match(id, /^\d+$/);
  });

  test("member list and status", async () => {
    const members = await etcd.cluster.memberList({});
    assert.deepEqual(members.members.map((m) => m.name).sort(), ["n1", "n2", "n3"]);
    const status = await etcd.maintenance.status();
    assert.notEqual(status.leader, "0");
  });
});
