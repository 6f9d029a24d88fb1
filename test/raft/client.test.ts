// What clients see of the core: linearizable reads through ReadIndex (thesis §6.4), proposals
// refused on a non-leader (NotLeaderError with a hint), and leadership transfer (thesis §3.10).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { NotLeaderError, RaftError } from "../../src/raft/index.js";
import { and, between, bytes, from, Network, nid, ofType } from "./harness.js";

const heartbeatsWith = (context: string) => (m: { type: string; context?: string }) =>
  m.type === "Heartbeat" && m.context === context;

describe("ReadIndex (thesis §6.4)", () => {
  test("the leader answers with its commit index only after a quorum acknowledged a heartbeat round", () => {
    const net = new Network({ size: 3 });
    const leader = net.elect("n1");
    net.propose("n1", "x");
    net.stabilize();
    net.readIndex("n1", "r1");
    assert.deepEqual(
      net.pending(heartbeatsWith("r1")).map((m) => m.to),
      ["n2", "n3"],
    );
    assert.deepEqual(net.readStates.get(leader.id) ?? [], []);
    net.deliver(ofType("Heartbeat"));
    assert.deepEqual(
      net.readStates.get(leader.id) ?? [],
      [],
      "no answer while the acknowledgements travel",
    );
    net.deliverFirst(and(from("n2"), ofType("HeartbeatResponse")));
    assert.deepEqual(net.readStates.get(leader.id), [{ index: 2, context: "r1" }]);
    net.stabilize();
    assert.equal(net.readStates.get(leader.id)?.length, 1, "answered once");
  });

  test("an isolated leader never answers, and drops the read when it steps down", () => {
    const net = new Network({ size: 3 });
    const leader = net.elect("n1");
    net.isolate("n1");
    net.readIndex("n1", "r1");
    for (let i = 0; i < 30 && leader.role === "Leader"; i++) {
      net.tick("n1");
      net.stabilize();
    }
    assert.equal(leader.role, "Follower");
    assert.deepEqual(net.readStates.get(leader.id) ?? [], []);
    assert.deepEqual(net.droppedReads.get(leader.id), ["r1"]);
  });

  test("a new leader holds reads until it has committed an entry of its term", () => {
    const net = new Network({ size: 3 });
    net.elect("n1");
    net.propose("n1", "x");
    net.stabilize();
    // n2 takes over; only the votes are delivered, so its no-op is not committed yet.
    net.isolate("n1");
    net.tick("n3", 10); // out of n1's lease
    net.drop();
    net.campaign("n2");
    net.stabilize(ofType("VoteRequest", "VoteResponse"));
    const leader = net.node("n2");
    assert.equal(leader.role, "Leader");
    assert.equal(leader.log.committed, 2, "knows only the old commit index");
    net.readIndex("n2", "r");
    assert.deepEqual(net.pending(heartbeatsWith("r")), [], "no read round yet");
    net.stabilize(between("n2", "n3"));
    assert.equal(leader.log.committed, 3);
    assert.deepEqual(net.readStates.get(leader.id), [{ index: 3, context: "r" }]);
  });

  test("a follower's read is forwarded to the leader and answered", () => {
    const net = new Network({ size: 3 });
    const leader = net.elect("n1");
    net.propose("n1", "x");
    net.stabilize();
    net.readIndex("n2", "f1");
    assert.deepEqual(
      net.pending(ofType("ReadIndexRequest")).map((m) => `${m.from}->${m.to}`),
      ["n2->n1"],
    );
    net.stabilize();
    assert.deepEqual(net.readStates.get(net.node("n2").id), [
      { index: leader.log.committed, context: "f1" },
    ]);
  });

  test("a follower that knows no leader refuses reads with NO_LEADER", () => {
    const net = new Network({ size: 3 });
    assert.throws(
      () => net.readIndex("n2", "r"),
      (e: unknown) => e instanceof RaftError && e.code === "NO_LEADER",
    );
  });

  test("a single-voter leader answers at once", () => {
    const net = new Network({ size: 1 });
    net.campaign("n1");
    net.readIndex("n1", "r");
    assert.deepEqual(net.readStates.get(net.node("n1").id), [{ index: 1, context: "r" }]);
  });
});

describe("proposals", () => {
  test("a follower refuses proposals with NotLeaderError and a leader hint", () => {
    const net = new Network({ size: 3 });
    net.elect("n1");
    assert.throws(
      () => net.propose("n2", "x"),
      (e: unknown) =>
        e instanceof NotLeaderError && e.code === "NOT_LEADER" && e.leaderHint === "n1",
    );
    const fresh = new Network({ size: 3 });
    assert.throws(
      () => fresh.propose("n2", "x"),
      (e: unknown) => e instanceof NotLeaderError && e.leaderHint === "",
      "no leader known: empty hint",
    );
  });

  test("proposeOrForward on a follower forwards to the leader, which appends it", () => {
    const net = new Network({ size: 3 });
    net.elect("n1");
    const follower = net.node("n2");
    assert.equal(
      follower.proposeOrForward(bytes("fwd")),
      undefined,
      "no index: the proposal may still be lost",
    );
    net.process(follower.id);
    assert.deepEqual(
      net.pending(ofType("ProposalForward")).map((m) => `${m.from}->${m.to}`),
      ["n2->n1"],
    );
    net.stabilize();
    for (const id of ["n1", "n2", "n3"]) assert.deepEqual(net.appliedData(id), ["fwd"]);
    assert.deepEqual(net.node("n1").proposeOrForward(bytes("direct")), { index: 3, term: 1 });
    assert.throws(
      () => new Network({ size: 3 }).node("n2").proposeOrForward(bytes("x")),
      (e: unknown) => e instanceof NotLeaderError && e.leaderHint === "",
      "no leader known",
    );
  });

  test("a leader holds at most forwardedProposalsMax forwarded proposals per Ready; the rest are dropped", () => {
    const net = new Network({ size: 3, forwardedProposalsMax: 2 });
    net.elect("n1");
    const follower = net.node("n2");
    for (const d of ["f1", "f2", "f3"]) follower.proposeOrForward(bytes(d));
    net.process(follower.id);
    net.stabilize();
    for (const id of ["n1", "n2", "n3"]) assert.deepEqual(net.appliedData(id), ["f1", "f2"]);
  });

  test("proposals forwarded before the next Ready travel in one message, in order", () => {
    const net = new Network({ size: 3 });
    net.elect("n1");
    const follower = net.node("n2");
    for (const d of ["f1", "f2", "f3"]) follower.proposeOrForward(bytes(d));
    net.process(follower.id);
    const forwards = net.pending(ofType("ProposalForward"));
    assert.equal(forwards.length, 1);
    assert.equal(forwards[0]?.type === "ProposalForward" && forwards[0].proposals.length, 3);
    follower.proposeOrForward(bytes("f4"));
    net.process(follower.id);
    assert.equal(net.pending(ofType("ProposalForward")).length, 2, "a later Ready: a new message");
    net.stabilize();
    for (const id of ["n1", "n2", "n3"]) {
      assert.deepEqual(net.appliedData(id), ["f1", "f2", "f3", "f4"]);
    }
  });

  test("a forwarded proposal is dropped, not thrown, while the leader transfers leadership", () => {
    const net = new Network({ size: 3 });
    const leader = net.elect("n1");
    net.isolate("n3");
    net.propose("n1", "x");
    net.stabilize();
    leader.transferLeadership(nid("n3"));
    net.node("n2").proposeOrForward(bytes("during"));
    net.process(nid("n2"));
    assert.doesNotThrow(() => net.stabilize());
    assert.equal(net.droppedProposals, 1);
    assert.deepEqual(net.appliedData("n1"), ["x"]);
  });

  test("a leader's proposal is replicated, committed and applied everywhere in order", () => {
    const net = new Network({ size: 3 });
    net.elect("n1");
    const a = net.propose("n1", "a");
    const b = net.propose("n1", "b");
    assert.deepEqual([a.index, b.index, a.term], [2, 3, 1]);
    net.stabilize();
    for (const id of ["n1", "n2", "n3"]) assert.deepEqual(net.appliedData(id), ["a", "b"]);
  });
});

describe("leadership transfer (thesis §3.10)", () => {
  test("transferLeadership(to) makes `to` leader in a later term", () => {
    const net = new Network({ size: 3 });
    const old = net.elect("n1");
    old.transferLeadership(nid("n2"));
    net.process(old.id);
    assert.deepEqual(
      net.pending(ofType("TimeoutNow")).map((m) => m.to),
      ["n2"],
      "n2 is up to date: told to campaign at once",
    );
    net.stabilize();
    const next = net.node("n2");
    assert.equal(next.role, "Leader");
    assert.equal(next.term, 2);
    assert.equal(old.role, "Follower");
    assert.equal(old.lead, "n2");
    assert.ok(
      net.history.some((m) => m.type === "VoteRequest" && m.transfer && !m.preVote),
      "skips pre-vote and the lease",
    );
    assert.deepEqual(net.violations, []);
  });

  test("proposals are refused during a transfer; the transferee is caught up first", () => {
    const net = new Network({ size: 3 });
    const old = net.elect("n1");
    net.isolate("n3");
    net.propose("n1", "x");
    net.stabilize();
    old.transferLeadership(nid("n3"));
    net.process(old.id);
    assert.deepEqual(net.pending(ofType("TimeoutNow")), [], "n3 lags: no TimeoutNow yet");
    assert.throws(
      () => old.propose(bytes("y")),
      (e: unknown) => e instanceof RaftError && e.code === "PROPOSAL_DROPPED",
    );
    net.heal();
    net.tick("n1");
    net.stabilize();
    assert.equal(net.node("n3").role, "Leader");
    assert.equal(net.node("n3").term, 2);
    assert.deepEqual(net.appliedData("n3"), ["x"]);
    assert.throws(
      () => old.transferLeadership(nid("n2")),
      NotLeaderError,
      "only a leader transfers",
    );
  });

  test("a transfer that does not finish within an election timeout is abandoned", () => {
    const net = new Network({ size: 3 });
    const old = net.elect("n1");
    net.isolate("n3");
    net.propose("n1", "x");
    net.stabilize();
    old.transferLeadership(nid("n3"));
    for (let i = 0; i < 10; i++) {
      net.tick("n1");
      net.stabilize(not3);
    }
    assert.equal(old.role, "Leader");
    assert.equal(old.status().leadTransferee, "");
    net.propose("n1", "y");
    net.stabilize();
    assert.deepEqual(net.appliedData("n2"), ["x", "y"]);
  });
});

const not3 = (m: { to: string; from: string }): boolean => m.to !== "n3" && m.from !== "n3";

describe("lease reads (readMode lease)", () => {
  const lease = { size: 3, readMode: "lease", leaseClockDrift: 0.1 } as const;
  const heartbeats = ofType("Heartbeat");
  /** A lease-mode network whose members are past their boot vote hold, with n1 elected. */
  const leaseNetwork = (): { net: Network; leader: ReturnType<Network["elect"]> } => {
    const net = new Network(lease);
    for (const id of ["n2", "n3"]) net.tick(id, 10);
    net.drop();
    return { net, leader: net.elect("n1") };
  };

  test("while a quorum acknowledged a recent heartbeat, the leader answers at once, with no round", () => {
    const { net, leader } = leaseNetwork();
    net.propose("n1", "x");
    net.stabilize();
    net.tick("n1");
    net.stabilize(); // a heartbeat round, acknowledged: the lease starts at this tick
    net.readIndex("n1", "r1");
    assert.deepEqual(net.readStates.get(leader.id), [{ index: 2, context: "r1" }]);
    assert.equal(net.pending(heartbeats).length, 0, "no heartbeat round for the read");
  });

  test("once the lease ran out (no acknowledgements), a read takes a heartbeat round", () => {
    const { net, leader } = leaseNetwork();
    net.propose("n1", "x");
    net.stabilize();
    // (10 − 1) / 1.1 → 8, less one tick of rounding: a lease of 7 ticks. Ack nothing for 7.
    for (let i = 0; i < 7; i++) {
      net.tick("n1");
      net.drop(heartbeats);
    }
    net.readIndex("n1", "r2");
    assert.deepEqual(net.readStates.get(leader.id) ?? [], []);
    assert.ok(net.pending(heartbeatsWith("r2")).length > 0, "a ReadIndex round instead");
    net.stabilize();
    assert.deepEqual(net.readStates.get(leader.id), [{ index: 2, context: "r2" }]);
  });

  test("after a TimeoutNow (leadership transfer) the leader no longer trusts its lease", () => {
    const { net, leader } = leaseNetwork();
    net.propose("n1", "x");
    net.stabilize();
    net.tick("n1");
    net.stabilize();
    leader.transferLeadership(nid("n2"));
    net.process(leader.id);
    net.readIndex("n1", "r3");
    assert.deepEqual(net.readStates.get(leader.id) ?? [], [], "no answer from the lease");
  });

  test("a member booting in lease mode holds its vote for an election timeout", () => {
    const { net } = leaseNetwork();
    net.propose("n1", "x");
    net.stabilize();
    net.crash("n3");
    net.restart("n3");
    net.isolate("n1");
    net.campaign("n2");
    net.stabilize();
    assert.notEqual(net.node("n2").role, "Leader", "n3 just booted: it holds its vote");
    net.tick("n3", 10);
    net.drop(); // n3's own campaign, if any, goes nowhere
    for (let i = 0; i < 25 && net.node("n2").role !== "Leader"; i++) {
      net.tick("n2");
      net.stabilize();
    }
    assert.equal(net.node("n2").role, "Leader", "after an election timeout n3 votes again");
  });

  test("without checkQuorum, lease mode is refused", () => {
    assert.throws(
      () => new Network({ ...lease, checkQuorum: false }),
      /lease reads need checkQuorum/,
    );
  });
});
