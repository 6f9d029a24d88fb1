// A node's simulated disk: what survives a crash. Writes become durable only when the
// simulated fsync completes; a crash while one is in flight loses it, or (a torn write)
// keeps only a prefix of its entries and never its hard state. A wipe (the data directory
// deleted while the node is down) replaces the whole disk, incarnation included.
import { assert } from "../lib/index.js";
import {
  asIndex,
  asTerm,
  type Entry,
  type HardState,
  NO_NODE,
  type Snapshot,
  type Xoshiro128,
} from "../raft/index.js";

export class SimDisk {
  /**
   * The incarnation of this data directory (transport/incarnations.ts): a wiped disk is a new
   * SimDisk with a new one. Set by the simulation when the disk is made.
   */
  incarnation = 0;
  /**
   * The incarnation seen for each peer id, learned at first contact and durable (it survives
   * a crash, not a wipe): what the peer handshake checks.
   */
  readonly peerIncarnations = new Map<string, number>();
  hardState: HardState = { term: asTerm(0), vote: NO_NODE, commit: asIndex(0) };
  snapshot: Snapshot | undefined;
  entries: Entry[] = [];
  fsyncs = 0;
  /**
   * A hard state written without sync (only the commit index moved), as the WAL defers it: it
   * becomes durable with the next write, and a crash before then loses it.
   */
  deferredHardState: HardState | undefined;

  private snapIndex(): number {
    return this.snapshot?.meta.index ?? 0;
  }

  lastIndex(): number {
    return this.snapIndex() + this.entries.length;
  }

  /** Applies one Ready's write: snapshot (replaces the log), entries (truncating), hard state. */
  write(
    snapshot: Snapshot | undefined,
    entries: readonly Entry[],
    hardState: HardState | undefined,
  ): void {
    if (snapshot !== undefined) {
      this.snapshot = snapshot;
      this.entries = [];
    }
    this.appendEntries(entries);
    const written = hardState ?? this.deferredHardState;
    this.deferredHardState = undefined;
    if (written !== undefined) this.hardState = written;
    this.fsyncs++;
  }

  /** A hard state without sync: durable only once a later write() carries it. */
  defer(hardState: HardState): void {
    assert(
      hardState.term === this.hardState.term && hardState.vote === this.hardState.vote,
      "disk: a new term or vote must be synced",
    );
    this.deferredHardState = hardState;
  }

  appendEntries(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    const base = this.snapIndex();
    if (first.index <= base) {
      // Entries below the snapshot are already covered by it.
      const skip = base + 1 - first.index;
      this.appendEntries(entries.slice(skip));
      return;
    }
    assert(
      first.index <= this.lastIndex() + 1,
      `disk: gap at ${first.index} after ${this.lastIndex()}`,
    );
    this.entries.length = first.index - base - 1;
    for (const e of entries) this.entries.push(e);
  }

  /**
   * A crash while `entries` were being written: half the time a torn write leaves a random
   * prefix of them on disk (never the batch's hard state). Returns what reached the disk.
   */
  crashDuring(entries: readonly Entry[] | undefined, prng: Xoshiro128): readonly Entry[] {
    this.deferredHardState = undefined;
    if (entries === undefined || entries.length === 0 || !prng.chance(0.5)) return [];
    const part = entries.slice(0, prng.int(entries.length + 1));
    this.appendEntries(part);
    return part;
  }

  /** The node's own snapshot: store it and compact the log prefix it covers. */
  compact(snapshot: Snapshot): void {
    const drop = snapshot.meta.index - this.snapIndex();
    if (drop <= 0) return;
    assert(snapshot.meta.index <= this.lastIndex(), "disk: snapshot beyond the durable log");
    this.entries = this.entries.slice(drop);
    this.snapshot = snapshot;
  }
}
