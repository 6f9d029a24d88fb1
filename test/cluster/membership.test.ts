// Membership changes on real processes (issue #6): a 3-member cluster grows to 5 — n4 joins as
// a learner and is promoted, n5 joins as a voter — moves its leadership with `ordo leader
// transfer`, removes its leader, then another member, and is back to 3, while a client keeps
// writing with exactly-once sessions. Afterwards no acknowledged write is missing, the removed
// members stopped by themselves (exit 0, "this member was removed from the cluster"), and every
// final member holds the same data (HashKV at the same revision).
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { serviceClient } from "../../src/api/index.js";
import { runLeader, runMember } from "../../src/cli/maintenance-commands.js";
import { capturedOutput } from "../../src/cli/output.js";
import { KvClient } from "../../src/client/index.js";
import { freePort } from "./ports.js";
import {
  type MemberProcess,
  type ProcessCluster,
  spawnMember,
  startProcessCluster,
  waitFor,
} from "./processes.js";

interface Status {
  leader: string;
  raftIndex: string;
  raftAppliedIndex: string;
  header: { member_id: string; revision: string };
}

type Unary = (r: unknown, o: grpc.CallOptions, cb: (e: unknown, s: unknown) => void) => void;

async function maintenance<T>(
  port: number,
  method: string,
  request: unknown,
): Promise<T | undefined> {
  const client = new (serviceClient("Maintenance"))(
    `127.0.0.1:${port}`,
    grpc.credentials.createInsecure(),
  );
  try {
    return await new Promise<T | undefined>((resolve) =>
      ((client as unknown as Record<string, Unary>)[method] as Unary).call(
        client,
        request,
        { deadline: Date.now() + 1000 },
        (e, s) => resolve(e ? undefined : (s as T)),
      ),
    );
  } finally {
    client.close();
  }
}

const status = (port: number) => maintenance<Status>(port, "Status", {});

/** The leader's member id and status when every given member agrees on it. */
async function agreedLeader(
  ports: readonly number[],
): Promise<{ id: string; port: number; commit: number } | undefined> {
  const all = await Promise.all(ports.map(status));
  if (all.some((s) => s === undefined || s.leader === "0")) return undefined;
  const leaders = new Set(all.map((s) => (s as Status).leader));
  if (leaders.size !== 1) return undefined;
  const i = all.findIndex((s) => (s as Status).header.member_id === (s as Status).leader);
  if (i < 0) return undefined;
  const s = all[i] as Status;
  return { id: s.leader, port: ports[i] as number, commit: Number(s.raftIndex) };
}

/** Waits until the member on `port` has applied at least `index`. */
async function applied(port: number, index: number, what: string): Promise<Status> {
  return waitFor(what, 15_000, async () => {
    const s = await status(port);
    return s !== undefined && Number(s.raftAppliedIndex) >= index ? s : undefined;
  });
}

const capture = capturedOutput;

let cluster: ProcessCluster | undefined;
const joined: MemberProcess[] = [];
after(() => {
  for (const m of joined)
    if (m.child.exitCode === null && m.child.signalCode === null) m.child.kill("SIGKILL");
  cluster?.stop();
});

test("3 → 5 → 3 members (a learner promoted, the leader moved and removed) under exactly-once writes", {
  timeout: 90_000,
}, async () => {
  const started = Date.now();
  cluster = await startProcessCluster(3);
  const c = cluster;
  const [p4c, p4p, p5c, p5p] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const names = ["n1", "n2", "n3"];
  const peerUrl = (port: number) => `http://127.0.0.1:${port}`;
  const clientPorts = new Map(names.map((n, i) => [n, c.clientPorts[i] as number]));
  const all = [...c.endpoints, `127.0.0.1:${p4c}`, `127.0.0.1:${p5c}`];
  const ordo = async (
    run: typeof runMember,
    args: string[],
    endpoints: string[],
  ): Promise<string> => {
    const out = capture();
    const code = await run(
      [...args, "--endpoints", endpoints.join(","), "--timeout-ms", "5000"],
      out,
    );
    assert.equal(code, 0, `ordo ${args.join(" ")}: ${out.err}`);
    return out.out;
  };
  await waitFor("the first leader", 20_000, () => agreedLeader(c.clientPorts));

  // The writer: one key per write, exactly-once, across every endpoint the cluster ever has.
  const writer = new KvClient(all, { exactlyOnce: true, timeoutMs: 2000, attempts: 20 });
  const acknowledged = new Map<string, string>();
  let unknown = 0;
  let writing = true;
  const writes = (async () => {
    for (let i = 0; writing && i < 100_000; i++) {
      try {
        await writer.put(`w/${String(i).padStart(6, "0")}`, `v${i}`);
        acknowledged.set(`w/${String(i).padStart(6, "0")}`, `v${i}`);
      } catch (e) {
        unknown++; // may or may not have been applied
        if (process.env.ORDO_TEST_LOG !== undefined) console.log(`write ${i}: ${String(e)}`);
      }
    }
  })();
  const progressed = async (what: string): Promise<void> => {
    const before = acknowledged.size;
    await waitFor(`writes to go on ${what}`, 15_000, async () =>
      acknowledged.size > before + 5 ? true : undefined,
    );
  };

  try {
    await progressed("at the start");
    // n4 joins as a learner, catches up through the leader's snapshot, and is promoted.
    const addedN4 = await ordo(
      runMember,
      ["add", "n4", "--peer-urls", peerUrl(p4p), "--learner"],
      c.endpoints,
    );
    assert.match(addedN4, /^Member [0-9a-f]+ added as learner to cluster [0-9a-f]+$/m);
    const initialN4 = /^ORDO_INITIAL_CLUSTER="(.*)"$/m.exec(addedN4)?.[1];
    assert.ok(initialN4?.includes(`n4=${peerUrl(p4p)}`), addedN4);
    const n4 = await spawnMember("n4", join(c.root, "n4"), p4c, p4p, initialN4 as string, [
      "--initial-cluster-state",
      "existing",
    ]);
    joined.push(n4);
    clientPorts.set("n4", p4c);
    let leader = await waitFor("a leader", 10_000, () => agreedLeader(c.clientPorts));
    await applied(p4c, leader.commit, "n4 to catch up");
    // Started once it has published its name and client URL through the log (until then the
    // list shows it unstarted, as etcdctl does).
    await waitFor("n4 listed as a started learner", 10_000, async () => {
      const list = await ordo(runMember, ["list"], c.endpoints);
      return /, started, n4, http:\/\/127\.0\.0\.1:\d+, http:\/\/127\.0\.0\.1:\d+, true$/m.test(
        list,
      )
        ? list
        : undefined;
    });
    // Promotion needs the learner in sync with the leader: it is, having applied the commit.
    await ordo(runMember, ["promote", "n4"], c.endpoints);
    await progressed("after n4's promotion");

    // n5 joins as a voter straight away: 5 voters.
    const addedN5 = await ordo(
      runMember,
      ["add", "n5", "--peer-urls", peerUrl(p5p)],
      all.slice(0, 4),
    );
    const initialN5 = /^ORDO_INITIAL_CLUSTER="(.*)"$/m.exec(addedN5)?.[1] as string;
    const n5 = await spawnMember("n5", join(c.root, "n5"), p5c, p5p, initialN5, [
      "--initial-cluster-state",
      "existing",
    ]);
    joined.push(n5);
    clientPorts.set("n5", p5c);
    const five = [...clientPorts.values()];
    leader = await waitFor("a leader of five", 15_000, () => agreedLeader(five));
    await applied(p5c, leader.commit, "n5 to catch up");
    const list5 = await ordo(runMember, ["list"], all);
    assert.equal(list5.trim().split("\n").length, 5, list5);
    assert.doesNotMatch(list5, /true$/m, "no learner left");
    // n5 learned the configuration from a snapshot; the leader applied the changes itself.
    const metrics5 = await (await fetch(`http://127.0.0.1:${p5c}/metrics`)).text();
    assert.match(metrics5, /^ordo_voters\{[^}]*\} 5$/m);
    const metricsL = await (await fetch(`http://127.0.0.1:${leader.port}/metrics`)).text();
    assert.match(metricsL, /^ordo_membership_changes_total\{[^}]*\} [1-9]/m);
    await progressed("with five members");

    // Leadership moves to n4, and every member sees it.
    const moved = await ordo(runLeader, ["transfer", "--to", "n4"], all);
    assert.match(moved, /^Leadership transferred from [0-9a-f]+ to [0-9a-f]+ \(n4\)$/m);
    leader = await waitFor("n4 to lead", 10_000, () => agreedLeader(five));
    assert.equal(leader.port, p4c);
    await progressed("under n4");

    // Remove the leader (n4): it stops by itself; the others elect a new leader.
    await ordo(runMember, ["remove", "n4"], all);
    assert.equal(await n4.exited, 0);
    assert.match(n4.stdout(), /this member was removed from the cluster/);
    clientPorts.delete("n4");
    const four = [...clientPorts.values()];
    leader = await waitFor("a leader after n4", 15_000, () => agreedLeader(four));
    assert.notEqual(leader.port, p4c);
    await progressed("after the leader's removal");

    // Back to three: remove n1 too.
    await ordo(runMember, ["remove", "n1"], all);
    const n1 = c.members[0];
    assert.ok(n1);
    assert.equal(await n1.exited, 0);
    assert.match(n1.stdout(), /this member was removed from the cluster/);
    clientPorts.delete("n1");
    const three = [...clientPorts.values()];
    await waitFor("a leader of three", 15_000, () => agreedLeader(three));
    await progressed("with three members again");
    const list3 = await ordo(runMember, ["list"], all);
    assert.deepEqual(
      list3
        .trim()
        .split("\n")
        .map((l) => l.split(", ")[2])
        .sort(),
      ["n2", "n3", "n5"],
    );
  } finally {
    writing = false;
    await writes;
    writer.close();
  }

  // Every acknowledged write is on every final member, and the three hold identical data.
  const three = [...clientPorts.values()];
  const final = await waitFor("a final leader", 10_000, () => agreedLeader(three));
  const statuses = await Promise.all(
    three.map((p) => applied(p, final.commit, `member ${p} to apply all`)),
  );
  const revision = Math.min(...statuses.map((s) => Number(s.header.revision)));
  const hashes = await Promise.all(
    three.map((p) => maintenance<{ hash: number }>(p, "HashKV", { revision: String(revision) })),
  );
  assert.ok(hashes.every((h) => h !== undefined));
  assert.equal(new Set(hashes.map((h) => h?.hash)).size, 1, JSON.stringify(hashes));
  for (const port of three) {
    const single = new KvClient([`127.0.0.1:${port}`], { timeoutMs: 5000, attempts: 3 });
    try {
      const res = await single.get("w/", { prefix: true, serializable: true });
      const values = new Map(res.kvs.map((kv) => [kv.key, kv.value]));
      for (const [key, value] of acknowledged)
        assert.equal(values.get(key), value, `${key} acknowledged but missing on member ${port}`);
      // Exactly once: no key was written twice (every write makes its key's first version).
      assert.ok(res.kvs.every((kv) => kv.version === 1));
    } finally {
      single.close();
    }
  }
  assert.ok(acknowledged.size > 50, `only ${acknowledged.size} writes acknowledged`);
  console.log(
    `membership test: ${acknowledged.size} writes acknowledged, ${unknown} unknown, ${Date.now() - started} ms`,
  );
});
