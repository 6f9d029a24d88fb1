// Real processes: three `ordo serve` members on loopback with real TCP and fsync. Writes go on
// while the leader is killed with SIGKILL; a new leader must take over, writes continue, the
// killed member restarts and catches up (through a snapshot, as it fell behind the compacted
// log), every acknowledged write is on every member, and the client history is linearizable.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { serviceClient } from "../../src/api/index.js";
import { checkLinearizable, type HistoryOp } from "../../src/check/index.js";
import { KvClient } from "../../src/client/index.js";
import { etcdctl, etcdctlMissing, outputUntil, spawnEtcdctl } from "./etcdctl.js";
import { freePort } from "./ports.js";
import { launchMember, spawnMember, startProcessCluster, TEST_TICK_MS } from "./processes.js";

const ELECTION_MS = TEST_TICK_MS * 10;

interface Proc {
  name: string;
  clientPort: number;
  dataDir: string;
  child: ChildProcess | undefined;
}

const started: ChildProcess[] = [];
const dirs: string[] = [];
after(() => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Starts p's member and waits until it serves clients. */
async function launch(p: Proc, peerPort: number, initialCluster: string): Promise<void> {
  const m = launchMember(p.name, p.dataDir, p.clientPort, peerPort, initialCluster, [
    "--snapshot-count",
    "40",
  ]);
  started.push(m.child);
  p.child = m.child;
  await m.ready;
}

interface Status {
  leader: string;
  raftTerm: string;
  raftIndex: string;
  raftAppliedIndex: string;
  header: { member_id: string };
}

async function status(port: number): Promise<Status | undefined> {
  const Ctor = serviceClient("Maintenance");
  const client = new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  try {
    return await new Promise<Status | undefined>((resolve) => {
      (
        client as unknown as {
          Status: (r: unknown, o: grpc.CallOptions, cb: (e: unknown, s: Status) => void) => void;
        }
      ).Status({}, { deadline: Date.now() + 1000 }, (e, s) => resolve(e ? undefined : s));
    });
  } finally {
    client.close();
  }
}

async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The member every live member agrees leads (by member id), with its process. */
async function agreedLeader(procs: Proc[]): Promise<{ proc: Proc; status: Status } | undefined> {
  const live = procs.filter((p) => p.child !== undefined);
  const statuses = await Promise.all(live.map((p) => status(p.clientPort)));
  if (statuses.some((s) => s === undefined || s.leader === "0")) return undefined;
  const leaders = new Set(statuses.map((s) => (s as Status).leader));
  if (leaders.size !== 1) return undefined;
  const i = statuses.findIndex((s) => (s as Status).header.member_id === (s as Status).leader);
  if (i < 0) return undefined;
  return { proc: live[i] as Proc, status: statuses[i] as Status };
}

test("a 3-member cluster survives kill -9 of its leader and loses no acknowledged write", {
  timeout: 120_000,
}, async () => {
  const root = mkdtempSync(join(tmpdir(), "ordo-cluster-"));
  dirs.push(root);
  const procs: Proc[] = [];
  const peerPorts: number[] = [];
  for (let i = 1; i <= 3; i++) {
    procs.push({
      name: `n${i}`,
      clientPort: await freePort(),
      dataDir: join(root, `n${i}`),
      child: undefined,
    });
    peerPorts.push(await freePort());
  }
  const initialCluster = procs
    .map((p, i) => `${p.name}=http://127.0.0.1:${peerPorts[i]}`)
    .join(",");
  await Promise.all(procs.map((p, i) => launch(p, peerPorts[i] as number, initialCluster)));
  const client = new KvClient(
    procs.map((p) => `127.0.0.1:${p.clientPort}`),
    { timeoutMs: 2000, attempts: 12 },
  );
  const history: HistoryOp[] = [];
  let valueSeq = 0;
  const write = async (key: string): Promise<void> => {
    const value = `v${++valueSeq}`;
    const invoke = performance.now();
    const op: HistoryOp = {
      client: "c1",
      op: "put",
      key,
      value,
      invoke,
      complete: null,
      status: "unknown",
      output: null,
    };
    history.push(op);
    try {
      await client.put(key, value);
      Object.assign(op, { status: "ok", complete: performance.now() });
    } catch {
      // Unknown: it may or may not have been applied.
    }
  };
  const read = async (key: string): Promise<void> => {
    const invoke = performance.now();
    try {
      const res = await client.get(key);
      history.push({
        client: "c2",
        op: "get",
        key,
        invoke,
        complete: performance.now(),
        status: "ok",
        output: res.kvs[0]?.value ?? null,
      });
    } catch {
      // A failed read has no effect.
    }
  };
  try {
    await waitFor(async () => agreedLeader(procs), 15_000, "the first leader");
    for (let i = 0; i < 60; i++) {
      await write(`k${i % 7}`);
      if (i % 5 === 0) await read(`k${i % 7}`);
    }
    const first = await waitFor(async () => agreedLeader(procs), 5000, "a leader");
    const victim = first.proc;
    const appliedBeforeKill = Number(first.status.raftAppliedIndex);
    victim.child?.kill("SIGKILL");
    victim.child = undefined;
    const killedAt = Date.now();
    const second = await waitFor(
      async () => {
        const l = await agreedLeader(procs);
        return l !== undefined && l.proc !== victim ? l : undefined;
      },
      20 * ELECTION_MS,
      "a new leader after the kill",
    );
    assert.notEqual(second.proc.name, victim.name);
    assert.ok(Date.now() - killedAt < 20 * ELECTION_MS);
    for (let i = 0; i < 120; i++) {
      await write(`k${i % 7}`);
      if (i % 5 === 0) await read(`k${(i + 3) % 7}`);
    }
    assert.ok(
      history.filter((h) => h.op === "put" && h.status === "ok").length >= 150,
      "writes kept succeeding",
    );

    await launch(victim, peerPorts[procs.indexOf(victim)] as number, initialCluster);
    const leaderStatus = await waitFor(
      async () => agreedLeader(procs),
      10_000,
      "a leader with the member back",
    );
    const target = Number(leaderStatus.status.raftIndex);
    await waitFor(
      async () => {
        const s = await status(victim.clientPort);
        return s !== undefined && Number(s.raftAppliedIndex) >= target ? s : undefined;
      },
      20_000,
      "the restarted member to catch up",
    );
    // It fell behind the compacted log, so it caught up through a snapshot from the leader.
    const snaps = readdirSync(join(victim.dataDir, "wal")).filter((f) => f.endsWith(".snap"));
    assert.ok(
      snaps.some((f) => Number(f.split("-")[0]) > appliedBeforeKill),
      `expected a snapshot past ${appliedBeforeKill}, found ${snaps.join(", ")}`,
    );

    // Let every member apply everything committed, then read each member alone, locally:
    // every acknowledged write must be on every member.
    const finalCommit = Number(
      (await waitFor(async () => agreedLeader(procs), 5000, "a leader")).status.raftIndex,
    );
    for (const p of procs) {
      await waitFor(
        async () => {
          const s = await status(p.clientPort);
          return s !== undefined && Number(s.raftAppliedIndex) >= finalCommit ? s : undefined;
        },
        10_000,
        `${p.name} to apply everything`,
      );
    }
    const finalValues: Map<string, string>[] = [];
    for (const p of procs) {
      const single = new KvClient([`127.0.0.1:${p.clientPort}`], { timeoutMs: 2000, attempts: 3 });
      try {
        const res = await single.get("k", { prefix: true, serializable: true });
        finalValues.push(new Map(res.kvs.map((kv) => [kv.key, kv.value])));
        const now = performance.now();
        for (const kv of res.kvs)
          history.push({
            client: `final-${p.name}`,
            op: "get",
            key: kv.key,
            invoke: now,
            complete: now,
            status: "ok",
            output: kv.value,
          });
      } finally {
        single.close();
      }
    }
    assert.deepEqual(finalValues[1], finalValues[0]);
    assert.deepEqual(finalValues[2], finalValues[0]);
    const lin = checkLinearizable(history);
    assert.equal(lin.ok, true, JSON.stringify(lin).slice(0, 2000));
  } finally {
    client.close();
    for (const p of procs) p.child?.kill("SIGTERM");
  }
});

test("Debian's etcdctl (v3.4) against a real 3-member cluster: put, get (prefix, revision), del, txn, watch, leases, member list, endpoint status and health, snapshot save, member add --learner / promote / remove, move-leader", {
  timeout: 90_000,
  skip: etcdctlMissing,
}, async () => {
  const cluster = await startProcessCluster(3);
  const root = cluster.root;
  const procs: Proc[] = cluster.processes.map((child, i) => ({
    name: `n${i + 1}`,
    clientPort: cluster.clientPorts[i] as number,
    dataDir: join(root, `n${i + 1}`),
    child,
  }));
  try {
    await waitFor(async () => agreedLeader(procs), 15_000, "a leader");
    const all = procs.map((p) => `127.0.0.1:${p.clientPort}`).join(",");
    const one = (i: number): string => `127.0.0.1:${(procs[i] as Proc).clientPort}`;
    assert.equal((await etcdctl(one(0), ["put", "fruit/apple", "red"])).stdout.trim(), "OK");
    assert.equal((await etcdctl(one(1), ["put", "fruit/banana", "yellow"])).stdout.trim(), "OK");
    assert.equal((await etcdctl(one(2), ["put", "veg/kale", "green"])).stdout.trim(), "OK");
    const prefix = await etcdctl(all, ["get", "--prefix", "fruit/"]);
    assert.equal(prefix.code, 0, prefix.stderr);
    assert.deepEqual(prefix.stdout.trim().split("\n"), [
      "fruit/apple",
      "red",
      "fruit/banana",
      "yellow",
    ]);
    const single = await etcdctl(one(2), ["get", "fruit/apple", "--print-value-only"]);
    assert.equal(single.stdout.trim(), "red");
    const del = await etcdctl(one(1), ["del", "--prefix", "fruit/"]);
    assert.equal(del.stdout.trim(), "2");
    const after = await etcdctl(all, ["get", "--prefix", "fruit/"]);
    assert.equal(after.stdout.trim(), "");
    const endpoints = await etcdctl(all, ["endpoint", "status", "-w", "json"]);
    assert.equal(endpoints.code, 0, endpoints.stderr);
    const leaders = new Set(
      (JSON.parse(endpoints.stdout) as { Status: { leader: number } }[]).map(
        (s) => s.Status.leader,
      ),
    );
    assert.equal(leaders.size, 1);

    // get --rev: the value at an older revision.
    const first = await etcdctl(one(0), ["put", "color", "blue", "-w", "json"]);
    const rev = (JSON.parse(first.stdout) as { header: { revision: number } }).header.revision;
    await etcdctl(one(1), ["put", "color", "green"]);
    assert.equal(
      (
        await etcdctl(all, ["get", "color", "--rev", String(rev), "--print-value-only"])
      ).stdout.trim(),
      "blue",
    );
    assert.equal(
      (await etcdctl(all, ["get", "color", "--print-value-only"])).stdout.trim(),
      "green",
    );

    // txn, etcdctl's interactive form: compares, success ops, failure ops.
    const txn = await etcdctl(one(2), ["txn"], {
      input: 'value("color") = "green"\n\nput color red\n\nput color black\n\n',
    });
    assert.equal(txn.code, 0, txn.stderr);
    assert.match(txn.stdout, /^SUCCESS/);
    assert.equal((await etcdctl(all, ["get", "color", "--print-value-only"])).stdout.trim(), "red");

    // watch sees a put made by another writer.
    const watcher = spawnEtcdctl(one(1), ["watch", "color"], { global: [] });
    try {
      const gotEvent = outputUntil(watcher, (seen) => seen.includes("PUT\ncolor\nwhite"), 10_000);
      // Keep writing until the watch, which starts asynchronously, reports the event.
      let writes = 0;
      const writer = setInterval(() => {
        if (writes++ < 50) void etcdctl(one(2), ["put", "color", "white"]);
      }, 200);
      try {
        await gotEvent;
      } finally {
        clearInterval(writer);
      }
    } finally {
      watcher.kill("SIGTERM");
    }

    // Leases: grant, attach, keep alive once, revoke; and a lease left alone expires.
    const grant = await etcdctl(all, ["lease", "grant", "60"]);
    const leaseId = /lease ([0-9a-f]+) granted/.exec(grant.stdout)?.[1];
    assert.ok(leaseId, grant.stdout + grant.stderr);
    assert.equal(
      (await etcdctl(all, ["put", "session/a", "1", `--lease=${leaseId}`])).stdout.trim(),
      "OK",
    );
    const keep = await etcdctl(all, ["lease", "keep-alive", "--once", leaseId]);
    assert.match(keep.stdout, /keepalived with TTL\(\d+\)/);
    assert.match((await etcdctl(all, ["lease", "revoke", leaseId])).stdout, /revoked/);
    assert.equal((await etcdctl(all, ["get", "session/a"])).stdout.trim(), "");
    const short = /lease ([0-9a-f]+) granted/.exec(
      (await etcdctl(all, ["lease", "grant", "4"])).stdout,
    )?.[1];
    assert.ok(short);
    await etcdctl(all, ["put", "session/b", "1", `--lease=${short}`]);
    const expiry = Date.now() + 15_000;
    while ((await etcdctl(all, ["get", "session/b"])).stdout.trim() !== "") {
      assert.ok(Date.now() < expiry, "the key outlived its 4 s lease by far");
      await new Promise((r) => setTimeout(r, 200));
    }

    // member list, endpoint health, snapshot save.
    const members = await etcdctl(all, ["member", "list"]);
    assert.equal(members.code, 0, members.stderr);
    for (const p of procs)
      assert.match(members.stdout, new RegExp(`, ${p.name}, http://127\\.0\\.0\\.1:`));
    const health = await etcdctl(all, ["endpoint", "health"]);
    assert.equal(health.code, 0, health.stderr + health.stdout);
    assert.equal((health.stdout + health.stderr).match(/is healthy/g)?.length, 3);
    const snapshotFile = join(root, "backup.db");
    const snap = await etcdctl(one(0), ["snapshot", "save", snapshotFile]);
    assert.equal(snap.code, 0, snap.stderr);
    assert.ok(existsSync(snapshotFile));

    // Membership: etcdctl adds a learner (peer URLs only: the server names its node id), the
    // member starts with what etcdctl printed and --initial-cluster-state existing, publishes
    // its name, is promoted, takes the leadership (move-leader), and is removed: it stops.
    const [client4, peer4] = [await freePort(), await freePort()];
    const peerUrl4 = `http://127.0.0.1:${peer4}`;
    const added = await etcdctl(all, [
      "member",
      "add",
      "n4",
      `--peer-urls=${peerUrl4}`,
      "--learner",
    ]);
    assert.equal(added.code, 0, added.stderr);
    const id4 = /^Member\s+([0-9a-f]+) added (?:as learner )?to cluster\s+[0-9a-f]+$/m.exec(
      added.stdout,
    )?.[1];
    const initial4 = /^ETCD_INITIAL_CLUSTER="(.*)"$/m.exec(added.stdout)?.[1];
    assert.ok(id4 !== undefined && initial4 !== undefined, added.stdout);
    assert.match(added.stdout, /^ETCD_INITIAL_CLUSTER_STATE="existing"$/m);
    assert.ok(initial4.split(",").includes(`n4=${peerUrl4}`), initial4);
    // Until it starts, the new member is listed unstarted, with no name, as a learner.
    const unstarted = await etcdctl(all, ["member", "list"]);
    assert.match(unstarted.stdout, new RegExp(`^${id4}, unstarted, , ${peerUrl4}, , true$`, "m"));
    const again = await etcdctl(all, ["member", "add", "n9", `--peer-urls=${peerUrl4}`]);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /etcdserver: Peer URLs already exists/);
    const n4 = await spawnMember("n4", join(root, "n4"), client4, peer4, initial4, [
      "--initial-cluster-state",
      "existing",
    ]);
    try {
      await waitFor(
        async () => {
          const list = await etcdctl(all, ["member", "list"]);
          return new RegExp(
            `^${id4}, started, n4, ${peerUrl4}, http://127\\.0\\.0\\.1:${client4}, true$`,
            "m",
          ).test(list.stdout)
            ? list
            : undefined;
        },
        20_000,
        "n4 to start and publish its name",
      );
      const n1Id = (await status((procs[0] as Proc).clientPort))?.header.member_id ?? "0";
      const voter = await etcdctl(all, ["member", "promote", BigInt(n1Id).toString(16)]);
      assert.notEqual(voter.code, 0);
      assert.match(voter.stderr, /etcdserver: can only promote a learner member$/m);
      // A learner still catching up is refused ("in sync with leader"); it catches up quickly.
      const promoted = await waitFor(
        async () => {
          const r = await etcdctl(all, ["member", "promote", id4]);
          if (r.code === 0) return r;
          // Also through a follower: the leader's refusal comes back through the log.
          assert.match(
            r.stderr,
            /etcdserver: can only promote a learner member which is in sync with leader/,
          );
          return undefined;
        },
        20_000,
        "n4's promotion",
      );
      assert.match(
        promoted.stdout,
        new RegExp(`^Member\\s+${id4} promoted in cluster\\s+[0-9a-f]+$`, "m"),
      );
      const voters = await etcdctl(all, ["member", "list"]);
      assert.match(voters.stdout, new RegExp(`^${id4}, started, n4, .*, false$`, "m"));
      assert.doesNotMatch(voters.stdout, /true$/m);
      const all4 = `${all},127.0.0.1:${client4}`;
      const moved = await etcdctl(all4, ["move-leader", id4]);
      assert.equal(moved.code, 0, moved.stderr);
      assert.match(
        moved.stdout,
        new RegExp(`^Leadership transferred from [0-9a-f]+ to ${id4}$`, "m"),
      );
      const s4 = await status(client4);
      assert.equal(BigInt(s4?.leader ?? "0").toString(16), id4);
      const removed = await etcdctl(all4, ["member", "remove", id4]);
      assert.equal(removed.code, 0, removed.stderr);
      assert.match(
        removed.stdout,
        new RegExp(`^Member\\s+${id4} removed from cluster\\s+[0-9a-f]+$`, "m"),
      );
      assert.equal(await n4.exited, 0);
      assert.match(n4.stdout(), /this member was removed from the cluster/);
      const gone = await etcdctl(all, ["member", "remove", id4]);
      assert.notEqual(gone.code, 0);
      assert.match(gone.stderr, /etcdserver: member not found/);
      const three = await waitFor(
        async () => {
          const list = await etcdctl(all, ["member", "list"]);
          return list.code === 0 && list.stdout.trim().split("\n").length === 3 ? list : undefined;
        },
        10_000,
        "three members listed",
      );
      assert.doesNotMatch(three.stdout, /n4/);
      // The removed member led: a successor took over (a put may meet the change, as in etcd).
      await waitFor(
        async () =>
          (await etcdctl(all, ["put", "after", "removal"])).stdout.trim() === "OK"
            ? true
            : undefined,
        10_000,
        "a write after the leader's removal",
      );
      assert.equal(
        (await etcdctl(all, ["get", "after", "--print-value-only"])).stdout.trim(),
        "removal",
      );
    } finally {
      if (n4.child.exitCode === null && n4.child.signalCode === null) n4.child.kill("SIGKILL");
    }
  } finally {
    cluster.stop();
  }
});
