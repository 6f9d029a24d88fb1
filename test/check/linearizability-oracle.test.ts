// The checker against an oracle: on thousands of tiny random histories (most of them wrong)
// its verdict must equal that of a brute-force search over every order of the operations.
// The oracle shares no code with the checker: it works on whole histories (no split by key),
// on strings (no interning), and treats an unknown operation as "happened at some point after
// its invoke, or never" literally, by trying both.
import assert from "node:assert/strict";
import { test } from "node:test";
import { checkLinearizable, type HistoryOp } from "../../src/check/index.js";
import { cas, del, get, put, TestRandom } from "./history-builders.js";

function bruteForceLinearizable(history: readonly HistoryOp[]): boolean {
  const ops = history.filter(
    (op) => op.status === "ok" || (op.status === "unknown" && op.op !== "get"),
  );
  const done = ops.map(() => false);
  const store = new Map<string, string>();

  // May ops[i] take effect now? Not while an op that completed before i's invoke is pending.
  const ready = (i: number): boolean =>
    ops.every((other, j) => done[j] || other.complete === null || other.complete >= ops[i]!.invoke);

  // Dead ends already explored, by (operations done, store contents): the future of a partial
  // order depends on nothing else.
  const deadEnds = new Set<string>();
  const search = (remaining: number): boolean => {
    if (remaining === 0) return true;
    const memoKey = `${done.map(Number).join("")}|${JSON.stringify([...store].sort())}`;
    if (deadEnds.has(memoKey)) return false;
    for (let i = 0; i < ops.length; i++) {
      if (done[i]) continue;
      const op = ops[i]!;
      done[i] = true;
      // An unknown operation may never take effect at all.
      if (op.status === "unknown" && search(remaining - 1)) return true;
      if (ready(i)) {
        const before = store.get(op.key);
        if (apply(op) && search(remaining - 1)) return true;
        if (before === undefined) store.delete(op.key);
        else store.set(op.key, before);
      }
      done[i] = false;
    }
    deadEnds.add(memoKey);
    return false;
  };

  const apply = (op: HistoryOp): boolean => {
    const current = store.get(op.key) ?? null;
    switch (op.op) {
      case "put":
        store.set(op.key, op.value);
        return true;
      case "delete":
        store.delete(op.key);
        return true;
      case "get":
        return current === op.output;
      case "cas": {
        const applies = current === op.expected;
        if (op.status === "ok" && op.output !== applies) return false;
        if (applies) store.set(op.key, op.value);
        return true;
      }
    }
  };

  return search(ops.length);
}

interface SmallShape {
  readonly opsMax: number;
  readonly keys: readonly string[];
  readonly values: readonly string[];
  /** Probabilities of "unknown" and of "fail"; the rest are "ok". */
  readonly unknownRate: number;
  readonly failRate: number;
  /** Relative weights of put, delete, get, cas. */
  readonly weights: readonly [number, number, number, number];
}

function randomSmallHistory(random: TestRandom, shape: SmallShape): HistoryOp[] {
  const history: HistoryOp[] = [];
  const opCount = 1 + random.int(shape.opsMax);
  const values = shape.values;
  const [wPut, wDelete, wGet, wCas] = shape.weights;
  for (let i = 0; i < opCount; i++) {
    const client = `c${random.int(3)}`;
    const key = random.pick(shape.keys);
    const invoke = random.int(12);
    const roll = random.float();
    const status =
      roll < shape.unknownRate
        ? "unknown"
        : roll < shape.unknownRate + shape.failRate
          ? "fail"
          : "ok";
    const complete = status === "unknown" ? null : invoke + random.int(7);
    const ok = status === "ok";
    const kind = random.float() * (wPut + wDelete + wGet + wCas);
    if (kind < wPut) {
      history.push(put(client, key, random.pick(values), invoke, complete, status));
    } else if (kind < wPut + wDelete) {
      history.push(del(client, key, invoke, complete, status));
    } else if (kind < wPut + wDelete + wGet) {
      history.push(
        get(client, key, ok ? random.pick([...values, null]) : null, invoke, complete, status),
      );
    } else {
      const expected = random.pick([...values, null]);
      const output = ok ? random.float() < 0.5 : null;
      history.push(
        cas(client, key, expected, random.pick(values), output, invoke, complete, status),
      );
    }
  }
  return history;
}

const shapes: readonly { readonly name: string; readonly shape: SmallShape }[] = [
  {
    name: "mixed statuses, two keys",
    shape: {
      opsMax: 7,
      keys: ["x", "y"],
      values: ["a", "b"],
      unknownRate: 0.15,
      failRate: 0.15,
      weights: [1, 1, 1, 1],
    },
  },
  {
    name: "many unknown writes and cas chains",
    shape: {
      opsMax: 10,
      keys: ["x"],
      values: ["a", "b", "c"],
      unknownRate: 0.45,
      failRate: 0,
      weights: [2, 1, 3, 3],
    },
  },
  {
    name: "unknown cas only, around reads",
    shape: {
      opsMax: 9,
      keys: ["x"],
      values: ["a", "b"],
      unknownRate: 0.4,
      failRate: 0.05,
      weights: [1, 0, 2, 3],
    },
  },
];

for (const { name, shape } of shapes) {
  test(`agrees with a brute-force search on small random histories: ${name}`, () => {
    const caseCount = 3000;
    const verdicts = { linearizable: 0, notLinearizable: 0 };
    for (let seed = 1; seed <= caseCount; seed++) {
      const history = randomSmallHistory(new TestRandom(seed), shape);
      const expected = bruteForceLinearizable(history);
      const result = checkLinearizable(history);
      assert.equal(result.ok, expected, `seed=${seed} history=${JSON.stringify(history)}`);
      verdicts[expected ? "linearizable" : "notLinearizable"]++;
    }
    // Both verdicts must be well represented, or the comparison proves little.
    assert.ok(verdicts.linearizable > caseCount / 5, JSON.stringify(verdicts));
    assert.ok(verdicts.notLinearizable > caseCount / 5, JSON.stringify(verdicts));
  });
}
