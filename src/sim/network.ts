// The simulated network between nodes: per-message delay drawn from a distribution with a long
// tail (which also reorders), drops, duplicates, and directed link blocks for symmetric and
// asymmetric partitions. Every draw comes from the run's seeded PRNG.
import type { Xoshiro128 } from "../raft/index.js";

export interface LinkConditions {
  /** Probability a message is lost. */
  dropRate: number;
  /** Probability a message is delivered twice. */
  duplicateRate: number;
  delayMinMs: number;
  delayMaxMs: number;
  /** Probability of a slow delivery, up to tailMaxMs (reorders messages). */
  tailRate: number;
  tailMaxMs: number;
}

export const calmLinks = (): LinkConditions => ({
  dropRate: 0,
  duplicateRate: 0,
  delayMinMs: 0.5,
  delayMaxMs: 3,
  tailRate: 0.01,
  tailMaxMs: 15,
});

export class SimNetwork {
  conditions: LinkConditions = calmLinks();
  /** Directed blocked links, as "from>to". */
  private readonly blocked = new Set<string>();
  /** Bumped whenever the set of blocked links changes. */
  version = 0;

  constructor(private readonly prng: Xoshiro128) {}

  block(from: string, to: string): void {
    const link = `${from}>${to}`;
    if (this.blocked.has(link)) return;
    this.blocked.add(link);
    this.version++;
  }

  unblock(from: string, to: string): void {
    if (this.blocked.delete(`${from}>${to}`)) this.version++;
  }

  /** The blocked links, "from>to", sorted. */
  blockedLinks(): string[] {
    return [...this.blocked].sort();
  }

  isBlocked(from: string, to: string): boolean {
    return this.blocked.has(`${from}>${to}`);
  }

  healAll(): void {
    if (this.blocked.size > 0) this.version++;
    this.blocked.clear();
  }

  blockedCount(): number {
    return this.blocked.size;
  }

  /** Delivery delays for one message from→to: none if lost, two if duplicated. */
  deliveries(from: string, to: string): number[] {
    if (this.blocked.has(`${from}>${to}`)) return [];
    const c = this.conditions;
    if (c.dropRate > 0 && this.prng.chance(c.dropRate)) return [];
    const out = [this.delay()];
    if (c.duplicateRate > 0 && this.prng.chance(c.duplicateRate)) out.push(this.delay());
    return out;
  }

  private delay(): number {
    const c = this.conditions;
    if (c.tailRate > 0 && this.prng.chance(c.tailRate))
      return c.delayMaxMs + this.prng.float() * c.tailMaxMs;
    return c.delayMinMs + this.prng.float() * (c.delayMaxMs - c.delayMinMs);
  }
}
