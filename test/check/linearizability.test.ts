// The linearizability checker on small histories whose verdict is known by hand: linearizable
// ones must be accepted, and the classic anomalies (stale read, lost write, double cas, time
// travel, phantom values) must be rejected with a report that points at the culprit.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  checkLinearizable,
  HistoryFormatError,
  type HistoryOp,
  type LinearizabilityResult,
  type NotLinearizable,
} from "../../src/check/index.js";
import { cas, del, get, put } from "./history-builders.js";

function assertLinearizable(history: readonly HistoryOp[]): void {
  const result = checkLinearizable(history);
  assert.equal(result.ok, true, "reason" in result ? result.reason : "expected linearizable");
}

function assertNotLinearizable(history: readonly HistoryOp[], key: string): NotLinearizable {
  const result: LinearizabilityResult = checkLinearizable(history);
  assert.equal(result.ok, false, `expected a violation, got ${JSON.stringify(result)}`);
  if (result.ok !== false) throw new Error("unreachable");
  assert.equal(result.key, key);
  assert.ok(result.pending.length > 0, "a violation names the operations that could not go next");
  assert.ok(result.pending.some((p) => p.index === result.deadline.index));
  for (const p of [...result.pending, ...result.linearized]) {
    assert.equal(history[p.index], p.op, "reported operations are the history's own objects");
  }
  return result;
}

// ── Accepted ─────────────────────────────────────────────────────────────────────────────

test("an empty history is linearizable", () => {
  const result = checkLinearizable([]);
  assert.deepEqual(result, { ok: true, keysChecked: 0, opsChecked: 0, opsDropped: 0, states: 0 });
});

test("a sequential history that follows the model is linearizable", () => {
  assertLinearizable([
    get("c1", "k", null, 0, 1),
    put("c1", "k", "v1", 2, 3),
    get("c1", "k", "v1", 4, 5),
    del("c1", "k", 6, 7),
    get("c1", "k", null, 8, 9),
    cas("c1", "k", null, "v2", true, 10, 11),
    cas("c1", "k", null, "v3", false, 12, 13),
    get("c1", "k", "v2", 14, 15),
  ]);
});

test("overlapping operations may take effect in either order", () => {
  // The put takes effect somewhere in [0, 10]: the first read saw the key before it, the
  // second after it, and the reads overlap each other.
  assertLinearizable([
    put("c1", "k", "v1", 0, 10),
    get("c2", "k", null, 2, 4),
    get("c3", "k", "v1", 3, 5),
  ]);
  // Two concurrent writes: every later read agrees on the one that won.
  assertLinearizable([
    put("c1", "k", "a", 0, 10),
    put("c2", "k", "b", 1, 9),
    get("c3", "k", "a", 11, 12),
    get("c1", "k", "a", 13, 14),
  ]);
});

test("reads concurrent with a write may flip once, from old to new", () => {
  assertLinearizable([
    put("c1", "k", "old", 0, 1),
    put("c1", "k", "new", 10, 30),
    get("c2", "k", "old", 11, 12),
    get("c3", "k", "new", 13, 14),
    get("c2", "k", "new", 15, 16),
  ]);
});

test("an unknown write that took effect is accepted", () => {
  assertLinearizable([put("c1", "k", "v1", 0, null), get("c2", "k", "v1", 20, 30)]);
});

test("an unknown write that never took effect is accepted", () => {
  assertLinearizable([put("c1", "k", "v1", 0, null), get("c2", "k", null, 20, 30)]);
});

test("an unknown write may take effect long after it was invoked", () => {
  assertLinearizable([
    put("c1", "k", "v1", 0, null),
    get("c2", "k", null, 10, 20),
    get("c2", "k", "v1", 30, 40),
    get("c3", "k", "v1", 50, 60),
  ]);
  // ...and an unknown delete likewise.
  assertLinearizable([
    put("c1", "k", "v1", 0, 1),
    del("c1", "k", 2, null),
    get("c2", "k", "v1", 10, 20),
    get("c2", "k", null, 30, 40),
  ]);
});

test("an unknown cas may or may not have applied", () => {
  const base = [put("c1", "k", "a", 0, 1), cas("c1", "k", "a", "b", null, 2, null)];
  assertLinearizable([...base, get("c2", "k", "b", 10, 11)]);
  assertLinearizable([...base, get("c2", "k", "a", 10, 11)]);
  assertLinearizable([...base, get("c2", "k", "a", 10, 11), get("c2", "k", "b", 12, 13)]);
});

test("equal timed-out writes may each have taken effect, once", () => {
  const writes = [put("c1", "k", "a", 0, null), put("c2", "k", "a", 1, null)];
  const reads = [
    get("c3", "k", "a", 10, 11),
    put("c3", "k", "b", 12, 13),
    get("c3", "k", "b", 14, 15),
    get("c3", "k", "a", 16, 17),
  ];
  assertLinearizable([...writes, ...reads]);
  // With a single such write, "a" cannot come back after "b".
  assertNotLinearizable([writes[0]!, ...reads], "k");
});

test("a timed-out write may be what makes a cas fail", () => {
  // The key holds "a", yet the cas expecting "a" failed: only the unknown put of "c" explains it.
  const history = [
    put("c1", "k", "a", 0, 1),
    put("c2", "k", "c", 2, null),
    cas("c1", "k", "a", "b", false, 10, 20),
    get("c1", "k", "c", 21, 22),
  ];
  assertLinearizable(history);
  assertNotLinearizable(history.slice(0, 3).concat(get("c1", "k", "a", 21, 22)), "k");
});

test("timed-out writes may chain: a put, then a cas that finds it", () => {
  assertLinearizable([
    put("c1", "k", "e", 0, null),
    cas("c2", "k", "e", "v", null, 1, null),
    get("c3", "k", "v", 10, 11),
  ]);
  // Without the put, the cas never finds "e", so "v" is never written.
  assertNotLinearizable(
    [cas("c2", "k", "e", "v", null, 1, null), get("c3", "k", "v", 10, 11)],
    "k",
  );
});

test("failed operations and unknown reads are ignored", () => {
  const history = [
    put("c1", "k", "v1", 0, 5, "fail"),
    get("c2", "k", null, 6, null),
    del("c1", "k", 7, 8, "fail"),
    get("c2", "k", null, 9, 10),
  ];
  const result = checkLinearizable(history);
  assert.equal(result.ok, true);
  assert.equal(result.opsDropped, 3);
  assert.equal(result.opsChecked, 1);
});

test("a chain of cas operations is linearizable", () => {
  assertLinearizable([
    put("c1", "k", "v0", 0, 1),
    cas("c1", "k", "v0", "v1", true, 2, 3),
    cas("c2", "k", "v1", "v2", true, 4, 5),
    cas("c3", "k", "v0", "v3", false, 6, 7),
    cas("c1", "k", "v2", "v4", true, 8, 9),
    get("c2", "k", "v4", 10, 11),
  ]);
});

test("of two concurrent cas from the same value, one may win", () => {
  assertLinearizable([
    put("c1", "k", "v0", 0, 1),
    cas("c1", "k", "v0", "a", false, 2, 10),
    cas("c2", "k", "v0", "b", true, 3, 9),
    get("c3", "k", "b", 11, 12),
  ]);
  // The key absent is a state too: cas from null.
  assertLinearizable([
    cas("c1", "k", null, "a", true, 0, 10),
    cas("c2", "k", null, "b", false, 0, 10),
    get("c3", "k", "a", 11, 12),
  ]);
});

test("an operation completing at t and one invoked at t count as concurrent", () => {
  // Equal virtual times do not say which came first; the checker lets them overlap.
  assertLinearizable([put("c1", "k", "v1", 0, 10), get("c2", "k", null, 10, 20)]);
  assertNotLinearizable([put("c1", "k", "v1", 0, 10), get("c2", "k", null, 11, 20)], "k");
});

test("keys are independent", () => {
  const result = checkLinearizable([
    put("c1", "a", "1", 0, 10),
    put("c2", "b", "2", 0, 10),
    get("c1", "b", "2", 11, 12),
    get("c2", "a", "1", 11, 12),
    get("c3", "c", null, 0, 1),
  ]);
  assert.equal(result.ok, true);
  assert.equal(result.keysChecked, 3);
});

test("history order does not matter", () => {
  const history = [
    put("c1", "k", "v0", 0, 1),
    cas("c1", "k", "v0", "a", false, 2, 10),
    cas("c2", "k", "v0", "b", true, 3, 9),
    get("c3", "k", "b", 11, 12),
  ];
  assertLinearizable([...history].reverse());
});

// ── Rejected ─────────────────────────────────────────────────────────────────────────────

test("rejects a stale read after a completed write", () => {
  const history = [put("c1", "k", "v1", 0, 10), get("c2", "k", null, 20, 30)];
  const result = assertNotLinearizable(history, "k");
  assert.deepEqual(
    result.linearized.map((p) => p.index),
    [0],
  );
  assert.equal(result.stateAfter, "v1");
  assert.deepEqual(
    result.pending.map((p) => p.index),
    [1],
  );
  assert.equal(result.deadline.index, 1);
  assert.match(result.reason, /key "k" is not linearizable/);
  assert.match(result.reason, /#1 c2 get k = null ok \[20, 30\]/);
});

test("rejects a lost write", () => {
  assertNotLinearizable(
    [put("c1", "k", "v1", 0, 10), put("c2", "k", "v2", 20, 30), get("c3", "k", "v1", 40, 50)],
    "k",
  );
});

test("rejects two cas that both succeed from the same expected value", () => {
  const result = assertNotLinearizable(
    [
      put("c1", "k", "v0", 0, 5),
      cas("c1", "k", "v0", "a", true, 10, 20),
      cas("c2", "k", "v0", "b", true, 12, 22),
    ],
    "k",
  );
  assert.equal(result.linearized.length, 2);
});

test("rejects a read that sees a value and then an older one", () => {
  assertNotLinearizable(
    [
      put("c1", "k", "v1", 0, 10),
      put("c1", "k", "v2", 20, 30),
      get("c2", "k", "v2", 21, 29),
      get("c2", "k", "v1", 31, 40),
    ],
    "k",
  );
  // Two readers concurrent with the write, neither overlapping the other.
  assertNotLinearizable(
    [
      put("c1", "k", "v1", 0, 1),
      put("c1", "k", "v2", 10, 50),
      get("c2", "k", "v2", 11, 12),
      get("c3", "k", "v1", 13, 14),
    ],
    "k",
  );
});

test("rejects a read of a value never written", () => {
  const result = assertNotLinearizable(
    [put("c1", "k", "v1", 0, 10), get("c2", "k", "ghost", 5, 15)],
    "k",
  );
  // Nothing makes "ghost" appear, whether or not the put went first.
  assert.equal(
    result.pending.some((p) => p.op.op === "get"),
    true,
  );
  const alone = assertNotLinearizable([get("c1", "k", "ghost", 0, 1)], "k");
  assert.deepEqual(alone.linearized, []);
  assert.equal(alone.stateAfter, null);
});

test("rejects a read of a value whose put failed", () => {
  assertNotLinearizable([put("c1", "k", "v1", 0, 10, "fail"), get("c2", "k", "v1", 20, 30)], "k");
});

test("rejects a read of a value written only after the read completed", () => {
  assertNotLinearizable([get("c1", "k", "v1", 0, 10), put("c2", "k", "v1", 11, 20)], "k");
  // Even when the write's outcome is unknown: it can only take effect after its invoke.
  assertNotLinearizable([get("c1", "k", "v1", 0, 10), put("c2", "k", "v1", 11, null)], "k");
});

test("rejects a cas that reports failure although the key held the expected value", () => {
  assertNotLinearizable([put("c1", "k", "a", 0, 1), cas("c1", "k", "a", "b", false, 2, 3)], "k");
});

test("reports the first failing key in sorted order, whatever the others hold", () => {
  const result = checkLinearizable([
    put("c1", "b", "1", 0, 1),
    get("c1", "b", null, 2, 3),
    get("c1", "a", null, 0, 1),
    put("c1", "c", "1", 0, 1),
    get("c1", "c", null, 2, 3),
  ]);
  assert.equal(result.ok, false);
  assert.equal(result.ok === false && result.key, "b");
  assert.equal(result.keysChecked, 2);
});

// ── Budget and input checks ──────────────────────────────────────────────────────────────

test("a search that exceeds maxStates answers unknown", () => {
  const history = [
    put("c1", "k", "a", 0, 10),
    put("c2", "k", "b", 0, 10),
    get("c3", "k", "b", 11, 12),
  ];
  const result = checkLinearizable(history, { maxStates: 1 });
  assert.equal(result.ok, "unknown");
  assert.equal(result.ok === "unknown" && result.key, "k");
  assert.match(result.ok === "unknown" ? result.reason : "", /budget of 1 states exhausted/);
  assert.equal(checkLinearizable(history, { maxStates: 100 }).ok, true);
});

test("an exhausted search reports the furthest point it had reached", () => {
  // A read of a value never written, after enough concurrency to need a few states.
  const history = [
    put("c1", "k", "a", 0, 10),
    put("c2", "k", "b", 0, 10),
    get("c3", "k", "b", 11, 12),
    get("c3", "k", "ghost", 13, 14),
  ];
  const result = checkLinearizable(history, { maxStates: 3 });
  assert.equal(result.ok, "unknown");
  if (result.ok !== "unknown") return;
  assert.ok(result.furthest !== null);
  assert.equal(result.furthest.deadline.index, 3);
  assert.match(result.reason, /Unproven: the furthest point the search had reached on key "k"/);
  assert.equal(checkLinearizable(history).ok, false);
});

test("a definite violation on one key outranks an exhausted budget on another", () => {
  const result = checkLinearizable(
    [
      put("c1", "a", "1", 0, 10),
      put("c2", "a", "2", 0, 10),
      get("c3", "a", "2", 11, 12),
      get("c1", "b", "ghost", 0, 1),
    ],
    { maxStates: 1 },
  );
  assert.equal(result.ok, false);
  assert.equal(result.ok === false && result.key, "b");
});

test("rejects a bad budget and a malformed history", () => {
  assert.throws(() => checkLinearizable([], { maxStates: 0 }), RangeError);
  assert.throws(() => checkLinearizable([], { maxStates: 1.5 }), RangeError);
  const bad = [{ ...put("c1", "k", "v", 0, 1), complete: -1 }];
  assert.throws(() => checkLinearizable(bad), HistoryFormatError);
});
