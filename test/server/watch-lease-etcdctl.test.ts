// Client compatibility of the Watch and Lease services: Debian's etcdctl (etcd-client 3.4, the
// real Go clientv3) on 127.0.0.1. Skipped, with the reason printed, when /usr/bin/etcdctl is
// absent (install it with `apt-get install etcd-client`).
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { b } from "./kv-harness.js";
import { startServer, type TestServer, withTimeout } from "./watch-lease-harness.js";

const ETCDCTL = "/usr/bin/etcdctl";
const skip = existsSync(ETCDCTL)
  ? false
  : `${ETCDCTL} not found: install Debian's etcd-client (apt-get install etcd-client) to run`;
const ENV = { ...process.env, ETCDCTL_API: "3" };
const common = (address: string): string[] => [
  `--endpoints=${address}`,
  "--dial-timeout=3s",
  "--command-timeout=5s",
];

/** Runs etcdctl to completion (bounded by a timeout); rejects unless it exits 0. */
function etcdctl(address: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      ETCDCTL,
      [...common(address), ...args],
      { env: ENV, timeout: 20_000 },
      (error, stdout, stderr) =>
        error === null
          ? resolve(stdout)
          : reject(new Error(`etcdctl ${args.join(" ")}: ${String(error)} ${stderr}`)),
    );
  });
}

describe("etcdctl 3.4 against the Watch and Lease services", { skip }, () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.close();
  });

  test("etcdctl watch foo prints a put made by another client", async () => {
    const child = spawn(ETCDCTL, [...common(server.address), "watch", "foo"], { env: ENV });
    let stdout = "";
    let stderr = "";
    let onOutput: (() => void) | undefined;
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
      onOutput?.();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    try {
      // The watch is registered once the service listens to the store.
      await server.backend.waitSubscribed();
      await server.kv.call("Put", { key: b("foo"), value: b("bar") });
      await withTimeout(
        new Promise<void>((resolve) => {
          onOutput = () => {
            if (stdout.includes("PUT\nfoo\nbar\n")) resolve();
          };
          onOutput();
        }),
        `etcdctl watch to print the event (stdout ${JSON.stringify(stdout)}, stderr ${stderr})`,
      );
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
