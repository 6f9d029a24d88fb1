// What etcd's applier does to a range's rows after reading them: the mod/create revision
// filters, the sort, the limit with its `more` flag and keys_only. Kept apart from the store so
// the rules read as one piece.
import { assertNever, compareBytes, EMPTY_BYTES } from "../lib/index.js";
import type { KeyValue, RangeRequest, SortOrder, SortTarget } from "./types.js";

/** Whether every row must be read before the limit applies (sorting or filtering). */
export function needsAllRows(req: RangeRequest): boolean {
  return (
    effectiveSortOrder(req) !== "NONE" ||
    (req.minModRevision ?? 0) !== 0 ||
    (req.maxModRevision ?? 0) !== 0 ||
    (req.minCreateRevision ?? 0) !== 0 ||
    (req.maxCreateRevision ?? 0) !== 0
  );
}

/**
 * etcd's rule: rows come back in ascending key order, so ASCEND by KEY needs no sort, and a
 * target other than KEY with order NONE means ASCEND.
 */
export function effectiveSortOrder(req: RangeRequest): SortOrder {
  const order = req.sortOrder ?? "NONE";
  const target = req.sortTarget ?? "KEY";
  if (target !== "KEY" && order === "NONE") return "ASCEND";
  if (target === "KEY" && order === "ASCEND") return "NONE";
  return order;
}

function compareBy(target: SortTarget, a: KeyValue, b: KeyValue): number {
  switch (target) {
    case "KEY":
      return compareBytes(a.key, b.key);
    case "VERSION":
      return a.version - b.version;
    case "CREATE":
      return a.createRevision - b.createRevision;
    case "MOD":
      return a.modRevision - b.modRevision;
    case "VALUE":
      return compareBytes(a.value, b.value);
    default:
      return assertNever(target, "sort target");
  }
}

/**
 * Filters, sorts and cuts rows read in key order. Array.prototype.sort is stable, so ties keep
 * key order: the answer is deterministic where Go's unstable sort.Sort is not.
 */
export function shapeRows(rows: KeyValue[], req: RangeRequest): { kvs: KeyValue[]; more: boolean } {
  let kvs = rows;
  const maxMod = req.maxModRevision ?? 0;
  const minMod = req.minModRevision ?? 0;
  const maxCreate = req.maxCreateRevision ?? 0;
  const minCreate = req.minCreateRevision ?? 0;
  if (maxMod !== 0) kvs = kvs.filter((kv) => kv.modRevision <= maxMod);
  if (minMod !== 0) kvs = kvs.filter((kv) => kv.modRevision >= minMod);
  if (maxCreate !== 0) kvs = kvs.filter((kv) => kv.createRevision <= maxCreate);
  if (minCreate !== 0) kvs = kvs.filter((kv) => kv.createRevision >= minCreate);
  const order = effectiveSortOrder(req);
  const target = req.sortTarget ?? "KEY";
  if (order === "ASCEND") kvs.sort((a, b) => compareBy(target, a, b));
  else if (order === "DESCEND") kvs.sort((a, b) => compareBy(target, b, a));
  const limit = req.limit ?? 0;
  let more = false;
  if (limit > 0 && kvs.length > limit) {
    kvs = kvs.slice(0, limit);
    more = true;
  }
  if (req.keysOnly === true) kvs = kvs.map((kv) => ({ ...kv, value: EMPTY_BYTES }));
  return { kvs, more };
}
