// The lease table. A lease has a granted TTL and an absolute expiry in leader time (Unix ms from
// the entries' ApplyContext), never a local clock: it ends only when a LeaseRevoke or LeaseExpire
// command is applied. Keys attach to a lease by a put that names it; revoking the lease deletes
// them. Map iteration order depends on history, so everything that leaves this file is sorted.
import { assert } from "../lib/index.js";

export interface Lease {
  readonly id: number;
  /** Granted TTL, seconds (already raised to the minimum). */
  readonly ttlSeconds: number;
  /** Leader time at which the lease may be expired. */
  expiryMs: number;
  /** Ids (keyIdOf) of the keys whose current record names this lease. */
  readonly keyIds: Set<string>;
}

export class Lessor {
  private readonly leases = new Map<number, Lease>();

  get size(): number {
    return this.leases.size;
  }

  get(id: number): Lease | undefined {
    return this.leases.get(id);
  }

  has(id: number): boolean {
    return this.leases.has(id);
  }

  grant(id: number, ttlSeconds: number, expiryMs: number): Lease {
    assert(Number.isSafeInteger(id) && id > 0 && !this.leases.has(id), "kv: lease id to grant");
    assert(Number.isSafeInteger(expiryMs), "kv: lease expiry");
    const lease: Lease = { id, ttlSeconds, expiryMs, keyIds: new Set() };
    this.leases.set(id, lease);
    return lease;
  }

  remove(id: number): void {
    const lease = this.leases.get(id);
    assert(lease !== undefined && lease.keyIds.size === 0, "kv: remove a lease with keys");
    this.leases.delete(id);
  }

  attach(id: number, keyId: string): void {
    const lease = this.leases.get(id);
    assert(lease !== undefined, "kv: attach to a missing lease");
    lease.keyIds.add(keyId);
  }

  detach(id: number, keyId: string): void {
    const lease = this.leases.get(id);
    assert(lease?.keyIds.has(keyId) === true, "kv: detach a key not attached");
    lease.keyIds.delete(keyId);
  }

  /** Every lease, by ID. */
  sorted(): Lease[] {
    return [...this.leases.values()].sort((a, b) => a.id - b.id);
  }

  /** Leases with expiry ≤ nowMs, oldest expiry first (then by ID), at most `limit`. */
  expired(nowMs: number, limit: number): Lease[] {
    const out: Lease[] = [];
    for (const lease of this.leases.values()) if (lease.expiryMs <= nowMs) out.push(lease);
    out.sort((a, b) => (a.expiryMs !== b.expiryMs ? a.expiryMs - b.expiryMs : a.id - b.id));
    if (out.length > limit) out.length = limit;
    return out;
  }
}
