// Randomized tests of the checker against histories whose truth is known by construction: a
// seeded generator runs a few clients against one atomic KV store, each operation taking
// effect at a random instant inside its interval (or, for timeouts, at some instant after its
// invoke or never). Every such history is linearizable; changing one read to a value it could
// not have seen makes it not linearizable. Failures print the seed.
import assert from "node:assert/strict";
import { test } from "node:test";
import { checkLinearizable, type HistoryOp, parseHistory } from "../../src/check/index.js";
import { TestRandom } from "./history-builders.js";

interface WorkloadShape {
  readonly clients: number;
  readonly keys: number;
  readonly opsPerClient: number;
  /** Probability that an operation ends "unknown" (a timeout). */
  readonly unknownRate: number;
  /** Probability that an operation ends "fail". */
  readonly failRate: number;
}

/** A generated operation before its outcome is known. */
interface Planned {
  readonly client: string;
  readonly op: HistoryOp["op"];
  readonly key: string;
  readonly value: string;
  readonly expected: string | null;
  readonly invoke: number;
  readonly complete: number | null;
  readonly status: HistoryOp["status"];
  /** The instant it takes effect, or null when it never does. */
  readonly effectAt: number | null;
  readonly sequence: number;
}

function generateHistory(seed: number, shape: WorkloadShape): HistoryOp[] {
  const random = new TestRandom(seed);
  const planned: Planned[] = [];
  const written = new Map<string, string[]>();
  let sequence = 0;
  for (let c = 0; c < shape.clients; c++) {
    const client = `c${c}`;
    let time = random.int(5);
    for (let i = 0; i < shape.opsPerClient; i++) {
      const key = `k${random.int(shape.keys)}`;
      const op = random.pick(["put", "put", "get", "get", "get", "delete", "cas", "cas"] as const);
      const value = `v${sequence}`;
      const candidates = written.get(key) ?? [];
      if (op === "put" || op === "cas") written.set(key, [...candidates, value]);
      // cas expects a value this key has had (or absence), so some succeed and some do not.
      const expected =
        candidates.length === 0 || random.float() < 0.2 ? null : random.pick(candidates);
      const invoke = time + random.int(4);
      const duration = random.int(12);
      const roll = random.float();
      const status =
        roll < shape.failRate
          ? "fail"
          : roll < shape.failRate + shape.unknownRate
            ? "unknown"
            : "ok";
      let effectAt: number | null;
      let complete: number | null;
      if (status === "ok") {
        complete = invoke + duration;
        effectAt = invoke + random.float() * duration;
      } else if (status === "fail") {
        complete = invoke + duration;
        effectAt = null;
      } else {
        // A timeout: the client gives up, but the operation may still take effect, even later.
        complete = null;
        effectAt = random.float() < 0.5 ? null : invoke + random.float() * 40;
      }
      planned.push({
        client,
        op,
        key,
        value,
        expected,
        invoke,
        complete,
        status,
        effectAt,
        sequence,
      });
      sequence++;
      time = complete ?? invoke + 15;
    }
  }
  return runAgainstAtomicStore(planned);
}

/** Applies the operations that take effect in effect order, filling in outputs. */
function runAgainstAtomicStore(planned: readonly Planned[]): HistoryOp[] {
  const outputs = new Map<number, string | boolean | null>();
  const effective = planned.filter((p) => p.effectAt !== null);
  effective.sort((a, b) =>
    a.effectAt! !== b.effectAt! ? a.effectAt! - b.effectAt! : a.sequence - b.sequence,
  );
  const store = new Map<string, string>();
  for (const p of effective) {
    const current = store.get(p.key) ?? null;
    switch (p.op) {
      case "put":
        store.set(p.key, p.value);
        break;
      case "delete":
        store.delete(p.key);
        break;
      case "get":
        outputs.set(p.sequence, current);
        break;
      case "cas": {
        const applied = current === p.expected;
        if (applied) store.set(p.key, p.value);
        outputs.set(p.sequence, applied);
        break;
      }
    }
  }
  return planned.map((p) =>
    recordOf(p, p.status === "ok" ? (outputs.get(p.sequence) ?? null) : null),
  );
}

function recordOf(p: Planned, output: string | boolean | null): HistoryOp {
  const { client, key, invoke, complete, status } = p;
  switch (p.op) {
    case "put":
      return { client, op: "put", key, value: p.value, invoke, complete, status, output: null };
    case "delete":
      return { client, op: "delete", key, invoke, complete, status, output: null };
    case "get":
      return { client, op: "get", key, invoke, complete, status, output: output as string | null };
    case "cas": {
      const { value, expected } = p;
      return {
        client,
        op: "cas",
        key,
        value,
        expected,
        invoke,
        complete,
        status,
        output: output as boolean | null,
      };
    }
  }
}

function okReads(history: readonly HistoryOp[]): number[] {
  const reads: number[] = [];
  history.forEach((op, index) => {
    if (op.op === "get" && op.status === "ok") reads.push(index);
  });
  return reads;
}

const shapes: readonly WorkloadShape[] = [
  { clients: 3, keys: 1, opsPerClient: 30, unknownRate: 0, failRate: 0 },
  { clients: 4, keys: 2, opsPerClient: 40, unknownRate: 0.05, failRate: 0.05 },
  { clients: 6, keys: 3, opsPerClient: 40, unknownRate: 0.1, failRate: 0.05 },
];
const seedCount = 40;

test("random executions of an atomic store are linearizable", () => {
  for (const shape of shapes) {
    for (let seed = 1; seed <= seedCount; seed++) {
      const history = generateHistory(seed, shape);
      parseHistory(JSON.parse(JSON.stringify(history)));
      const result = checkLinearizable(history);
      assert.equal(
        result.ok,
        true,
        `seed=${seed} shape=${JSON.stringify(shape)}: ${"reason" in result ? result.reason : ""}`,
      );
    }
  }
});

test("a random execution with one read of a never-written value is rejected", () => {
  for (const shape of shapes) {
    for (let seed = 1; seed <= seedCount; seed++) {
      const history = generateHistory(seed, shape);
      const reads = okReads(history);
      const victim = reads[new TestRandom(seed * 7919).int(reads.length)];
      if (victim === undefined) continue;
      const read = history[victim] as HistoryOp & { op: "get" };
      history[victim] = { ...read, output: "never-written" };
      const result = checkLinearizable(history);
      assert.equal(result.ok, false, `seed=${seed} shape=${JSON.stringify(shape)} read=#${victim}`);
      assert.equal(result.ok === false && result.key, read.key, `seed=${seed}`);
    }
  }
});

test("a random execution with one read of a value from the future is rejected", () => {
  let mutated = 0;
  for (const shape of shapes) {
    for (let seed = 1; seed <= seedCount; seed++) {
      const history = generateHistory(seed, shape);
      // A read that completed before some write of its key was even invoked cannot see that
      // write's value: every written value is unique to its write.
      let victim: { read: number; value: string } | null = null;
      for (const r of okReads(history)) {
        const read = history[r]!;
        const later = history.find(
          (w) =>
            (w.op === "put" || w.op === "cas") && w.key === read.key && w.invoke > read.complete!,
        );
        if (later !== undefined && "value" in later) {
          victim = { read: r, value: later.value };
          break;
        }
      }
      if (victim === null) continue;
      const read = history[victim.read] as HistoryOp & { op: "get" };
      history[victim.read] = { ...read, output: victim.value };
      const result = checkLinearizable(history);
      assert.equal(
        result.ok,
        false,
        `seed=${seed} shape=${JSON.stringify(shape)} read=#${victim.read}`,
      );
      mutated++;
    }
  }
  assert.ok(mutated > seedCount, "the generator rarely produced a read before a later write");
});

test("a 5000-operation history checks within the default budget", () => {
  const shape = { clients: 5, keys: 10, opsPerClient: 1000, unknownRate: 0.02, failRate: 0.02 };
  const history = generateHistory(2024, shape);
  assert.equal(history.length, 5000);
  const result = checkLinearizable(history);
  assert.equal(result.ok, true, "reason" in result ? result.reason : "");
});

test("one impossible read deep in a long single-key history with timeouts is found", () => {
  // The hard case for the search: the violation can only be proven by exhausting every other
  // order of the operations before it, and each timed-out write multiplies those orders.
  const shape = { clients: 4, keys: 1, opsPerClient: 200, unknownRate: 0.05, failRate: 0.02 };
  for (const seed of [11, 12, 13]) {
    const history = generateHistory(seed, shape);
    const reads = okReads(history);
    const victim = reads[Math.floor(reads.length * 0.9)]!;
    history[victim] = {
      ...(history[victim] as HistoryOp & { op: "get" }),
      output: "never-written",
    };
    const result = checkLinearizable(history);
    assert.equal(result.ok, false, `seed=${seed}: ${"reason" in result ? result.reason : ""}`);
  }
});
