// The linearizability checker: decides whether a history of key-value operations could have
// come from a single copy of the store that applied each operation atomically at some instant
// between its invoke and its complete (Herlihy & Wing, 1990).
//
// Algorithm: Wing & Gong's search with Lowe's memoization, as in Knossos ("WGL") and Porcupine.
// - Keys are independent in the KV model, and linearizability is compositional (a history is
//   linearizable iff each key's sub-history is), so each key is checked on its own.
// - Per key, a depth-first search over orders of the operations that respect real time and the
//   model, with a cache of explored (linearized set, state) pairs to prune repeats: see
//   key-search.ts. It is a loop over an explicit stack (no recursion), with a state budget:
//   past `maxStates` pairs on one key the answer is "unknown" rather than an unbounded run.
//
// What the statuses mean to the search (see history.ts for the format):
// - "fail" operations never happened: dropped.
// - "unknown" gets constrain nothing (nobody saw their value): dropped.
// - "unknown" put/delete/cas may have taken effect at any time after invoke, or never: they
//   have no deadline, the search may linearize them anywhere after their invoke or leave them
//   out (which is the same as placing them after everything else).
import {
  describeHistoryOp,
  type HistoryOp,
  type IndexedHistoryOp,
  parseHistory,
} from "./history.js";
import { type KeyViolation, searchKey } from "./key-search.js";

/**
 * Default search budget: (linearized set, state) pairs explored per key. Linearizable
 * histories of thousands of operations need tens of thousands; what needs millions is a
 * violation deep in a long single-key history with many timeouts, which the search must prove
 * by exhausting every alternative. Two million pairs take seconds and on the order of 100 MB.
 */
export const STATES_MAX_DEFAULT = 2_000_000;

export interface LinearizabilityOptions {
  /**
   * Search budget per key: the number of (linearized set, state) pairs the search may record
   * on one key before it gives up with `ok: "unknown"`. Memory grows with it, by about
   * 30–60 bytes per pair. Default `STATES_MAX_DEFAULT`.
   */
  readonly maxStates?: number;
}

export interface LinearizabilityStats {
  /** Keys whose sub-histories were searched (all of them unless the answer came early). */
  readonly keysChecked: number;
  /** Operations that took part in the search, over the keys checked. */
  readonly opsChecked: number;
  /** Operations left out: status "fail", and gets with status "unknown". */
  readonly opsDropped: number;
  /** Distinct (linearized set, state) pairs explored, over the keys checked. */
  readonly states: number;
}

export interface Linearizable extends LinearizabilityStats {
  readonly ok: true;
}

/**
 * A key whose operations cannot be linearized, described by the furthest point the search
 * reached (the first with the most completed operations linearized): after `linearized`, in
 * that order, the key holds `stateAfter`, and not one of `pending` (the completed operations
 * that could take effect next: invoked before the earliest completion among those not yet
 * linearized) is possible in that state, nor after any further operations of unknown outcome.
 */
export interface NotLinearizable extends LinearizabilityStats {
  readonly ok: false;
  readonly key: string;
  /** The order of this key's operations that got furthest (unknown-outcome ones included). */
  readonly linearized: readonly IndexedHistoryOp[];
  /** The key's value after `linearized`; null when absent. */
  readonly stateAfter: string | null;
  /** The candidates for the next step, all impossible in `stateAfter`, in invoke order. */
  readonly pending: readonly IndexedHistoryOp[];
  /** The pending operation that completed first: one of `pending` had to precede its completion. */
  readonly deadline: IndexedHistoryOp;
  /** The same, in words, for logs and failure messages. */
  readonly reason: string;
}

/** The search budget ran out on `key` before an answer; no other key was found wrong. */
export interface LinearizabilityUnknown extends LinearizabilityStats {
  readonly ok: "unknown";
  readonly key: string;
  readonly maxStates: number;
  /**
   * The furthest point the search had reached on `key` when it gave up (as in
   * `NotLinearizable`, but unproven: a path not yet tried might go further). Often where the
   * problem is, when there is one. Null if the search never met a dead end.
   */
  readonly furthest: Omit<NotLinearizable, "ok" | "key" | keyof LinearizabilityStats> | null;
  readonly reason: string;
}

export type LinearizabilityResult = Linearizable | NotLinearizable | LinearizabilityUnknown;

/**
 * Checks a history (see history.ts) against a linearizable key-value store. The history is
 * validated first and `HistoryFormatError` is thrown if it is malformed. Keys are checked in
 * sorted order; the first key found not linearizable is reported. A key that exhausts the
 * budget makes the answer "unknown" unless another key is definitely not linearizable.
 */
export function checkLinearizable(
  history: readonly HistoryOp[],
  options: LinearizabilityOptions = {},
): LinearizabilityResult {
  const maxStates = options.maxStates ?? STATES_MAX_DEFAULT;
  if (!Number.isSafeInteger(maxStates) || maxStates < 1) {
    throw new RangeError(`maxStates must be a positive integer, got ${maxStates}`);
  }
  parseHistory(history);

  const { partitions, opsDropped } = partitionByKey(history);
  const keys = [...partitions.keys()].sort();
  let keysChecked = 0;
  let opsChecked = 0;
  let states = 0;
  let exhausted: Pick<LinearizabilityUnknown, "key" | "reason" | "furthest"> | null = null;
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k] as string;
    const ops = partitions.get(key)!;
    const outcome = searchKey(ops, maxStates);
    keysChecked++;
    opsChecked += ops.length;
    states += outcome.states;
    const stats = { keysChecked, opsChecked, opsDropped, states };
    if (outcome.kind === "violation") {
      return { ok: false, key, ...describeViolation(key, ops.length, outcome, true), ...stats };
    }
    if (outcome.kind === "exhausted" && exhausted === null) {
      const furthest =
        outcome.furthest === null
          ? null
          : describeViolation(key, ops.length, outcome.furthest, false);
      const reason =
        `key ${JSON.stringify(key)}: search budget of ${maxStates} states exhausted over ` +
        `${ops.length} operations; linearizability undecided (raise maxStates).` +
        (furthest === null ? "" : `\n${furthest.reason}`);
      exhausted = { key, reason, furthest };
    }
  }
  const stats = { keysChecked, opsChecked, opsDropped, states };
  if (exhausted !== null) return { ok: "unknown", ...exhausted, maxStates, ...stats };
  return { ok: true, ...stats };
}

function partitionByKey(history: readonly HistoryOp[]): {
  partitions: Map<string, IndexedHistoryOp[]>;
  opsDropped: number;
} {
  const partitions = new Map<string, IndexedHistoryOp[]>();
  let opsDropped = 0;
  for (let index = 0; index < history.length; index++) {
    const op = history[index] as HistoryOp;
    if (op.status === "fail" || (op.status === "unknown" && op.op === "get")) {
      opsDropped++;
      continue;
    }
    let ops = partitions.get(op.key);
    if (ops === undefined) {
      ops = [];
      partitions.set(op.key, ops);
    }
    ops.push({ index, op });
  }
  return { partitions, opsDropped };
}

/** `proven`: the search is over (else it ran out of budget and this is just how far it got). */
function describeViolation(
  key: string,
  opCount: number,
  outcome: KeyViolation,
  proven: boolean,
): Omit<NotLinearizable, "ok" | "key" | keyof LinearizabilityStats> {
  const { linearized, stateAfter, pending, deadline } = outcome;
  const line = (item: IndexedHistoryOp): string => `  ${describeHistoryOp(item.op, item.index)}`;
  const tailLengthMax = 3;
  const tail = linearized.slice(-tailLengthMax);
  const value = stateAfter === null ? "absent" : JSON.stringify(stateAfter);
  const lines = [
    proven
      ? `key ${JSON.stringify(key)} is not linearizable.`
      : `Unproven: the furthest point the search had reached on key ${JSON.stringify(key)}.`,
    tail.length === 0
      ? "The search could not linearize any of its operations first."
      : `The search got furthest after linearizing ${linearized.length} of its ${opCount} ` +
        `operations, ${linearized.length > tail.length ? "the last of them" : "namely"}:`,
    ...tail.map(line),
    `Then the key is ${value}, and one of these had to take effect before #${deadline.index} ` +
      `completed at ${deadline.op.complete}, but none ${proven ? "can" : "could so far"} ` +
      `with the key ${value}, nor after any operation of unknown outcome:`,
    ...pending.map(line),
  ];
  return { linearized, stateAfter, pending, deadline, reason: lines.join("\n") };
}
