// The proposals this process placed and waits on: each is settled when the entry carrying its
// (runId, requestId) applies here, or failed when another entry takes its index (a new leader
// overwrote it), when it times out, or when the node stops.
import { assert } from "../lib/index.js";
import type { Entry } from "../raft/index.js";
import { NotLeader, RsmError } from "./errors.js";
import type { Outcome } from "./outcome.js";

export interface PendingProposal {
  readonly resolve: (result: Uint8Array) => void;
  readonly reject: (e: Error) => void;
  readonly cancelTimer: () => void;
  /** Where the leader placed it (-1: forwarded, not known here). */
  index: number;
  term: number;
}

/** Who proposed an entry, as its envelope or configuration context says. */
export interface ProposerRef {
  readonly proposer: string;
  readonly requestId: number;
}

export class ProposalTable {
  private readonly pending = new Map<number, PendingProposal>();
  /** Leader-side index → request id of our own proposals, to detect entries lost to a new leader. */
  private readonly byIndex = new Map<number, number>();

  constructor(
    private readonly runId: string,
    /** Counts a proposal that failed (timed out, lost, stopped). */
    private readonly failed: () => void,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  add(requestId: number, p: PendingProposal): void {
    assert(!this.pending.has(requestId), `proposal ${requestId} added twice`);
    // An index may be held already: a proposal of an earlier term here whose entry a later
    // leader cut off (a follower's log can shrink). That one is lost; it times out.
    if (p.index >= 0) this.byIndex.set(p.index, requestId);
    this.pending.set(requestId, p);
  }

  /** Times a proposal out, if it still waits; true if it did. */
  expire(requestId: number, e: Error): boolean {
    const p = this.pending.get(requestId);
    if (p === undefined) return false;
    this.pending.delete(requestId);
    this.failed();
    p.reject(e);
    return true;
  }

  /**
   * The entry at `e.index` applied, proposed by `by`: settles ours with `outcome`; one of ours
   * that was placed at this index and lost fails NotLeader with `leaderHint`.
   */
  settle(
    e: Entry,
    by: ProposerRef | undefined,
    outcome: Outcome | undefined,
    leaderHint: string,
  ): void {
    this.settleByIndex(e, by, leaderHint);
    if (by === undefined || by.proposer !== this.runId || outcome === undefined) return;
    this.settleRequest(by.requestId, outcome);
  }

  /** Settles our proposal `requestId` with the outcome of its entry. */
  settleRequest(requestId: number, outcome: Outcome): void {
    const p = this.pending.get(requestId);
    if (p === undefined) return;
    this.pending.delete(requestId);
    p.cancelTimer();
    if (outcome.ok) p.resolve(outcome.result);
    else p.reject(new RsmError(outcome.code, outcome.message));
  }

  /**
   * A proposal we placed at this index whose entry is not the one applied there was lost: it
   * fails NotLeader with `leaderHint`.
   */
  settleByIndex(e: Entry, by: ProposerRef | undefined, leaderHint: string): void {
    const requestId = this.byIndex.get(e.index);
    if (requestId === undefined) return;
    this.byIndex.delete(e.index);
    if (by !== undefined && by.proposer === this.runId && by.requestId === requestId) return;
    const p = this.pending.get(requestId);
    if (p === undefined) return;
    this.pending.delete(requestId);
    p.cancelTimer();
    this.failed();
    p.reject(new NotLeader(leaderHint));
  }

  /**
   * A snapshot brought the state up to `index`: proposals placed at or below it cannot be told
   * applied or lost from here; they stay pending until they time out (the outcome is unknown).
   */
  forgetIndexedUpTo(index: number): void {
    for (const i of this.byIndex.keys()) if (i <= index) this.byIndex.delete(i);
  }

  failAll(e: Error): void {
    for (const p of this.pending.values()) {
      p.cancelTimer();
      p.reject(e);
    }
    this.pending.clear();
    this.byIndex.clear();
  }

  /** What must always hold (checkInvariants): every indexed request waits, at that index. */
  check(applied: number, fail: (message: string) => void): void {
    for (const [index, requestId] of this.byIndex) {
      if (index <= applied) fail(`proposal ${requestId} at applied index ${index} still indexed`);
      const p = this.pending.get(requestId);
      if (p !== undefined && p.index !== index)
        fail(`proposal ${requestId} indexed at ${index} but placed at ${p.index}`);
    }
  }
}
