// Short constructors for history operations in tests, and the tiny seeded PRNG the randomized
// tests draw from (tests never use Math.random: a failing seed must replay exactly).
// Status defaults to "ok", or "unknown" when `complete` is null.
import type { CasOp, DeleteOp, GetOp, HistoryStatus, PutOp } from "../../src/check/index.js";

function statusOf(complete: number | null, status: HistoryStatus | undefined): HistoryStatus {
  return status ?? (complete === null ? "unknown" : "ok");
}

export function put(
  client: string,
  key: string,
  value: string,
  invoke: number,
  complete: number | null,
  status?: HistoryStatus,
): PutOp {
  return {
    client,
    op: "put",
    key,
    value,
    invoke,
    complete,
    status: statusOf(complete, status),
    output: null,
  };
}

export function get(
  client: string,
  key: string,
  output: string | null,
  invoke: number,
  complete: number | null,
  status?: HistoryStatus,
): GetOp {
  return { client, op: "get", key, invoke, complete, status: statusOf(complete, status), output };
}

export function del(
  client: string,
  key: string,
  invoke: number,
  complete: number | null,
  status?: HistoryStatus,
): DeleteOp {
  return {
    client,
    op: "delete",
    key,
    invoke,
    complete,
    status: statusOf(complete, status),
    output: null,
  };
}

export function cas(
  client: string,
  key: string,
  expected: string | null,
  value: string,
  output: boolean | null,
  invoke: number,
  complete: number | null,
  status?: HistoryStatus,
): CasOp {
  return {
    client,
    op: "cas",
    key,
    value,
    expected,
    invoke,
    complete,
    status: statusOf(complete, status),
    output,
  };
}

/** mulberry32: a few lines, good enough to shuffle test workloads, fully determined by the seed. */
export class TestRandom {
  private s: number;

  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  /** A float in [0, 1). */
  float(): number {
    this.s = (this.s + 0x6d2b79f5) | 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  }

  /** An integer in [0, bound). */
  int(bound: number): number {
    return Math.floor(this.float() * bound);
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.int(items.length)];
    if (item === undefined) throw new Error("pick from an empty list");
    return item;
  }
}
