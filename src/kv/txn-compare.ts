// Txn guards, exactly as etcd's applyCompare / compareKV: values compare bytewise, the numeric
// targets as integers; a missing operand is its zero value.
import { assertNever, compareBytes, EMPTY_BYTES } from "../lib/index.js";
import type { Compare, KeyValue } from "./types.js";

const ZERO_KV: KeyValue = {
  key: EMPTY_BYTES,
  createRevision: 0,
  modRevision: 0,
  version: 0,
  value: EMPTY_BYTES,
  lease: 0,
};

function sign(n: number): number {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

/** Whether one KeyValue passes the guard. */
export function compareHolds(c: Compare, kv: KeyValue): boolean {
  let order: number;
  switch (c.target) {
    case "VALUE":
      order = compareBytes(kv.value, c.value ?? EMPTY_BYTES);
      break;
    case "VERSION":
      order = sign(kv.version - (c.version ?? 0));
      break;
    case "CREATE":
      order = sign(kv.createRevision - (c.createRevision ?? 0));
      break;
    case "MOD":
      order = sign(kv.modRevision - (c.modRevision ?? 0));
      break;
    case "LEASE":
      order = sign(kv.lease - (c.lease ?? 0));
      break;
    default:
      return assertNever(c.target, "compare target");
  }
  switch (c.result) {
    case "EQUAL":
      return order === 0;
    case "NOT_EQUAL":
      return order !== 0;
    case "GREATER":
      return order > 0;
    case "LESS":
      return order < 0;
    default:
      return assertNever(c.result, "compare result");
  }
}

/**
 * Whether the guard holds for the keys its range names (`kvs`, the ones that exist). No keys: a
 * VALUE guard fails (gRPC cannot tell a missing value from an empty one); the others compare a
 * zero KeyValue, so "create_revision = 0" tests that a key does not exist.
 */
export function compareHoldsForAll(c: Compare, kvs: readonly KeyValue[]): boolean {
  if (kvs.length === 0) return c.target !== "VALUE" && compareHolds(c, ZERO_KV);
  for (const kv of kvs) if (!compareHolds(c, kv)) return false;
  return true;
}
