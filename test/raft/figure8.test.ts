// Raft paper Figure 8 (§5.4.2), step by step with five servers S1..S5 (n1..n5): why a leader
// must not commit an entry of an earlier term by counting replicas. Then the same script with
// the core's deliberate fault `commitPriorTermByCounting`, to show that the flag really breaks
// safety, and a script for `skipVoteUpToDateCheck` (§5.4.1).
//
// Every new leader here appends a no-op, which the paper's figure does not show; so the
// term-2 entry at index 2 is S1's term-2 no-op, and when S1 leads term 4 its first append
// carries the term-4 no-op at index 3, which reaches S2 along with it. The figure's point is
// unchanged: index 2 (term 2) sits on S1, S2, S3, a majority, before anything of term 4 does.
// Pre-vote and check-quorum are off so that the terms are exactly those of the figure.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { TestingFaults } from "../../src/raft/index.js";
import { and, between, from, Network, ofType, to } from "./harness.js";

const votes = ofType("VoteRequest", "VoteResponse");

function cluster(faults?: TestingFaults): Network {
  return new Network({
    size: 5,
    preVote: false,
    checkQuorum: false,
    messageBytesMax: 1, // one entry per AppendRequest, so each replication step is visible
    ...(faults === undefined ? {} : { testingFaults: faults }),
  });
}

/** `id` campaigns (as often as it takes) with only election traffic delivered, until it leads. */
function winElection(net: Network, id: string, attempts = 5): void {
  for (let i = 0; i < attempts; i++) {
    net.campaign(id);
    net.stabilize(votes);
    if (net.node(id).role === "Leader") return;
  }
  throw new Error(`${id} did not win within ${attempts} elections`);
}

function match(net: Network, leader: string, follower: string): number {
  return (
    net
      .node(leader)
      .status()
      .progress.find((p) => p.id === follower)?.match ?? -1
  );
}

/** Figure 8 (a) to (c). Returns with S1 leading term 4 and index 2 (term 2) on S1, S2, S3. */
function figure8UpToC(net: Network): void {
  // Term 1: S1 leads; its no-op 1:1 is committed everywhere.
  net.elect("n1");
  // (a) S1 restarts and leads term 2; its term-2 entry at index 2 reaches S2 only.
  net.crash("n1");
  net.restart("n1");
  winElection(net, "n1");
  assert.equal(net.node("n1").term, 2);
  net.deliver(and(from("n1"), to("n2"), ofType("AppendRequest")));
  net.drop();
  assert.deepEqual(net.logOf("n2"), ["1:1", "2:2"]);

  // (b) S1 crashes; S5 leads term 3 with votes from S3, S4 and itself; its entry 2:3 stays local.
  net.crash("n1");
  winElection(net, "n5");
  assert.equal(net.node("n5").term, 3);
  net.drop();
  net.crash("n5");
  assert.deepEqual(
    ["n2", "n3", "n4"].map((id) => net.logOf(id).join(" ")),
    ["1:1 2:2", "1:1", "1:1"],
  );
  assert.deepEqual(
    net.disk("n5").entries.map((e) => `${e.index}:${e.term}`),
    ["1:1", "2:3"],
  );

  // (c) S5 crashes, S1 restarts and leads term 4, and replicates index 2 (term 2) to S3.
  net.restart("n1");
  winElection(net, "n1");
  assert.equal(net.node("n1").term, 4);
  net.drop(to("n4"));
  net.stabilize(between("n1", "n2")); // S2 takes 3:4 (see the header)
  for (let i = 0; i < 10 && match(net, "n1", "n3") < 2; i++) net.deliver(between("n1", "n3"));
  assert.equal(match(net, "n1", "n3"), 2);
  assert.deepEqual(net.logOf("n3"), ["1:1", "2:2"]);
  assert.deepEqual(net.logOf("n1"), ["1:1", "2:2", "3:4"]);
}

/** Figure 8 (d): S1 crashes; S5 wins term 5 (S2 refuses: its log has 3:4) and overwrites index 2. */
function figure8D(net: Network): void {
  net.crash("n1");
  net.restart("n5");
  winElection(net, "n5");
  assert.equal(net.node("n5").term, 5);
  net.stabilize();
  for (const id of ["n2", "n3", "n4", "n5"]) assert.deepEqual(net.logOf(id), ["1:1", "2:3", "3:5"]);
  assert.equal(net.node("n5").log.committed, 3);
}

test("Figure 8 (c): a term-2 entry on a majority is not committed by the term-4 leader", () => {
  const net = cluster();
  figure8UpToC(net);
  const s1 = net.node("n1");
  assert.deepEqual(
    ["n2", "n3"].map((id) => match(net, "n1", id)),
    [3, 2],
    "S1 knows index 2 is on S1, S2 and S3",
  );
  assert.equal(s1.log.committed, 1, "but an entry of an earlier term is not committed by counting");
  assert.deepEqual(
    net.appliedOf("n1").map((a) => `${a.index}:${a.term}`),
    ["1:1"],
  );
  assert.deepEqual(net.violations, []);
});

test("Figure 8 (d): the uncommitted term-2 entry may be overwritten by S5 without harm", () => {
  const net = cluster();
  figure8UpToC(net);
  figure8D(net);
  assert.deepEqual(net.violations, [], "nobody had committed or applied 2:2");
  net.restart("n1");
  net.stabilize();
  net.run(2);
  assert.deepEqual(net.logOf("n1"), ["1:1", "2:3", "3:5"]);
  net.checkLogMatching();
  assert.deepEqual(net.violations, []);
});

test("Figure 8 (e): once S1 commits its term-4 entry, index 2 is committed and S5 cannot win", () => {
  const net = cluster();
  figure8UpToC(net);
  const s1 = net.node("n1");
  net.stabilize(between("n1", "n3"));
  assert.equal(match(net, "n1", "n3"), 3);
  assert.equal(s1.log.committed, 3, "3:4 is on a majority: it commits, and 2:2 with it");
  assert.deepEqual(
    net.appliedOf("n1").map((a) => `${a.index}:${a.term}`),
    ["1:1", "2:2", "3:4"],
  );
  // S1 crashes as in (d); S5 now loses every election: S2 and S3 hold a term-4 entry.
  net.crash("n1");
  net.restart("n5");
  for (let i = 0; i < 4; i++) {
    net.campaign("n5");
    net.stabilize(votes);
    assert.notEqual(net.node("n5").role, "Leader", `S5 won in term ${net.node("n5").term}`);
  }
  // The others go on: whoever leads keeps 2:2, and S5's 2:3 is the entry that is replaced.
  net.run(80);
  assert.equal(net.leaders().length, 1);
  for (const id of ["n2", "n3", "n4", "n5"]) assert.equal(net.logOf(id)[1], "2:2", `${id} index 2`);
  assert.equal(net.appliedOf("n5")[1]?.term, 2);
  assert.deepEqual(net.violations, []);
});

test("Figure 8 with commitPriorTermByCounting: 2:2 commits by counting, then S5 overwrites it", () => {
  const net = cluster({ commitPriorTermByCounting: true });
  figure8UpToC(net);
  const s1 = net.node("n1");
  assert.equal(s1.log.committed, 2, "the fault commits 2:2 on S3's acknowledgement");
  assert.deepEqual(
    net.appliedOf("n1").map((a) => `${a.index}:${a.term}`),
    ["1:1", "2:2"],
    "S1 applied it",
  );
  figure8D(net); // S1 crashes before anyone else learns the commit
  assert.deepEqual(
    net.appliedOf("n3").map((a) => `${a.index}:${a.term}`),
    ["1:1", "2:3", "3:5"],
  );
  assert.ok(
    net.violations.some((v) => v.startsWith("State Machine Safety") && v.includes("2:3")),
    net.violations.join("\n"),
  );
  assert.ok(
    net.violations.some((v) => v.includes("committed 2:3 where 2:2 was committed")),
    net.violations.join("\n"),
  );
  assert.ok(
    net.violations.includes("Leader Completeness: n5 (t5) lacks committed 2:2"),
    net.violations.join("\n"),
  );
});

/**
 * S1 leads term 1 and commits "a", "b" on S1, S2, S3; only S1 learns the commit (and applies
 * them) before it crashes. S4, whose log is stale, then campaigns.
 */
function staleCandidateScript(faults?: TestingFaults): Network {
  const net = cluster(faults);
  net.elect("n1");
  net.cut("n1", "n4");
  net.cut("n1", "n5");
  net.propose("n1", "a");
  net.propose("n1", "b");
  net.deliver(ofType("AppendRequest"));
  net.deliver(ofType("AppendResponse"));
  assert.equal(net.node("n1").log.committed, 3);
  assert.deepEqual(net.appliedData("n1"), ["a", "b"]);
  net.crash("n1");
  net.heal();
  for (let i = 0; i < 3 && net.node("n4").role !== "Leader"; i++) {
    net.campaign("n4");
    net.stabilize(votes);
  }
  return net;
}

test("the §5.4.1 vote restriction keeps a stale-log candidate from winning", () => {
  const net = staleCandidateScript();
  assert.notEqual(net.node("n4").role, "Leader");
  net.run(60);
  assert.ok(["n2", "n3"].includes(net.leaders()[0]?.id ?? ""), "only S2 or S3 can lead");
  assert.deepEqual(net.appliedData("n5"), ["a", "b"]);
  assert.deepEqual(net.violations, []);
});

test("skipVoteUpToDateCheck lets a stale-log candidate win and overwrite committed entries", () => {
  const net = staleCandidateScript({ skipVoteUpToDateCheck: true });
  assert.equal(net.node("n4").role, "Leader");
  net.stabilize();
  for (const id of ["n2", "n3", "n4", "n5"]) {
    assert.deepEqual(net.appliedData(id), [], `${id} lost "a" and "b"`);
    assert.deepEqual(net.logOf(id), ["1:1", "2:2"]);
  }
  assert.ok(
    net.violations.some((v) => v.startsWith("State Machine Safety")),
    net.violations.join("\n"),
  );
});
