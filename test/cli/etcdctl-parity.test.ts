// `ordo` prints what etcdctl 3.4 prints: the same commands, flags and -w formats run side by
// side, etcdctl (Debian's, the real Go client) and ordo, against one real member; the outputs
// must be equal byte for byte once what changes between two calls (revisions, raft indexes,
// remaining TTLs, timings) is masked. Skipped when /usr/bin/etcdctl is absent.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { run } from "../../src/cli/main.js";
import { capturedOutput } from "../../src/cli/output.js";
import { KvClient, leaseIdToHex } from "../../src/client/index.js";
import { type RunningMember, startMember, withTimeout } from "../client/harness.js";
import { etcdctlMissing, etcdctl as runEtcdctl } from "../cluster/etcdctl.js";

const skip = etcdctlMissing;

/** etcdctl's exit code and stdout as bytes (no --command-timeout: the parity is of the output). */
async function etcdctl(
  endpoint: string,
  args: readonly string[],
): Promise<{ code: number; out: Buffer }> {
  const r = await runEtcdctl(endpoint, args, { global: [], killAfterMs: 20_000 });
  return { code: r.code, out: r.stdoutBytes };
}

/** What legitimately differs between two calls a moment apart. */
const mask = (text: string): string =>
  text
    .replace(/(revision":|Revision" : )\d+/g, "$1R")
    .replace(/("raftIndex":|"raftAppliedIndex":|"RaftIndex" : |"RaftAppliedIndex" : )\d+/g, "$1I")
    .replace(/, \d+, \d+, (\n|$)/g, ", I, I, $1")
    .replace(/("ttl":|"TTL" : |remaining\()\d+/g, "$1T")
    .replace(/\| +\d+ \| +\d+ \| +\|/g, "| I | I | |");

describe("ordo and etcdctl print the same", { skip }, () => {
  let m: RunningMember;
  let c: KvClient;
  let lease = "";
  before(async () => {
    m = await startMember();
    c = new KvClient([m.endpoint]);
    await c.put("a1", "one");
    await c.put("a2", Buffer.from([0x76, 0xff, 0x0a, 0x22]));
    await c.put("b1", "three");
    await c.put("a1", "one again");
    lease = (await c.leaseGrant(600)).id;
    await c.put("l1", "leased", { lease });
  });
  after(async () => {
    c?.close();
    await m?.close();
  });

  /** Each side starts from the same w1: deleted, then put once. */
  const resetW1 = async (): Promise<void> => {
    await c.delete("w1");
    await c.put("w1", "x");
  };
  const same = async (args: string[]): Promise<void> => {
    const writes = args[0] === "put" || args[0] === "del";
    if (writes) await resetW1();
    const theirs = await etcdctl(m.endpoint, args);
    if (writes) await resetW1();
    const o = capturedOutput();
    const code = await withTimeout(run([...args, "--endpoints", m.endpoint], o), args.join(" "));
    assert.equal(code, theirs.code, `exit code of ${args.join(" ")}: ${o.err}`);
    assert.equal(
      mask(o.outBytes().toString("latin1")),
      mask(theirs.out.toString("latin1")),
      `ordo ${args.join(" ")}`,
    );
  };

  const hex = (): string => leaseIdToHex(lease);
  const cases: (() => string[])[] = [
    () => ["get", "a1"],
    () => ["get", "a2"],
    () => ["get", "a2", "--hex"],
    () => ["get", "a1", "-w", "json"],
    () => ["get", "a2", "-w", "fields"],
    () => ["get", "a", "--prefix", "-w", "json"],
    () => ["get", "a", "--prefix", "--keys-only"],
    () => ["get", "a", "--prefix", "--print-value-only"],
    () => ["get", "a", "--prefix", "--sort-by=MODIFY", "--order=DESCEND"],
    () => ["get", "a", "--prefix", "--sort-by=VALUE", "--order=ASCEND", "--keys-only"],
    () => ["get", "a", "--prefix", "--limit", "1", "-w", "json"],
    () => ["get", "a2", "--from-key", "--keys-only"],
    () => ["get", "a1", "b", "--write-out=fields"],
    () => ["get", "nothing", "-w", "json"],
    () => ["get", "nothing"],
    () => ["member", "list"],
    () => ["member", "list", "-w", "json"],
    () => ["member", "list", "-w", "fields"],
    () => ["member", "list", "-w", "table"],
    () => ["endpoint", "status"],
    () => ["endpoint", "status", "-w", "json"],
    () => ["endpoint", "status", "-w", "fields"],
    () => ["endpoint", "status", "-w", "table"],
    () => ["lease", "list"],
    () => ["lease", "list", "-w", "json"],
    () => ["lease", "list", "-w", "fields"],
    () => ["lease", "timetolive", hex(), "--keys"],
    () => ["lease", "timetolive", hex(), "--keys", "-w", "json"],
    () => ["lease", "timetolive", hex(), "--keys", "-w", "fields"],
    () => ["lease", "timetolive", "1234", "-w", "json"],
    () => ["lease", "keep-alive", "--once", hex(), "-w", "json"],
    () => ["put", "w1", "x", "-w", "json"],
    () => ["put", "w1", "y", "--prev-kv", "-w", "fields"],
    () => ["del", "w1", "-w", "json"],
    () => ["del", "w", "--prefix", "--prev-kv"],
    () => ["put", "w1", "z", "--prev-kv"],
    () => ["del", "nothing", "-w", "fields"],
  ];
  test("get, put, del, member list, endpoint status, lease: simple, json, fields, table", async () => {
    for (const args of cases) await same(args());
  });
});
