// Membership changes through the runtime (issue #6): ConfChange entries applied in log order,
// member contexts replicated with them, new members joining with an empty log and catching up
// through a snapshot, the leader removed, joint changes, leadership transfer, restarts.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { asNodeId, type ConfChange, type NodeId } from "../../src/raft/index.js";
import {
  CounterMachine,
  decodeCount,
  encodeCounterCommand,
  encodeCounterQuery,
} from "../../src/rsm/examples/counter.js";
import { LeaderChanging, NotLeader, Removed, RsmError, type RsmNode } from "../../src/rsm/index.js";
import { type LocalCluster, startCluster, waitFor } from "./local-cluster.js";

const add = (name: string, by: number) => encodeCounterCommand({ op: "add", name, by });
const n = asNodeId;
const text = (s: string) => new TextEncoder().encode(s);
const clusters: LocalCluster[] = [];
after(async () => {
  for (const c of clusters) await c.stop();
});

async function counterCluster(extra = {}): Promise<LocalCluster> {
  const c = await startCluster(3, () => new CounterMachine(), extra);
  clusters.push(c);
  return c;
}

const change = (...changes: [ConfChange["changes"][number]["type"], string][]): ConfChange => ({
  transition: "Auto",
  changes: changes.map(([type, node]) => ({ type, node: n(node) })),
});

async function count(node: RsmNode, name: string): Promise<number> {
  return decodeCount(await node.read(encodeCounterQuery(name), "serializable"));
}

/** Waits until `node` has applied everything the leader committed, then reads `name` there. */
async function caughtUpCount(c: LocalCluster, node: RsmNode, name: string): Promise<number> {
  const leader = await c.waitForLeader();
  const commit = leader.status().commit;
  await waitFor(() => node.status().applied >= commit, 5000, `${node.id} to apply ${commit}`);
  return count(node, name);
}

describe("membership through the runtime", () => {
  test("a learner joins with an empty log, catches up by snapshot, is promoted and votes", async () => {
    const c = await counterCluster();
    const leader = await c.waitForLeader();
    for (let i = 0; i < 10; i++) await leader.propose(add("x", 1));
    const joiner = await c.join("n4");
    assert.deepEqual(joiner.membership().confState.voters, [], "a joiner starts empty");
    const m = await leader.changeMembership(
      change(["AddLearner", "n4"]),
      new Map([[n("n4"), text("addr-4")]]),
    );
    assert.deepEqual(m.confState.learners, ["n4"]);
    assert.equal(new TextDecoder().decode(m.contexts.get(n("n4"))), "addr-4");
    // Applied (and answered) while the entry's own write is in flight; the snapshot follows it.
    await waitFor(() => leader.metrics.snapshotsTaken > 0, 5000, "adding a member to snapshot");
    await waitFor(() => joiner.metrics.snapshotsInstalled > 0, 5000, "the joiner's snapshot");
    await leader.propose(add("x", 1));
    assert.equal(await caughtUpCount(c, joiner, "x"), 11);
    assert.deepEqual(joiner.membership().confState.learners, ["n4"]);
    assert.equal(new TextDecoder().decode(joiner.membership().contexts.get(n("n4"))), "addr-4");

    const promoted = await leader.changeMembership(change(["AddVoter", "n4"]));
    assert.deepEqual(promoted.confState.voters, ["n1", "n2", "n3", "n4"]);
    assert.deepEqual(promoted.confState.learners, []);
    // With 4 voters a write needs 3: cut two of the old members and nothing commits…
    const others = c.ids.filter((id) => id !== leader.id);
    c.router.isolate(others[0] as string);
    c.router.isolate(others[1] as string);
    await assert.rejects(leader.propose(add("x", 1), undefined, 300));
    // …bring one back: 3 of the 4 voters (the new voter among them) commit again.
    c.router.healAll();
    c.router.isolate(others[0] as string);
    const writer = await waitFor(() => c.leader(), 5000, "a leader");
    await writer.propose(add("x", 100), undefined, 3000);
    c.router.healAll();
    // 11 + 100, plus 1 if the write that timed out was committed later after all.
    assert.ok((await caughtUpCount(c, joiner, "x")) >= 111);
  });

  test("a follower's change is forwarded; a change while one is pending is refused", async () => {
    const c = await counterCluster();
    const leader = await c.waitForLeader();
    await leader.propose(add("y", 1));
    const follower = c.ids.map((id) => c.node(id)).find((x) => x !== leader) as RsmNode;
    await c.join("n4");
    const m = await follower.changeMembership(change(["AddLearner", "n4"]));
    assert.deepEqual(m.confState.learners, ["n4"]);
    // Two changes at once: the second is refused while the first is not applied.
    const first = leader.changeMembership(change(["RemoveNode", "n4"]));
    await assert.rejects(
      leader.changeMembership(change(["AddLearner", "n5"])),
      (e: unknown) =>
        e instanceof RsmError &&
        e.code === "PROPOSAL_DROPPED" &&
        /in progress|not yet applied/.test(e.message),
    );
    await first;
    assert.deepEqual(leader.membership().confState.learners, []);
    // Refusals from the core come back with its reason, on the leader and (through the log)
    // on a follower that forwarded the change.
    await assert.rejects(
      leader.changeMembership(change(["RemoveNode", "n9"])),
      (e: unknown) => e instanceof RsmError && /n9 is not a member/.test(e.message),
    );
    await assert.rejects(
      follower.changeMembership(change(["RemoveNode", "n9"]), undefined, 3000),
      (e: unknown) =>
        e instanceof RsmError &&
        e.code === "PROPOSAL_DROPPED" &&
        /n9 is not a member/.test(e.message),
    );
    // A removed id is never reused: a stale process of that name may still be running.
    assert.deepEqual([...leader.membership().removed], ["n4"]);
    await assert.rejects(
      leader.changeMembership(change(["AddLearner", "n4"])),
      (e: unknown) => e instanceof RsmError && /never reused/.test(e.message),
    );
    assert.deepEqual(leader.membership().confState.learners, []);
    assert.deepEqual([...follower.membership().removed], ["n4"]);
    // Durable: a restarted member knows it from its log (or snapshot).
    const again = await c.restart(follower.id);
    await waitFor(() => again.membership().removed.has(n("n4")), 3000, "n4 known as removed");
    assert.deepEqual([...again.membership().removed], ["n4"]);
  });

  test("removing the leader: it steps down, knows it was removed, the rest go on", async () => {
    const c = await counterCluster();
    const leader = await c.waitForLeader();
    await leader.propose(add("z", 1));
    await leader.changeMembership(change(["RemoveNode", leader.id]));
    assert.equal(leader.removed, true);
    const rest = c.ids.filter((id) => id !== leader.id).map((id) => c.node(id));
    const next = await waitFor(
      () => rest.find((x) => x.isLeader && x.status().confState.voters.length === 2),
      5000,
      "a leader among the remaining two",
    );
    await next.propose(add("z", 1));
    assert.equal(await count(next, "z"), 2);
    assert.equal(leader.isLeader, false);
    // A removed member serves nothing: clients are told so at once.
    await assert.rejects(leader.propose(add("z", 1)), Removed);
    await assert.rejects(leader.read(encodeCounterQuery("z"), "linearizable"), Removed);
    for (const x of rest) assert.equal(x.removed, false);
    assert.deepEqual(
      rest.map((x) => x.membership().confState.voters),
      rest.map(() => c.ids.filter((id) => id !== leader.id)),
    );
  });

  test("3→5 in one joint change, left automatically; contexts for both new members", async () => {
    const c = await counterCluster();
    const leader = await c.waitForLeader();
    await c.join("n4");
    await c.join("n5");
    await leader.changeMembership(
      change(["AddVoter", "n4"], ["AddVoter", "n5"]),
      new Map([
        [n("n4"), text("four")],
        [n("n5"), text("five")],
      ]),
    );
    const all = ["n1", "n2", "n3", "n4", "n5"];
    await waitFor(
      () =>
        all.every(
          (id) =>
            c.node(id).membership().confState.votersOutgoing.length === 0 &&
            c.node(id).membership().confState.voters.length === 5,
        ),
      5000,
      "every member out of the joint configuration",
    );
    const l = await c.waitForLeader();
    await l.propose(add("j", 7));
    for (const id of all) assert.equal(await caughtUpCount(c, c.node(id), "j"), 7, id);
    for (const id of all) assert.equal(c.node(id).membership().contexts.size, 2, id);
  });

  test("configuration and contexts survive restarts (snapshot plus log replay)", async () => {
    const c = await counterCluster({ snapshotEntries: 8 });
    const leader = await c.waitForLeader();
    await leader.propose(add("r", 0)); // a leader changes membership once it committed in its term
    await c.join("n4");
    await leader.changeMembership(change(["AddLearner", "n4"]), new Map([[n("n4"), text("a")]]));
    await leader.updateMemberContext(n("n4"), text("b"));
    await assert.rejects(
      leader.updateMemberContext(n("n9"), text("c")),
      (e: unknown) => e instanceof RsmError && e.code === "INVALID_ARGUMENT",
    );
    for (let i = 0; i < 20; i++) await leader.propose(add("r", 1));
    const follower = c.ids.find((id) => id !== leader.id) as string;
    await caughtUpCount(c, c.node("n4"), "r");
    for (const id of [follower, "n4"]) {
      const before = c.node(id).membership();
      const again = await c.restart(id);
      assert.deepEqual(again.membership().confState, before.confState, id);
      assert.equal(new TextDecoder().decode(again.membership().contexts.get(n("n4"))), "b", id);
      assert.equal(await caughtUpCount(c, again, "r"), 20, id);
    }
  });

  test("validateMembership decides at apply time, the same on every replica", async () => {
    const decoder = new TextDecoder();
    const c = await counterCluster({
      validateMembership: (
        current: { contexts: ReadonlyMap<NodeId, Uint8Array> },
        proposed: { contexts: ReadonlyMap<NodeId, Uint8Array> },
      ) => {
        const taken = new Set([...current.contexts.values()].map((b) => decoder.decode(b)));
        for (const ctx of proposed.contexts.values())
          if (taken.has(decoder.decode(ctx))) return `address ${decoder.decode(ctx)} is taken`;
        return undefined;
      },
    });
    const leader = await c.waitForLeader();
    await leader.propose(add("v", 1));
    await c.join("n4");
    await leader.changeMembership(change(["AddLearner", "n4"]), new Map([[n("n4"), text("a:1")]]));
    // n5 with n4's address: refused when applied, through a follower too; nothing changes.
    const follower = c.node(c.ids.find((id) => id !== leader.id) as string);
    await assert.rejects(
      follower.changeMembership(change(["AddLearner", "n5"]), new Map([[n("n5"), text("a:1")]])),
      (e: unknown) =>
        e instanceof RsmError && e.code === "INVALID_ARGUMENT" && /a:1 is taken/.test(e.message),
    );
    await assert.rejects(
      leader.updateMemberContext(n("n4"), text("a:1")),
      /a:1 is taken/,
      "its own address counts as taken too for this validator",
    );
    const l = await c.waitForLeader();
    await l.propose(add("v", 1));
    for (const id of c.ids) {
      assert.equal(await caughtUpCount(c, c.node(id), "v"), 2);
      assert.deepEqual(c.node(id).membership().confState.learners, ["n4"], id);
    }
  });

  test("leadership transfer resolves when the target leads; refusals are typed", async () => {
    const c = await counterCluster();
    const leader = await c.waitForLeader();
    await leader.propose(add("t", 1));
    const target = c.ids.find((id) => id !== leader.id) as NodeId;
    await leader.transferLeadership(target);
    assert.equal(leader.leader, target);
    await waitFor(() => c.node(target).isLeader, 5000, "the target to lead");
    const follower = c.node(leader.id);
    await assert.rejects(follower.transferLeadership(leader.id), NotLeader);
    await assert.rejects(
      c.node(target).transferLeadership(n("n9")),
      (e: unknown) => e instanceof RsmError && e.code === "PROPOSAL_DROPPED",
    );
    assert.equal(await count(c.node(target), "t"), 1);
  });

  test("during a transfer the leader refuses proposals with LeaderChanging naming the target", async () => {
    const c = await counterCluster();
    const leader = await c.waitForLeader();
    await leader.propose(add("u", 1));
    const target = c.ids.find((id) => id !== leader.id) as NodeId;
    c.router.isolate(target); // the transfer cannot finish
    const transfer = leader.transferLeadership(target, 200);
    await assert.rejects(
      leader.propose(add("u", 1)),
      (e: unknown) => e instanceof LeaderChanging && e.leaderHint === target,
    );
    await assert.rejects(transfer, /timed out/);
    c.router.healAll();
  });
});
