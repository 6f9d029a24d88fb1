// Raft paper Figure 2: the AppendEntries receiver rules and the leader's rules (no-op,
// heartbeats, nextIndex/matchIndex, commit by majority of the current term, §5.3/§5.4.2), plus
// what the core adds: fast backtracking, flow control (inflight window, bytes per message,
// recovery of lost appends) and snapshots for followers that fell behind compaction.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Message } from "../../src/raft/index.js";
import {
  and,
  appendRequest,
  between,
  bytes,
  drain,
  entries,
  entry,
  from,
  hardState,
  heartbeat,
  index,
  lonelyRaft,
  messagesOf,
  Network,
  ofType,
  to,
} from "./harness.js";

const peers3 = ["n1", "n2", "n3"];

function appendResponses(
  msgs: readonly Message[],
): Array<{ success: boolean; index: number; hint: string }> {
  return msgs.flatMap((m) =>
    m.type === "AppendResponse"
      ? [{ success: m.success, index: m.index, hint: `${m.hintIndex}:${m.hintTerm}` }]
      : [],
  );
}

const withEntries = (m: Message): boolean => m.type === "AppendRequest" && m.entries.length > 0;

describe("AppendEntries receiver (Figure 2)", () => {
  test("rejects when the log has no entry at prevLogIndex", () => {
    const r = lonelyRaft("n2", peers3, {
      hardState: hardState(2),
      entries: [entry(1, 1), entry(2, 1)],
    });
    r.step(appendRequest("n1", "n2", 2, [3, 2], [entry(4, 2)]));
    assert.deepEqual(appendResponses(messagesOf(drain(r))), [
      { success: false, index: 3, hint: "2:1" },
    ]);
    assert.equal(r.log.lastIndex(), 2);
  });

  test("rejects when the entry at prevLogIndex has another term", () => {
    const r = lonelyRaft("n2", peers3, {
      hardState: hardState(2),
      entries: [entry(1, 1), entry(2, 1)],
    });
    r.step(appendRequest("n1", "n2", 3, [2, 2], [entry(3, 3)]));
    assert.deepEqual(appendResponses(messagesOf(drain(r))), [
      { success: false, index: 2, hint: "2:1" },
    ]);
    assert.equal(r.log.lastIndex(), 2);
    assert.equal(
      r.log.term(index(2)),
      1,
      "the follower's entry stays until a matching append replaces it",
    );
  });

  test("deletes a conflicting entry and all that follow it, on disk too", () => {
    const net = new Network({
      size: 3,
      disks: { n2: { hardState: hardState(1, "", 1), entries: entries(1, 4, 1) } },
    });
    net.stepNow(appendRequest("n1", "n2", 2, [1, 1], [entry(2, 2, "new")]));
    assert.deepEqual(net.logOf("n2"), ["1:1", "2:2"]);
    assert.deepEqual(
      net.disk("n2").entries.map((e) => `${e.index}:${e.term}`),
      ["1:1", "2:2"],
    );
    assert.deepEqual(appendResponses(net.pending(from("n2"))), [
      { success: true, index: 2, hint: "0:0" },
    ]);
  });

  test("appends only the entries not already in the log", () => {
    const r = lonelyRaft("n2", peers3, {
      hardState: hardState(1),
      entries: [entry(1, 1), entry(2, 1)],
    });
    r.step(appendRequest("n1", "n2", 1, [1, 1], [entry(2, 1), entry(3, 1)]));
    const readies = drain(r);
    assert.deepEqual(
      readies.flatMap((rd) => rd.entries.map((e) => e.index)),
      [3],
      "entry 2 is not written again",
    );
    assert.equal(r.log.lastIndex(), 3);
  });

  test("sets commitIndex = min(leaderCommit, index of last new entry)", () => {
    const r = lonelyRaft("n2", peers3, { hardState: hardState(1), entries: entries(1, 4, 1) });
    r.step(appendRequest("n1", "n2", 1, [1, 1], [entry(2, 1, "e2t1")], 4));
    assert.equal(r.log.committed, 2, "entries 3 and 4 are not known to match the leader's");
    r.step(appendRequest("n1", "n2", 1, [2, 1], [], 1));
    assert.equal(r.log.committed, 2, "the commit index never goes back");
    r.step(appendRequest("n1", "n2", 1, [3, 1], [entry(4, 1, "e4t1")], 3));
    assert.equal(r.log.committed, 3);
  });

  test("a stale or duplicate AppendRequest does not truncate (idempotent)", () => {
    const r = lonelyRaft("n2", peers3);
    r.step(appendRequest("n1", "n2", 1, [0, 0], entries(1, 3, 1)));
    r.step(appendRequest("n1", "n2", 1, [0, 0], entries(1, 1, 1))); // delayed older copy
    r.step(appendRequest("n1", "n2", 1, [1, 1], entries(2, 2, 1)));
    r.step(appendRequest("n1", "n2", 1, [0, 0], entries(1, 3, 1))); // duplicate
    assert.equal(r.log.lastIndex(), 3);
    assert.deepEqual(
      appendResponses(messagesOf(drain(r))).map((a) => a.index),
      [3, 1, 2, 3],
      "each answer acknowledges what that request carried",
    );
  });

  test("a heartbeat commits up to the leader's commit, capped by the local log", () => {
    const r = lonelyRaft("n2", peers3, { hardState: hardState(1), entries: entries(1, 2, 1) });
    r.step(heartbeat("n1", "n2", 1, 5));
    assert.equal(r.log.committed, 2);
  });
});

describe("leader (Figure 2, §5.3)", () => {
  test("sends heartbeats every heartbeatTicks", () => {
    const net = new Network({ size: 3, heartbeatTicks: 3 });
    net.elect("n1");
    const heartbeatsAfter = (ticks: number): string[] => {
      net.tick("n1", ticks);
      return net.drop(ofType("Heartbeat")).map((m) => m.to);
    };
    assert.deepEqual(heartbeatsAfter(2), []);
    assert.deepEqual(heartbeatsAfter(1), ["n2", "n3"]);
    assert.deepEqual(heartbeatsAfter(2), []);
    assert.deepEqual(heartbeatsAfter(1), ["n2", "n3"]);
  });

  test("fast backtracking repairs a long divergent follower log in one rejection", () => {
    const net = new Network({
      size: 3,
      disks: {
        n1: {
          hardState: hardState(3, "", 10),
          entries: [...entries(1, 10, 1), ...entries(11, 40, 3)],
        },
        n2: {
          hardState: hardState(3, "", 10),
          entries: [...entries(1, 10, 1), ...entries(11, 40, 3)],
        },
        n3: {
          hardState: hardState(2, "", 10),
          entries: [...entries(1, 10, 1), ...entries(11, 110, 2)],
        },
      },
    });
    net.elect("n1");
    const rejections = net.history.filter(
      (m) => m.type === "AppendResponse" && m.from === "n3" && !m.success,
    );
    assert.equal(rejections.length, 1, "one rejection, not one per divergent entry (30 or 100)");
    assert.deepEqual(net.logOf("n3"), net.logOf("n1"));
    assert.equal(net.node("n3").log.lastIndex(), 41);
    assert.deepEqual(net.violations, []);
  });

  test("fast backtracking skips a short follower's missing suffix in one rejection", () => {
    const log = entries(1, 60, 1);
    const net = new Network({
      size: 3,
      disks: {
        n1: { hardState: hardState(1, "", 5), entries: log },
        n2: { hardState: hardState(1, "", 5), entries: log },
        n3: { hardState: hardState(1, "", 5), entries: log.slice(0, 5) },
      },
    });
    net.elect("n1");
    const rejections = net.history.filter(
      (m) => m.type === "AppendResponse" && m.from === "n3" && !m.success,
    );
    assert.equal(rejections.length, 1);
    assert.deepEqual(net.logOf("n3"), net.logOf("n1"));
  });

  test("tracks matchIndex and commits once a majority matches", () => {
    const net = new Network({ size: 5 });
    const leader = net.elect("n1");
    const { index } = net.propose("n1", "x");
    const match = (id: string): number =>
      leader.status().progress.find((p) => p.id === id)?.match ?? -1;
    net.stabilize(between("n1", "n2"));
    assert.equal(match("n2"), index);
    assert.equal(leader.log.committed, index - 1, "leader + n2 are 2 of 5");
    net.stabilize(between("n1", "n3"));
    assert.equal(match("n3"), index);
    assert.equal(leader.log.committed, index, "leader + n2 + n3 are a majority");
    assert.ok(match("n4") < index && match("n5") < index);
    net.stabilize();
    assert.deepEqual(net.appliedData("n5"), ["x"]);
  });

  test("commits an earlier term's entry only through an entry of its own term (§5.4.2)", () => {
    const net = new Network({
      size: 3,
      messageBytesMax: 1, // one entry per AppendRequest, so each step below is visible
      disks: {
        n1: { hardState: hardState(1, "", 1), entries: [entry(1, 1), entry(2, 1, "old")] },
        n2: { hardState: hardState(1, "", 1), entries: [entry(1, 1)] },
        n3: { hardState: hardState(1, "", 1), entries: [entry(1, 1)] },
      },
    });
    net.campaign("n1");
    net.stabilize(ofType("VoteRequest", "VoteResponse"));
    const leader = net.node("n1");
    assert.equal(leader.role, "Leader");
    assert.equal(leader.term, 2);
    net.drop(to("n3"));
    // Repair n2 until it acknowledges the term-1 entry at index 2 (and not yet the no-op).
    const match2 = (): number => leader.status().progress.find((p) => p.id === "n2")?.match ?? 0;
    for (let i = 0; i < 10 && match2() < 2; i++) net.deliver(between("n1", "n2"));
    assert.equal(match2(), 2);
    assert.equal(
      leader.log.committed,
      1,
      "index 2 (term 1) is on 2 of 3 but must not be committed by counting",
    );
    net.stabilize(between("n1", "n2"));
    assert.equal(match2(), 3);
    assert.equal(leader.log.committed, 3, "the term-2 no-op commits, and index 2 with it");
    assert.deepEqual(net.violations, []);
  });
});

describe("flow control", () => {
  test("in Replicate, unacknowledged AppendRequests never exceed inflightMessagesMax", () => {
    const net = new Network({ size: 3, inflightMessagesMax: 3 });
    const leader = net.elect("n1");
    assert.equal(leader.status().progress.find((p) => p.id === "n2")?.state, "Replicate");
    for (let i = 0; i < 10; i++) net.propose("n1", `p${i}`);
    const inflight = (): number => net.pending(and(to("n2"), withEntries)).length;
    assert.equal(inflight(), 3, "the window fills and then pauses");
    let most = 0;
    for (let step = 0; step < 100 && net.pending(to("n2")).length > 0; step++) {
      net.deliverFirst(to("n2"));
      net.deliver(from("n2"));
      most = Math.max(most, inflight());
      assert.ok(inflight() <= 3, `${inflight()} appends in flight`);
    }
    assert.equal(most, 3);
    assert.equal(net.node("n2").log.lastIndex(), leader.log.lastIndex());
  });

  test("messageBytesMax bounds the entries per AppendRequest (one entry always fits)", () => {
    const entryCost = 24 + 3; // entryBytes: payload + 24
    const net = new Network({ size: 3, messageBytesMax: 2 * entryCost });
    const leader = net.elect("n1");
    for (let i = 0; i < 5; i++) leader.propose(bytes(`p${i}x`));
    leader.propose(bytes("x".repeat(500)));
    const before = net.history.length;
    net.process(leader.id);
    net.stabilize();
    const sent = net.history
      .slice(before)
      .filter(and(to("n2"), withEntries))
      .map((m) => (m.type === "AppendRequest" ? m.entries.length : 0));
    assert.deepEqual(sent, [2, 2, 1, 1], "2+2+1 small entries, then the big one alone");
    assert.equal(net.appliedData("n3").length, 6);
  });

  test("a lost append is recovered: a heartbeat response frees the window", () => {
    const net = new Network({ size: 3, inflightMessagesMax: 2 });
    const leader = net.elect("n1");
    for (let i = 0; i < 5; i++) net.propose("n1", `p${i}`);
    const lost = net.drop(to("n2"));
    assert.equal(lost.length, 2, "the full window is lost");
    net.stabilize(); // n3 keeps the commit going
    assert.equal(leader.log.committed, leader.log.lastIndex());
    assert.ok(net.node("n2").log.lastIndex() < leader.log.lastIndex());
    for (
      let round = 0;
      round < 5 && net.node("n2").log.lastIndex() < leader.log.lastIndex();
      round++
    ) {
      net.tick("n1");
      net.stabilize();
    }
    assert.deepEqual(net.logOf("n2"), net.logOf("n1"));
    assert.deepEqual(net.appliedData("n2"), ["p0", "p1", "p2", "p3", "p4"]);
  });
});

describe("snapshots", () => {
  test("a follower behind the leader's compaction gets InstallSnapshot, restores and catches up", () => {
    const net = new Network({ size: 3 });
    const leader = net.elect("n1");
    net.crash("n3");
    for (let i = 0; i < 20; i++) net.propose("n1", `v${i}`);
    net.stabilize();
    assert.equal(leader.log.applied, 21);
    net.compact("n1");
    assert.equal(leader.log.firstIndex(), 22);
    net.restart("n3");
    net.run(3);
    const snaps = net.history.filter((m) => m.type === "InstallSnapshot" && m.to === "n3");
    assert.equal(snaps.length, 1);
    assert.equal(net.disk("n3").snapshot?.meta.index, 21);
    assert.deepEqual(
      net.appliedOf("n3"),
      net.appliedOf("n1"),
      "the state machine came from the snapshot",
    );
    net.propose("n1", "after");
    net.stabilize();
    assert.deepEqual(net.appliedData("n3").slice(-2), ["v19", "after"]);
    assert.deepEqual(net.logOf("n3"), net.logOf("n1"));
    assert.deepEqual(net.violations, []);
  });

  test("a node restarts from its snapshot and re-applies only what follows it", () => {
    const net = new Network({ size: 3 });
    net.elect("n1");
    for (let i = 0; i < 5; i++) net.propose("n1", `v${i}`);
    net.stabilize();
    net.compact("n2", 4);
    const before = net.appliedOf("n2");
    net.crash("n2");
    const r = net.restart("n2");
    assert.equal(r.log.firstIndex(), 5);
    assert.deepEqual(net.appliedOf("n2"), before);
    assert.deepEqual(net.violations, []);
  });
});

describe("learners (thesis §4.2.1)", () => {
  test("a learner gets and applies the log, but its acknowledgement does not count toward commit", () => {
    const net = new Network({ size: 3, learners: 1 });
    const leader = net.elect("n1");
    assert.deepEqual(net.appliedOf("n4").length, 1, "the learner has the no-op");
    const { index } = net.propose("n1", "x");
    net.stabilize(between("n1", "n4"));
    assert.equal(net.node("n4").log.lastIndex(), index);
    assert.equal(leader.log.committed, index - 1, "leader + learner are not 2 of the 3 voters");
    net.stabilize();
    assert.equal(leader.log.committed, index);
    assert.deepEqual(net.appliedData("n4"), ["x"]);
  });

  test("a learner never campaigns and is never asked for a vote", () => {
    const net = new Network({ size: 3, learners: 1 });
    net.tick("n4", 100);
    assert.equal(net.node("n4").role, "Follower");
    assert.equal(net.node("n4").term, 0);
    assert.deepEqual(net.pending(from("n4")), []);
    net.elect("n1");
    assert.deepEqual(
      [...new Set(net.history.filter((m) => m.type === "VoteRequest").map((m) => m.to))].sort(),
      ["n2", "n3"],
    );
  });
});
