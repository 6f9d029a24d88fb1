// Shared helpers for the kv tests: string ↔ bytes, a tiny seeded PRNG (the tests own their
// randomness; no Math.random), ApplyContexts with a chosen leader time, and readable views of
// responses.

import assert from "node:assert/strict";
import { type KeyValue, KvError, type KvErrorCode } from "../../src/kv/index.js";
import { decodeUtf8, encodeUtf8 } from "../../src/lib/index.js";
import { asIndex, asTerm } from "../../src/raft/index.js";
import type { ApplyContext, DeterministicRandom } from "../../src/rsm/state-machine.js";

export const b = (text: string): Uint8Array => encodeUtf8(text);
export const s = (bytes: Uint8Array): string => decodeUtf8(bytes);

/** mulberry32: a 32-bit seeded PRNG, enough for test workloads. */
export class TestRandom implements DeterministicRandom {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  int(bound: number): number {
    assert.ok(Number.isInteger(bound) && bound > 0 && bound <= 2 ** 32);
    return bound === 2 ** 32 ? this.next32() : this.next32() % bound;
  }
  pick<T>(items: readonly T[]): T {
    assert.ok(items.length > 0);
    return items[this.int(items.length)]!;
  }
  chance(percent: number): boolean {
    return this.int(100) < percent;
  }
  bytes(lengthMax: number): Uint8Array {
    const out = new Uint8Array(this.int(lengthMax + 1));
    for (let i = 0; i < out.length; i++) out[i] = this.int(256);
    return out;
  }
}

let entryIndex = 0;

/** An ApplyContext at leader time `timestampMs`, randomness seeded by `seed`. */
export function ctx(timestampMs = 1_000_000, seed = 7): ApplyContext {
  entryIndex++;
  return { index: asIndex(entryIndex), term: asTerm(1), timestampMs, random: new TestRandom(seed) };
}

/** A KeyValue as a compact string: key=value@create/mod/version[/lease]. */
export function kvString(kv: KeyValue): string {
  const lease = kv.lease === 0 ? "" : `/L${kv.lease}`;
  return `${s(kv.key)}=${s(kv.value)}@${kv.createRevision}/${kv.modRevision}/${kv.version}${lease}`;
}

export function keysOf(kvs: readonly KeyValue[]): string[] {
  return kvs.map((kv) => s(kv.key));
}

/** Asserts that `f` throws a KvError with `code` (and, if given, exactly `message`). */
export function throwsKv(f: () => unknown, code: KvErrorCode, message?: string): KvError {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof KvError, `expected KvError ${code}, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (message !== undefined) assert.equal(e.message, message);
    return e;
  }
  assert.fail(`expected KvError ${code}, nothing thrown`);
}
