// The call/return event list of one key's completed operations, as the Wing–Gong search walks
// it: a doubly linked list in time order from which a linearized operation's two events are
// lifted out, and into which they are put back on backtracking, both in O(1). (Operations that
// never completed have no return event to wait for; the search keeps them apart.)
//
// Operation `op` (a dense id 0..n-1) owns two events: its call, numbered 2·op, and its return,
// numbered 2·op + 1. Two sentinels, HEAD (2n) and TAIL (2n + 1), spare every edit a null check.
//
// Ordering at equal times: a call sorts before a return with the same timestamp. An operation
// that completed at t and one invoked at t are therefore concurrent, and may be linearized in
// either order. Virtual clocks have coarse ticks, so "complete at t" and "invoke at t" do not
// tell which happened first; treating them as concurrent is the choice that never reports a
// violation that did not happen (at the cost of missing one that hinges on such a tie).
import { assert } from "../lib/index.js";

export function isCallEvent(event: number): boolean {
  return (event & 1) === 0;
}

export function opOfEvent(event: number): number {
  return event >>> 1;
}

export function callEventOf(op: number): number {
  return op * 2;
}

export class EntryList {
  readonly head: number;
  readonly tail: number;
  private readonly nextEvent: Int32Array;
  private readonly prevEvent: Int32Array;

  /** `callTimes[op]` and `returnTimes[op]` give each operation's interval; both finite. */
  constructor(callTimes: readonly number[], returnTimes: readonly number[]) {
    const opCount = callTimes.length;
    assert(returnTimes.length === opCount, "call and return times differ in length");
    this.head = opCount * 2;
    this.tail = opCount * 2 + 1;
    this.nextEvent = new Int32Array(opCount * 2 + 2);
    this.prevEvent = new Int32Array(opCount * 2 + 2);

    const timeOf = (event: number): number =>
      (isCallEvent(event) ? callTimes : returnTimes)[opOfEvent(event)] as number;
    const order: number[] = [];
    for (let event = 0; event < opCount * 2; event++) order.push(event);
    order.sort((a, b) => {
      const ta = timeOf(a);
      const tb = timeOf(b);
      if (ta !== tb) return ta < tb ? -1 : 1;
      // Calls before returns at equal times: see the file comment. Then by id, to be total.
      const ka = isCallEvent(a) ? 0 : 1;
      const kb = isCallEvent(b) ? 0 : 1;
      return ka !== kb ? ka - kb : a - b;
    });

    let previous = this.head;
    for (let i = 0; i < order.length; i++) {
      const event = order[i] as number;
      assert(Number.isFinite(timeOf(event)), "event times must be finite");
      assert(
        isCallEvent(event) || timeOf(event) >= callTimes[opOfEvent(event)]!,
        "return before call",
      );
      this.nextEvent[previous] = event;
      this.prevEvent[event] = previous;
      previous = event;
    }
    this.nextEvent[previous] = this.tail;
    this.prevEvent[this.tail] = previous;
    this.nextEvent[this.tail] = this.tail;
    this.prevEvent[this.head] = this.head;
  }

  isEmpty(): boolean {
    return this.nextEvent[this.head] === this.tail;
  }

  /** The earliest event still in the list, or `tail` when it is empty. */
  first(): number {
    return this.nextEvent[this.head] as number;
  }

  next(event: number): number {
    return this.nextEvent[event] as number;
  }

  /** Takes `op`'s call and return events out of the list: it has been linearized. */
  lift(op: number): void {
    const call = op * 2;
    const ret = call + 1;
    const next = this.nextEvent;
    const prev = this.prevEvent;
    next[prev[call]!] = next[call]!;
    prev[next[call]!] = prev[call]!;
    next[prev[ret]!] = next[ret]!;
    prev[next[ret]!] = prev[ret]!;
  }

  /** Undoes the most recent `lift(op)` still in effect; lifts must be undone in LIFO order. */
  unlift(op: number): void {
    const call = op * 2;
    const ret = call + 1;
    const next = this.nextEvent;
    const prev = this.prevEvent;
    // Reverse order of lift: the return went out last, so it comes back first.
    next[prev[ret]!] = ret;
    prev[next[ret]!] = ret;
    next[prev[call]!] = call;
    prev[next[call]!] = call;
  }
}
