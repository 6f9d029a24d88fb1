// Progress: the leader's view of one follower (Raft Figure 2's nextIndex / matchIndex plus flow
// control). States, as in etcd's raft:
//  - Probe: we do not know where the follower's log matches; send one AppendRequest at a time
//    and wait for the answer (or a heartbeat response) before sending another.
//  - Replicate: the follower's log matches up to `match`; stream entries optimistically, bounded
//    by the inflight window.
//  - Snapshot: the entries the follower needs are compacted; a snapshot is on its way.
import { assert } from "./assert.js";
import { Inflights } from "./inflights.js";
import { asIndex, type Index } from "./types.js";

export type ProgressState = "Probe" | "Replicate" | "Snapshot";

export class Progress {
  /** Highest index known to be replicated on the follower. Invariant: match < next. */
  match: Index;
  /** Index of the next entry to send. */
  next: Index;
  state: ProgressState = "Probe";
  /** In Snapshot state: the index of the snapshot being sent. */
  pendingSnapshot: Index = asIndex(0);
  /** Ticks spent in Snapshot state; the leader falls back to Probe if it waits too long. */
  snapshotTicks = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /** In Probe state: a message is outstanding; wait for its answer (or a heartbeat response). */
  probeSent = false;
  readonly inflights: Inflights;

  constructor(
    next: Index,
    inflightMessagesMax: number,
    readonly isLearner: boolean,
  ) {
    this.match = asIndex(0);
    this.next = next;
    this.inflights = new Inflights(inflightMessagesMax);
  }

  becomeProbe(): void {
    if (this.state === "Snapshot") {
      const pending = this.pendingSnapshot;
      this.resetState("Probe");
      this.next = asIndex(Math.max(this.match + 1, pending + 1));
    } else {
      this.resetState("Probe");
      this.next = asIndex(this.match + 1);
    }
  }

  becomeReplicate(): void {
    this.resetState("Replicate");
    this.next = asIndex(this.match + 1);
  }

  becomeSnapshot(snapshotIndex: Index): void {
    this.resetState("Snapshot");
    this.pendingSnapshot = snapshotIndex;
    this.next = asIndex(snapshotIndex + 1);
  }

  private resetState(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.pendingSnapshot = asIndex(0);
    this.snapshotTicks = 0;
    this.inflights.reset();
  }

  /** The follower acknowledged `index`. Returns false if that was old news. */
  maybeUpdate(index: Index): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      this.probeSent = false;
      updated = true;
    }
    if (this.next < index + 1) this.next = asIndex(index + 1);
    assert(this.match < this.next, "progress: match must stay below next");
    return updated;
  }

  /**
   * The follower rejected an AppendRequest at prevLogIndex `rejected`; `hint` is the highest index
   * at which its log could still match. Returns false if the rejection is stale.
   */
  maybeDecrTo(rejected: Index, hint: Index): boolean {
    if (this.state === "Replicate") {
      // A rejection at or below match is a stale, reordered answer.
      if (rejected <= this.match) return false;
      this.next = asIndex(this.match + 1);
      return true;
    }
    // Probe: only the answer to the message we sent (prevLogIndex = next - 1) counts.
    if (this.next - 1 !== rejected) return false;
    this.next = asIndex(Math.max(Math.min(rejected, hint + 1), this.match + 1));
    this.probeSent = false;
    assert(this.next >= 1, "progress: next below 1");
    return true;
  }

  /** Whether sending more appends must wait. */
  isPaused(): boolean {
    switch (this.state) {
      case "Probe":
        return this.probeSent;
      case "Replicate":
        return this.inflights.full();
      case "Snapshot":
        return true;
    }
  }

  /** Records that an AppendRequest carrying entries up to `lastIndex` (or none) was sent. */
  sentEntries(entryCount: number, lastIndex: Index): void {
    if (this.state === "Replicate") {
      if (entryCount > 0) {
        this.next = asIndex(lastIndex + 1);
        this.inflights.add(lastIndex);
      }
    } else if (this.state === "Probe") {
      this.probeSent = true;
    } else {
      assert(false, "sent entries in Snapshot state");
    }
  }
}
