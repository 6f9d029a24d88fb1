// The runtime's parts on their own: the session table, the proposal table, the member registry
// and the divergence detector, each with the rules its checkInvariants part enforces.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ByteReader, ByteWriter } from "../../src/lib/index.js";
import { asIndex, asTerm, type ConfState, type Entry, type NodeId } from "../../src/raft/index.js";
import { DivergenceDetector } from "../../src/rsm/divergence.js";
import { MemberRegistry } from "../../src/rsm/members.js";
import type { Outcome } from "../../src/rsm/outcome.js";
import { ProposalTable } from "../../src/rsm/proposals.js";
import { SessionTable } from "../../src/rsm/sessions.js";

const ok = (text: string): Outcome => ({ ok: true, result: new TextEncoder().encode(text) });
const failures = (check: (fail: (m: string) => void) => void): string[] => {
  const out: string[] = [];
  check((m) => out.push(m));
  return out;
};
const entry = (index: number): Entry => ({
  index: asIndex(index),
  term: asTerm(1),
  type: "Normal",
  data: new Uint8Array(0),
});
const conf = (voters: string[]): ConfState => ({
  voters: voters as NodeId[],
  votersOutgoing: [],
  learners: [],
});

describe("SessionTable", () => {
  test("a command applies once; its retry gets the first outcome; an older seq and an unknown session are refused", () => {
    const t = new SessionTable(60_000);
    const id = t.register(7, 1000);
    assert.equal(id, "s7");
    const first = t.admit(id, 1, 1001);
    assert.equal(first.apply, true);
    if (first.apply) first.record(ok("one"));
    const retry = t.admit(id, 1, 1002);
    assert.deepEqual(retry, { apply: false, outcome: ok("one") });
    const next = t.admit(id, 2, 1003);
    assert.equal(next.apply, true);
    if (next.apply) next.record(ok("two"));
    const old = t.admit(id, 1, 1004);
    assert.equal(old.apply, false);
    if (!old.apply) assert.equal(old.outcome.ok ? "" : old.outcome.code, "INVALID_ARGUMENT");
    const unknown = t.admit("s99", 1, 1005);
    assert.equal(!unknown.apply && !unknown.outcome.ok && unknown.outcome.code, "SESSION_EXPIRED");
    assert.equal(t.admit("", 5, 1006).apply, true, "no session: always applied");
  });

  test("sessions expire by the log's time, and the table survives encode/restore in one order", () => {
    const t = new SessionTable(10_000);
    t.register(3, 0);
    t.register(5, 8_000);
    t.expire(12_000);
    assert.equal(t.size, 1);
    const w = new ByteWriter();
    t.encode(w);
    const copy = new SessionTable(10_000);
    copy.restore(new ByteReader(w.finishExact()));
    assert.equal(copy.size, 1);
    assert.equal(copy.admit("s3", 1, 12_000).apply, false, "s3 expired");
    assert.equal(copy.admit("s5", 1, 12_000).apply, true);
    assert.deepEqual(
      failures((f) => copy.check(f)),
      [],
    );
  });
});

describe("ProposalTable", () => {
  test("an entry settles our proposal; another entry at its index fails it NotLeader", () => {
    let failedCount = 0;
    const t = new ProposalTable("run", () => failedCount++);
    const results: string[] = [];
    const add = (requestId: number, index: number): void =>
      t.add(requestId, {
        resolve: (r) => results.push(`${requestId}:${new TextDecoder().decode(r)}`),
        reject: (e) => results.push(`${requestId}:${e.name}`),
        cancelTimer: () => {},
        index,
        term: 1,
      });
    add(1, 10);
    add(2, 11);
    t.settle(entry(10), { proposer: "run", requestId: 1 }, ok("done"), "");
    t.settle(entry(11), { proposer: "other", requestId: 9 }, ok("theirs"), "n2");
    assert.deepEqual(results, ["1:done", "2:NotLeader"]);
    assert.equal(failedCount, 1);
    assert.equal(t.size, 0);
  });

  test("check: a proposal still indexed at or below the applied index is reported", () => {
    const t = new ProposalTable("run", () => {});
    t.add(1, { resolve: () => {}, reject: () => {}, cancelTimer: () => {}, index: 5, term: 1 });
    assert.deepEqual(
      failures((f) => t.check(4, f)),
      [],
    );
    assert.equal(failures((f) => t.check(5, f)).length, 1);
    t.forgetIndexedUpTo(5);
    assert.deepEqual(
      failures((f) => t.check(5, f)),
      [],
      "a snapshot to 5 forgets the index",
    );
  });
});

describe("MemberRegistry", () => {
  test("a removal is remembered for good and drops the member's context", () => {
    const r = new MemberRegistry();
    const ctx = new Uint8Array([1]);
    const n = (s: string) => s as NodeId;
    assert.equal(
      r.applyChange(conf([]), conf(["a", "b"]), [{ node: n("a"), context: ctx }], 1).added,
      true,
    );
    assert.equal(r.applyChange(conf(["a", "b"]), conf(["b"]), [], 2).added, false);
    assert.equal(r.wasRemoved(n("a")), true);
    const view = r.view(conf(["b"]));
    assert.equal(view.contexts.size, 0);
    assert.equal(view.index, 2);
    assert.deepEqual(
      failures((f) => r.check(conf(["b"]), f)),
      [],
    );
    assert.equal(
      failures((f) => r.check(conf(["a", "b"]), f)).length,
      1,
      "a removed id back as a member",
    );
    r.setContext(n("b"), ctx, 3);
    assert.equal(failures((f) => r.check(conf(["c"]), f)).length, 1, "a context for a non-member");
  });
});

describe("DivergenceDetector", () => {
  test("a hash check is due every N applied entries; a differing leader hash raises an alarm", () => {
    const d = new DivergenceDetector(3);
    d.applied();
    d.applied();
    assert.equal(d.checkDue(), false);
    d.applied();
    assert.equal(d.checkDue(), true);
    assert.equal(d.checkDue(), false, "the count starts again");
    d.recordHash(40, "aaa");
    assert.equal(d.compare(40, "aaa"), undefined);
    assert.deepEqual(d.compare(40, "bbb"), { index: 40, ours: "aaa", leaders: "bbb" });
    assert.equal(d.compare(41, "ccc"), undefined, "no hash of ours at 41");
    d.reset();
    assert.equal(d.compare(40, "bbb"), undefined);
    assert.equal(d.alarms.length, 1);
  });
});
