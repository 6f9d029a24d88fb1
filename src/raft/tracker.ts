// ProgressTracker: the current configuration (voters, outgoing voters, learners) and the
// leader's Progress for every member. Commit indexes and vote tallies are computed over the
// configuration here, so joint consensus works the same for both.
import { assert } from "../lib/index.js";
import { Progress } from "./progress.js";
import { jointCommitted, jointVoteResult, majorityVoteResult, type VoteResult } from "./quorum.js";
import { asIndex, type ConfState, type Index, type NodeId } from "./types.js";

export class ProgressTracker {
  private conf: ConfState;
  /** Every member (voter, outgoing voter or learner), in sorted id order for determinism. */
  private readonly progress = new Map<NodeId, Progress>();
  private readonly votes = new Map<NodeId, boolean>();

  constructor(
    conf: ConfState,
    private readonly inflightMessagesMax: number,
  ) {
    this.conf = conf;
    this.resetProgress(asIndex(1));
  }

  get confState(): ConfState {
    return this.conf;
  }

  /** Replaces the configuration; progress of kept members is kept, new members start probing at `next`. */
  setConf(conf: ConfState, next: Index): void {
    validateConf(conf);
    this.conf = conf;
    const old = new Map(this.progress);
    this.progress.clear();
    for (const id of this.memberIds()) {
      const prev = old.get(id);
      const isLearner = this.conf.learners.includes(id);
      if (prev !== undefined && prev.isLearner === isLearner) this.progress.set(id, prev);
      else {
        const pr = new Progress(next, this.inflightMessagesMax, isLearner);
        if (prev !== undefined) {
          pr.match = prev.match;
          pr.next = prev.next;
        }
        this.progress.set(id, pr);
      }
    }
  }

  /** Sorted ids of all members, voters and learners. */
  memberIds(): NodeId[] {
    const ids = new Set<NodeId>([
      ...this.conf.voters,
      ...this.conf.votersOutgoing,
      ...this.conf.learners,
    ]);
    return [...ids].sort();
  }

  isVoter(id: NodeId): boolean {
    return this.conf.voters.includes(id) || this.conf.votersOutgoing.includes(id);
  }

  isSingleVoter(id: NodeId): boolean {
    const all = new Set([...this.conf.voters, ...this.conf.votersOutgoing]);
    return all.size === 1 && all.has(id);
  }

  get(id: NodeId): Progress | undefined {
    return this.progress.get(id);
  }

  /** Progress entries in sorted id order. */
  entries(): [NodeId, Progress][] {
    return [...this.progress.entries()];
  }

  /** Fresh progress for everyone (a new leader, or a step down). */
  resetProgress(next: Index): void {
    this.progress.clear();
    for (const id of this.memberIds()) {
      this.progress.set(
        id,
        new Progress(next, this.inflightMessagesMax, this.conf.learners.includes(id)),
      );
    }
  }

  /** The highest index committed by the configuration's quorum(s), from match indexes. */
  committed(): Index {
    const match = (id: NodeId): Index => this.progress.get(id)?.match ?? asIndex(0);
    const c = jointCommitted(this.conf.voters, this.conf.votersOutgoing, match);
    assert(Number.isFinite(c), "committed index over an empty configuration");
    return asIndex(c);
  }

  /** Check-quorum: has a quorum been active since the last check? Resets the flags. */
  quorumActive(self: NodeId): boolean {
    const votes = new Map<NodeId, boolean>();
    for (const [id, pr] of this.progress) {
      if (pr.isLearner) {
        pr.activeLastRound = pr.recentActive;
        pr.recentActive = false;
        continue;
      }
      votes.set(id, id === self || pr.recentActive);
      pr.recentActive = id === self;
    }
    return jointVoteResult(this.conf.voters, this.conf.votersOutgoing, votes) === "Won";
  }

  resetVotes(): void {
    this.votes.clear();
  }

  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  voteResult(): VoteResult {
    return jointVoteResult(this.conf.voters, this.conf.votersOutgoing, this.votes);
  }

  /** Whether acknowledgements from `acks` form a quorum (used by ReadIndex). */
  isQuorum(acks: ReadonlySet<NodeId>): boolean {
    const votes = new Map<NodeId, boolean>();
    for (const id of acks) votes.set(id, true);
    if (this.conf.votersOutgoing.length === 0)
      return majorityVoteResult(this.conf.voters, votes) === "Won";
    return jointVoteResult(this.conf.voters, this.conf.votersOutgoing, votes) === "Won";
  }
}

export function validateConf(conf: ConfState): void {
  const voters = new Set([...conf.voters, ...conf.votersOutgoing]);
  for (const l of conf.learners) assert(!voters.has(l), `member ${l} is both voter and learner`);
  assert(new Set(conf.voters).size === conf.voters.length, "duplicate voter");
  assert(new Set(conf.learners).size === conf.learners.length, "duplicate learner");
}
