// Raft paper Figure 3 as property checks: seeded random runs of 3- and 5-node clusters with
// reordered, lost and duplicated messages, partitions, crashes and restarts, compaction and
// snapshots, proposals and reads. The bench (harness.ts) watches every Ready and records any
// breach of Election Safety, Leader Append-Only, Log Matching, Leader Completeness, State
// Machine Safety and the Ready contract. Each run ends healed, and must then converge.
// A failure names its seed: rerun that seed alone to replay it exactly.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RaftError, type TestingFaults, Xoshiro128 } from "../../src/raft/index.js";
import { Network } from "./harness.js";

interface RunConfig {
  readonly seed: number;
  readonly size: number;
  readonly steps: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly testingFaults?: TestingFaults;
}

interface RunResult {
  readonly config: RunConfig;
  readonly net: Network;
  readonly crashes: number;
  readonly snapshotsSent: number;
  readonly converged: boolean;
}

function pick<T>(prng: Xoshiro128, items: readonly T[]): T | undefined {
  return items.length === 0 ? undefined : prng.pick(items);
}

/** Calls `f`, ignoring the core's operating errors (not leader, no leader, proposal dropped). */
function attempt(f: () => void): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof RaftError)) throw e;
  }
}

export function chaos(config: RunConfig): RunResult {
  const { seed, size, steps } = config;
  const prng = new Xoshiro128(seed * 7919 + size);
  const net = new Network({
    size,
    seed,
    preVote: config.preVote,
    checkQuorum: config.checkQuorum,
    inflightMessagesMax: 4,
    messageBytesMax: 200,
    ...(config.testingFaults === undefined ? {} : { testingFaults: config.testingFaults }),
  });
  let crashes = 0;
  let proposals = 0;
  let partitioned = false;
  for (let step = 0; step < steps; step++) {
    const roll = prng.int(100);
    const live = net.liveIds();
    const down = net.ids.filter((id) => !net.isUp(id));
    if (roll < 45) {
      for (let k = 0; k < 3 && net.queue.length > 0; k++) {
        const [m] = net.queue.splice(prng.int(net.queue.length), 1);
        if (m === undefined) break;
        const fate = prng.int(100);
        if (fate < 8) {
          net.lost++;
          continue;
        }
        net.deliverOne(m);
        if (fate >= 95) net.deliverOne(m); // duplicated
      }
    } else if (roll < 60) {
      for (const id of live) net.tick(id); // time passes for everyone
    } else if (roll < 75) {
      const id = pick(prng, live);
      if (id !== undefined) net.tick(id); // clock skew: one node runs ahead
    } else if (roll < 85) {
      const leader = pick(prng, net.leaders());
      if (leader !== undefined) attempt(() => net.propose(leader.id, `s${seed}p${proposals++}`));
    } else if (roll < 87) {
      if (partitioned) net.heal();
      else {
        const id = pick(prng, net.ids);
        if (id !== undefined) net.isolate(id);
      }
      partitioned = !partitioned;
    } else if (roll < 89) {
      const id = pick(prng, live);
      if (id !== undefined && down.length < Math.floor((size - 1) / 2)) {
        net.crash(id);
        crashes++;
      }
    } else if (roll < 94) {
      const id = pick(prng, down);
      if (id !== undefined) net.restart(id);
    } else if (roll < 96) {
      const id = pick(prng, live);
      if (id !== undefined) {
        const r = net.node(id);
        if (r.log.applied > r.log.snapIndex) net.compact(id);
      }
    } else {
      const id = pick(prng, live);
      if (id !== undefined) attempt(() => net.readIndex(id, `s${seed}r${step}`));
    }
    if (net.queue.length > 400) net.lost += net.queue.splice(0, 100).length;
    if (step % 25 === 0) net.checkLogMatching();
  }

  // Heal everything and let the cluster settle: it must converge on one log, fully applied.
  net.heal();
  for (const id of net.ids) if (!net.isUp(id)) net.restart(id);
  let converged = false;
  for (let round = 0; round < 300 && !converged; round++) {
    net.run(1);
    const leader = net.leaders()[0];
    if (leader === undefined || net.leaders().length > 1) continue;
    if (round % 20 === 19) attempt(() => net.propose(leader.id, `s${seed}final${round}`));
    converged = net.ids.every((id) => {
      const r = net.node(id);
      return (
        r.log.lastIndex() === leader.log.lastIndex() && r.log.applied === leader.log.lastIndex()
      );
    });
  }
  net.checkLogMatching();
  const snapshotsSent = net.history.filter((m) => m.type === "InstallSnapshot").length;
  return { config, net, crashes, snapshotsSent, converged };
}

const configs: RunConfig[] = [];
for (let seed = 1; seed <= 8; seed++) {
  configs.push({
    seed,
    size: 5,
    steps: 3000,
    preVote: seed % 2 === 1,
    checkQuorum: seed % 4 !== 0,
  });
}
for (let seed = 101; seed <= 106; seed++) {
  configs.push({ seed, size: 3, steps: 2500, preVote: true, checkQuorum: true });
}

let cached: RunResult[] | undefined;
function runs(): RunResult[] {
  cached ??= configs.map(chaos);
  return cached;
}

function violationsOf(kind: string): string[] {
  return runs().flatMap((r) =>
    r.net.violations.filter((v) => v.startsWith(kind)).map((v) => `seed=${r.config.seed}: ${v}`),
  );
}

describe("Figure 3 properties in seeded random runs", () => {
  test("the runs exercise elections, crashes, snapshots and commits", () => {
    for (const r of runs()) {
      const committed = r.net.node("n1").log.committed;
      assert.ok(
        r.net.leaderOfTerm.size >= 2,
        `seed=${r.config.seed}: only ${r.net.leaderOfTerm.size} elected terms`,
      );
      assert.ok(committed >= 10, `seed=${r.config.seed}: only ${committed} entries committed`);
    }
    assert.ok(runs().reduce((n, r) => n + r.crashes, 0) >= 10, "crashes happened");
    assert.ok(
      runs().some((r) => r.snapshotsSent > 0),
      "some follower needed a snapshot",
    );
  });

  for (const kind of [
    "Election Safety",
    "Leader Append-Only",
    "Log Matching",
    "Leader Completeness",
    "State Machine Safety",
  ]) {
    test(`${kind} holds`, () => {
      assert.deepEqual(violationsOf(kind), []);
    });
  }

  test("the Ready contract holds: acknowledgements and votes are durable first, applies in order", () => {
    assert.deepEqual([...violationsOf("Ready contract"), ...violationsOf("Apply order")], []);
  });

  test("no other breach was recorded", () => {
    assert.deepEqual(
      runs().flatMap((r) => r.net.violations.map((v) => `seed=${r.config.seed}: ${v}`)),
      [],
    );
  });

  test("after healing, every run converges: one log, applied by every node", () => {
    const stuck = runs()
      .filter((r) => !r.converged)
      .map(
        (r) =>
          `seed=${r.config.seed} ${r.net.ids.map((id) => `${id}:${r.net.node(id).role}/${r.net.node(id).log.applied}`).join(" ")}`,
      );
    assert.deepEqual(stuck, []);
    for (const r of runs()) {
      const reference = JSON.stringify(r.net.appliedOf("n1"));
      for (const id of r.net.ids)
        assert.equal(JSON.stringify(r.net.appliedOf(id)), reference, `seed=${r.config.seed} ${id}`);
    }
  });
});
