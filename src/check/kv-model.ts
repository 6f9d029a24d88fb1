// The sequential specification the linearizability checker holds a history to: one key of a
// key-value store. Keys are independent (no operation touches two), so the checker splits a
// history by key and runs this model per key; a key's state is its value or absent.
//
// For speed the search works on small integers, not strings: each key's values are interned
// to ids, and each operation is compiled once into a `ModelOp` whose kind already encodes its
// outcome (a cas that returned true and one that returned false are different steps).
//
// Values that no operation of the key observes (no get returned them, no cas expected them)
// all share one id, UNOBSERVED. That is exact, not an approximation: every step treats such
// values alike (a get or an applied cas can never find one; a failed cas always may), so which
// one the key holds changes nothing the model can tell. Workloads write unique values and read
// only some of them, so this merges many states of the search that differ in nothing visible.
import { assert, assertNever } from "../lib/index.js";
import type { HistoryOp } from "./history.js";

/** The state id of an absent key; also the initial state of every key. */
export const ABSENT = 0;
/** The state id of every value that no operation of the key observes. */
export const UNOBSERVED = 1;
/** What `stepModel` returns when the operation cannot happen in the given state. */
export const ILLEGAL = -1;

export const ModelOpKind = {
  /** put, ok or unknown: always legal; the state becomes `value`. */
  put: 0,
  /** delete, ok or unknown: always legal; the key becomes absent. */
  delete: 1,
  /** get that returned `output`: legal only when the state is `output`. */
  get: 2,
  /** cas that returned true: legal only when the state is `expected`; becomes `value`. */
  casApplied: 3,
  /** cas that returned false: legal only when the state is not `expected`; no change. */
  casRejected: 4,
  /**
   * cas with unknown outcome: always legal; applies when the state is `expected`, else no
   * change. Not applying when it could is never needed: an op that may have happened never
   * completes, so it can also be linearized at the very end, where it changes nothing seen.
   */
  casUnknown: 5,
} as const;
export type ModelOpKind = (typeof ModelOpKind)[keyof typeof ModelOpKind];

/** One history operation compiled for the model; ids are interned by `ValueInterner`. */
export interface ModelOp {
  readonly kind: ModelOpKind;
  /** The id written by put and cas; ABSENT otherwise. */
  readonly value: number;
  /** The id a cas requires; ABSENT otherwise. */
  readonly expected: number;
  /** The id a get returned; ABSENT otherwise. */
  readonly output: number;
}

/**
 * Maps one key's values to dense small ids: ABSENT (0) for null, UNOBSERVED (1) for values no
 * operation observes, then 2, 3, … for the observed values. Ids are not mapped back (many
 * values share UNOBSERVED); reports recompute values with `stepValue`.
 */
export class ValueInterner {
  private readonly ids = new Map<string, number>();

  /** `ops` are all the operations of the key that the search will see. */
  constructor(ops: readonly HistoryOp[]) {
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      if (op.op === "get" && op.status === "ok") this.observe(op.output);
      if (op.op === "cas") this.observe(op.expected);
    }
  }

  /** The number of ids in use, ABSENT and UNOBSERVED included: ids run below this. */
  get idCount(): number {
    return this.ids.size + 2;
  }

  idOf(value: string | null): number {
    if (value === null) return ABSENT;
    return this.ids.get(value) ?? UNOBSERVED;
  }

  private observe(value: string | null): void {
    if (value !== null && !this.ids.has(value)) this.ids.set(value, this.ids.size + 2);
  }
}

/**
 * Compiles an operation the checker keeps (status "ok", or "unknown" and not a get) into a
 * model step. Callers drop "fail" operations and unknown gets before this.
 */
export function compileModelOp(op: HistoryOp, values: ValueInterner): ModelOp {
  assert(op.status !== "fail", "failed operations are not part of the model");
  assert(op.status === "ok" || op.op !== "get", "unknown gets are not part of the model");
  switch (op.op) {
    case "put":
      return {
        kind: ModelOpKind.put,
        value: values.idOf(op.value),
        expected: ABSENT,
        output: ABSENT,
      };
    case "delete":
      return { kind: ModelOpKind.delete, value: ABSENT, expected: ABSENT, output: ABSENT };
    case "get":
      return {
        kind: ModelOpKind.get,
        value: ABSENT,
        expected: ABSENT,
        output: values.idOf(op.output),
      };
    case "cas": {
      const value = values.idOf(op.value);
      const expected = values.idOf(op.expected);
      const kind =
        op.status === "unknown"
          ? ModelOpKind.casUnknown
          : op.output === true
            ? ModelOpKind.casApplied
            : ModelOpKind.casRejected;
      assert(op.status === "unknown" || typeof op.output === "boolean", "ok cas without outcome");
      return { kind, value, expected, output: ABSENT };
    }
  }
}

/** The state after `op` runs in `state`, or ILLEGAL when `op`'s outcome is impossible there. */
export function stepModel(op: ModelOp, state: number): number {
  switch (op.kind) {
    case ModelOpKind.put:
      return op.value;
    case ModelOpKind.delete:
      return ABSENT;
    case ModelOpKind.get:
      return state === op.output ? state : ILLEGAL;
    case ModelOpKind.casApplied:
      return state === op.expected ? op.value : ILLEGAL;
    case ModelOpKind.casRejected:
      return state !== op.expected ? state : ILLEGAL;
    case ModelOpKind.casUnknown:
      return state === op.expected ? op.value : state;
    default:
      return assertNever(op.kind, "model op kind");
  }
}

/**
 * The value after `op`, on real values: for reports, replaying a linearization the search
 * found (so `op` is known to be possible in `state`).
 */
export function stepValue(op: HistoryOp, state: string | null): string | null {
  switch (op.op) {
    case "put":
      return op.value;
    case "delete":
      return null;
    case "get":
      return state;
    case "cas":
      return state === op.expected && op.output !== false ? op.value : state;
  }
}
