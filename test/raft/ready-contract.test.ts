// The Ready contract (src/raft/raft.ts header): what must be durable before which message goes
// out, that the leader's own write counts toward commitment only after advance(), and that a
// peer's malformed bytes are dropped, never thrown.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  canSendBeforePersist,
  type Entry,
  encodeConfChange,
  type Message,
  type MessageType,
  type Raft,
  type Ready,
  type Role,
  type VoteResponse,
} from "../../src/raft/index.js";
import {
  appendRequest,
  appendResponse,
  bytes,
  drain,
  entries,
  entry,
  from,
  hardState,
  heartbeat,
  index,
  lonelyRaft,
  Network,
  nid,
  persist,
  term,
  voteRequest,
  voteResponse,
} from "./harness.js";

const peers3 = ["n1", "n2", "n3"];
const earlyTypes: readonly MessageType[] = ["AppendRequest", "Heartbeat", "InstallSnapshot"];

describe("Ready contract", () => {
  test("canSendBeforePersist: only a leader's AppendRequest, Heartbeat and InstallSnapshot", () => {
    const net = new Network({ size: 3 });
    const seen = new Set<string>();
    net.onReady = (_id, rd) => {
      for (const m of rd.messages) {
        const early = canSendBeforePersist(rd, m);
        assert.equal(
          early,
          rd.leader && earlyTypes.includes(m.type),
          `${m.type} leader=${rd.leader}`,
        );
        seen.add(`${m.type}:${rd.leader}:${early}`);
      }
    };
    net.elect("n1");
    net.propose("n1", "x");
    net.readIndex("n2", "r");
    net.stabilize();
    net.tick("n1");
    net.stabilize();
    net.compact("n1");
    net.crash("n3");
    net.propose("n1", "y");
    net.stabilize();
    net.compact("n1");
    net.restart("n3");
    net.run(3);
    net.node("n1").transferLeadership(net.node("n2").id);
    net.process(net.node("n1").id);
    net.stabilize();
    for (const expected of [
      "AppendRequest:true:true",
      "Heartbeat:true:true",
      "InstallSnapshot:true:true",
      "AppendResponse:false:false",
      "VoteResponse:false:false",
      "HeartbeatResponse:false:false",
      "VoteRequest:false:false",
      "ReadIndexRequest:false:false",
      "ReadIndexResponse:true:false",
      "TimeoutNow:true:false",
    ]) {
      assert.ok(seen.has(expected), `scenario covered ${expected}`);
    }
    assert.deepEqual(net.violations, []);
  });

  test("canSendBeforePersist is false for every message of a non-leader's Ready", () => {
    const r = lonelyRaft("n2", peers3);
    r.step(appendRequest("n1", "n2", 1, [0, 0], [entry(1, 1)]));
    const [rd] = drain(r);
    assert.ok(rd !== undefined && !rd.leader);
    const types: MessageType[] = [
      "VoteRequest",
      "VoteResponse",
      "AppendRequest",
      "AppendResponse",
      "Heartbeat",
      "HeartbeatResponse",
      "InstallSnapshot",
      "ReadIndexRequest",
      "ReadIndexResponse",
      "TimeoutNow",
      "ProposalForward",
    ];
    for (const type of types) {
      const m = { type } as unknown as Message;
      assert.equal(canSendBeforePersist(rd, m), false, type);
      assert.equal(
        canSendBeforePersist({ ...rd, leader: true }, m),
        earlyTypes.includes(type),
        `${type} as leader`,
      );
    }
  });

  test("a granted vote travels in the same Ready as the hard state recording it (fsync required)", () => {
    const r = lonelyRaft("n1", peers3);
    r.step(voteRequest("n2", "n1", 1, [0, 0]));
    const [rd] = drain(r);
    assert.deepEqual(rd?.hardState, hardState(1, "n2"));
    assert.equal(rd?.mustSync, true);
    assert.deepEqual(
      rd?.messages.map((m) => m.type === "VoteResponse" && m.granted),
      [true],
    );
  });

  test("an append acknowledgement travels with the entries it acknowledges (fsync required)", () => {
    const r = lonelyRaft("n2", peers3);
    r.step(appendRequest("n1", "n2", 1, [0, 0], entries(1, 3, 1), 0));
    const [rd] = drain(r);
    assert.deepEqual(
      rd?.entries.map((e) => e.index),
      [1, 2, 3],
    );
    assert.equal(rd?.mustSync, true);
    const ack = rd?.messages[0];
    assert.ok(ack?.type === "AppendResponse" && ack.success && ack.index === 3);
  });

  test("a commit index that lets a configuration change apply is synced, hard state included", () => {
    // A configuration must never go back across a restart (seed 7038 with --reconfig: members
    // restarted into the old joint configuration needed votes only removed members could give).
    const cc: Entry = {
      index: index(2),
      term: term(1),
      type: "ConfChange",
      data: encodeConfChange({
        transition: "Auto",
        changes: [{ type: "AddVoter", node: nid("n4") }],
      }),
    };
    const r = lonelyRaft("n2", peers3, {
      hardState: hardState(1, "n1"),
      entries: [entry(1, 1), cc, entry(3, 1)],
    });
    r.step(heartbeat("n1", "n2", 1, 1));
    const [first] = drain(r);
    assert.equal(first?.mustSync, false, "commit 1 applies no configuration change");
    r.step(heartbeat("n1", "n2", 1, 3));
    const [second] = drain(r);
    assert.deepEqual(second?.hardState, hardState(1, "n1", 3));
    assert.equal(second?.mustSync, true);
    assert.deepEqual(
      second?.committedEntries.map((e) => e.type),
      ["ConfChange", "Normal"],
    );
  });

  test("a vote response teaches its commit index when our entry there has the same term", () => {
    const rejection = (commit: number, commitTerm: number) =>
      ({
        ...(voteResponse("n1", "n2", 1, false) as VoteResponse),
        commit: index(commit),
        commitTerm: term(commitTerm),
      }) satisfies VoteResponse;
    const r = lonelyRaft("n2", peers3, { hardState: hardState(1), entries: entries(1, 3, 1) });
    r.step(rejection(3, 2)); // a different entry at 3: nothing learnt
    r.step(rejection(5, 1)); // beyond our log: nothing learnt
    assert.equal(r.status().commit, 0);
    r.step(rejection(2, 1));
    const [rd] = drain(r);
    assert.deepEqual(
      rd?.committedEntries.map((e) => e.index),
      [1, 2],
    );
    assert.equal(rd?.hardState?.commit, 2);
  });

  test("a Ready that only moves the commit index needs no fsync", () => {
    const r = lonelyRaft("n2", peers3, {
      hardState: hardState(1, "n1"),
      entries: entries(1, 2, 1),
    });
    r.step(heartbeat("n1", "n2", 1, 2));
    const [rd] = drain(r);
    assert.deepEqual(rd?.hardState, hardState(1, "n1", 2));
    assert.equal(rd?.mustSync, false);
    assert.deepEqual(
      rd?.committedEntries.map((e) => e.index),
      [1, 2],
    );
  });

  test("one Ready at a time: ready() before advance() is refused", () => {
    const r = lonelyRaft("n2", peers3);
    r.step(appendRequest("n1", "n2", 1, [0, 0], [entry(1, 1)]));
    const rd = r.ready();
    assert.equal(r.hasReady(), false);
    assert.throws(() => r.ready(), { name: "AssertionError" });
    r.advance(rd);
    assert.throws(() => r.advance(rd), { name: "AssertionError" });
  });

  /** A 3-node cluster led by n1 with n3 down; n1 proposes and holds the Ready it got for it. */
  function leaderWithHeldReady(): {
    net: Network;
    leader: Raft;
    rd: Ready;
    ackFromN2: () => Message;
  } {
    const net = new Network({ size: 3 });
    const leader = net.elect("n1");
    net.crash("n3");
    leader.propose(bytes("x"));
    const rd = leader.ready();
    assert.deepEqual(
      rd.entries.map((e) => e.index),
      [2],
    );
    const ackFromN2 = (): Message => {
      for (const m of rd.messages) if (m.to === "n2") net.stepNow(m); // may go out before the write
      const acks = net.drop(from("n2"));
      assert.equal(acks.length, 1);
      return acks[0] as Message;
    };
    return { net, leader, rd, ackFromN2 };
  }

  test("the leader's own entry counts toward commit only after advance(): ack first", () => {
    const { net, leader, rd, ackFromN2 } = leaderWithHeldReady();
    leader.step(ackFromN2());
    assert.equal(leader.log.committed, 1, "n2's copy alone is 1 of 3 durable copies");
    persist(net.disk("n1"), rd);
    leader.advance(rd);
    assert.equal(leader.log.committed, 2, "now the leader's durable copy counts");
    net.process(leader.id);
    assert.deepEqual(net.violations, []);
  });

  test("the leader's own entry counts toward commit only after advance(): advance first", () => {
    const { net, leader, rd, ackFromN2 } = leaderWithHeldReady();
    persist(net.disk("n1"), rd);
    leader.advance(rd);
    assert.equal(leader.log.committed, 1, "the leader's copy alone is 1 of 3");
    leader.step(ackFromN2());
    assert.equal(leader.log.committed, 2);
  });

  test("committed entries are applied after they are persisted, in order, exactly once", () => {
    const net = new Network({ size: 3 });
    net.elect("n1");
    for (let i = 0; i < 10; i++) net.propose("n1", `v${i}`);
    net.stabilize();
    net.crash("n2");
    net.restart("n2");
    net.stabilize();
    for (let i = 10; i < 15; i++) net.propose("n1", `v${i}`);
    net.stabilize();
    for (const id of ["n1", "n2", "n3"]) {
      assert.deepEqual(
        net.appliedOf(id).map((a) => a.index),
        Array.from({ length: 16 }, (_, i) => i + 1),
      );
    }
    assert.deepEqual(net.violations, [], "the bench checks order and durability at every apply");
  });
});

describe("robustness: malformed messages are dropped, never thrown", () => {
  const base = appendRequest("n2", "n1", 1, [0, 0], [entry(1, 1)]) as unknown as Record<
    string,
    unknown
  >;
  const validConf = { voters: ["n1"], votersOutgoing: [], learners: [] };
  const snapshot = (confState: unknown): Record<string, unknown> => ({
    type: "InstallSnapshot",
    from: "n2",
    to: "n1",
    term: 5,
    snapshot: { meta: { index: 10, term: 5, confState }, data: new Uint8Array(0) },
  });
  const malformed: Array<{ name: string; message: unknown }> = [
    { name: "null", message: null },
    { name: "undefined", message: undefined },
    { name: "a number", message: 42 },
    { name: "a string", message: "AppendRequest" },
    { name: "an empty object", message: {} },
    { name: "an unknown type", message: { ...base, type: "Gossip" } },
    { name: "wrong `to`", message: { ...base, to: "n9" } },
    { name: "from itself", message: { ...base, from: "n1" } },
    { name: "empty `from`", message: { ...base, from: "" } },
    { name: "negative term", message: { ...base, term: -1 } },
    { name: "fractional term", message: { ...base, term: 1.5 } },
    { name: "NaN term", message: { ...base, term: Number.NaN } },
    { name: "term as a string", message: { ...base, term: "1" } },
    { name: "non-contiguous entries", message: { ...base, entries: [entry(1, 1), entry(3, 1)] } },
    {
      name: "entries not starting after prevLogIndex",
      message: { ...base, entries: [entry(2, 1)] },
    },
    { name: "entry term above the message term", message: { ...base, entries: [entry(1, 2)] } },
    {
      name: "entry terms going down",
      message: { ...base, term: 3, entries: [entry(1, 3), entry(2, 2)] },
    },
    { name: "prevLogTerm above the message term", message: { ...base, prevLogTerm: 2 } },
    { name: "entries not an array", message: { ...base, entries: "lots" } },
    {
      name: "entry data not bytes",
      message: { ...base, entries: [{ ...entry(1, 1), data: "x" }] },
    },
    {
      name: "entry of an unknown type",
      message: { ...base, entries: [{ ...entry(1, 1), type: "Weird" }] },
    },
    { name: "a null entry", message: { ...base, entries: [null] } },
    { name: "negative commit", message: { ...base, commit: -3 } },
    {
      name: "VoteRequest with a negative lastLogIndex",
      message: voteRequest("n2", "n1", 2, [-1, 1]),
    },
    {
      name: "VoteRequest without preVote",
      message: { ...voteRequest("n2", "n1", 2, [1, 1]), preVote: undefined },
    },
    {
      name: "VoteResponse with granted as a string",
      message: { ...voteResponse("n2", "n1", 1, true), granted: "yes" },
    },
    {
      name: "AppendResponse with NaN index",
      message: { ...appendResponse("n2", "n1", 1, true, 1), index: Number.NaN },
    },
    {
      name: "Heartbeat with a numeric context",
      message: { ...heartbeat("n2", "n1", 1), context: 7 },
    },
    {
      name: "ReadIndexResponse with a negative index",
      message: {
        type: "ReadIndexResponse",
        from: "n2",
        to: "n1",
        term: 1,
        context: "c",
        index: -1,
      },
    },
    {
      name: "ProposalForward without proposals",
      message: { type: "ProposalForward", from: "n2", to: "n1", term: 1 },
    },
    {
      name: "ProposalForward with data not bytes",
      message: {
        type: "ProposalForward",
        from: "n2",
        to: "n1",
        term: 1,
        proposals: [{ type: "Normal", data: "x" }],
      },
    },
    {
      name: "ProposalForward with an unknown entry type",
      message: {
        type: "ProposalForward",
        from: "n2",
        to: "n1",
        term: 1,
        proposals: [{ type: "Odd", data: bytes("x") }],
      },
    },
    {
      name: "InstallSnapshot without a snapshot",
      message: { type: "InstallSnapshot", from: "n2", to: "n1", term: 5 },
    },
    {
      name: "InstallSnapshot with its term above the message term",
      message: { ...snapshot(validConf), term: 4 },
    },
  ];

  // Configurations a snapshot must not carry: setConf() would throw on them (or accept garbage).
  const badConfs: Array<{ name: string; conf: unknown }> = [
    { name: "missing votersOutgoing and learners", conf: { voters: ["n1", "n2"] } },
    { name: "duplicate voters", conf: { voters: ["n1", "n1"], votersOutgoing: [], learners: [] } },
    {
      name: "a voter that is also a learner",
      conf: { voters: ["n1", "n2"], votersOutgoing: [], learners: ["n2"] },
    },
    { name: "non-string voters", conf: { voters: [1, 2], votersOutgoing: [], learners: [] } },
  ];

  const roles: Array<{ role: Role; make: () => Raft }> = [
    { role: "Follower", make: () => lonelyRaft("n1", peers3, { hardState: hardState(1) }) },
    { role: "Leader", make: () => new Network({ size: 3 }).elect("n1") },
  ];

  /** Steps `message` into a fresh node; returns what went wrong, or "" if it was dropped cleanly. */
  function dropProblem(make: () => Raft, message: unknown): string {
    const r = make();
    const before = JSON.stringify(r.status());
    const dropped = r.droppedMessages;
    try {
      r.step(message as Message);
    } catch (e) {
      return `threw ${(e as Error).name}: ${(e as Error).message}`;
    }
    if (r.droppedMessages !== dropped + 1) return "accepted";
    if (JSON.stringify(r.status()) !== before) return "changed state";
    return "";
  }

  for (const { role, make } of roles) {
    test(`${role}: ${malformed.length} kinds of malformed message are dropped and counted`, () => {
      const problems = malformed
        .map((c) => [c.name, dropProblem(make, c.message)])
        .filter(([, p]) => p !== "");
      assert.deepEqual(problems, []);
    });

    test(`${role}: InstallSnapshot with an invalid confState is dropped, not thrown`, () => {
      const problems = badConfs
        .map((c) => [c.name, dropProblem(make, snapshot(c.conf))])
        .filter(([, p]) => p !== "");
      assert.deepEqual(problems, []);
    });

    test(`${role}: VoteRequest with a non-boolean transfer flag is dropped`, () => {
      const m = { ...voteRequest("n2", "n1", 2, [9, 9]), transfer: "yes" };
      assert.equal(dropProblem(make, m), "");
    });
  }

  test("a well-formed message from an unknown member does not crash the leader", () => {
    const net = new Network({ size: 3 });
    const leader = net.elect("n1");
    for (const m of [
      {
        type: "AppendResponse",
        from: "n9",
        to: "n1",
        term: 1,
        success: true,
        index: 1,
        hintIndex: 0,
        hintTerm: 0,
      },
      { type: "HeartbeatResponse", from: "n9", to: "n1", term: 1, context: "" },
      {
        type: "VoteResponse",
        from: "n9",
        to: "n1",
        term: 1,
        preVote: false,
        granted: true,
        commit: 0,
        commitTerm: 0,
      },
    ]) {
      assert.doesNotThrow(() => leader.step(m as unknown as Message));
    }
    assert.equal(leader.role, "Leader");
  });
});
