// The `ordo` client commands (run functions, output captured) against a real single-member
// cluster, and member list / snapshot save against the in-process Cluster and Maintenance
// services (membership commands: test/server/cluster-service.test.ts).
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { readSnapshotFile } from "../../src/api/index.js";
import { runGet, runPut } from "../../src/cli/kv-commands.js";
import { runLease } from "../../src/cli/lease-commands.js";
import { runEndpoint, runMember, runSnapshot } from "../../src/cli/maintenance-commands.js";
import { capturedOutput, type Output } from "../../src/cli/output.js";
import { parseTxn, runTxn } from "../../src/cli/txn-command.js";
import { runWatch } from "../../src/cli/watch-command.js";
import {
  type RunningMember,
  type ServicesServer,
  startMember,
  startServices,
  withTimeout,
} from "../client/harness.js";

const capture = capturedOutput;

type Run = (args: string[], out: Output) => Promise<number>;

describe("ordo client commands", () => {
  let m: RunningMember;
  let services: ServicesServer;
  let dir: string;
  const ep = (): string[] => ["--endpoints", m.endpoint];
  const run = async (
    fn: Run,
    args: string[],
  ): Promise<{ code: number; out: string; err: string }> => {
    const o = capture();
    const code = await withTimeout(fn(args, o), `ordo ${args.join(" ")}`);
    return { code, out: o.out, err: o.err };
  };
  before(async () => {
    m = await startMember();
    services = await startServices();
    dir = mkdtempSync(join(tmpdir(), "ordo-cli-test-"));
  });
  after(async () => {
    await m?.close();
    await services?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("txn from etcdctl's format: compares, success ops, failure ops", async () => {
    assert.equal((await run(runPut, ["t/k", "v1", ...ep()])).code, 0);
    const file = join(dir, "txn.txt");
    writeFileSync(
      file,
      'value("t/k") = "v1"\nmod("t/k") > "0"\n\nput t/k "v 2"\nget t/k\n\nput t/k never\n',
    );
    const ok = await run(runTxn, ["--file", file, ...ep()]);
    assert.equal(ok.code, 0);
    assert.equal(ok.out, "SUCCESS\n\nOK\n\nt/k\nv 2\n");
    const again = await run(runTxn, ["--file", file, "--json", ...ep()]);
    const res = JSON.parse(again.out) as { succeeded: boolean; responses: { type: string }[] };
    assert.equal(res.succeeded, false);
    assert.deepEqual(
      res.responses.map((r) => r.type),
      ["put"],
    );
    const got = await run(runGet, ["t/k", ...ep()]);
    assert.equal(got.out, "t/k\nnever\n");
  });

  test("txn parser: quoting, operators, lease ids in hex, errors", () => {
    const t = parseTxn('version("a b") != "2"\nlease("k") = "1f"\n\ndel p --prefix\n\n');
    assert.deepEqual(t.compare, [
      { key: "a b", target: "version", op: "!=", value: 2 },
      { key: "k", target: "lease", op: "==", value: "31" },
    ]);
    assert.deepEqual(t.success, [{ type: "delete", key: "p", prefix: true }]);
    assert.deepEqual(t.failure, []);
    assert.throws(() => parseTxn('size("k") = "1"\n'), /bad compare/);
    assert.throws(() => parseTxn("\nfrob k\n"), /bad op/);
  });

  test("watch --rev replays history; --count stops", async () => {
    await run(runPut, ["w/k", "1", ...ep()]);
    const put = await run(runPut, ["w/k", "2", "--json", ...ep()]);
    // etcdctl's JSON: 64-bit numbers as numbers.
    const revision = (JSON.parse(put.out) as { header: { revision: number } }).header.revision;
    const w = await run(runWatch, ["w/k", "--rev", String(revision - 1), "--count", "2", ...ep()]);
    assert.equal(w.code, 0);
    assert.equal(w.out, "PUT\nw/k\n1\nPUT\nw/k\n2\n");
    const j = await run(runWatch, [
      "w/",
      "--prefix",
      "--rev",
      String(revision),
      "--count",
      "1",
      "--json",
      ...ep(),
    ]);
    const e = JSON.parse(j.out) as { type: string; kv: { key: string; value: string } };
    assert.deepEqual([e.type, e.kv.key, e.kv.value], ["put", "w/k", "2"]);
  });

  test("lease grant, put --lease, ttl --keys, keep-alive --once, list, revoke", async () => {
    const g = await run(runLease, ["grant", "100", ...ep()]);
    const match = /^lease ([0-9a-f]+) granted with TTL\(100s\)\n$/.exec(g.out);
    assert.ok(match, g.out);
    const id = match[1] as string;
    assert.equal((await run(runPut, ["l/k", "v", "--lease", id, ...ep()])).code, 0);
    const ttl = await run(runLease, ["ttl", id, "--keys", ...ep()]);
    assert.match(
      ttl.out,
      new RegExp(
        `^lease ${id} granted with TTL\\(100s\\), remaining\\(\\d+s\\), attached keys\\(\\[l/k\\]\\)\\n$`,
      ),
    );
    const ka = await run(runLease, ["keep-alive", id, "--once", ...ep()]);
    assert.equal(ka.out, `lease ${id} keepalived with TTL(100)\n`);
    assert.match((await run(runLease, ["list", ...ep()])).out, new RegExp(`\\n${id}\\n`));
    assert.equal((await run(runLease, ["revoke", id, ...ep()])).out, `lease ${id} revoked\n`);
    assert.equal((await run(runGet, ["l/k", "--count-only", ...ep()])).out, "0\n");
    assert.equal((await run(runLease, ["ttl", id, ...ep()])).out, `lease ${id} already expired\n`);
    const gone = await run(runLease, ["keep-alive", id, "--once", ...ep()]);
    assert.equal(gone.code, 1);
    assert.equal(gone.out, `lease ${id} expired or revoked.\n`);
  });

  test("endpoint status and health, human and --json", async () => {
    const s = await run(runEndpoint, ["status", ...ep()]);
    assert.equal(s.code, 0);
    const memberHex = BigInt(m.member.memberId).toString(16);
    assert.match(
      s.out,
      new RegExp(
        `^${m.endpoint}, ${memberHex}, 3\\.4\\.0, \\d+ B, true, false, \\d+, \\d+, \\d+, \\n$`,
      ),
    );
    const sj = JSON.parse((await run(runEndpoint, ["status", "--json", ...ep()])).out) as {
      Endpoint: string;
      Status: { leader: number; header: { member_id: number } };
    }[];
    assert.equal(sj[0]?.Endpoint, m.endpoint);
    assert.equal(sj[0]?.Status.leader, sj[0]?.Status.header.member_id);
    const h = await run(runEndpoint, ["health", ...ep()]);
    assert.match(
      h.out,
      new RegExp(
        `^${m.endpoint} is healthy: successfully committed proposal: took = [\\d.]+(ms|µs|s)\\n$`,
      ),
    );
    const bad = await run(runEndpoint, [
      "health",
      "--endpoints",
      "127.0.0.1:1",
      "--timeout-ms",
      "500",
    ]);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /127\.0\.0\.1:1 is unhealthy/);
  });

  test("member list and snapshot save (in-process Cluster and Maintenance services)", async () => {
    const sep = ["--endpoints", services.endpoint];
    const list = await run(runMember, ["list", ...sep]);
    assert.match(
      list.out,
      /, started, n1, http:\/\/127\.0\.0\.1:2380, http:\/\/127\.0\.0\.1:2379, false\n/,
    );
    const json = JSON.parse((await run(runMember, ["list", "--json", ...sep])).out) as {
      members: { name: string }[];
    };
    assert.deepEqual(
      json.members.map((x) => x.name),
      ["n1", "n2"],
    );
    const path = join(dir, "snap.db");
    const saved = await run(runSnapshot, ["save", path, ...sep]);
    assert.equal(saved.out, `Snapshot saved at ${path}\n`);
    assert.deepEqual(readSnapshotFile(readFileSync(path)), services.backend.sm.snapshot());
  });

  test("usage errors are plain Errors (exit 2 in main)", async () => {
    await assert.rejects(runLease(["frob"], capture()), (e: Error) => e.constructor === Error);
    await assert.rejects(runWatch([], capture()), (e: Error) => e.constructor === Error);
    await assert.rejects(runMember(["add"], capture()), (e: Error) => e.constructor === Error);
  });
});
