// Progress: the leader's view of one follower (Raft Figure 2's nextIndex / matchIndex plus flow
// control). States, as in etcd's raft:
//  - Probe: we do not know where the follower's log matches; send one AppendRequest at a time
//    and wait for the answer (or a heartbeat response) before sending another.
//  - Replicate: the follower's log matches up to `match`; stream entries optimistically, bounded
//    by the inflight window.
//  - Snapshot: the entries the follower needs are compacted; a snapshot is on its way.
//
// Bounded whatever the follower answers: while probing, a rejection that moves nextIndex back
// lets the next probe go at once (backtracking makes progress, so that is bounded by the log),
// but a rejection that cannot move it back (the follower rejects at match: it lost entries it
// acknowledged, e.g. its data directory was wiped) stalls the probe until the leader's next
// heartbeat broadcast. Before this, each such rejection sent the same probe again at once, an
// unbounded probe/reject loop at network speed. A snapshot that gets no answer is retried
// after an election timeout, doubling up to 8 election timeouts while they keep failing.
import { assert } from "../lib/index.js";
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
  /**
   * Learners only: recentActive as it stood at the last check-quorum round (which then clears
   * it). A learner heard from in this round or the one before counts as active, for promotion
   * and for sending it a snapshot.
   */
  activeLastRound = false;
  /** In Probe state: a message is outstanding; wait for its answer (or a heartbeat response). */
  probeSent = false;
  /**
   * In Probe state: the last probe was rejected without moving `next` back (the follower does
   * not hold entries up to `match`, which it acknowledged): send no probe until the leader's
   * next heartbeat broadcast clears this (see unstall).
   */
  probeStalled = false;
  /** Rejections that could not move `next` below match + 1: the follower's log went backwards. */
  regressions = 0;
  /** Snapshots in a row that got no answer in time (their retry waits longer each time). */
  snapshotTimeouts = 0;
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
    this.probeStalled = false;
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
      this.probeStalled = false;
      this.snapshotTimeouts = 0;
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
    const before = this.next;
    this.next = asIndex(Math.max(Math.min(rejected, hint + 1), this.match + 1));
    this.probeSent = false;
    if (this.next >= before) {
      // No way back: the follower rejects at match, an index it acknowledged. Probing again at
      // once would get the same answer; wait for the next heartbeat round.
      this.probeStalled = true;
      this.regressions++;
    }
    assert(this.next >= 1, "progress: next below 1");
    return true;
  }

  /** Whether sending more appends must wait. */
  isPaused(): boolean {
    switch (this.state) {
      case "Probe":
        return this.probeSent || this.probeStalled;
      case "Replicate":
        return this.inflights.full();
      case "Snapshot":
        return true;
    }
  }

  /** The leader's heartbeat broadcast: a stalled probe may go once more (one per heartbeat). */
  unstall(): void {
    this.probeStalled = false;
  }

  /**
   * Ticks a snapshot may wait for its answer before the leader probes again: an election
   * timeout, doubled for each snapshot in a row that timed out, up to 8 election timeouts.
   */
  snapshotWaitTicks(electionTicks: number): number {
    return electionTicks * 2 ** Math.min(this.snapshotTimeouts, 3);
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
