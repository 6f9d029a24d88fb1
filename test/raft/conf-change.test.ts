// Membership changes (Raft thesis §4.3, in the form etcd's raft uses): the ConfChange codec,
// proposeConfChange's refusals, applyConfChange through the Ready loop, learners, removing a
// follower and the leader, joint consensus with both majorities, and leadership transfer limits.
//
// harness.ts starts every node with one fixed configuration and applies entries to a list, so
// this file has its own small driver: nodes may exist outside the configuration (to be added),
// and the apply path calls applyConfChange for ConfChange entries, as the Ready contract says.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  asIndex,
  asNodeId,
  type ConfChange,
  ConfChangeDecodeError,
  type ConfState,
  decodeConfChange,
  encodeConfChange,
  type Message,
  NO_NODE,
  Raft,
  RaftError,
  type RaftOptions,
  Xoshiro128,
} from "../../src/raft/index.js";
import { bytes, type Disk, emptyDisk, type MessageFilter, persist, text } from "./harness.js";

const n = asNodeId;

function cc(transition: ConfChange["transition"], ...changes: [string, string][]): ConfChange {
  return {
    transition,
    changes: changes.map(([type, node]) => ({
      type: type as ConfChange["changes"][number]["type"],
      node: n(node),
    })),
  };
}

const sortedIds = (ids: readonly string[]): string[] => [...ids].sort();

/** A cluster whose nodes all start from the same bootstrap configuration and may be outside it. */
class Cluster {
  readonly nodes = new Map<string, Raft>();
  readonly disks = new Map<string, Disk>();
  /** Data of the non-empty Normal entries each node applied, in order. */
  readonly applied = new Map<string, string[]>();
  /** The ConfState each node's applyConfChange last returned. */
  readonly confs = new Map<string, ConfState>();
  queue: Message[] = [];
  private readonly blocked = new Set<string>();

  constructor(
    readonly ids: readonly string[],
    readonly bootstrap: ConfState,
    readonly extra: Partial<RaftOptions> = {},
  ) {
    for (const [i, id] of ids.entries()) {
      this.disks.set(id, emptyDisk());
      this.applied.set(id, []);
      this.nodes.set(
        id,
        new Raft({
          id: n(id),
          electionTicks: 10,
          heartbeatTicks: 1,
          prng: new Xoshiro128(1000 + i),
          confState: bootstrap,
          ...extra,
        }),
      );
    }
  }

  node(id: string): Raft {
    const r = this.nodes.get(id);
    assert.ok(r !== undefined, `no node ${id}`);
    return r;
  }

  /** The Ready loop of the contract: persist, send, apply (ConfChange via applyConfChange), advance. */
  process(id: string): void {
    const r = this.node(id);
    const disk = this.disks.get(id) as Disk;
    for (let round = 0; r.hasReady(); round++) {
      assert.ok(round < 1000, `${id}: Ready loop does not quiesce`);
      const rd = r.ready();
      persist(disk, rd);
      this.queue.push(...rd.messages);
      for (const e of rd.committedEntries) {
        if (e.type === "ConfChange")
          this.confs.set(id, r.applyConfChange(decodeConfChange(e.data)));
        else if (e.data.length > 0) this.applied.get(id)?.push(text(e.data));
      }
      r.advance(rd);
    }
  }

  processAll(): void {
    for (const id of this.ids) this.process(id);
  }

  /** Delivers queued messages matching `filter` (and what they cause) until none is left. */
  stabilize(filter: MessageFilter = () => true): void {
    for (let round = 0; round < 10_000; round++) {
      const batch = this.queue.filter(filter);
      if (batch.length === 0) return;
      this.queue = this.queue.filter((m) => !filter(m));
      for (const m of batch) {
        if (this.blocked.has(`${m.from}>${m.to}`)) continue;
        this.node(m.to).step(m);
        this.process(m.to);
      }
    }
    assert.fail("did not stabilize");
  }

  tick(id: string, times = 1): void {
    for (let i = 0; i < times; i++) {
      this.node(id).tick();
      this.process(id);
    }
  }

  run(rounds: number): void {
    for (let i = 0; i < rounds; i++) {
      for (const id of this.ids) this.tick(id);
      this.stabilize();
    }
  }

  isolate(id: string): void {
    for (const other of this.ids) {
      if (other === id) continue;
      this.blocked.add(`${id}>${other}`);
      this.blocked.add(`${other}>${id}`);
    }
  }

  heal(): void {
    this.blocked.clear();
  }

  /** `id` campaigns (ticking alone) and every message is delivered; it must end up leader. */
  elect(id: string, filter: MessageFilter = () => true): Raft {
    const r = this.node(id);
    for (let i = 0; i < 21 && r.role === "Follower"; i++) this.tick(id);
    this.stabilize(filter);
    assert.equal(r.role, "Leader", `${id} did not win`);
    return r;
  }

  propose(id: string, data: string): number {
    const { index } = this.node(id).propose(bytes(data));
    this.process(id);
    return index;
  }

  proposeConfChange(id: string, change: ConfChange): number {
    const { index } = this.node(id).proposeConfChange(change);
    this.process(id);
    return index;
  }

  appliedOf(id: string): string[] {
    return this.applied.get(id) ?? [];
  }
}

const conf = (voters: string[], outgoing: string[] = [], learners: string[] = []): ConfState => ({
  voters: voters.map(n),
  votersOutgoing: outgoing.map(n),
  learners: learners.map(n),
});

function refused(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof RaftError, `expected RaftError, got ${String(e)}`);
    assert.equal(e.code, "PROPOSAL_DROPPED");
    assert.match(e.message, pattern);
    return true;
  });
}

describe("ConfChange codec", () => {
  test("encode/decode round trip is exact and deterministic", () => {
    const samples: ConfChange[] = [
      { transition: "Auto", changes: [] },
      cc("Simple", ["AddVoter", "n4"]),
      cc("JointExplicit", ["AddVoter", "n4"], ["AddLearner", "node-5"], ["RemoveNode", "n1"]),
      cc("JointImplicit", ["RemoveNode", "x".repeat(255)]),
      { ...cc("Auto", ["AddVoter", "n4"]), context: Uint8Array.from([0, 1, 2, 255]) },
    ];
    for (const s of samples) {
      const data = encodeConfChange(s);
      assert.deepEqual(decodeConfChange(data), s);
      assert.deepEqual(encodeConfChange(decodeConfChange(data)), data);
      assert.deepEqual(encodeConfChange(s), data);
    }
  });

  test("malformed bytes are rejected with a typed error", () => {
    const good = encodeConfChange(cc("Auto", ["AddVoter", "n4"]));
    const bad: Uint8Array[] = [
      new Uint8Array(0),
      good.slice(0, 4),
      good.slice(0, good.length - 1),
      new Uint8Array([...good, 0]),
      Uint8Array.from(good, (b, i) => (i === 0 ? 0 : b)),
      Uint8Array.from(good, (b, i) => (i === 1 ? 2 : b)),
      Uint8Array.from(good, (b, i) => (i === 2 ? 9 : b)),
      Uint8Array.from(good, (b, i) => (i === 5 ? 7 : b)),
      Uint8Array.from(good, (b, i) => (i === 6 ? 0 : b)),
      Uint8Array.from(good, (b, i) => (i === 7 ? 0x20 : b)),
      Uint8Array.from(good, (b, i) => (i === 3 ? 0xff : b)),
      // A context length beyond the bytes present, and beyond the limit.
      Uint8Array.from(good, (b, i) => (i === good.length - 1 ? 1 : b)),
      Uint8Array.from(good, (b, i) => (i === good.length - 3 ? 0xff : b)),
    ];
    for (const data of bad) {
      assert.throws(
        () => decodeConfChange(data),
        (e: unknown) => e instanceof ConfChangeDecodeError && e.code === "INVALID_ARGUMENT",
        `accepted ${[...data].join(",")}`,
      );
    }
    assert.throws(() => encodeConfChange(cc("Auto", ["AddVoter", ""])), RangeError);
    assert.throws(() => encodeConfChange(cc("Auto", ["AddVoter", "a b"])), RangeError);
    assert.throws(
      () => encodeConfChange({ ...cc("Auto", ["AddVoter", "n4"]), context: new Uint8Array(65537) }),
      RangeError,
    );
  });
});

describe("proposeConfChange refusals", () => {
  test("a second change while one is pending is refused", () => {
    const c = new Cluster(["n1", "n2", "n3", "n4", "n5"], conf(["n1", "n2", "n3"]));
    c.elect("n1");
    const at = c.proposeConfChange("n1", cc("Auto", ["AddLearner", "n4"]));
    refused(
      () => c.node("n1").proposeConfChange(cc("Auto", ["AddLearner", "n5"])),
      /not yet applied/,
    );
    // Also through the raw propose path.
    refused(
      () => c.node("n1").propose(encodeConfChange(cc("Auto", ["AddLearner", "n5"])), "ConfChange"),
      /already in progress/,
    );
    c.stabilize();
    assert.ok(c.node("n1").log.applied >= at);
    c.proposeConfChange("n1", cc("Auto", ["AddLearner", "n5"]));
    c.stabilize();
    assert.deepEqual(c.node("n1").tracker.confState.learners, ["n4", "n5"]);
  });

  test("a change before the leader committed an entry of its term is refused", () => {
    const c = new Cluster(["n1", "n2", "n3"], conf(["n1", "n2", "n3"]));
    const r = c.elect("n1", (m) => m.type !== "AppendResponse");
    assert.ok(r.log.term(r.log.committed) !== r.term);
    refused(
      () => r.proposeConfChange(cc("Auto", ["RemoveNode", "n3"])),
      /not yet committed an entry of its term/,
    );
    c.stabilize();
    c.proposeConfChange("n1", cc("Auto", ["RemoveNode", "n3"]));
  });

  test("a change that leaves no voter, or an unsafe simple change, is refused", () => {
    const one = new Cluster(["n1"], conf(["n1"]));
    one.elect("n1");
    refused(() => one.node("n1").proposeConfChange(cc("Auto", ["RemoveNode", "n1"])), /no voter/);
    const c = new Cluster(["n1", "n2", "n3"], conf(["n1", "n2", "n3"]));
    c.elect("n1");
    refused(
      () =>
        c.node("n1").proposeConfChange(cc("Simple", ["RemoveNode", "n2"], ["RemoveNode", "n3"])),
      /at most one voter/,
    );
    refused(
      () => c.node("n1").proposeConfChange(cc("Auto", ["AddVoter", "n2"])),
      /already a voter/,
    );
    refused(() => c.node("n1").proposeConfChange(cc("Auto", ["RemoveNode", "n9"])), /not a member/);
    refused(
      () => c.node("n1").proposeConfChange({ transition: "Auto", changes: [] }),
      /not in a joint/,
    );
    assert.throws(
      () => c.node("n2").proposeConfChange(cc("Auto", ["RemoveNode", "n3"])),
      /not the leader/,
    );
  });
});

describe("adding members", () => {
  test("a new voter (3→4) catches up and then votes", () => {
    const c = new Cluster(["n1", "n2", "n3", "n4"], conf(["n1", "n2", "n3"]));
    c.elect("n1");
    for (let i = 0; i < 5; i++) c.propose("n1", `a${i}`);
    c.stabilize();
    assert.deepEqual(c.appliedOf("n4"), [], "a non-member gets nothing");
    c.proposeConfChange("n1", cc("Auto", ["AddVoter", "n4"]));
    c.stabilize();
    for (const id of c.ids) {
      assert.deepEqual(c.node(id).tracker.confState, conf(["n1", "n2", "n3", "n4"]), id);
      assert.deepEqual(c.appliedOf(id), ["a0", "a1", "a2", "a3", "a4"], id);
    }
    // Four voters: quorum 3. With n2 and n3 cut off, n1 and n4 cannot commit.
    c.isolate("n2");
    c.isolate("n3");
    const i = c.propose("n1", "blocked");
    c.stabilize();
    assert.ok(c.node("n1").log.committed < i);
    c.heal();
    c.run(2);
    assert.ok(c.node("n1").log.committed >= i);
    // n4 votes and can lead: hand leadership to it.
    c.node("n1").transferLeadership(n("n4"));
    c.process("n1");
    c.stabilize();
    assert.equal(c.node("n4").role, "Leader");
    c.propose("n4", "from-n4");
    c.stabilize();
    for (const id of c.ids) assert.equal(c.appliedOf(id).at(-1), "from-n4", id);
  });

  test("a learner replicates, never counts, never campaigns; then it is promoted", () => {
    const c = new Cluster(["n1", "n2", "n3", "n4"], conf(["n1", "n2", "n3"]));
    c.elect("n1");
    c.propose("n1", "x");
    c.stabilize();
    c.proposeConfChange("n1", cc("Auto", ["AddLearner", "n4"]));
    c.stabilize();
    assert.deepEqual(c.node("n4").tracker.confState, conf(["n1", "n2", "n3"], [], ["n4"]));
    assert.deepEqual(c.appliedOf("n4"), ["x"]);
    const leader = c.node("n1");
    assert.equal(leader.tracker.isVoter(n("n4")), false);
    // n1 + n4 hold the entry, but n4's copy does not count: not committed.
    c.isolate("n2");
    c.isolate("n3");
    const i = c.propose("n1", "y");
    c.stabilize();
    assert.equal(leader.tracker.get(n("n4"))?.match, i);
    assert.ok(leader.log.committed < i);
    // Transfer to a learner is refused.
    refused(() => leader.transferLeadership(n("n4")), /not a voter/);
    // A learner cut off from everyone never campaigns.
    c.heal();
    c.run(2);
    c.isolate("n4");
    const t = c.node("n4").term;
    c.tick("n4", 100);
    assert.equal(c.node("n4").role, "Follower");
    assert.equal(c.node("n4").term, t);
    assert.equal(c.queue.filter((m) => m.from === "n4" && m.type === "VoteRequest").length, 0);
    c.heal();
    c.run(2);
    // Promotion.
    c.proposeConfChange("n1", cc("Auto", ["AddVoter", "n4"]));
    c.stabilize();
    for (const id of c.ids)
      assert.deepEqual(c.node(id).tracker.confState, conf(["n1", "n2", "n3", "n4"]), id);
    assert.equal(leader.tracker.get(n("n4"))?.isLearner, false);
  });

  test("promoting a learner that lags too far behind is refused", () => {
    const c = new Cluster(["n1", "n2", "n3", "n4"], conf(["n1", "n2", "n3"], [], ["n4"]), {
      learnerPromotionLagMax: 5,
    });
    c.elect("n1");
    c.isolate("n4");
    for (let i = 0; i < 10; i++) c.propose("n1", `e${i}`);
    c.stabilize();
    refused(
      () => c.node("n1").proposeConfChange(cc("Auto", ["AddVoter", "n4"])),
      /learner n4 is \d+ entries behind/,
    );
    c.heal();
    c.run(3);
    c.proposeConfChange("n1", cc("Auto", ["AddVoter", "n4"]));
    c.stabilize();
    assert.ok(c.node("n1").tracker.isVoter(n("n4")));
  });

  test("etcd's rule: a learner below 90% of the leader's index is refused, within the lag bound too", () => {
    const c = new Cluster(["n1", "n2", "n3", "n4"], conf(["n1", "n2", "n3"], [], ["n4"]));
    c.elect("n1");
    c.isolate("n4");
    for (let i = 0; i < 10; i++) c.propose("n1", `e${i}`);
    c.stabilize();
    const pr = c.node("n1").tracker.get(n("n4"));
    assert.ok(pr !== undefined && pr.match < 0.9 * c.node("n1").log.lastIndex());
    refused(
      () => c.node("n1").proposeConfChange(cc("Auto", ["AddVoter", "n4"])),
      /learner n4 is \d+ entries behind, not in sync with the leader/,
    );
    c.heal();
    c.run(3);
    c.proposeConfChange("n1", cc("Auto", ["AddVoter", "n4"]));
    c.stabilize();
    assert.ok(c.node("n1").tracker.isVoter(n("n4")));
  });

  test("a learner in sync but not heard from for two check-quorum rounds is refused", () => {
    const c = new Cluster(["n1", "n2", "n3", "n4"], conf(["n1", "n2", "n3"], [], ["n4"]));
    c.elect("n1");
    c.propose("n1", "x");
    c.run(2);
    const leader = c.node("n1");
    assert.equal(leader.tracker.get(n("n4"))?.match, leader.log.lastIndex(), "n4 is in sync");
    c.isolate("n4");
    // Two election timeouts of the leader's ticks: two check-quorum rounds without n4.
    for (let i = 0; i < 21; i++) {
      for (const id of ["n1", "n2", "n3"]) c.tick(id);
      c.stabilize();
    }
    assert.equal(leader.role, "Leader");
    assert.equal(leader.tracker.get(n("n4"))?.match, leader.log.lastIndex(), "still in sync");
    refused(
      () => leader.proposeConfChange(cc("Auto", ["AddVoter", "n4"])),
      /learner n4 is not in sync with the leader: not heard from/,
    );
    c.heal();
    c.run(3);
    c.proposeConfChange("n1", cc("Auto", ["AddVoter", "n4"]));
    c.stabilize();
    assert.ok(leader.tracker.isVoter(n("n4")));
  });
});

describe("removing members", () => {
  test("removing a follower: the rest commit without it", () => {
    const c = new Cluster(["n1", "n2", "n3"], conf(["n1", "n2", "n3"]));
    c.elect("n1");
    c.proposeConfChange("n1", cc("Auto", ["RemoveNode", "n3"]));
    c.stabilize();
    assert.deepEqual(c.node("n1").tracker.confState, conf(["n1", "n2"]));
    assert.deepEqual(c.node("n2").tracker.confState, conf(["n1", "n2"]));
    assert.equal(c.node("n1").tracker.get(n("n3")), undefined);
    const before = c.node("n3").log.lastIndex();
    c.isolate("n3");
    c.propose("n1", "after");
    c.run(3);
    assert.deepEqual(c.appliedOf("n2"), ["after"]);
    assert.equal(c.node("n3").log.lastIndex(), before, "n3 receives nothing more");
  });

  test("removing the leader: it steps down once the change applies, the rest elect a leader", () => {
    const c = new Cluster(["n1", "n2", "n3"], conf(["n1", "n2", "n3"]));
    c.elect("n1");
    const at = c.proposeConfChange("n1", cc("Auto", ["RemoveNode", "n1"]));
    // Until applied, it is still leader (and keeps replicating).
    assert.equal(c.node("n1").role, "Leader");
    c.stabilize();
    const old = c.node("n1");
    assert.ok(old.log.applied >= at);
    assert.equal(old.role, "Follower");
    assert.deepEqual(old.tracker.confState, conf(["n2", "n3"]));
    // It handed over with TimeoutNow: a successor leads already, before any election timeout.
    assert.equal(["n2", "n3"].filter((id) => c.node(id).role === "Leader").length, 1);
    assert.ok(c.node("n2").term > old.term || c.node("n3").term > old.term);
    c.run(60);
    const leaders = ["n2", "n3"].filter((id) => c.node(id).role === "Leader");
    assert.equal(leaders.length, 1);
    assert.equal(old.role, "Follower", "a removed node never campaigns");
    const lead = leaders[0] as string;
    assert.deepEqual(c.node(lead).tracker.confState, conf(["n2", "n3"]));
    c.propose(lead, "new-era");
    c.stabilize();
    assert.deepEqual(c.appliedOf("n2"), ["new-era"]);
    assert.deepEqual(c.appliedOf("n3"), ["new-era"]);
  });
});

describe("joint consensus", () => {
  test("3→5 joint: commitment needs majorities of both configurations", () => {
    const ids = ["n1", "n2", "n3", "n4", "n5"];
    const c = new Cluster(ids, conf(["n1", "n2", "n3"]));
    c.elect("n1");
    c.proposeConfChange("n1", cc("JointExplicit", ["AddVoter", "n4"], ["AddVoter", "n5"]));
    c.stabilize();
    const joint = conf(ids, ["n1", "n2", "n3"]);
    for (const id of ids) assert.deepEqual(c.node(id).tracker.confState, joint, id);
    // n1, n4, n5 are a majority of the new config but only one of the old: no commit.
    c.isolate("n2");
    c.isolate("n3");
    const i = c.propose("n1", "joint-entry");
    c.stabilize();
    const leader = c.node("n1");
    assert.equal(leader.tracker.get(n("n4"))?.match, i);
    assert.equal(leader.tracker.get(n("n5"))?.match, i);
    assert.ok(leader.log.committed < i, "committed on the new majority alone");
    // A majority of the old configuration alone (n1, n2) is not enough either.
    c.heal();
    c.isolate("n3");
    c.isolate("n4");
    c.isolate("n5");
    const j = c.propose("n1", "joint-entry-2");
    c.stabilize();
    assert.equal(leader.tracker.get(n("n2"))?.match, j);
    // Entry i is now on n1, n2 (old majority) and n4, n5 (with n1, new majority): committed.
    assert.ok(leader.log.committed >= i);
    assert.ok(leader.log.committed < j, "committed on the old majority alone");
    c.heal();
    c.run(2);
    assert.ok(leader.log.committed >= j);
    // Explicit joint: no automatic leave; the operator leaves it.
    assert.deepEqual(leader.tracker.confState, joint);
    refused(() => leader.proposeConfChange(cc("Auto", ["RemoveNode", "n2"])), /leave it/);
    c.proposeConfChange("n1", { transition: "Auto", changes: [] });
    c.stabilize();
    for (const id of ids) assert.deepEqual(c.node(id).tracker.confState, conf(ids), id);
  });

  test("auto transition with several changes enters joint and leaves it by itself", () => {
    const ids = ["n1", "n2", "n3", "n4", "n5"];
    const c = new Cluster(ids, conf(["n1", "n2", "n3"]));
    c.elect("n1");
    const seen: ConfState[] = [];
    c.proposeConfChange(
      "n1",
      cc("Auto", ["AddVoter", "n4"], ["AddVoter", "n5"], ["RemoveNode", "n3"]),
    );
    for (let round = 0; round < 20 && c.queue.length > 0; round++) {
      c.stabilize();
      seen.push(c.node("n2").tracker.confState);
    }
    c.run(2);
    for (const id of ["n1", "n2", "n4", "n5"])
      assert.deepEqual(c.node(id).tracker.confState, conf(["n1", "n2", "n4", "n5"]), id);
    assert.ok(sortedIds(c.node("n1").tracker.memberIds()).every((id) => id !== "n3"));
    c.propose("n1", "after-leave");
    c.stabilize();
    assert.equal(c.appliedOf("n5").at(-1), "after-leave");
    assert.ok(seen.length > 0);
  });
});

describe("replacing the leader through a joint configuration", () => {
  test("the leader leads the joint phase, leaves it, then steps down", () => {
    const c = new Cluster(["n1", "n2", "n3", "n4"], conf(["n1", "n2", "n3"]));
    c.elect("n1");
    c.proposeConfChange("n1", cc("Auto", ["AddVoter", "n4"], ["RemoveNode", "n1"]));
    c.stabilize();
    const old = c.node("n1");
    assert.equal(old.role, "Follower");
    assert.deepEqual(old.tracker.confState, conf(["n2", "n3", "n4"]));
    c.run(60);
    const leaders = ["n2", "n3", "n4"].filter((id) => c.node(id).role === "Leader");
    assert.equal(leaders.length, 1);
    const lead = leaders[0] as string;
    c.propose(lead, "after");
    c.stabilize();
    for (const id of ["n2", "n3", "n4"]) assert.deepEqual(c.appliedOf(id), ["after"], id);
    assert.equal(old.role, "Follower");
  });
});

describe("leadership transfer and membership", () => {
  test("a transfer aborts after an election timeout", () => {
    const c = new Cluster(["n1", "n2", "n3"], conf(["n1", "n2", "n3"]));
    const r = c.elect("n1");
    c.propose("n1", "x");
    c.stabilize();
    c.isolate("n2");
    c.propose("n1", "y");
    c.stabilize();
    r.transferLeadership(n("n2"));
    assert.equal(r.status().leadTransferee, "n2");
    assert.throws(() => r.propose(bytes("z")), /transfer to n2 in progress/);
    for (let i = 0; i < 10; i++) {
      c.tick("n1");
      c.stabilize();
    }
    assert.equal(r.status().leadTransferee, NO_NODE);
    assert.equal(r.role, "Leader");
    c.propose("n1", "z");
  });

  test("a transfer to a member removed meanwhile is aborted", () => {
    const c = new Cluster(["n1", "n2", "n3"], conf(["n1", "n2", "n3"]));
    const r = c.elect("n1");
    c.isolate("n3");
    c.propose("n1", "x");
    c.stabilize();
    c.proposeConfChange("n1", cc("Auto", ["RemoveNode", "n3"]));
    // Started before the removal entry is applied.
    r.transferLeadership(n("n3"));
    c.stabilize();
    c.run(1);
    assert.equal(r.status().leadTransferee, NO_NODE);
    assert.ok(r.log.applied >= asIndex(1));
  });
});

describe("a removed member that was partitioned comes back", () => {
  for (const preVote of [true, false]) {
    test(`it cannot disrupt the cluster (${preVote ? "pre-vote" : "check-quorum lease, no pre-vote"})`, () => {
      const c = new Cluster(["n1", "n2", "n3"], conf(["n1", "n2", "n3"]), {
        preVote,
        checkQuorum: true,
      });
      c.elect("n1");
      c.propose("n1", "before");
      c.stabilize();
      // n3 is cut off, then removed: it never learns of its removal.
      c.isolate("n3");
      c.proposeConfChange("n1", cc("Auto", ["RemoveNode", "n3"]));
      c.stabilize();
      assert.deepEqual(c.node("n1").tracker.confState, conf(["n1", "n2"]));
      assert.deepEqual(c.node("n3").tracker.confState, conf(["n1", "n2", "n3"]));
      const term = c.node("n1").term;
      // Alone, it times out again and again (without pre-vote its term climbs).
      c.run(80);
      if (!preVote) assert.ok(c.node("n3").term > term, "n3 campaigned with higher terms");
      // Back on the network: its vote requests reach n1 and n2, which ignore them.
      c.heal();
      c.run(80);
      assert.equal(c.node("n1").role, "Leader");
      assert.equal(c.node("n1").term, term, "the cluster's term did not move");
      assert.notEqual(c.node("n3").role, "Leader");
      c.propose("n1", "after");
      c.stabilize();
      assert.deepEqual(c.appliedOf("n2"), ["before", "after"]);
      assert.deepEqual(c.appliedOf("n3"), ["before"], "n3 gets nothing after its removal");
    });
  }
});
