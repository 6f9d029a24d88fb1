// Validation of typed requests, before anything is read or written: the checks etcd's gRPC layer
// makes (empty keys, ignore_value with a value, txn size, duplicate keys in a txn), plus the
// limits of KvLimits and the shape checks a TypeScript caller could still get wrong (unsafe
// numbers, unknown enum values). A request that passes can fail afterwards only on state
// (a missing lease, a compacted revision), and those checks run before the first write too.
import { assert } from "../lib/index.js";
import { keyIdOf } from "./bytes.js";
import {
  duplicateKeyError,
  emptyKeyError,
  invalidArgumentError,
  KvError,
  leaseProvidedError,
  tooManyOpsError,
  valueProvidedError,
} from "./errors.js";
import { type KeySpan, spanContains, spanOf } from "./key-index.js";
import type { KvLimits } from "./limits.js";
import {
  COMPARE_RESULTS,
  COMPARE_TARGETS,
  type Compare,
  type DeleteRangeRequest,
  type PutRequest,
  type RangeRequest,
  type RequestOp,
  SORT_ORDERS,
  SORT_TARGETS,
  type TxnRequest,
} from "./types.js";

export function checkInteger(name: string, value: number | undefined): void {
  if (value !== undefined && !Number.isSafeInteger(value)) {
    throw invalidArgumentError(`${name} must be a safe integer, got ${String(value)}`);
  }
}

function checkFlag(name: string, value: boolean | undefined): void {
  if (value !== undefined && typeof value !== "boolean") {
    throw invalidArgumentError(`${name} must be a boolean`);
  }
}

function checkBytes(name: string, value: Uint8Array | undefined, bytesMax: number): void {
  if (value === undefined) return;
  if (!(value instanceof Uint8Array)) throw invalidArgumentError(`${name} must be bytes`);
  if (value.length > bytesMax) {
    throw new KvError(
      name === "value" ? "VALUE_TOO_LARGE" : "KEY_TOO_LARGE",
      `etcdserver: ${name} is too large (${value.length} bytes, at most ${bytesMax})`,
    );
  }
}

function checkEnum<T extends string>(name: string, value: T | undefined, values: readonly T[]) {
  if (value !== undefined && !values.includes(value)) {
    throw invalidArgumentError(`unknown ${name} ${String(value)}`);
  }
}

export function checkKey(key: Uint8Array, limits: KvLimits): void {
  checkBytes("key", key, limits.keyBytesMax);
  if (key === undefined || key.length === 0) throw emptyKeyError();
}

export function checkKeyRange(
  key: Uint8Array,
  rangeEnd: Uint8Array | undefined,
  limits: KvLimits,
): void {
  checkKey(key, limits);
  checkBytes("range end", rangeEnd, limits.keyBytesMax);
}

export function checkRangeRequest(req: RangeRequest, limits: KvLimits): void {
  checkKeyRange(req.key, req.rangeEnd, limits);
  checkInteger("limit", req.limit);
  checkInteger("revision", req.revision);
  checkEnum("sort order", req.sortOrder, SORT_ORDERS);
  checkEnum("sort target", req.sortTarget, SORT_TARGETS);
  checkFlag("serializable", req.serializable);
  checkFlag("keys only", req.keysOnly);
  checkFlag("count only", req.countOnly);
  checkInteger("min mod revision", req.minModRevision);
  checkInteger("max mod revision", req.maxModRevision);
  checkInteger("min create revision", req.minCreateRevision);
  checkInteger("max create revision", req.maxCreateRevision);
}

export function checkPutRequest(req: PutRequest, limits: KvLimits): void {
  checkKey(req.key, limits);
  checkBytes("value", req.value, limits.valueBytesMax);
  checkInteger("lease", req.lease);
  checkFlag("prev kv", req.prevKv);
  checkFlag("ignore value", req.ignoreValue);
  checkFlag("ignore lease", req.ignoreLease);
  if (req.ignoreValue === true && req.value !== undefined && req.value.length > 0) {
    throw valueProvidedError();
  }
  if (req.ignoreLease === true && req.lease !== undefined && req.lease !== 0) {
    throw leaseProvidedError();
  }
}

export function checkDeleteRangeRequest(req: DeleteRangeRequest, limits: KvLimits): void {
  checkKeyRange(req.key, req.rangeEnd, limits);
  checkFlag("prev kv", req.prevKv);
}

export function checkCompare(c: Compare, limits: KvLimits): void {
  if (c === null || typeof c !== "object")
    throw invalidArgumentError("a compare must be an object");
  checkKeyRange(c.key, c.rangeEnd, limits);
  checkEnum("compare target", c.target, COMPARE_TARGETS);
  checkEnum("compare result", c.result, COMPARE_RESULTS);
  if (c.target === undefined || c.result === undefined) {
    throw invalidArgumentError("compare needs a target and a result");
  }
  checkBytes("value", c.value, limits.valueBytesMax);
  checkInteger("compare version", c.version);
  checkInteger("compare create revision", c.createRevision);
  checkInteger("compare mod revision", c.modRevision);
  checkInteger("compare lease", c.lease);
}

function listOf<T>(name: string, list: readonly T[] | undefined): readonly T[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw invalidArgumentError(`${name} must be a list`);
  return list;
}

/** etcd's checkTxnRequest and checkIntervals (on both branches), plus our depth bound. */
export function checkTxnRequest(req: TxnRequest, limits: KvLimits): void {
  checkTxnShape(req, limits.txnOpsMax, 0, limits);
  checkWrites(listOf("success", req.success), 0, limits.txnDepthMax);
  checkWrites(listOf("failure", req.failure), 0, limits.txnDepthMax);
}

/**
 * etcd's op budget: a level may hold at most `opsMax` compares, success ops or failure ops,
 * and a nested txn gets what its parent level left (opsMax minus the parent's largest list).
 * Recursion is bounded by limits.txnDepthMax, checked first.
 */
function checkTxnShape(req: TxnRequest, opsMax: number, depth: number, limits: KvLimits): void {
  if (depth > limits.txnDepthMax) {
    throw invalidArgumentError(`txn nested deeper than ${limits.txnDepthMax}`);
  }
  if (req === null || typeof req !== "object") throw invalidArgumentError("txn must be an object");
  const compare = listOf("compare", req.compare);
  const success = listOf("success", req.success);
  const failure = listOf("failure", req.failure);
  const opc = Math.max(compare.length, success.length, failure.length);
  if (opc > opsMax) throw tooManyOpsError();
  for (const c of compare) checkCompare(c, limits);
  for (const op of success) checkRequestOp(op, opsMax - opc, depth, limits);
  for (const op of failure) checkRequestOp(op, opsMax - opc, depth, limits);
}

function checkRequestOp(op: RequestOp, opsMax: number, depth: number, limits: KvLimits): void {
  if (op === null || typeof op !== "object" || op.request === undefined) {
    throw invalidArgumentError("a txn op needs a type and a request");
  }
  switch (op.type) {
    case "range":
      checkRangeRequest(op.request, limits);
      break;
    case "put":
      checkPutRequest(op.request, limits);
      break;
    case "deleteRange":
      checkDeleteRangeRequest(op.request, limits);
      break;
    case "txn":
      checkTxnShape(op.request, opsMax, depth + 1, limits);
      break;
    default:
      throw invalidArgumentError(`unknown txn op ${String((op as { type: unknown }).type)}`);
  }
}

interface BranchWrites {
  /** Put keys by id. */
  readonly puts: Map<string, Uint8Array>;
  readonly deletes: KeySpan[];
}

function deleted(deletes: readonly KeySpan[], key: Uint8Array): boolean {
  for (const span of deletes) if (spanContains(span, key)) return true;
  return false;
}

/**
 * etcd's checkIntervals: within one branch (with the nested txns it may run), no key may be put
 * twice, nor put and deleted. The success and failure of a nested txn exclude each other, so the
 * same key put in both is fine. Runs after checkTxnShape, so the depth is already bounded.
 */
function checkWrites(ops: readonly RequestOp[], depth: number, depthMax: number): BranchWrites {
  assert(depth <= depthMax, "kv: txn depth not checked before its writes");
  const deletes: KeySpan[] = [];
  for (const op of ops) {
    if (op.type === "deleteRange") deletes.push(spanOf(op.request.key, op.request.rangeEnd));
  }
  const puts = new Map<string, Uint8Array>();
  for (const op of ops) {
    if (op.type !== "txn") continue;
    const then = checkWrites(op.request.success ?? [], depth + 1, depthMax);
    const otherwise = checkWrites(op.request.failure ?? [], depth + 1, depthMax);
    for (const [id, key] of then.puts) {
      if (puts.has(id) || deleted(deletes, key)) throw duplicateKeyError();
      puts.set(id, key);
    }
    for (const [id, key] of otherwise.puts) {
      if ((puts.has(id) && !then.puts.has(id)) || deleted(deletes, key)) throw duplicateKeyError();
      puts.set(id, key);
    }
    deletes.push(...then.deletes, ...otherwise.deletes);
  }
  for (const op of ops) {
    if (op.type !== "put") continue;
    const id = keyIdOf(op.request.key);
    if (puts.has(id) || deleted(deletes, op.request.key)) throw duplicateKeyError();
    puts.set(id, op.request.key);
  }
  return { puts, deletes };
}
