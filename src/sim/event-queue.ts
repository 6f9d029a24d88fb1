// The simulator's agenda: events ordered by virtual time, ties broken by scheduling order, so
// a run is a pure function of its seed. A binary min-heap.
import { assert } from "../lib/index.js";

export interface ScheduledEvent<T> {
  readonly time: number;
  readonly seq: number;
  readonly payload: T;
}

export class EventQueue<T> {
  private readonly heap: ScheduledEvent<T>[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(time: number, payload: T): void {
    assert(Number.isFinite(time), "event time must be finite");
    const heap = this.heap;
    heap.push({ time, seq: this.seq++, payload });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!less(heap[i] as ScheduledEvent<T>, heap[parent] as ScheduledEvent<T>)) break;
      [heap[i], heap[parent]] = [heap[parent] as ScheduledEvent<T>, heap[i] as ScheduledEvent<T>];
      i = parent;
    }
  }

  peekTime(): number | undefined {
    return this.heap[0]?.time;
  }

  pop(): ScheduledEvent<T> | undefined {
    const heap = this.heap;
    const top = heap[0];
    if (top === undefined) return undefined;
    const last = heap.pop() as ScheduledEvent<T>;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && less(heap[l] as ScheduledEvent<T>, heap[m] as ScheduledEvent<T>))
          m = l;
        if (r < heap.length && less(heap[r] as ScheduledEvent<T>, heap[m] as ScheduledEvent<T>))
          m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m] as ScheduledEvent<T>, heap[i] as ScheduledEvent<T>];
        i = m;
      }
    }
    return top;
  }
}

function less<T>(a: ScheduledEvent<T>, b: ScheduledEvent<T>): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}
