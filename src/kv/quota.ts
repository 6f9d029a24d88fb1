// The space quota's arithmetic, as etcd 3.4 has it (etcdserver/quota.go and apply.go's
// applierV3Capped). The server compares a request's cost plus the member's dbSize with
// --quota-backend-bytes before proposing; while a NOSPACE alarm is raised (replicated state,
// alarm-store.ts) apply refuses what would grow the store, the same on every replica.
import type { PlainKvCommand } from "./codec.js";
import { KvError } from "./errors.js";
import type { PutRequest, TxnRequest } from "./types.js";

/** etcd's DefaultQuotaBytes: 2 GiB, the quota when --quota-backend-bytes is 0. */
export const DEFAULT_QUOTA_BYTES = 2 * 1024 * 1024 * 1024;
/** etcd's MaxQuotaBytes: above this etcd warns that performance may degrade. */
export const MAX_QUOTA_BYTES = 8 * 1024 * 1024 * 1024;
/** etcd's kvOverhead: what a put costs beyond its key and value. */
export const KV_OVERHEAD_BYTES = 256;
/** etcd's leaseOverhead: what a lease grant costs. */
export const LEASE_OVERHEAD_BYTES = 64;

/**
 * etcd's NewBackendQuota: a negative setting disables the quota (undefined here), 0 means the
 * default (2 GiB), anything else is the quota in bytes.
 */
export function quotaBytesOf(setting: number): number | undefined {
  if (!Number.isSafeInteger(setting)) {
    throw new RangeError(`quota-backend-bytes must be an integer, got ${String(setting)}`);
  }
  if (setting < 0) return undefined;
  return setting === 0 ? DEFAULT_QUOTA_BYTES : setting;
}

/** etcd's costPut. */
export function costPut(req: PutRequest): number {
  return KV_OVERHEAD_BYTES + req.key.length + (req.value?.length ?? 0);
}

/**
 * etcd's costTxn: the larger branch's puts (only one branch runs). etcd 3.4 counts only the
 * top-level puts, so a nested txn's puts pass its capped applier; Ordo counts them too (nesting
 * is bounded by the txn depth limit), so a nested txn cannot write past a NOSPACE alarm.
 */
export function costTxn(req: TxnRequest): number {
  let most = 0;
  for (const ops of [req.success ?? [], req.failure ?? []]) {
    let cost = 0;
    for (const op of ops) {
      if (op.type === "put") cost += costPut(op.request);
      else if (op.type === "txn") cost += costTxn(op.request);
    }
    most = Math.max(most, cost);
  }
  return most;
}

/**
 * etcd's backendQuota.Cost for the requests the quota covers (Put, Txn, LeaseGrant); undefined
 * for every other command, which the quota lets through.
 */
export function quotaCostOf(command: PlainKvCommand): number | undefined {
  switch (command.type) {
    case "Put":
      return costPut(command.request);
    case "Txn":
      return costTxn(command.request);
    case "LeaseGrant":
      return LEASE_OVERHEAD_BYTES;
    default:
      return undefined;
  }
}

/**
 * etcd's backendQuota.Available: the request fits when dbSize plus its cost stays below the
 * quota (strictly, as etcd compares). A txn without puts costs nothing and always fits.
 */
export function quotaAvailable(dbSizeBytes: number, cost: number, quotaBytes: number): boolean {
  return dbSizeBytes + cost < quotaBytes;
}

/**
 * What applierV3Capped refuses while NOSPACE is raised: every Put and LeaseGrant, and a Txn
 * with a put in either branch (cost > 0). Range, DeleteRange, Compaction, the other lease
 * commands and auth pass.
 */
export function refusedWhenCapped(command: PlainKvCommand): boolean {
  if (command.type === "Put" || command.type === "LeaseGrant") return true;
  return command.type === "Txn" && costTxn(command.request) > 0;
}

/** etcd's ErrNoSpace; over gRPC ErrGRPCNoSpace, "etcdserver: mvcc: database space exceeded". */
export const noSpaceError = (): KvError => new KvError("NO_SPACE", "mvcc: database space exceeded");
