// A FIFO with a fixed capacity: push refuses rather than grows. Per-peer send queues use it so
// that a peer that is down or slow costs bounded memory; Raft tolerates the dropped messages.
import { assert } from "../lib/index.js";

/** Consumed slots tolerated at the front before the array is compacted. */
const COMPACT_AFTER = 1024;

export class BoundedQueue<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  constructor(readonly capacity: number) {
    assert(Number.isSafeInteger(capacity) && capacity > 0, "queue: capacity must be > 0");
  }

  get length(): number {
    return this.items.length - this.head;
  }

  get full(): boolean {
    return this.length >= this.capacity;
  }

  /** Appends `item`, or returns false when the queue is full. */
  push(item: T): boolean {
    if (this.full) return false;
    this.items.push(item);
    assert(this.length <= this.capacity, "queue: over capacity");
    return true;
  }

  peek(): T | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  /** The newest item. */
  last(): T | undefined {
    return this.head < this.items.length ? this.items[this.items.length - 1] : undefined;
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined; // let it be collected
    this.head++;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= COMPACT_AFTER && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}
