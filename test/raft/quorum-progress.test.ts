// Quorum arithmetic against brute-force oracles (every vote assignment of up to six voters,
// seeded random match indexes), and Progress (the leader's view of a follower) under seeded
// random operation sequences, checked step by step against the rules of etcd's raft flow
// control: match < next, probes one at a time, stale answers ignored, states entered cleanly.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { asIndex, asNodeId, type Index, type NodeId, Xoshiro128 } from "../../src/raft/index.js";
import { Progress } from "../../src/raft/progress.js";
import {
  jointCommitted,
  jointVoteResult,
  majorityCommitted,
  majorityVoteResult,
  type VoteResult,
} from "../../src/raft/quorum.js";

const ids = (n: number, from = 1): NodeId[] =>
  Array.from({ length: n }, (_, i) => asNodeId(`n${from + i}`));

/** The largest i that more than half of `voters` have matched (∞ for no voters). */
function committedOracle(voters: readonly NodeId[], match: ReadonlyMap<NodeId, number>): number {
  if (voters.length === 0) return Number.POSITIVE_INFINITY;
  const top = Math.max(...voters.map((v) => match.get(v) ?? 0));
  for (let i = top; i > 0; i--) {
    const have = voters.filter((v) => (match.get(v) ?? 0) >= i).length;
    if (2 * have > voters.length) return i;
  }
  return 0;
}

function voteOracle(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.length === 0) return "Won"; // no configuration to convince (a joint's empty half)
  const granted = voters.filter((v) => votes.get(v) === true).length;
  const missing = voters.filter((v) => !votes.has(v)).length;
  if (2 * granted > voters.length) return "Won";
  if (2 * (granted + missing) <= voters.length) return "Lost";
  return "Pending";
}

describe("quorum arithmetic", () => {
  test("majorityCommitted and jointCommitted agree with the oracle on random matches", () => {
    const prng = new Xoshiro128(20261203);
    for (let round = 0; round < 3000; round++) {
      const all = ids(8);
      const incoming = all.filter(() => prng.next32() % 2 === 0).slice(0, 7);
      const outgoing = all.filter(() => prng.next32() % 3 === 0);
      const match = new Map(all.map((v) => [v, prng.next32() % 12] as const));
      const of = (v: NodeId): Index => asIndex(match.get(v) ?? 0);
      const single = committedOracle(incoming, match);
      assert.equal(majorityCommitted(incoming, of), single, `${incoming} ${[...match]}`);
      assert.equal(
        jointCommitted(incoming, outgoing, of),
        Math.min(single, committedOracle(outgoing, match)),
        `joint ${incoming} | ${outgoing} ${[...match]}`,
      );
    }
  });

  test("majorityVoteResult and jointVoteResult agree with the oracle on every assignment", () => {
    for (let n = 0; n <= 6; n++) {
      const voters = ids(n);
      for (let code = 0; code < 3 ** n; code++) {
        const votes = new Map<NodeId, boolean>();
        let c = code;
        for (const v of voters) {
          const digit = c % 3;
          c = Math.floor(c / 3);
          if (digit === 1) votes.set(v, true);
          if (digit === 2) votes.set(v, false);
        }
        assert.equal(majorityVoteResult(voters, votes), voteOracle(voters, votes));
        // Joint with an overlapping outgoing set (n2.. shifted by one) and a disjoint one.
        for (const outgoing of [ids(Math.max(0, n - 1), 2), ids(3, 10)]) {
          const a = voteOracle(voters, votes);
          const b = voteOracle(outgoing, votes);
          const expected =
            a === "Lost" || b === "Lost" ? "Lost" : a === "Won" && b === "Won" ? "Won" : "Pending";
          assert.equal(
            jointVoteResult(voters, outgoing, votes),
            expected,
            `${n} ${code} ${outgoing}`,
          );
        }
      }
    }
  });

  test("the corner cases by name", () => {
    const three = ids(3);
    const match = (m: Record<string, number>) => (v: NodeId) => asIndex(m[v] ?? 0);
    assert.equal(
      majorityCommitted([], match({})),
      Number.POSITIVE_INFINITY,
      "no voters never block",
    );
    assert.equal(majorityCommitted(three, match({ n1: 5, n2: 3, n3: 1 })), 3);
    assert.equal(
      majorityCommitted(ids(4), match({ n1: 5, n2: 5, n3: 1, n4: 1 })),
      1,
      "2 of 4 is no majority",
    );
    assert.equal(
      jointCommitted(three, [], match({ n1: 4, n2: 4 })),
      4,
      "an empty outgoing set never blocks",
    );
    assert.equal(majorityVoteResult([], new Map()), "Won");
    assert.equal(
      majorityVoteResult(
        ids(4),
        new Map([
          [asNodeId("n1"), true],
          [asNodeId("n2"), true],
        ]),
      ),
      "Pending",
    );
    assert.equal(
      majorityVoteResult(
        ids(4),
        new Map([
          [asNodeId("n1"), false],
          [asNodeId("n2"), false],
        ]),
      ),
      "Lost",
      "two rejections of four leave no majority",
    );
  });
});

describe("Progress", () => {
  test("random operation sequences keep the flow-control rules", () => {
    const prng = new Xoshiro128(7);
    const pick = (n: number) => prng.next32() % n;
    for (let run = 0; run < 400; run++) {
      const inflightMax = 1 + pick(4);
      const pr = new Progress(asIndex(1 + pick(5)), inflightMax, false);
      let last = pr.next + pick(10); // the leader's last index
      for (let step = 0; step < 60; step++) {
        const before = { match: pr.match, next: pr.next, state: pr.state, paused: pr.isPaused() };
        const op = pick(8);
        let note = "";
        if (op === 0) {
          // An acknowledgement, fresh or stale.
          const index = asIndex(pick(last + 1));
          const updated = pr.maybeUpdate(index);
          note = `ack ${index}`;
          assert.equal(updated, index > before.match, `${note}: updated iff news`);
          assert.equal(pr.match, Math.max(before.match, index), `${note}: match only grows`);
          assert.ok(pr.next >= before.next, `${note}: next never falls on an ack`);
          if (updated)
            assert.equal(
              pr.isPaused() && pr.state === "Probe",
              false,
              `${note}: a probe answered unpauses`,
            );
        } else if (op === 1) {
          const rejected = asIndex(pick(last + 1));
          const hint = asIndex(pick(rejected + 1));
          const changed = pr.maybeDecrTo(rejected, hint);
          note = `reject ${rejected} hint ${hint}`;
          if (before.state === "Replicate" && rejected <= before.match) {
            assert.equal(changed, false, `${note}: stale in Replicate`);
          }
          if (before.state === "Probe" && rejected !== before.next - 1) {
            assert.equal(changed, false, `${note}: only the probe's own answer counts`);
          }
          if (!changed) assert.equal(pr.next, before.next, `${note}: ignored means unchanged`);
          else
            assert.ok(
              pr.next > pr.match && pr.next <= Math.max(rejected, before.match + 1),
              `${note}: next falls back`,
            );
        } else if (op === 2 && !pr.isPaused() && pr.state !== "Snapshot") {
          const count = pick(3);
          const upTo = asIndex(Math.min(last, pr.next + count - 1));
          pr.sentEntries(upTo >= pr.next ? upTo - pr.next + 1 : 0, upTo);
          note = `sent to ${upTo}`;
          if (before.state === "Probe") assert.ok(pr.isPaused(), `${note}: one probe at a time`);
        } else if (op === 3) {
          pr.becomeProbe();
          note = "probe";
          const expected =
            before.state === "Snapshot" ? Math.max(pr.match + 1, pr.next) : pr.match + 1;
          assert.equal(pr.next, expected, `${note}: next`);
          assert.equal(pr.isPaused(), false, `${note}: a new probe may go out`);
        } else if (op === 4) {
          pr.becomeReplicate();
          note = "replicate";
          assert.equal(pr.next, pr.match + 1);
          assert.equal(pr.inflights.size, 0, `${note}: the window starts empty`);
        } else if (op === 5) {
          const at = asIndex(pr.match + pick(5));
          pr.becomeSnapshot(at);
          note = `snapshot ${at}`;
          assert.equal(pr.next, at + 1);
          assert.equal(pr.pendingSnapshot, at);
          assert.ok(pr.isPaused(), `${note}: nothing is sent while a snapshot is on its way`);
        } else {
          last += pick(4); // the leader appended
          note = `append to ${last}`;
        }
        assert.ok(pr.match < pr.next, `${note}: match ${pr.match} < next ${pr.next}`);
        assert.ok(pr.next >= 1, `${note}: next ≥ 1`);
        if (pr.state === "Replicate")
          assert.ok(
            pr.inflights.size <= inflightMax,
            `${note}: the window holds at most ${inflightMax}`,
          );
      }
    }
  });

  test("a full window pauses Replicate until an acknowledgement frees it", () => {
    const pr = new Progress(asIndex(1), 2, false);
    pr.maybeUpdate(asIndex(0));
    pr.becomeReplicate();
    pr.sentEntries(1, asIndex(1));
    assert.equal(pr.isPaused(), false);
    pr.sentEntries(1, asIndex(2));
    assert.equal(pr.isPaused(), true, "two in flight, window of two");
    assert.equal(pr.next, 3);
    pr.inflights.freeLE(asIndex(1));
    pr.maybeUpdate(asIndex(1));
    assert.equal(pr.isPaused(), false, "acknowledging 1 frees a slot");
    assert.equal(
      pr.maybeDecrTo(asIndex(1), asIndex(0)),
      false,
      "a rejection at or below match is stale",
    );
    assert.equal(pr.maybeDecrTo(asIndex(2), asIndex(0)), true);
    assert.equal(pr.next, 2, "Replicate falls back to match + 1");
  });
});
