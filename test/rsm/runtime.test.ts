// The replicated state machine runtime on an in-process 3-node cluster.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import {
  CounterMachine,
  decodeCount,
  encodeCounterCommand,
  encodeCounterQuery,
} from "../../src/rsm/examples/counter.js";
import {
  type ApplyContext,
  NotLeader,
  type RsmError,
  type StateMachine,
} from "../../src/rsm/index.js";
import { type LocalCluster, startCluster, waitFor } from "./local-cluster.js";

const add = (name: string, by: number) => encodeCounterCommand({ op: "add", name, by });
const clusters: LocalCluster[] = [];
after(async () => {
  for (const c of clusters) await c.stop();
});

async function counterCluster(extra = {}): Promise<LocalCluster> {
  const c = await startCluster(3, () => new CounterMachine(), extra);
  clusters.push(c);
  return c;
}

describe("runtime", () => {
  test("a proposal on the leader resolves with the apply result, and every replica applies it", async () => {
    const c = await counterCluster();
    const leader = await c.waitForLeader();
    assert.equal(decodeCount(await leader.propose(add("a", 5))), 5);
    assert.equal(decodeCount(await leader.propose(add("a", 2))), 7);
    for (const id of c.ids) {
      await waitFor(
        () => c.node(id).status().applied >= leader.status().commit,
        3000,
        `${id} to catch up`,
      );
      assert.equal(
        decodeCount(await c.node(id).read(encodeCounterQuery("a"), "serializable")),
        7,
        `${id}`,
      );
    }
  });

  test("followers forward proposals; the result comes back to the follower", async () => {
    const c = await counterCluster();
    const leader = await c.waitForLeader();
    const follower = c.ids.map((id) => c.node(id)).find((n) => n !== leader);
    assert.ok(follower);
    assert.equal(decodeCount(await follower.propose(add("f", 3))), 3);
    assert.equal(decodeCount(await leader.read(encodeCounterQuery("f"), "linearizable")), 3);
  });

  test("a linearizable read on a follower sees every write acknowledged before it", async () => {
    const c = await counterCluster();
    const leader = await c.waitForLeader();
    const followers = c.ids.map((id) => c.node(id)).filter((n) => n !== leader);
    for (let i = 1; i <= 20; i++) {
      await leader.propose(add("r", 1));
      const f = followers[i % followers.length];
      assert.ok(f);
      assert.equal(decodeCount(await f.read(encodeCounterQuery("r"), "linearizable")), i);
    }
  });

  test("concurrent linearizable reads share ReadIndex rounds and each sees the writes before it", async () => {
    const c = await counterCluster();
    const leader = await c.waitForLeader();
    const follower = c.ids.map((id) => c.node(id)).find((n) => n !== leader);
    assert.ok(follower);
    await leader.propose(add("b", 7));
    for (const node of [leader, follower]) {
      const before = { ...node.metrics };
      const reads = Array.from({ length: 50 }, () =>
        node.read(encodeCounterQuery("b"), "linearizable"),
      );
      const results = (await Promise.all(reads)).map(decodeCount);
      assert.deepEqual(new Set(results), new Set([7]));
      assert.equal(node.metrics.linearizableReads - before.linearizableReads, 50);
      const rounds = node.metrics.readIndexRounds - before.readIndexRounds;
      // The first read starts a round at once; the other 49 arrive while it is in flight and
      // share the next (a slow machine may add a reissued round now and then, never one each).
      assert.ok(rounds >= 1 && rounds < 25, `${rounds} rounds for 50 concurrent reads`);
    }
  });

  test("sessions: a retried command applies once and returns the first result", async () => {
    const c = await counterCluster();
    const leader = await c.waitForLeader();
    const clientId = await leader.registerSession();
    const first = decodeCount(await leader.propose(add("s", 10), { clientId, seq: 1 }));
    const retry = decodeCount(await leader.propose(add("s", 10), { clientId, seq: 1 }));
    assert.equal(first, 10);
    assert.equal(retry, 10);
    assert.equal(decodeCount(await leader.read(encodeCounterQuery("s"), "linearizable")), 10);
    assert.equal(decodeCount(await leader.propose(add("s", 1), { clientId, seq: 2 })), 11);
    await assert.rejects(
      leader.propose(add("s", 1), { clientId: "s999999", seq: 1 }),
      (e: RsmError) => e.code === "SESSION_EXPIRED",
    );
  });

  test("sessions expire through the log, by leader time, the same on every replica", async () => {
    const c = await counterCluster({ sessionTtlMs: 150 });
    const leader = await c.waitForLeader();
    const stale = await leader.registerSession();
    assert.equal(decodeCount(await leader.propose(add("e", 1), { clientId: stale, seq: 1 })), 1);
    await new Promise((r) => setTimeout(r, 400));
    // Any entry carries the leader's newer time; applying it expires the idle session everywhere.
    const fresh = await leader.registerSession();
    await assert.rejects(
      leader.propose(add("e", 1), { clientId: stale, seq: 2 }),
      (e: RsmError) => e.code === "SESSION_EXPIRED",
    );
    assert.equal(decodeCount(await leader.propose(add("e", 1), { clientId: fresh, seq: 1 })), 2);
    for (const id of c.ids) {
      await waitFor(() => c.node(id).status().applied >= leader.status().commit, 3000);
      assert.equal(c.node(id).status().sessions, 1, `${id} keeps only the fresh session`);
    }
  });

  test("leader time and seeded randomness reach apply, identical on every replica", async () => {
    const c = await counterCluster();
    const leader = await c.waitForLeader();
    const lucky: number[] = [];
    const startedMs = Date.now();
    for (let i = 0; i < 8; i++) {
      lucky.push(
        decodeCount(await leader.propose(encodeCounterCommand({ op: "lucky", name: `l${i}` }))),
      );
    }
    const endedMs = Date.now();
    // A constant or unseeded `random` would draw the same number eight times (or differ by replica).
    assert.ok(new Set(lucky).size > 1, `eight draws, all ${lucky[0]}`);
    const stamps: number[] = [];
    for (let i = 0; i < 8; i++) {
      stamps.push(decodeCount(await leader.read(encodeCounterQuery(`@l${i}`), "serializable")));
    }
    // The leader's clock stamped each entry while the test ran, never going backwards.
    for (const [i, at] of stamps.entries()) {
      assert.ok(at >= startedMs && at <= endedMs, `l${i} changed at ${at}, outside the run`);
      if (i > 0) assert.ok(at >= (stamps[i - 1] as number), `l${i}: time went backwards`);
    }
    for (const id of c.ids) {
      await waitFor(() => c.node(id).status().applied >= leader.status().commit, 3000);
      for (let i = 0; i < 8; i++) {
        const node = c.node(id);
        assert.equal(
          decodeCount(await node.read(encodeCounterQuery(`l${i}`), "serializable")),
          lucky[i],
          `${id}: l${i}'s lucky number`,
        );
        assert.equal(
          decodeCount(await node.read(encodeCounterQuery(`@l${i}`), "serializable")),
          stamps[i],
          `${id}: l${i}'s time`,
        );
      }
    }
  });

  test("a proposal to a node without a leader is refused with NotLeader", async () => {
    const c = await counterCluster();
    const leader = await c.waitForLeader();
    c.router.isolate(leader.id);
    const follower = c.ids.map((id) => c.node(id)).find((n) => n !== leader);
    assert.ok(follower);
    // The isolated old leader steps down (check-quorum) and has no leader to forward to.
    await waitFor(
      () => !leader.isLeader && leader.leader === "",
      3000,
      "the isolated leader to step down",
    );
    await assert.rejects(leader.propose(add("x", 1)), (e: Error) => e instanceof NotLeader);
    c.router.healAll();
  });

  test("a follower behind the compacted log catches up by snapshot", async () => {
    const c = await counterCluster({ snapshotEntries: 20 });
    const leader = await c.waitForLeader();
    const lagging = c.ids.find((id) => id !== leader.id) as string;
    c.router.isolate(lagging);
    for (let i = 0; i < 60; i++) await leader.propose(add("snap", 1));
    assert.ok(leader.metrics.snapshotsTaken > 0, "the leader compacted its log");
    c.router.healAll();
    await waitFor(() => c.node(lagging).metrics.snapshotsInstalled > 0, 5000, "a snapshot install");
    await waitFor(
      () => c.node(lagging).status().applied >= leader.status().commit,
      5000,
      "catch up",
    );
    assert.equal(
      decodeCount(await c.node(lagging).read(encodeCounterQuery("snap"), "serializable")),
      60,
    );
  });

  test("a restarted node recovers its state from storage and the log", async () => {
    const c = await counterCluster({ snapshotEntries: 15 });
    const leader = await c.waitForLeader();
    for (let i = 0; i < 25; i++) await leader.propose(add("p", 2));
    const victim = c.ids.find((id) => id !== leader.id) as string;
    await waitFor(() => c.node(victim).status().applied >= leader.status().commit, 3000);
    const restarted = await c.restart(victim);
    await waitFor(() => restarted.status().applied >= leader.status().commit, 5000, "replay");
    assert.equal(decodeCount(await restarted.read(encodeCounterQuery("p"), "serializable")), 50);
  });
});

/** A state machine that reads the clock inside apply: the trap must catch it. */
class ClockReadingMachine extends CounterMachine {
  override apply(command: Uint8Array, ctx: ApplyContext): Uint8Array {
    if (Date.now() < 0) return new Uint8Array(0);
    return super.apply(command, ctx);
  }
}

/** Diverges on one replica: n3 adds one more than asked. */
class DivergingMachine implements StateMachine {
  private total = 0;
  constructor(private readonly skew: number) {}
  apply(command: Uint8Array): Uint8Array {
    this.total += command.length + this.skew;
    return new TextEncoder().encode(String(this.total));
  }
  query(): Uint8Array {
    return new TextEncoder().encode(String(this.total));
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(String(this.total));
  }
  restore(b: Uint8Array): void {
    this.total = Number(new TextDecoder().decode(b));
  }
}

/** DivergingMachine with a digest; counts the snapshots taken of it. */
class DigestingMachine extends DivergingMachine {
  snapshots = 0;
  digests = 0;
  digest(): Uint8Array {
    this.digests++;
    return new TextEncoder().encode(`digest ${this.query().join(",")}`);
  }
  override snapshot(): Uint8Array {
    this.snapshots++;
    return super.snapshot();
  }
}

describe("determinism enforcement", () => {
  test("a state machine that reads the clock in apply is stopped at the offending call", async () => {
    const c = await startCluster(3, () => new ClockReadingMachine());
    clusters.push(c);
    const leader = await c.waitForLeader();
    await assert.rejects(leader.propose(add("t", 1)), (e: RsmError) => e.code === "STOPPED");
    assert.match(leader.status().fatal ?? "", /Date\.now called inside StateMachine\.apply/);
    // The trap restored the real clock afterwards.
    assert.ok(Date.now() > 0);
  });

  test("replicas whose states differ at the same index raise a divergence alarm", async () => {
    const c = await startCluster(3, (id) => new DivergingMachine(id === "n3" ? 1 : 0), {
      hashCheckEntries: 5,
    });
    clusters.push(c);
    const leader = await c.waitForLeader();
    for (let i = 0; i < 12; i++) await leader.propose(new Uint8Array([1, 2, 3]));
    const n3 = c.node("n3");
    if (leader === n3) {
      // The leader's own state is the reference: the others raise the alarm.
      await waitFor(() => c.node("n1").status().divergence.length > 0, 5000, "n1's alarm");
    } else {
      await waitFor(() => n3.status().divergence.length > 0, 5000, "n3's alarm");
      assert.equal(
        c.node(c.ids.find((id) => id !== "n3" && id !== leader.id) as string).status().divergence
          .length,
        0,
      );
    }
  });

  test("with StateMachine.digest, divergence checks hash the digest, never a snapshot", async () => {
    const machines = new Map<string, DigestingMachine>();
    const c = await startCluster(
      3,
      (id) => {
        const m = new DigestingMachine(id === "n3" ? 1 : 0);
        machines.set(id, m);
        return m;
      },
      { hashCheckEntries: 5 },
    );
    clusters.push(c);
    const leader = await c.waitForLeader();
    for (let i = 0; i < 12; i++) await leader.propose(new Uint8Array([1, 2, 3]));
    const n3 = c.node("n3");
    const alarmed = leader === n3 ? c.node("n1") : n3;
    await waitFor(() => alarmed.status().divergence.length > 0, 5000, "the alarm");
    const alarm = alarmed.status().divergence[0];
    assert.match(alarm?.ours ?? "", /^d:[0-9a-f]{32}$/);
    for (const [id, m] of machines) {
      assert.ok(m.digests > 0, `${id} hashed its digest`);
      assert.equal(m.snapshots, 0, `${id} encoded no snapshot for a check`);
    }
  });
});
