// Client compatibility of the Watch and Lease services: Debian's etcdctl (etcd-client 3.4, the
// real Go clientv3) on 127.0.0.1. Skipped, with the reason printed, when /usr/bin/etcdctl is
// absent (install it with `apt-get install etcd-client`).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { etcdctlMissing, etcdctlOk, outputUntil, spawnEtcdctl } from "../cluster/etcdctl.js";
import { b } from "./kv-harness.js";
import { startServer, type TestServer, withTimeout } from "./watch-lease-harness.js";

const skip = etcdctlMissing;
const GLOBAL = ["--dial-timeout=3s", "--command-timeout=5s"];

/** Runs etcdctl to completion (bounded by a timeout); fails unless it exits 0. */
const etcdctl = (address: string, args: readonly string[]): Promise<string> =>
  etcdctlOk(address, args, { global: GLOBAL, killAfterMs: 20_000 });

describe("etcdctl 3.4 against the Watch and Lease services", { skip }, () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.close();
  });

  test("etcdctl watch foo prints a put made by another client", async () => {
    const child = spawnEtcdctl(server.address, ["watch", "foo"], { global: GLOBAL });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    try {
      // The watch is registered once the service listens to the store.
      await server.backend.waitSubscribed();
      await server.kv.call("Put", { key: b("foo"), value: b("bar") });
      // What etcdctl printed meanwhile waits in its stdout until read here.
      const stdout = await outputUntil(child, (out) => out.includes("PUT\nfoo\nbar\n"));
      assert.equal(stdout, "PUT\nfoo\nbar\n");
    } finally {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, "SIGTERM");
      await withTimeout(exited, "etcdctl watch to exit");
    }
  });

  test("lease grant, put --lease, timetolive --keys, keep-alive --once, revoke", async () => {
    const granted = await etcdctl(server.address, ["lease", "grant", "60"]);
    const match = /^lease ([0-9a-f]+) granted with TTL\(60s\)\n$/.exec(granted);
    assert.ok(match !== null, granted);
    const id = match[1]!;
    assert.equal(await etcdctl(server.address, ["put", `--lease=${id}`, "k", "v"]), "OK\n");
    const ttl = await etcdctl(server.address, ["lease", "timetolive", id, "--keys"]);
    assert.match(
      ttl,
      new RegExp(
        `^lease ${id} granted with TTL\\(60s\\), remaining\\((5\\d|60)s\\), attached keys\\(\\[k\\]\\)\\n$`,
      ),
    );
    assert.equal(
      await etcdctl(server.address, ["lease", "keep-alive", "--once", id]),
      `lease ${id} keepalived with TTL(60)\n`,
    );
    const list = await etcdctl(server.address, ["lease", "list"]);
    assert.match(list, new RegExp(`found 1 leases\\n${id}\\n`));
    assert.equal(await etcdctl(server.address, ["lease", "revoke", id]), `lease ${id} revoked\n`);
    assert.equal(await etcdctl(server.address, ["get", "k"]), "");
    const gone = await etcdctl(server.address, ["lease", "timetolive", id]);
    assert.equal(gone, `lease ${id} already expired\n`);
  });
});
