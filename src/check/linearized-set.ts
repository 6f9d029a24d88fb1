// The set of operations linearized on the search's current path, kept in a form that is cheap
// to update and cheap to remember. Lowe's memoization caches (this set, model state) pairs,
// so a path's set is copied into the cache at every step: its size is the checker's memory.
//
// Operation ids are split in two ranges. Ids 0..boundedCount-1 are operations that completed
// (finite return), numbered in call order; the search linearizes them roughly in that order,
// so below a low watermark all of them are in the set and the set's content is a narrow window
// above it. Ids from boundedCount on are "open" operations, which never completed (status
// unknown); they may stay out of the set for the whole search, so they get their own words and
// do not hold the watermark down. The compact form stored by `StateCache` is: the word holding
// the watermark, the bounded words from there to the highest non-zero one, and all open words.
//
// The hash covers the bounded ids only. `StateCache` compares open ids by inclusion, not
// equality (a pair with fewer open operations used dominates one with more), so pairs that
// differ only in open ids must land in the same hash chain.
//
// The hash is Zobrist hashing (XOR of a fixed random word per member), updated in O(1).
import { assert } from "../lib/index.js";

export class LinearizedSet {
  /** Bounded words [0, boundedWords), then open words [boundedWords, boundedWords + openWords). */
  readonly words: Int32Array;
  readonly boundedCount: number;
  readonly openCount: number;
  readonly boundedWords: number;
  readonly openWords: number;
  /** The lowest bounded id not in the set (boundedCount when all are): every id below is in. */
  lowestMissing = 0;
  /** One past the highest non-zero bounded word (0 when no bounded id is in the set). */
  boundedEnd = 0;
  /** Zobrist hash of the bounded members. Sets with equal bounded parts have equal hashes. */
  hash = 0;
  private readonly zobrist: Int32Array;

  constructor(boundedCount: number, openCount: number) {
    assert(boundedCount >= 0 && openCount >= 0, "negative operation count");
    this.boundedCount = boundedCount;
    this.openCount = openCount;
    this.boundedWords = Math.ceil(boundedCount / 32);
    this.openWords = Math.ceil(openCount / 32);
    this.words = new Int32Array(this.boundedWords + this.openWords);
    this.zobrist = new Int32Array(boundedCount);
    // splitmix32 from a fixed seed: the hash needs spread, not secrecy, and a fixed sequence
    // keeps the search (and so its state counts) identical from run to run.
    let x = 0x5eed;
    for (let id = 0; id < this.zobrist.length; id++) {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      this.zobrist[id] = z ^ (z >>> 16);
    }
  }

  /** The first bounded word of the compact form: every word below it is all members. */
  firstWord(): number {
    return this.lowestMissing >>> 5;
  }

  has(id: number): boolean {
    const word = this.wordOf(id);
    return (this.words[word]! & (1 << (this.bitOf(id) & 31))) !== 0;
  }

  add(id: number): void {
    assert(!this.has(id), `op ${id} linearized twice`);
    const word = this.wordOf(id);
    this.words[word]! |= 1 << (this.bitOf(id) & 31);
    if (id < this.boundedCount) {
      this.hash ^= this.zobrist[id]!;
      if (word >= this.boundedEnd) this.boundedEnd = word + 1;
      if (id === this.lowestMissing) this.advanceLowestMissing();
    }
  }

  remove(id: number): void {
    assert(this.has(id), `op ${id} removed but not linearized`);
    const word = this.wordOf(id);
    this.words[word]! &= ~(1 << (this.bitOf(id) & 31));
    if (id < this.boundedCount) {
      this.hash ^= this.zobrist[id]!;
      if (id < this.lowestMissing) this.lowestMissing = id;
      // Keep the window tight on backtracking, when high ids leave the set first.
      while (this.boundedEnd > 0 && this.words[this.boundedEnd - 1] === 0) this.boundedEnd--;
    }
  }

  private advanceLowestMissing(): void {
    // Bounded by boundedCount steps; amortized O(1) per add along one search path.
    let id = this.lowestMissing;
    while (id < this.boundedCount && this.has(id)) id++;
    this.lowestMissing = id;
  }

  private wordOf(id: number): number {
    assert(id >= 0 && id < this.boundedCount + this.openCount, `op id ${id} out of range`);
    return id < this.boundedCount ? id >>> 5 : this.boundedWords + ((id - this.boundedCount) >>> 5);
  }

  private bitOf(id: number): number {
    return id < this.boundedCount ? id : id - this.boundedCount;
  }
}
