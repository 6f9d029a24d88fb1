// Raft paper Figure 2 ("Rules for Servers: all servers", "RequestVote RPC", "Candidates") and
// the election extensions of the thesis: randomized timeouts (§5.2), pre-vote (thesis §9.6),
// check-quorum and the follower lease (thesis §4.2.3, §6.2).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type Message, type Raft, type Role, Xoshiro128 } from "../../src/raft/index.js";
import {
  and,
  appendRequest,
  appendResponse,
  drain,
  entry,
  from,
  hardState,
  heartbeat,
  lonelyRaft,
  messagesOf,
  Network,
  ofType,
  to,
  voteRequest,
  voteResponse,
} from "./harness.js";

const peers3 = ["n1", "n2", "n3"];

/** Ticks a lone node until its role changes; returns the ticks used. */
function ticksUntilRoleChange(r: Raft, bound = 100): number {
  const role = r.role;
  for (let i = 1; i <= bound; i++) {
    r.tick();
    if (r.role !== role) return i;
  }
  throw new Error(`no role change within ${bound} ticks`);
}

function votesIn(
  msgs: readonly Message[],
): Array<{ to: string; term: number; granted: boolean; preVote: boolean }> {
  return msgs.flatMap((m) =>
    m.type === "VoteResponse"
      ? [{ to: m.to, term: m.term, granted: m.granted, preVote: m.preVote }]
      : [],
  );
}

describe("all servers: a higher term makes every role a follower that adopts it (§5.1)", () => {
  const cases: Array<{ role: Role; make: () => Raft }> = [
    { role: "Follower", make: () => lonelyRaft("n1", peers3) },
    {
      role: "PreCandidate",
      make: () => {
        const r = lonelyRaft("n1", peers3);
        ticksUntilRoleChange(r);
        return r;
      },
    },
    {
      role: "Candidate",
      make: () => {
        const r = lonelyRaft("n1", peers3, {}, { preVote: false });
        ticksUntilRoleChange(r);
        return r;
      },
    },
    {
      role: "Leader",
      make: () => {
        const net = new Network({ size: 3 });
        return net.elect("n1");
      },
    },
  ];
  for (const { role, make } of cases) {
    test(`${role} steps down on a higher-term message`, () => {
      const r = make();
      assert.equal(r.role, role);
      const before = r.term;
      r.step(heartbeat("n2", "n1", before + 3));
      assert.equal(r.role, "Follower");
      assert.equal(r.term, before + 3);
      assert.equal(r.lead, "n2");
      assert.equal(
        r.hardState().term,
        before + 3,
        "the new term is part of the hard state to persist",
      );
      assert.equal(r.vote, "", "a new term starts without a vote");
    });
  }

  test("a leader steps down on a higher-term AppendResponse (a follower that moved on)", () => {
    const net = new Network({ size: 3 });
    const leader = net.elect("n1");
    net.stepNow(appendResponse("n2", "n1", 9, false, 0));
    assert.equal(leader.role, "Follower");
    assert.equal(leader.term, 9);
    assert.equal(leader.lead, "", "the responder is not a leader");
  });
});

describe("all servers: stale-term messages are rejected or ignored (§5.1)", () => {
  test("a stale AppendRequest changes nothing and is answered with the current term", () => {
    const r = lonelyRaft("n2", peers3, { hardState: hardState(5), entries: [entry(1, 1)] });
    r.step(appendRequest("n1", "n2", 3, [1, 1], [entry(2, 3)], 2));
    assert.equal(r.log.lastIndex(), 1);
    assert.equal(r.log.committed, 0);
    assert.equal(r.term, 5);
    assert.equal(r.lead, "");
    const replies = messagesOf(drain(r));
    assert.equal(replies.length, 1);
    const reply = replies[0];
    assert.ok(reply?.type === "AppendResponse");
    assert.equal(reply.success, false);
    assert.equal(reply.term, 5, "the stale leader learns the newer term from the reply");
  });

  test("a stale Heartbeat neither sets the leader nor the commit index", () => {
    const r = lonelyRaft("n2", peers3, { hardState: hardState(5), entries: [entry(1, 1)] });
    r.step(heartbeat("n1", "n2", 4, 1));
    assert.equal(r.lead, "");
    assert.equal(r.log.committed, 0);
  });

  test("a stale VoteResponse is not counted", () => {
    const net = new Network({ size: 3, preVote: false });
    net.campaign("n1");
    net.drop();
    const c = net.node("n1");
    net.campaign("n1"); // a second timeout: candidate again, in term 2
    assert.equal(c.role, "Candidate");
    assert.equal(c.term, 2);
    net.stepNow(voteResponse("n2", "n1", 1, true));
    assert.equal(c.role, "Candidate", "a grant for term 1 does not elect a term-2 candidate");
    net.stepNow(voteResponse("n2", "n1", 2, true));
    assert.equal(c.role, "Leader");
  });
});

describe("RequestVote receiver (Figure 2)", () => {
  test("refuses a request whose term is below currentTerm", () => {
    const r = lonelyRaft("n1", peers3, { hardState: hardState(5) });
    r.step(voteRequest("n2", "n1", 4, [100, 4]));
    r.step(voteRequest("n3", "n1", 4, [100, 4], { preVote: true }));
    const votes = votesIn(messagesOf(drain(r)));
    assert.ok(votes.every((v) => !v.granted));
    assert.deepEqual(votes, [{ to: "n3", term: 5, granted: false, preVote: true }]);
    assert.equal(r.term, 5);
    assert.equal(r.vote, "");
  });

  test("grants at most one vote per term, and remembers it across a crash", () => {
    const net = new Network({ size: 3, preVote: false });
    net.stepNow(voteRequest("n2", "n1", 1, [0, 0]));
    assert.deepEqual(net.disk("n1").hardState, hardState(1, "n2"), "the vote is persisted");
    net.stepNow(voteRequest("n3", "n1", 1, [0, 0]));
    net.crash("n1");
    net.restart("n1");
    net.stepNow(voteRequest("n3", "n1", 1, [0, 0]));
    net.stepNow(voteRequest("n2", "n1", 1, [0, 0]));
    const votes = votesIn(net.history.filter(from("n1")));
    assert.deepEqual(votes, [
      { to: "n2", term: 1, granted: true, preVote: false },
      { to: "n3", term: 1, granted: false, preVote: false },
      { to: "n3", term: 1, granted: false, preVote: false },
      { to: "n2", term: 1, granted: true, preVote: false }, // a retransmission is granted again
    ]);
    assert.deepEqual(net.violations, []);
  });

  /** Whether a voter with log 1:1 2:2 3:2 grants a term-3 vote to a candidate whose last entry is `last`. */
  function grants(last: [number, number]): boolean {
    const r = lonelyRaft("n1", peers3, {
      hardState: hardState(2),
      entries: [entry(1, 1), entry(2, 2), entry(3, 2)],
    });
    r.step(voteRequest("n2", "n1", 3, last));
    const votes = votesIn(messagesOf(drain(r)));
    assert.equal(votes.length, 1);
    assert.equal(r.term, 3, "the higher term is adopted either way");
    assert.equal(r.vote, votes[0]?.granted ? "n2" : "");
    return votes[0]?.granted ?? false;
  }

  test("grants only to an at-least-as-up-to-date log (§5.4.1): the last terms decide first", () => {
    assert.equal(grants([1, 3]), true, "higher last term, shorter log");
    assert.equal(grants([9, 1]), false, "lower last term, longer log");
  });

  test("grants only to an at-least-as-up-to-date log (§5.4.1): with equal last terms, the longer log", () => {
    assert.equal(grants([2, 2]), false, "shorter");
    assert.equal(grants([3, 2]), true, "same length");
    assert.equal(grants([4, 2]), true, "longer");
  });

  test("pre-votes change neither term nor vote of the voter", () => {
    const r = lonelyRaft("n1", peers3, { hardState: hardState(2), entries: [entry(1, 2)] });
    r.step(voteRequest("n2", "n1", 3, [1, 2], { preVote: true }));
    assert.deepEqual(votesIn(messagesOf(drain(r))), [
      { to: "n2", term: 3, granted: true, preVote: true },
    ]);
    assert.equal(r.term, 2);
    assert.equal(r.vote, "");
  });
});

describe("elections (§5.2)", () => {
  test("election timeouts are randomized within [electionTicks, 2·electionTicks)", () => {
    const seen = new Set<number>();
    for (let seed = 1; seed <= 200; seed++) {
      const r = lonelyRaft("n1", peers3, {}, { preVote: false, prng: new Xoshiro128(seed) });
      const first = ticksUntilRoleChange(r);
      assert.ok(first >= 10 && first < 20, `seed ${seed}: first timeout after ${first} ticks`);
      seen.add(first);
      // A candidate that hears nothing times out again, with a fresh random timeout.
      let again = 0;
      while (r.term === 1) {
        r.tick();
        again++;
      }
      assert.ok(again >= 10 && again < 20, `seed ${seed}: second timeout after ${again} ticks`);
      seen.add(again);
    }
    assert.equal(seen.size, 10, "every value of the range occurs");
  });

  test("a single node elects itself and commits alone", () => {
    const net = new Network({ size: 1 });
    const r = net.node("n1");
    const ticks = net.campaign("n1");
    assert.ok(ticks >= 10 && ticks < 20);
    assert.equal(r.role, "Leader");
    assert.equal(r.term, 1);
    net.propose("n1", "x");
    assert.deepEqual(net.appliedData("n1"), ["x"]);
    assert.equal(r.log.committed, 2);
  });

  test("a candidate wins with a majority of votes and sends a no-op of its term", () => {
    const net = new Network({ size: 5, preVote: false });
    net.campaign("n1");
    net.cut("n4", "n1");
    net.cut("n5", "n1");
    net.stabilize(ofType("VoteRequest", "VoteResponse"));
    const r = net.node("n1");
    assert.equal(r.role, "Leader", "3 of 5 votes elect");
    const noop = r.log.entry(r.log.lastIndex());
    assert.deepEqual(
      { term: noop?.term, type: noop?.type, bytes: noop?.data.length },
      { term: 1, type: "Normal", bytes: 0 },
    );
  });

  test("split votes are resolved eventually by randomized timeouts", () => {
    const net = new Network({ size: 4, preVote: false, seed: 3 });
    net.campaign("n1");
    net.campaign("n2");
    assert.equal(net.node("n1").term, 1);
    assert.equal(net.node("n2").term, 1);
    net.deliver(and(from("n1"), to("n3"), ofType("VoteRequest")));
    net.deliver(and(from("n2"), to("n4"), ofType("VoteRequest")));
    net.stabilize();
    assert.deepEqual(net.leaders(), [], "2 votes of 4 elect nobody");
    let rounds = 0;
    while (net.leaders().length === 0) {
      assert.ok(++rounds <= 200, "no leader after 200 rounds");
      net.run(1);
    }
    assert.equal(net.leaders().length, 1);
    assert.ok((net.leaders()[0]?.term ?? 0) >= 2);
    assert.deepEqual(net.violations, []);
  });

  test("a candidate steps down on AppendEntries from a leader of the same term", () => {
    const r = lonelyRaft("n1", peers3, {}, { preVote: false });
    ticksUntilRoleChange(r);
    assert.equal(r.role, "Candidate");
    r.step(appendRequest("n2", "n1", 1, [0, 0], [entry(1, 1)]));
    assert.equal(r.role, "Follower");
    assert.equal(r.term, 1);
    assert.equal(r.lead, "n2");
    assert.equal(r.log.lastIndex(), 1, "and accepts the entries");
    const other = lonelyRaft("n1", peers3, {}, { preVote: false });
    ticksUntilRoleChange(other);
    other.step(heartbeat("n3", "n1", 1));
    assert.equal(other.role, "Follower", "a Heartbeat does the same");
    assert.equal(other.lead, "n3");
  });

  test("a candidate that loses the vote returns to follower", () => {
    const r = lonelyRaft(
      "n1",
      peers3,
      { hardState: hardState(1), entries: [entry(1, 1)] },
      { preVote: false },
    );
    ticksUntilRoleChange(r);
    r.step(voteResponse("n2", "n1", 2, false));
    assert.equal(r.role, "Candidate", "one rejection of three: still pending");
    r.step(voteResponse("n3", "n1", 2, false));
    assert.equal(r.role, "Follower");
    assert.equal(r.term, 2);
  });
});

describe("pre-vote (thesis §9.6)", () => {
  test("a partitioned node does not raise its term, and on rejoining does not disrupt the leader", () => {
    const net = new Network({ size: 3 });
    const leader = net.elect("n1");
    net.isolate("n3");
    net.run(100);
    assert.equal(net.node("n3").term, 1, "pre-votes never succeed, so the term stays");
    assert.notEqual(net.node("n3").role, "Candidate");
    net.heal();
    net.run(30);
    assert.equal(leader.role, "Leader");
    assert.equal(leader.term, 1);
    assert.equal(net.node("n3").lead, "n1");
    assert.deepEqual(net.violations, []);
  });

  test("without pre-vote the same partition raises the term and deposes the leader", () => {
    const net = new Network({ size: 3, preVote: false });
    const leader = net.elect("n1");
    net.isolate("n3");
    net.run(100);
    assert.ok(net.node("n3").term > 5, `n3 campaigned alone up to term ${net.node("n3").term}`);
    net.heal();
    net.run(60);
    assert.ok(leader.term > 1, "the old leader had to move to a newer term");
    const current = net.leaders();
    assert.equal(current.length, 1);
    assert.ok((current[0]?.term ?? 0) > 1);
    assert.deepEqual(net.violations, []);
  });

  test("a pre-candidate becomes candidate only after a majority of pre-votes", () => {
    const net = new Network({ size: 3 });
    net.campaign("n1");
    const r = net.node("n1");
    assert.equal(r.role, "PreCandidate");
    assert.equal(r.term, 0);
    const requests = net.pending(ofType("VoteRequest"));
    assert.ok(requests.every((m) => m.type === "VoteRequest" && m.preVote && m.term === 1));
    net.deliver(and(to("n2"), ofType("VoteRequest")));
    net.deliver(and(from("n2"), ofType("VoteResponse")));
    assert.equal(r.role, "Candidate");
    assert.equal(r.term, 1);
  });
});

describe("check-quorum (thesis §6.2)", () => {
  test("a leader cut off from the majority steps down within two election timeouts", () => {
    const net = new Network({ size: 3 });
    const leader = net.elect("n1");
    net.run(50);
    assert.equal(leader.role, "Leader", "a connected leader stays");
    net.isolate("n1");
    let ticks = 0;
    while (leader.role === "Leader") {
      assert.ok(++ticks <= 20, "still leader after 2 election timeouts");
      net.tick("n1");
    }
    assert.ok(ticks > 10, `stepped down after ${ticks} ticks (needs one full quiet round)`);
    assert.equal(leader.term, 1, "stepping down does not change the term");
  });

  test("without check-quorum an isolated leader stays leader", () => {
    const net = new Network({ size: 3, checkQuorum: false });
    const leader = net.elect("n1");
    net.isolate("n1");
    net.tick("n1", 100);
    assert.equal(leader.role, "Leader");
  });

  test("a follower in its leader lease ignores vote requests", () => {
    const net = new Network({ size: 3 });
    net.elect("n1");
    const r = net.node("n2");
    net.stepNow(voteRequest("n3", "n2", 2, [100, 1]));
    assert.equal(r.term, 1);
    assert.equal(r.vote, "n1");
    assert.deepEqual(net.pending(from("n2")), []);
    // Once it has not heard from the leader for an election timeout the lease is over.
    net.tick("n2", 10);
    net.drop();
    net.stepNow(voteRequest("n3", "n2", 2, [100, 1]));
    assert.equal(r.term, 2);
    assert.deepEqual(votesIn(net.pending(from("n2"))), [
      { to: "n3", term: 2, granted: true, preVote: false },
    ]);
  });

  test("a leader told of a newer term by a stale-term reply steps down", () => {
    const net = new Network({ size: 3 });
    const leader = net.elect("n1");
    net.isolate("n1");
    // n1 is cut off but does not tick (a paused process); n2 and n3 elect a new leader.
    for (let round = 0; round < 40; round++) {
      net.tick("n2");
      net.tick("n3");
      net.stabilize();
    }
    assert.equal(net.leaders().filter((l) => l.id !== "n1").length, 1);
    net.heal();
    net.tick("n1");
    net.stabilize();
    assert.equal(leader.role, "Follower");
    assert.ok(leader.term >= 2);
    assert.deepEqual(net.violations, []);
  });
});

test("after an election every node holds the leader's no-op, committed", () => {
  const net = new Network({ size: 3 });
  net.elect("n1");
  for (const id of ["n1", "n2", "n3"]) assert.deepEqual(net.logOf(id), ["1:1"]);
  assert.deepEqual(
    ["n1", "n2", "n3"].map((id) => net.node(id).log.committed),
    [1, 1, 1],
  );
});
