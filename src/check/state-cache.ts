// Lowe's memoization for the Wing–Gong search, extended with dominance for open operations:
// the (linearized set, model state) pairs already explored. Reaching a pair again means
// everything after it was already tried, so the search prunes it.
//
// Dominance: an open operation (status unknown, never completed) is optional and has no
// deadline, so it can always be left for later or for never. Hence a pair (B ∪ O, s), with B
// the completed operations linearized and O the open ones, can do everything (B ∪ O', s) can
// when O ⊆ O': the second is pruned once the first has been explored (or is being explored,
// higher on the current path). Without this, every subset of the open operations invoked so
// far is a distinct pair, and a history with a few dozen timeouts per key explodes exactly when
// it matters: when it is not linearizable and the search must exhaust its options.
// Entries with equal B and s sit in the same hash chain (the hash ignores O); one is kept per
// distinct O that no earlier entry dominated. With no open operations this is plain equality.
//
// The cache is the checker's only large allocation, so it lives in two flat typed arrays (a
// chained hash table over an append-only arena) rather than in millions of small objects; an
// entry costs 5 + (window words) + (open words) int32s, typically 24–32 bytes.
//
// Arena entry layout: [next entry in chain, hash, state, first bounded word, bounded word count,
//                      ...bounded words, ...open words (always set.openWords of them)].
import { assert } from "../lib/index.js";
import type { LinearizedSet } from "./linearized-set.js";

const NO_ENTRY = -1;
const ENTRY_HEADER_WORDS = 5;
const BUCKET_COUNT_INITIAL = 1 << 10;
const ARENA_WORDS_INITIAL = 1 << 14;

export class StateCache {
  /** Number of pairs stored: explored, and not dominated by one explored before. */
  size = 0;
  private buckets: Int32Array;
  private arena: Int32Array;
  private arenaUsed = 0;
  private readonly set: LinearizedSet;

  /** A cache for pairs whose sets are `set` at various moments (the set is read, never written). */
  constructor(set: LinearizedSet) {
    this.set = set;
    this.buckets = new Int32Array(BUCKET_COUNT_INITIAL).fill(NO_ENTRY);
    this.arena = new Int32Array(ARENA_WORDS_INITIAL);
  }

  /**
   * Records (current content of the set, state) and returns true, or returns false without
   * recording when a recorded pair equals or dominates it.
   */
  addIfNotDominated(state: number): boolean {
    const hash = pairHash(this.set.hash, state);
    const bucket = hash & (this.buckets.length - 1);
    // A chain holds about one entry per bucket, plus one per extra open set recorded for the
    // same (B, s); the bound only guards against a bug.
    let entry = this.buckets[bucket]!;
    for (let steps = 0; entry !== NO_ENTRY; steps++) {
      assert(steps <= this.size, "state cache chain longer than the cache");
      if (this.arena[entry + 1] === hash && this.dominates(entry, state)) return false;
      entry = this.arena[entry]!;
    }
    this.append(hash, state, bucket);
    this.size++;
    if (this.size > this.buckets.length) this.grow();
    return true;
  }

  /** Whether `entry` has the same state and bounded part, and a subset of the open part. */
  private dominates(entry: number, state: number): boolean {
    const arena = this.arena;
    const set = this.set;
    if (arena[entry + 2] !== state) return false;
    const first = set.firstWord();
    if (arena[entry + 3] !== first) return false;
    const storedCount = arena[entry + 4]!;
    const words = set.words;
    // Both sides are zero past their own end; compare over the longer of the two windows.
    const end = Math.max(first + storedCount, set.boundedEnd);
    const stored = entry + ENTRY_HEADER_WORDS - first;
    for (let w = first; w < end; w++) {
      const storedWord = w < first + storedCount ? arena[stored + w]! : 0;
      if (storedWord !== words[w]) return false;
    }
    const open = entry + ENTRY_HEADER_WORDS + storedCount;
    for (let w = 0; w < set.openWords; w++) {
      if ((arena[open + w]! & ~words[set.boundedWords + w]!) !== 0) return false;
    }
    return true;
  }

  private append(hash: number, state: number, bucket: number): void {
    const set = this.set;
    const first = set.firstWord();
    const boundedCount = Math.max(0, set.boundedEnd - first);
    const length = ENTRY_HEADER_WORDS + boundedCount + set.openWords;
    if (this.arenaUsed + length > this.arena.length) {
      const grown = new Int32Array(Math.max(this.arena.length * 2, this.arenaUsed + length));
      grown.set(this.arena.subarray(0, this.arenaUsed));
      this.arena = grown;
    }
    const entry = this.arenaUsed;
    const arena = this.arena;
    arena[entry] = this.buckets[bucket]!;
    arena[entry + 1] = hash;
    arena[entry + 2] = state;
    arena[entry + 3] = first;
    arena[entry + 4] = boundedCount;
    // Plain loops: windows are a word or two, and subarray() would allocate per entry.
    const words = set.words;
    const bounded = entry + ENTRY_HEADER_WORDS - first;
    for (let w = first; w < first + boundedCount; w++) arena[bounded + w] = words[w]!;
    const open = entry + ENTRY_HEADER_WORDS + boundedCount;
    for (let w = 0; w < set.openWords; w++) arena[open + w] = words[set.boundedWords + w]!;
    this.buckets[bucket] = entry;
    this.arenaUsed += length;
  }

  /** Doubles the bucket table and relinks every entry, walking the arena in order. */
  private grow(): void {
    const buckets = new Int32Array(this.buckets.length * 2).fill(NO_ENTRY);
    const mask = buckets.length - 1;
    const arena = this.arena;
    let relinked = 0;
    for (let entry = 0; entry < this.arenaUsed; relinked++) {
      const bucket = arena[entry + 1]! & mask;
      arena[entry] = buckets[bucket]!;
      buckets[bucket] = entry;
      entry += ENTRY_HEADER_WORDS + arena[entry + 4]! + this.set.openWords;
    }
    assert(relinked === this.size, "state cache arena and size disagree");
    this.buckets = buckets;
  }
}

/** Mixes the set's Zobrist hash with the state so that low bits index buckets well. */
function pairHash(setHash: number, state: number): number {
  let h = setHash ^ Math.imul(state + 1, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}
