// Inflights: the bounded window of AppendRequests sent to one follower and not yet acknowledged
// (flow control for pipelining). Each slot holds the last index of one message.
import { assert } from "../lib/index.js";
import type { Index } from "./types.js";

export class Inflights {
  private readonly buffer: Index[] = [];
  private start = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    assert(Number.isInteger(capacity) && capacity > 0, "inflight capacity must be positive");
  }

  get size(): number {
    return this.count;
  }

  full(): boolean {
    return this.count === this.capacity;
  }

  /** Records a message whose last entry is `index`. Indexes must be added in increasing order. */
  add(index: Index): void {
    assert(!this.full(), "inflights overflow");
    if (this.count > 0) {
      const last = this.buffer[(this.start + this.count - 1) % this.capacity] as Index;
      assert(index >= last, `inflight index ${index} below ${last}`);
    }
    this.buffer[(this.start + this.count) % this.capacity] = index;
    this.count++;
  }

  /** Frees every message whose last index is at or below `index` (the follower acknowledged it). */
  freeLE(index: Index): void {
    while (this.count > 0) {
      const head = this.buffer[this.start] as Index;
      if (head > index) break;
      this.start = (this.start + 1) % this.capacity;
      this.count--;
    }
    if (this.count === 0) this.start = 0;
  }

  /** Frees the oldest message: lets a full window make progress when an append was lost. */
  freeFirstOne(): void {
    if (this.count === 0) return;
    this.start = (this.start + 1) % this.capacity;
    this.count--;
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
  }
}
