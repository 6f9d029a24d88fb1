// The memo cache of the linearizability search. Pruning on a false "seen before" would make
// the checker report violations that are not there, so the cache must stay exact when the
// hashes of two different sets collide. Such collisions are built on purpose below (Zobrist
// hashes are XORs of 32-bit words, so any 33 ids contain a subset whose words XOR to zero).
// Open operations are compared by inclusion (dominance), and a random walk compares the cache
// with a plain reference implementation of exactly that rule.
// These are internals (not exported from check/index.ts), so this test imports them directly.
import assert from "node:assert/strict";
import { test } from "node:test";
import { LinearizedSet } from "../../src/check/linearized-set.js";
import { StateCache } from "../../src/check/state-cache.js";
import { TestRandom } from "./history-builders.js";

/** A non-empty set of ids whose Zobrist words XOR to zero, by Gaussian elimination over GF(2). */
function zeroHashSubset(set: LinearizedSet, ids: readonly number[]): number[] {
  const basis = new Map<number, { word: number; ids: Set<number> }>();
  for (const id of ids) {
    set.add(id);
    let word = set.hash;
    set.remove(id);
    const combination = new Set([id]);
    for (let bit = 31; bit >= 0 && word !== 0; bit--) {
      const row = basis.get(bit);
      if (((word >>> bit) & 1) === 0 || row === undefined) continue;
      word ^= row.word;
      for (const other of row.ids) {
        if (combination.has(other)) combination.delete(other);
        else combination.add(other);
      }
    }
    if (word === 0) return [...combination];
    basis.set(31 - Math.clz32(word), { word, ids: combination });
  }
  throw new Error("no dependent subset among the ids given");
}

test("sets with colliding hashes are told apart", () => {
  const set = new LinearizedSet(60, 40);
  const cache = new StateCache(set);
  const ids: number[] = [];
  // Ids at or above 10 only, so the watermark (5) and the compact form's first word stay put.
  for (let id = 10; id < 60; id++) ids.push(id);
  const subset = zeroHashSubset(set, ids);
  assert.ok(subset.length > 1);

  for (const id of [0, 1, 2, 3, 4, 61]) set.add(id);
  const baseHash = set.hash;
  assert.equal(cache.addIfNotDominated(7), true);
  // Toggle the subset: a different set with the very same hash.
  const toggle = (): void => {
    for (const id of subset) {
      if (set.has(id)) set.remove(id);
      else set.add(id);
    }
  };
  toggle();
  assert.equal(set.hash, baseHash);
  assert.equal(set.lowestMissing, 5);
  assert.equal(cache.addIfNotDominated(7), true, "a colliding but different set was taken as seen");
  assert.equal(cache.addIfNotDominated(7), false);
  toggle();
  assert.equal(cache.addIfNotDominated(7), false);
  assert.equal(cache.addIfNotDominated(8), true);
  assert.equal(cache.size, 3);
});

test("a pair with fewer open operations dominates one with more", () => {
  const set = new LinearizedSet(10, 40);
  const cache = new StateCache(set);
  const [w1, w2, w3] = [10, 25, 49];
  set.add(0);
  set.add(w1);
  assert.equal(cache.addIfNotDominated(1), true);
  set.add(w3);
  assert.equal(cache.addIfNotDominated(1), false, "{w1, w3} is dominated by {w1}");
  assert.equal(cache.addIfNotDominated(2), true, "another state is another pair");
  set.remove(w1);
  set.remove(w3);
  set.add(w2);
  assert.equal(cache.addIfNotDominated(1), true, "{w2} and {w1} are incomparable");
  set.remove(w2);
  assert.equal(cache.addIfNotDominated(1), true, "{} is not dominated by {w1} or {w2}");
  set.add(w3);
  assert.equal(cache.addIfNotDominated(1), false, "now {w3} is dominated by {}");
  set.remove(w3);
  set.add(1);
  assert.equal(
    cache.addIfNotDominated(1),
    true,
    "open ops dominate only with equal completed ones",
  );
});

test("the state cache agrees with a set of exact keys over a random walk", () => {
  const boundedCount = 96;
  const openCount = 20;
  const set = new LinearizedSet(boundedCount, openCount);
  const cache = new StateCache(set);
  // The reference: membership as plain 32-bit masks (masks[0..2] hold ids 0..95, the
  // completed ones among them; masks[3] holds open ids 96..), with the dominance rule applied
  // by brute force over every open mask recorded for the same completed part and state.
  const masks = new Uint32Array(4);
  assert.ok(boundedCount + openCount <= masks.length * 32);
  const has = (id: number): boolean => ((masks[id >>> 5]! >>> (id & 31)) & 1) === 1;
  const recorded = new Map<string, number[]>();
  let recordedCount = 0;
  const random = new TestRandom(42);

  const steps = 60_000;
  for (let step = 0; step < steps; step++) {
    // Mostly low ids, like the search (a window above a watermark), some anywhere.
    const roll = random.float();
    const id =
      roll < 0.7
        ? random.int(24)
        : roll < 0.85
          ? boundedCount + random.int(openCount)
          : random.int(96);
    if (has(id)) set.remove(id);
    else set.add(id);
    masks[id >>> 5]! ^= 1 << (id & 31);
    const state = random.int(3);
    const key = `${state}:${masks[0]},${masks[1]},${masks[2]}`;
    const open = masks[3]!;

    let lowestMissing = 0;
    while (lowestMissing < boundedCount && has(lowestMissing)) lowestMissing++;
    if (set.lowestMissing !== lowestMissing) {
      assert.fail(`step ${step}: watermark ${set.lowestMissing}, want ${lowestMissing}`);
    }
    const opens = recorded.get(key) ?? [];
    const isNew = !opens.some((o) => (o & ~open) === 0);
    if (isNew) {
      opens.push(open);
      recorded.set(key, opens);
      recordedCount++;
    }
    if (cache.addIfNotDominated(state) !== isNew) assert.fail(`step ${step}: ${key} new=${isNew}`);
  }
  assert.equal(cache.size, recordedCount);
  assert.ok(recordedCount < steps, "the walk never revisited a pair");
});

test("a set's hash depends only on its members", () => {
  const a = new LinearizedSet(40, 5);
  const b = new LinearizedSet(40, 5);
  for (const id of [3, 39, 41, 0, 7]) a.add(id);
  for (const id of [41, 7, 0, 12, 39, 3]) b.add(id);
  b.remove(12);
  assert.equal(a.hash, b.hash);
  assert.deepEqual(a.words, b.words);
  assert.equal(a.has(41), true);
  assert.equal(a.has(40), false);
  assert.throws(() => a.add(3), /linearized twice/);
});
