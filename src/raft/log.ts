// RaftLog: the core's in-memory view of the log. It holds every entry after the last snapshot,
// and tracks three watermarks with the invariant  applied ≤ committed ≤ lastIndex  and
// stableIndex ≤ lastIndex:
//  - stableIndex: entries up to here are durable (the runtime said so through advance());
//  - committed:   entries up to here are known committed (Raft §5.3);
//  - applied:     entries up to here were handed to the state machine.
// Entries after stableIndex are "unstable": the next Ready hands them out to be persisted.
import { assert } from "../lib/index.js";
import {
  asIndex,
  asTerm,
  type Entry,
  entryBytes,
  type Index,
  type Snapshot,
  type Term,
} from "./types.js";

export class RaftLog {
  /** Index and term of the last entry folded into a snapshot (0, 0 for none). */
  snapIndex: Index;
  snapTerm: Term;
  /** entries[i] has index snapIndex + 1 + i. */
  private entries: Entry[];
  stableIndex: Index;
  committed: Index;
  applied: Index;
  /** Entries below this index were already handed out in a Ready for application. */
  applying: Index;
  /** A snapshot received from the leader, not yet persisted and restored by the runtime. */
  pendingSnapshot: Snapshot | undefined;

  constructor(
    snapshotIndex: Index,
    snapshotTerm: Term,
    entries: readonly Entry[],
    committed: Index,
  ) {
    this.snapIndex = snapshotIndex;
    this.snapTerm = snapshotTerm;
    this.entries = [...entries];
    for (let i = 0; i < this.entries.length; i++) {
      assert(
        this.entries[i]?.index === snapshotIndex + 1 + i,
        "log: stored entries not contiguous",
      );
    }
    this.stableIndex = this.lastIndex();
    this.committed = asIndex(Math.max(committed, snapshotIndex));
    assert(this.committed <= this.lastIndex(), "log: commit beyond the last stored entry");
    this.applied = snapshotIndex;
    this.applying = snapshotIndex;
    this.pendingSnapshot = undefined;
  }

  firstIndex(): Index {
    return asIndex(this.snapIndex + 1);
  }

  lastIndex(): Index {
    return asIndex(this.snapIndex + this.entries.length);
  }

  lastTerm(): Term {
    return this.term(this.lastIndex()) ?? this.snapTerm;
  }

  /** The term of the entry at `index`, or undefined when compacted away or beyond the end. */
  term(index: Index): Term | undefined {
    if (index === this.snapIndex) return this.snapTerm;
    if (index < this.snapIndex || index > this.lastIndex()) return undefined;
    return (this.entries[index - this.snapIndex - 1] as Entry).term;
  }

  entry(index: Index): Entry | undefined {
    if (index <= this.snapIndex || index > this.lastIndex()) return undefined;
    return this.entries[index - this.snapIndex - 1];
  }

  matchTerm(index: Index, term: Term): boolean {
    return this.term(index) === term;
  }

  /** Raft §5.4.1: a candidate's log is at least as up-to-date as ours. */
  isUpToDate(lastIndex: Index, lastTerm: Term): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Entries in [lo, hi], stopping once `bytesMax` is passed (at least one entry is returned).
   * Undefined when `lo` is compacted.
   */
  slice(lo: Index, hi: Index, bytesMax: number): Entry[] | undefined {
    if (lo <= this.snapIndex) return undefined;
    const out: Entry[] = [];
    let bytes = 0;
    const end = Math.min(hi, this.lastIndex());
    for (let i = lo; i <= end; i++) {
      const e = this.entries[i - this.snapIndex - 1] as Entry;
      bytes += entryBytes(e);
      if (out.length > 0 && bytes > bytesMax) break;
      out.push(e);
    }
    return out;
  }

  /** Appends entries that follow the last entry directly (the leader's own proposals). */
  append(entries: readonly Entry[]): void {
    for (const e of entries) {
      assert(
        e.index === this.lastIndex() + 1,
        `log: append of ${e.index} after ${this.lastIndex()}`,
      );
      this.entries.push(e);
    }
  }

  /**
   * A follower's AppendEntries after prevLogIndex matched (§5.3 step 3 and 4): skip entries we
   * already have, truncate at the first conflicting one, append the rest. Never truncates a
   * committed entry. Returns the index of the last new entry.
   */
  appendFromLeader(prevLogIndex: Index, entries: readonly Entry[]): Index {
    let i = 0;
    for (; i < entries.length; i++) {
      const e = entries[i] as Entry;
      assert(e.index === prevLogIndex + 1 + i, "log: leader entries not contiguous");
      if (!this.matchTerm(e.index, e.term)) break;
    }
    if (i < entries.length) {
      const first = entries[i] as Entry;
      assert(first.index > this.committed, `log: conflict at committed index ${first.index}`);
      if (first.index <= this.lastIndex()) this.truncateFrom(first.index);
      this.append(entries.slice(i));
    }
    return asIndex(prevLogIndex + entries.length);
  }

  private truncateFrom(index: Index): void {
    assert(index > this.snapIndex, "log: truncate into the snapshot");
    this.entries.length = index - this.snapIndex - 1;
    if (this.stableIndex >= index) this.stableIndex = asIndex(index - 1);
  }

  /**
   * The entry to resume from after a rejection: the largest index ≤ `index` whose term is
   * ≤ `term` (etcd's findConflictByTerm). Returns [index, term].
   */
  findConflictByTerm(index: Index, term: Term): [Index, Term] {
    let i = Math.min(index, this.lastIndex());
    for (; i > this.snapIndex; i--) {
      const t = this.term(asIndex(i)) as Term;
      if (t <= term) return [asIndex(i), t];
    }
    return [asIndex(i), this.term(asIndex(i)) ?? asTerm(0)];
  }

  commitTo(index: Index): boolean {
    if (index <= this.committed) return false;
    assert(index <= this.lastIndex(), `log: commit ${index} beyond last ${this.lastIndex()}`);
    this.committed = index;
    return true;
  }

  /** Entries not yet handed out for persisting (those after stableIndex). */
  unstableEntries(): Entry[] {
    return this.entries.slice(this.stableIndex - this.snapIndex);
  }

  hasUnstable(): boolean {
    return this.lastIndex() > this.stableIndex;
  }

  /** The runtime persisted entries up to (index, term). Ignored if the log changed meanwhile. */
  stableTo(index: Index, term: Term): void {
    if (this.term(index) === term && index > this.stableIndex) this.stableIndex = index;
  }

  /** Committed entries not yet handed out for applying, at most `bytesMax` worth (≥ 1 entry). */
  nextCommitted(bytesMax: number): Entry[] {
    const lo = Math.max(this.applying, this.snapIndex) + 1;
    if (this.pendingSnapshot !== undefined || lo > this.committed) return [];
    return this.slice(asIndex(lo), this.committed, bytesMax) ?? [];
  }

  hasNextCommitted(): boolean {
    return (
      this.pendingSnapshot === undefined && this.committed > Math.max(this.applying, this.snapIndex)
    );
  }

  /** Committed entries up to `index` were handed out; they are applied once advance() says so. */
  applyingTo(index: Index): void {
    assert(index <= this.committed, "log: applying beyond commit");
    if (index > this.applying) this.applying = index;
  }

  appliedTo(index: Index): void {
    assert(index <= this.committed, `log: applied ${index} beyond commit ${this.committed}`);
    if (index > this.applied) this.applied = index;
  }

  /** Installs a snapshot from the leader: the whole log is replaced by it. */
  restore(snapshot: Snapshot): void {
    const { index, term } = snapshot.meta;
    assert(index > this.committed, "log: restore of a snapshot at or below commit");
    this.entries = [];
    this.snapIndex = index;
    this.snapTerm = term;
    this.committed = index;
    this.stableIndex = index;
    this.applying = index;
    this.pendingSnapshot = snapshot;
  }

  /** The snapshot was persisted and restored into the state machine. */
  snapshotApplied(index: Index): void {
    if (this.pendingSnapshot?.meta.index === index) this.pendingSnapshot = undefined;
    if (index > this.applied) this.applied = index;
  }

  /** Discards entries up to `index` (covered by a snapshot the runtime took and persisted). */
  compact(index: Index): void {
    if (index <= this.snapIndex) return;
    assert(index <= this.applied, `log: compact ${index} beyond applied ${this.applied}`);
    const term = this.term(index) as Term;
    this.entries = this.entries.slice(index - this.snapIndex);
    this.snapIndex = index;
    this.snapTerm = term;
  }
}
