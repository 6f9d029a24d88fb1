// Replay: folds the WAL's batches, oldest first, into the durable state on top of the snapshot
// recovery chose as the base. The rules, each the mirror of something the writer does:
//  - An entry at or below the last index replaces the log from its index on (follower repair);
//    one at lastIndex + 1 extends it; one beyond that is a gap: corruption.
//  - Entries at or below the base are covered by the snapshot and are not kept, but they still
//    truncate: an entry at index i ≤ base voids every entry above i written before it.
//  - An install mark voids every entry written before it (InstallSnapshot replaced the log).
//    One above the base means the snapshot it installed is gone: the state cannot be rebuilt.
//  - Each segment starts with a header naming the index its log continues at; it must follow on
//    from what was replayed so far, so a missing segment cannot go unnoticed.
// A batch is checked whole before any of it is applied, so recovery can cut exactly at a bad
// batch and keep the state before it.

import { assert } from "../lib/index.js";
import type { Entry, HardState, Index, Term } from "../raft/index.js";
import { asIndex, asTerm, NO_NODE } from "../raft/index.js";
import type { WalRecord } from "./record-codec.js";
import type { ScannedBatch } from "./segment-scanner.js";

export interface ReplayFailure {
  /** Offset of the offending record in its segment. */
  readonly offset: number;
  readonly reason: string;
}

export const emptyHardState = (): HardState => ({
  term: asTerm(0),
  vote: NO_NODE,
  commit: asIndex(0),
});

export class Replayer {
  /** Entries after the base, contiguous: entries[i].index === base.index + 1 + i. */
  private entries: Entry[] = [];
  private hardStateValue: HardState = emptyHardState();
  /** Term of the newest entry written at exactly the base index, while it still stands. */
  private termAtBase: Term | undefined;
  /** The WAL says the base snapshot was made durable (it was not a crash between file and mark). */
  private baseMarked = false;
  private lastInstall = 0;
  private nextSeq: number | undefined;
  batches = 0;
  records = 0;

  constructor(readonly base: { readonly index: Index; readonly term: Term }) {}

  lastIndex(): number {
    return this.base.index + this.entries.length;
  }

  hardState(): HardState {
    return this.hardStateValue;
  }

  lastInstallIndex(): number {
    return this.lastInstall;
  }

  /**
   * Checks and then applies the batch at the given position of segment (seq, firstIndex).
   * Returns the first problem instead of applying anything if there is one.
   */
  applyBatch(
    batch: ScannedBatch,
    segment: { readonly seq: number; readonly firstIndex: number },
    firstInSegment: boolean,
  ): ReplayFailure | undefined {
    const problem = this.check(batch, segment, firstInSegment);
    if (problem !== undefined) return problem;
    for (const { record } of batch.records) {
      switch (record.type) {
        case "SegmentHeader":
          this.nextSeq = record.seq + 1;
          break;
        case "Entries":
          for (const entry of record.entries) this.applyEntry(entry);
          break;
        case "HardState":
          this.hardStateValue = record.hardState;
          break;
        case "SnapshotMark":
          this.applyMark(record.index, record.install);
          break;
      }
    }
    this.batches++;
    this.records += batch.records.length;
    return undefined;
  }

  /** A dry run of the batch over the last index alone: every rule, no state changed. */
  private check(
    batch: ScannedBatch,
    segment: { readonly seq: number; readonly firstIndex: number },
    firstInSegment: boolean,
  ): ReplayFailure | undefined {
    const base = this.base.index;
    let last = this.lastIndex();
    for (let i = 0; i < batch.records.length; i++) {
      const { offset, record } = batch.records[i]!;
      const isSegmentStart = firstInSegment && i === 0;
      if ((record.type === "SegmentHeader") !== isSegmentStart) {
        return {
          offset,
          reason: isSegmentStart
            ? "segment does not start with a header"
            : "segment header inside a segment",
        };
      }
      switch (record.type) {
        case "SegmentHeader": {
          const reason = this.checkSegmentHeader(record, segment, last);
          if (reason !== undefined) return { offset, reason };
          break;
        }
        case "Entries":
          for (const { index } of record.entries) {
            if (index <= base) last = base;
            else if (index > last + 1)
              return { offset, reason: `entry ${index} leaves a gap after ${last}` };
            else last = index;
          }
          break;
        case "SnapshotMark":
          if (record.install && record.index > base) {
            return {
              offset,
              reason: `the log installs snapshot ${record.index} but the newest readable snapshot is ${base}; the state cannot be rebuilt`,
            };
          }
          if (record.install) last = base;
          break;
        case "HardState":
          break;
      }
    }
    return undefined;
  }

  /** What is wrong with a segment's header, given the last index replayed before it. */
  private checkSegmentHeader(
    header: Extract<WalRecord, { type: "SegmentHeader" }>,
    segment: { readonly seq: number; readonly firstIndex: number },
    last: number,
  ): string | undefined {
    const base = this.base.index;
    if (header.seq !== segment.seq || header.firstIndex !== segment.firstIndex)
      return `header says segment ${header.seq} from index ${header.firstIndex}; the file name disagrees`;
    if (this.nextSeq !== undefined && header.seq !== this.nextSeq)
      return `segment ${this.nextSeq} is missing before segment ${header.seq}`;
    // With entries above the base replayed, the segment must continue right after them;
    // with none, the snapshot must reach the segment's start.
    const expected = last > base ? header.firstIndex === last + 1 : header.firstIndex <= base + 1;
    if (expected) return undefined;
    return last > base
      ? `segment continues at index ${header.firstIndex} but the log before it ends at ${last}`
      : `entries ${base + 1}..${header.firstIndex - 1} are missing (log starts at ${header.firstIndex}, snapshot ends at ${base})`;
  }

  private applyEntry(entry: Entry): void {
    const base = this.base.index;
    if (entry.index <= base) {
      this.entries.length = 0;
      this.termAtBase = entry.index === base ? entry.term : undefined;
      return;
    }
    const keep = entry.index - base - 1;
    assert(keep <= this.entries.length, "replay: gap passed the check");
    this.entries.length = keep;
    this.entries.push(entry);
  }

  private applyMark(index: Index, install: boolean): void {
    if (install) {
      this.entries.length = 0;
      this.termAtBase = index === this.base.index ? this.base.term : undefined;
      this.lastInstall = index;
    }
    if (index === this.base.index) this.baseMarked = true;
  }

  /**
   * The entries after the base. If the base snapshot's mark never made it to the WAL (a crash
   * between the snapshot file and its mark) and the log holds a different term at the base
   * index, the snapshot came from the leader and the entries after it belong to another history:
   * they go, as the install would have done (this is the check etcd's raft makes on restore).
   */
  finish(): { readonly entries: readonly Entry[]; readonly droppedAfterBase: number } {
    let droppedAfterBase = 0;
    if (
      this.base.index > 0 &&
      !this.baseMarked &&
      this.termAtBase !== undefined &&
      this.termAtBase !== this.base.term
    ) {
      droppedAfterBase = this.entries.length;
      this.entries = [];
    }
    for (let i = 0; i < this.entries.length; i++) {
      assert(this.entries[i]!.index === this.base.index + 1 + i, "replay: entries not contiguous");
    }
    return { entries: this.entries, droppedAfterBase };
  }
}
