// The history format: the record of client operations that the linearizability checker
// judges. The simulator's workloads write it, `ordo` tools read it, and the checker takes it;
// it is a public contract, so it is written out here in full and validated strictly.
//
// ─── History format (JSON) ─────────────────────────────────────────────────────────────────
//
// A history is a JSON array with one object per client operation, in any order:
//
//   {
//     "client":   "c1",                         client (process) that issued the operation
//     "op":       "put" | "get" | "delete" | "cas",
//     "key":      "k3",
//     "value":    "v17",                        put and cas only: the value written
//     "expected": "v12" | null,                 cas only: the value the key must hold for the
//                                               cas to apply; null = the key must be absent
//     "invoke":   1200,                         virtual ms when the client sent the request
//     "complete": 1250 | null,                  virtual ms when the client saw the outcome;
//                                               null exactly when status is "unknown"
//     "status":   "ok" | "fail" | "unknown",
//     "output":   …                             see below
//   }
//
// status:
//   "ok"      the operation took effect, once, between invoke and complete, with `output`.
//   "fail"    the operation certainly did not take effect (for example rejected before it
//             reached the log). The checker ignores it entirely.
//   "unknown" it may or may not have taken effect, at any time after invoke (a timeout, a lost
//             leader, a crash of the client's server). complete is null.
//
// output (only meaningful when status is "ok"; null otherwise):
//   get     the value read, or null when the key was absent
//   cas     true if it applied (the key held `expected`), false if it did not
//   put     null
//   delete  null
//
// Times are numbers (virtual milliseconds), finite, with complete >= invoke. Fields other
// than these are rejected, as are "value" on get/delete and "expected" on anything but cas:
// a misspelt field must not silently change what is checked. `HistoryOp` objects are exactly
// this shape, so `JSON.stringify(history)` writes the format and `parseHistory` reads it back.
// ───────────────────────────────────────────────────────────────────────────────────────────

export type HistoryOpKind = "put" | "get" | "delete" | "cas";
export type HistoryStatus = "ok" | "fail" | "unknown";

interface HistoryOpCommon {
  /** The client (process) that issued the operation. Non-empty. */
  readonly client: string;
  /** The key operated on. Non-empty. */
  readonly key: string;
  /** Virtual ms at which the request was sent. Finite. */
  readonly invoke: number;
  /** Virtual ms at which the outcome was seen, >= invoke; null exactly when status is "unknown". */
  readonly complete: number | null;
  readonly status: HistoryStatus;
}

export interface PutOp extends HistoryOpCommon {
  readonly op: "put";
  readonly value: string;
  readonly output: null;
}

export interface GetOp extends HistoryOpCommon {
  readonly op: "get";
  /** The value read, null when absent; always null unless status is "ok". */
  readonly output: string | null;
}

export interface DeleteOp extends HistoryOpCommon {
  readonly op: "delete";
  readonly output: null;
}

export interface CasOp extends HistoryOpCommon {
  readonly op: "cas";
  /** The value written when the cas applies. */
  readonly value: string;
  /** The value the key must hold for the cas to apply; null means the key must be absent. */
  readonly expected: string | null;
  /** Whether it applied; always null unless status is "ok". */
  readonly output: boolean | null;
}

/** One client operation of a history: the public JSON contract described at the top of this file. */
export type HistoryOp = PutOp | GetOp | DeleteOp | CasOp;

/** An operation of a history together with its position in that history's array. */
export interface IndexedHistoryOp {
  readonly index: number;
  readonly op: HistoryOp;
}

/** A history that does not follow the format. `index` and `field` locate the first problem. */
export class HistoryFormatError extends Error {
  override readonly name = "HistoryFormatError";
  readonly code = "INVALID_ARGUMENT";
  /** Index of the offending element of the history array, or null when the array itself is bad. */
  readonly index: number | null;
  /** The offending field, or null when the element as a whole is bad. */
  readonly field: string | null;

  constructor(index: number | null, field: string | null, detail: string) {
    const where =
      index === null
        ? "history"
        : field === null
          ? `history[${index}]`
          : `history[${index}].${field}`;
    super(`${where}: ${detail}`);
    this.index = index;
    this.field = field;
  }
}

const COMMON_FIELDS = ["client", "op", "key", "invoke", "complete", "status", "output"] as const;

/** The fields each kind of operation may carry, beyond the common ones. */
const EXTRA_FIELDS: Readonly<Record<HistoryOpKind, readonly string[]>> = {
  put: ["value"],
  get: [],
  delete: [],
  cas: ["value", "expected"],
};

/**
 * Validates a parsed JSON value as a history and returns it as fresh `HistoryOp` objects.
 * Throws `HistoryFormatError` naming the element index and field of the first problem.
 */
export function parseHistory(json: unknown): HistoryOp[] {
  if (!Array.isArray(json)) {
    throw new HistoryFormatError(null, null, `expected an array of operations, got ${show(json)}`);
  }
  const ops: HistoryOp[] = [];
  for (let index = 0; index < json.length; index++) {
    ops.push(parseOp(json[index], index));
  }
  return ops;
}

/** One line describing an operation, for reports: `#4 c2 cas k1 "a"→"b" = true ok [10, 20]`. */
export function describeHistoryOp(op: HistoryOp, index: number): string {
  const complete = op.complete === null ? "∞" : String(op.complete);
  const span = `${op.status} [${op.invoke}, ${complete}]`;
  const prefix = `#${index} ${op.client} ${op.op} ${op.key}`;
  switch (op.op) {
    case "put":
      return `${prefix} ${JSON.stringify(op.value)} ${span}`;
    case "get":
      return op.status === "ok"
        ? `${prefix} = ${JSON.stringify(op.output)} ${span}`
        : `${prefix} ${span}`;
    case "delete":
      return `${prefix} ${span}`;
    case "cas": {
      const change = `${JSON.stringify(op.expected)}→${JSON.stringify(op.value)}`;
      return op.status === "ok"
        ? `${prefix} ${change} = ${op.output} ${span}`
        : `${prefix} ${change} ${span}`;
    }
  }
}

function parseOp(element: unknown, index: number): HistoryOp {
  if (typeof element !== "object" || element === null || Array.isArray(element)) {
    throw new HistoryFormatError(index, null, `expected an operation object, got ${show(element)}`);
  }
  const record = element as Record<string, unknown>;
  const op = parseKind(record, index);
  rejectUnknownFields(record, index, op);

  const client = requireNonEmptyString(record, index, "client");
  const key = requireNonEmptyString(record, index, "key");
  const status = parseStatus(record, index);
  const invoke = requireFiniteNumber(record, index, "invoke");
  const complete = parseComplete(record, index, status, invoke);

  switch (op) {
    case "put": {
      const value = requireString(record, index, "value");
      return {
        client,
        op,
        key,
        value,
        invoke,
        complete,
        status,
        output: parseNullOutput(record, index),
      };
    }
    case "delete":
      return { client, op, key, invoke, complete, status, output: parseNullOutput(record, index) };
    case "get": {
      const output = record.output;
      if (output === null) return { client, op, key, invoke, complete, status, output };
      if (status === "ok" && typeof output === "string") {
        return { client, op, key, invoke, complete, status, output };
      }
      const wanted =
        status === "ok" ? "the value read (a string) or null" : "null (status is not ok)";
      throw new HistoryFormatError(index, "output", `expected ${wanted}, got ${show(output)}`);
    }
    case "cas": {
      const value = requireString(record, index, "value");
      const expected = record.expected;
      if (expected !== null && typeof expected !== "string") {
        throw new HistoryFormatError(
          index,
          "expected",
          `expected a string or null, got ${show(expected)}`,
        );
      }
      const output = record.output;
      // An ok cas must say whether it applied; any other status has no outcome to report.
      if (status === "ok" && typeof output === "boolean") {
        return { client, op, key, value, expected, invoke, complete, status, output };
      }
      if (status !== "ok" && output === null) {
        return { client, op, key, value, expected, invoke, complete, status, output };
      }
      const wanted = status === "ok" ? "true or false" : "null (status is not ok)";
      throw new HistoryFormatError(index, "output", `expected ${wanted}, got ${show(output)}`);
    }
  }
}

function parseKind(record: Record<string, unknown>, index: number): HistoryOpKind {
  const op = record.op;
  if (op === "put" || op === "get" || op === "delete" || op === "cas") return op;
  throw new HistoryFormatError(
    index,
    "op",
    `expected "put", "get", "delete" or "cas", got ${show(op)}`,
  );
}

function parseStatus(record: Record<string, unknown>, index: number): HistoryStatus {
  const status = record.status;
  if (status === "ok" || status === "fail" || status === "unknown") return status;
  throw new HistoryFormatError(
    index,
    "status",
    `expected "ok", "fail" or "unknown", got ${show(status)}`,
  );
}

function parseComplete(
  record: Record<string, unknown>,
  index: number,
  status: HistoryStatus,
  invoke: number,
): number | null {
  const complete = record.complete;
  if (status === "unknown") {
    if (complete === null) return null;
    throw new HistoryFormatError(
      index,
      "complete",
      `must be null when status is "unknown", got ${show(complete)}`,
    );
  }
  if (typeof complete !== "number" || !Number.isFinite(complete)) {
    throw new HistoryFormatError(
      index,
      "complete",
      `expected a finite number, got ${show(complete)}`,
    );
  }
  if (complete < invoke) {
    throw new HistoryFormatError(index, "complete", `${complete} is before invoke ${invoke}`);
  }
  return complete;
}

function parseNullOutput(record: Record<string, unknown>, index: number): null {
  if (record.output === null) return null;
  throw new HistoryFormatError(index, "output", `expected null, got ${show(record.output)}`);
}

function rejectUnknownFields(
  record: Record<string, unknown>,
  index: number,
  op: HistoryOpKind,
): void {
  const allowed: readonly string[] = EXTRA_FIELDS[op];
  const fields = Object.keys(record);
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i] as string;
    if ((COMMON_FIELDS as readonly string[]).includes(field) || allowed.includes(field)) continue;
    const detail =
      field === "value" || field === "expected"
        ? `not allowed on a ${op} operation`
        : "unknown field (misspelt?)";
    throw new HistoryFormatError(index, field, detail);
  }
  // Required fields that are simply missing get the per-field message below ("got nothing").
}

function requireString(record: Record<string, unknown>, index: number, field: string): string {
  const value = record[field];
  if (typeof value === "string") return value;
  throw new HistoryFormatError(index, field, `expected a string, got ${show(value)}`);
}

function requireNonEmptyString(
  record: Record<string, unknown>,
  index: number,
  field: string,
): string {
  const value = requireString(record, index, field);
  if (value.length > 0) return value;
  throw new HistoryFormatError(index, field, "must not be empty");
}

function requireFiniteNumber(
  record: Record<string, unknown>,
  index: number,
  field: string,
): number {
  const value = record[field];
  if (typeof value === "number" && Number.isFinite(value)) return value;
  throw new HistoryFormatError(index, field, `expected a finite number, got ${show(value)}`);
}

/** A short rendering of an arbitrary JSON value for error messages. */
function show(value: unknown): string {
  if (value === undefined) return "nothing (field missing)";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  const text = JSON.stringify(value) ?? String(value);
  const textLengthMax = 60;
  return text.length > textLengthMax ? `${text.slice(0, textLengthMax)}…` : text;
}
