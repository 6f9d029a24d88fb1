// A seeded random workload of kv commands: every command type, valid and invalid requests
// (missing leases, duplicate txn keys, compacted revisions), over a small key space so keys
// collide, are deleted and come back.

import type { Compare, KvCommand, RequestOp, TxnRequest } from "../../src/kv/index.js";
import { COMPARE_RESULTS, COMPARE_TARGETS, SORT_ORDERS, SORT_TARGETS } from "../../src/kv/index.js";
import { b, TestRandom } from "./helpers.js";

export interface WorkloadStep {
  readonly command: KvCommand;
  /** Leader time of the entry. */
  readonly timestampMs: number;
  /** Seed of the entry's PRNG. */
  readonly seed: number;
}

const keyNames = ["a", "a/1", "a/2", "b", "b/1", "c", "d", "e/x", "e/y", "zz"];

function key(rng: TestRandom): Uint8Array {
  return rng.chance(5) ? rng.bytes(3) : b(rng.pick(keyNames));
}

function rangeEnd(rng: TestRandom): Uint8Array | undefined {
  const roll = rng.int(4);
  if (roll === 0) return undefined;
  if (roll === 1) return Uint8Array.of(0);
  return b(rng.pick(keyNames));
}

function withRangeEnd<T extends object>(
  base: T,
  end: Uint8Array | undefined,
): T & { rangeEnd?: Uint8Array } {
  return end === undefined ? base : { ...base, rangeEnd: end };
}

export class Workload {
  private readonly rng: TestRandom;
  private timeMs = 1_700_000_000_000;
  private revisionGuess = 1;
  private readonly leaseIds: number[] = [1, 2, 3];

  constructor(seed: number) {
    this.rng = new TestRandom(seed);
  }

  next(): WorkloadStep {
    this.timeMs += this.rng.int(3000);
    const command = this.command();
    if (command.type !== "Range" && command.type !== "Compaction") this.revisionGuess++;
    return { command, timestampMs: this.timeMs, seed: this.rng.next32() };
  }

  private lease(): number {
    if (this.rng.chance(50)) return 0;
    return this.rng.chance(90) ? this.rng.pick(this.leaseIds) : 999;
  }

  private revision(): number {
    return this.rng.int(this.revisionGuess + 3) - 1;
  }

  private command(): KvCommand {
    const rng = this.rng;
    const roll = rng.int(100);
    if (roll < 35) {
      const ignoreValue = rng.chance(5);
      return {
        type: "Put",
        request: {
          key: key(rng),
          value: ignoreValue ? new Uint8Array(0) : rng.bytes(8),
          lease: this.lease(),
          prevKv: rng.chance(30),
          ignoreValue,
        },
      };
    }
    if (roll < 45) {
      return {
        type: "DeleteRange",
        request: withRangeEnd({ key: key(rng), prevKv: rng.chance(50) }, rangeEnd(rng)),
      };
    }
    if (roll < 65) return { type: "Txn", request: this.txn(0) };
    if (roll < 70) return { type: "Range", request: this.range() };
    if (roll < 73) return { type: "Compaction", request: { revision: this.revision() } };
    if (roll < 80) {
      const id = rng.chance(50) ? 0 : rng.int(6);
      if (id !== 0) this.leaseIds.push(id);
      return { type: "LeaseGrant", request: { ttl: rng.int(20), id } };
    }
    if (roll < 84) return { type: "LeaseRevoke", request: { id: rng.pick(this.leaseIds) } };
    if (roll < 90) return { type: "LeaseKeepAlive", request: { id: rng.pick(this.leaseIds) } };
    if (roll < 97) return { type: "LeaseExpire", request: { limit: rng.int(3) } };
    return { type: "LeaseRenewAll", request: { extendMs: rng.int(5000) } };
  }

  private range() {
    const rng = this.rng;
    return withRangeEnd(
      {
        key: key(rng),
        limit: rng.int(4),
        revision: this.revision(),
        sortOrder: rng.pick(SORT_ORDERS),
        sortTarget: rng.pick(SORT_TARGETS),
        keysOnly: rng.chance(20),
        countOnly: rng.chance(10),
        minModRevision: rng.chance(20) ? this.revision() : 0,
        maxCreateRevision: rng.chance(20) ? this.revision() : 0,
      },
      rangeEnd(rng),
    );
  }

  private compare(): Compare {
    const rng = this.rng;
    const n = rng.int(8);
    return withRangeEnd(
      {
        key: key(rng),
        target: rng.pick(COMPARE_TARGETS),
        result: rng.pick(COMPARE_RESULTS),
        value: rng.bytes(2),
        version: n,
        createRevision: n,
        modRevision: n,
        lease: rng.pick(this.leaseIds),
      },
      rng.chance(30) ? rangeEnd(rng) : undefined,
    );
  }

  private op(depth: number): RequestOp {
    const rng = this.rng;
    const roll = rng.int(10);
    if (roll < 4) {
      return { type: "put", request: { key: key(rng), value: rng.bytes(4), lease: this.lease() } };
    }
    if (roll < 6) {
      return {
        type: "deleteRange",
        request: withRangeEnd({ key: key(rng), prevKv: true }, rangeEnd(rng)),
      };
    }
    if (roll < 8 || depth >= 2) return { type: "range", request: this.range() };
    return { type: "txn", request: this.txn(depth + 1) };
  }

  private txn(depth: number): TxnRequest {
    const rng = this.rng;
    const list = <T>(max: number, item: () => T): T[] =>
      Array.from({ length: rng.int(max + 1) }, item);
    return {
      compare: list(2, () => this.compare()),
      success: list(3, () => this.op(depth)),
      failure: list(2, () => this.op(depth)),
    };
  }
}
