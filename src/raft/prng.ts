// The one seeded integer PRNG (xoshiro128**, seeded through splitmix32). Everything random
// in the core and in the simulator draws from an instance of this, so one seed fixes a run.
import { assert } from "../lib/index.js";

/** The interface the core takes randomness through. */
export interface Prng {
  /** A uniformly distributed integer in [0, bound). `bound` is a positive safe integer ≤ 2^32. */
  int(bound: number): number;
}

export class Xoshiro128 implements Prng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    assert(Number.isSafeInteger(seed), "seed must be a safe integer");
    // splitmix32 over the seed's low and high halves fills the state; never all zero.
    let x = (seed >>> 0) ^ Math.floor(seed / 2 ** 32);
    const next = (): number => {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** The next raw 32-bit unsigned integer. */
  next32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  int(bound: number): number {
    assert(Number.isInteger(bound) && bound > 0 && bound <= 2 ** 32, `bad bound ${bound}`);
    // Rejection sampling removes modulo bias.
    const limit = 2 ** 32 - (2 ** 32 % bound);
    for (let attempt = 0; attempt < 64; attempt++) {
      const r = this.next32();
      if (r < limit) return r % bound;
    }
    return this.next32() % bound;
  }

  /** A float in [0, 1) with 32 bits of randomness. */
  float(): number {
    return this.next32() / 2 ** 32;
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    assert(hi >= lo, "empty range");
    return lo + this.int(hi - lo + 1);
  }

  pick<T>(items: readonly T[]): T {
    assert(items.length > 0, "pick from empty list");
    return items[this.int(items.length)] as T;
  }

  /** A new independent generator derived from this one (for giving components their own stream). */
  fork(): Xoshiro128 {
    return new Xoshiro128(this.next32() * 2 ** 20 + (this.next32() >>> 12));
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
