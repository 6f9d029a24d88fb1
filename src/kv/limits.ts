// The store's size limits and lease policy. They shape which commands succeed, so every replica
// must run with the same values (they are configuration, not state, and not in snapshots).
import { assert } from "../lib/index.js";

export interface KvLimits {
  /**
   * Longest key. etcd bounds keys only through the request size; 64 KiB keeps the key index and
   * sort costs sane and is far above what any etcd user stores.
   */
  readonly keyBytesMax: number;
  /** Longest value: by default the request limit, as in etcd. */
  readonly valueBytesMax: number;
  /** Largest encoded command (etcd's --max-request-bytes, default 1.5 MiB). */
  readonly requestBytesMax: number;
  /** etcd's --max-txn-ops: compares, success ops or failure ops per txn level. */
  readonly txnOpsMax: number;
  /**
   * Deepest txn nesting. etcd bounds it only through txnOpsMax (each level spends at least one
   * op of its parent's budget, so 128 by default); we bound the recursion explicitly too.
   * At most TXN_DEPTH_CODEC_MAX.
   */
  readonly txnDepthMax: number;
  /**
   * Minimum lease TTL. etcd derives it from the election timeout (1.5 × election timeout,
   * rounded up: 2 s with the default 1 s timeout); Ordo takes it as configuration, default 2 s.
   */
  readonly leaseTtlMinSeconds: number;
  /** Most leases one LeaseExpire command revokes when it names no limit. */
  readonly leaseExpireMax: number;
  /** Most events one EventsRequest returns when it names no limit. */
  readonly eventsMax: number;
  /** Most concurrent event listeners. */
  readonly listenersMax: number;
}

/** etcd's MaxLeaseTTL: 9,000,000,000 s (285 years). */
export const LEASE_TTL_MAX_SECONDS = 9_000_000_000;

/** Leader timestamps above this (year 142,000+) are refused, so expiry sums stay safe integers. */
export const TIMESTAMP_MAX_MS = 2 ** 52;

/** The codec refuses txns nested deeper than this, whatever the store's txnDepthMax. */
export const TXN_DEPTH_CODEC_MAX = 256;

/** LeaseRenewAll extensions above this (35 years) are refused. */
export const LEASE_EXTEND_MAX_MS = 2 ** 40;

export const DEFAULT_KV_LIMITS: KvLimits = {
  keyBytesMax: 64 * 1024,
  valueBytesMax: 1.5 * 1024 * 1024,
  requestBytesMax: 1.5 * 1024 * 1024,
  txnOpsMax: 128,
  txnDepthMax: 128,
  leaseTtlMinSeconds: 2,
  leaseExpireMax: 1000,
  eventsMax: 10_000,
  listenersMax: 64,
};

export function resolveLimits(overrides: Partial<KvLimits> = {}): KvLimits {
  const limits: KvLimits = { ...DEFAULT_KV_LIMITS, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    assert(
      Number.isSafeInteger(value) && value > 0,
      `kv: limit ${name} must be a positive integer`,
    );
  }
  assert(limits.leaseTtlMinSeconds <= LEASE_TTL_MAX_SECONDS, "kv: leaseTtlMinSeconds too large");
  assert(limits.txnDepthMax <= TXN_DEPTH_CODEC_MAX, "kv: txnDepthMax above the codec's bound");
  return limits;
}
