// Raft: the consensus algorithm as a pure, synchronous, deterministic object. It owns no
// sockets, files, timers, clocks or global randomness: time enters only through tick(),
// randomness only through the injected Prng, and everything it wants done comes out of
// ready(). Modelled on etcd's raft: term handling at the top of step(), then dispatch by role.
//
// THE READY CONTRACT (the runtime that drives this object must follow it exactly):
//
//   1. Call ready() when hasReady() is true. At most one Ready is outstanding at a time.
//   2. Persist, durably (fsync), in this order: ready.snapshot (if any: it replaces the whole
//      log), then ready.entries (if the first entry's index is at or below the last stored
//      index, truncate the stored log from there first), then ready.hardState (if any).
//   3. Only after step 2 is durable, send ready.messages. Exception: when ready.leader is true,
//      AppendRequest, Heartbeat and InstallSnapshot messages may be sent before or while
//      persisting (a leader's appends do not depend on its own write; thesis §10.2.1). See
//      canSendBeforePersist(). Votes and append acknowledgements always wait for the write.
//   4. If ready.snapshot is set, restore the state machine from it. Then apply
//      ready.committedEntries in order, exactly once. They are committed, and they were
//      persisted by step 2 at the latest.
//      A committed entry of type "ConfChange" is applied by decoding its data
//      (decodeConfChange) and calling raft.applyConfChange(cc), in log order with the other
//      entries; persist the returned ConfState with the snapshot metadata of any snapshot taken
//      at or after that index. Never change membership any other way. A node that joins an
//      existing cluster starts with an empty log and the empty confState (it never campaigns)
//      and must first receive a snapshot that names it: the runtime makes sure of that by
//      taking a snapshot (and compacting) whenever it applies a change that adds a member, so
//      no leader's log reaches back before the joiner's addition. Replaying the log's
//      ConfChange entries from the snapshot reproduces the configuration exactly.
//   5. Serve ready.readStates: a read with that context is linearizable once the state machine
//      has applied ready.readStates[i].index.
//   6. Call advance(ready). Only then may the next ready() be taken.
//
// The leader counts its own log toward commitment only from advance(), i.e. after its own
// write is durable, so an entry is never committed on fewer durable copies than a quorum.
import { assert, assertNever } from "../lib/index.js";
import {
  type ConfChange,
  encodeConfChange,
  isJoint,
  leaveJointConfChange,
  nextConfState,
} from "./conf-change.js";
import { LeadershipTransferError, NotLeaderError, RaftError } from "./errors.js";
import { RaftLog } from "./log.js";
import { isWellFormed } from "./message-check.js";
import type { Prng } from "./prng.js";
import { jointCommitted } from "./quorum.js";
import { ReadIndexQueue } from "./read-only.js";
import { ProgressTracker } from "./tracker.js";
import {
  type AppendRequest,
  type AppendResponse,
  asIndex,
  asTerm,
  type ConfState,
  type Entry,
  type EntryType,
  entryBytes,
  type HardState,
  type Heartbeat,
  type HeartbeatResponse,
  hardStateEqual,
  type Index,
  type InstallSnapshot,
  type Message,
  NO_NODE,
  type NodeId,
  type ReadState,
  type Role,
  type Snapshot,
  type SoftState,
  type Term,
  type VoteRequest,
  type VoteResponse,
} from "./types.js";

/** Heartbeat rounds whose send tick a lease-mode leader remembers (older acks date nothing). */
const HEARTBEATS_DATED_MAX = 256;
/** A learner is promoted only with a match index of at least this share of the leader's (etcd's readyPercent). */
const LEARNER_READY_FRACTION = 0.9;

/** Forwarded proposals one ProposalForward carries at most: in count, and in data bytes. */
const FORWARD_BATCH_PROPOSALS_MAX = 1024;
const FORWARD_BATCH_BYTES_MAX = 4 * 1024 * 1024;

/**
 * Deliberate bugs, for tests only: they prove the simulator and checkers catch a broken core.
 * Never set in production.
 */
export interface TestingFaults {
  /** Commit an earlier term's entry by counting replicas (violates Raft §5.4.2). */
  readonly commitPriorTermByCounting?: boolean;
  /** Grant votes without the log up-to-date check (violates Raft §5.4.1). */
  readonly skipVoteUpToDateCheck?: boolean;
  /**
   * Switch straight to the new voters when a change adds and removes several at once, without
   * the joint configuration (violates thesis §4.3: two disjoint majorities can both decide).
   */
  readonly skipJointConsensus?: boolean;
  /**
   * Not read by the core: the simulator's model of the peer handshake lets a member restarted
   * with a wiped disk under its old id back in (no incarnation check), so it may vote twice in
   * one term (the hole of issue 11).
   */
  readonly acceptWipedMember?: boolean;
}

export interface RaftOptions {
  readonly id: NodeId;
  /** Election timeout in ticks; the randomized timeout is drawn from [electionTicks, 2·electionTicks). */
  readonly electionTicks: number;
  /** Heartbeat interval in ticks; must be below electionTicks. */
  readonly heartbeatTicks: number;
  readonly prng: Prng;
  /** The configuration to start with when there is no snapshot (bootstrap). */
  readonly confState: ConfState;
  /** Durable state recovered from storage. */
  readonly hardState?: HardState;
  readonly snapshot?: Snapshot | undefined;
  readonly entries?: readonly Entry[];
  /** Pre-vote (thesis §9.6). Default true. */
  readonly preVote?: boolean;
  /** Check-quorum: a leader steps down when it has not heard from a quorum for an election timeout. Default true. */
  readonly checkQuorum?: boolean;
  /** Unacknowledged AppendRequests per follower in Replicate state. Default 256. */
  readonly inflightMessagesMax?: number;
  /** Entry bytes per AppendRequest (at least one entry is always sent). Default 1 MiB. */
  readonly messageBytesMax?: number;
  /** Committed entry bytes per Ready. Default 8 MiB. */
  readonly committedBytesMaxPerReady?: number;
  /** Bytes of proposed but uncommitted entries a leader accepts before dropping proposals. Default 64 MiB. */
  readonly uncommittedBytesMax?: number;
  /** Pending ReadIndex requests a leader keeps. Default 4096. */
  readonly readIndexPendingMax?: number;
  /**
   * Followers' forwarded proposals a leader holds for the runtime between two Readys; more are
   * dropped (their proposers time out). Default 4096.
   */
  readonly forwardedProposalsMax?: number;
  /**
   * Promoting a learner (AddVoter for an existing learner) is refused while its match index is
   * more than this many entries behind the leader's last index. Default 1000.
   */
  readonly learnerPromotionLagMax?: number;
  /**
   * How a leader confirms it still leads before answering a ReadIndex request. "index"
   * (default): a heartbeat round a quorum acknowledges, per read (batched by the runtime).
   * "lease": no round while its lease holds: a quorum acknowledged a heartbeat sent at tick t,
   * and each of those followers refuses votes for electionTicks of its own ticks after hearing
   * it, so no other leader can exist before t + (electionTicks − 1) / (1 + leaseClockDrift)
   * leader ticks, less one tick of rounding. Needs checkQuorum. Correct only while no clock
   * runs faster than another by more than leaseClockDrift (the simulator checks both sides).
   */
  readonly readMode?: "index" | "lease";
  /** Largest relative tick-rate difference between members that lease reads tolerate. Default 0.1. */
  readonly leaseClockDrift?: number;
  readonly testingFaults?: TestingFaults;
}

export interface Ready {
  /** Set when leader, role or term changed since the last Ready. */
  readonly softState: SoftState | undefined;
  /** Set when term, vote or commit changed: persist it. */
  readonly hardState: HardState | undefined;
  /** Entries to persist (see the contract: may overwrite a stored suffix). */
  readonly entries: readonly Entry[];
  /** A snapshot from the leader to persist and restore. */
  readonly snapshot: Snapshot | undefined;
  /** Committed entries to apply, in order. */
  readonly committedEntries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly readStates: readonly ReadState[];
  /**
   * Proposals followers forwarded to this leader. The runtime must propose them (after stamping
   * them as its own proposals are) or drop them; the proposer learns the outcome by applying.
   */
  readonly forwardedProposals: readonly ForwardedProposal[];
  /** Contexts of ReadIndex requests this node dropped (lost leadership, queue full): fail them fast. */
  readonly droppedReads: readonly string[];
  /** Whether this node was leader when the Ready was made (see contract step 3). */
  readonly leader: boolean;
  /**
   * Whether the write must be fsynced: entries, a snapshot, a new term or vote, or a commit
   * index that lets a configuration change be applied. A commit index alone may be written
   * lazily (a crash loses at most that; the leader tells it again).
   */
  readonly mustSync: boolean;
}

/** Contract step 3: which messages of a Ready may go out before its write is durable. */
export function canSendBeforePersist(ready: Ready, m: Message): boolean {
  return (
    ready.leader &&
    (m.type === "AppendRequest" || m.type === "Heartbeat" || m.type === "InstallSnapshot")
  );
}

export interface ForwardedProposal {
  readonly from: NodeId;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: Term;
  readonly vote: NodeId;
  readonly leader: NodeId;
  readonly commit: Index;
  readonly applied: Index;
  readonly lastIndex: Index;
  readonly firstIndex: Index;
  readonly confState: ConfState;
  readonly leadTransferee: NodeId;
  readonly progress: ReadonlyArray<{
    id: NodeId;
    match: Index;
    next: Index;
    state: string;
    recentActive: boolean;
    /**
     * Rejections from this follower at or below its match: it lost entries it acknowledged
     * (its durable state went backwards). Non-zero means the follower must not be trusted.
     */
    regressions: number;
    /** Appends sent and not yet acknowledged (Replicate state only; bounded by the window). */
    inflight: number;
  }>;
}

export class Raft {
  readonly id: NodeId;
  term: Term;
  vote: NodeId;
  /** Who this node believes leads in `term`, or NO_NODE. */
  lead: NodeId = NO_NODE;
  role: Role = "Follower";
  readonly log: RaftLog;
  readonly tracker: ProgressTracker;

  private readonly electionTicks: number;
  private readonly heartbeatTicks: number;
  private readonly prng: Prng;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  /** Leader ticks a lease lasts from the heartbeat that started it (0: lease reads off). */
  private readonly leaseTicks: number;
  /** Lease mode: votes are refused for an election timeout after boot too (see step()). */
  private bootVoteHold: boolean;
  /** Leader ticks so far (lease arithmetic). */
  private leaderTicks = 0;
  /** Heartbeat contexts sent in this term, with the leader tick they were sent at (bounded). */
  private readonly heartbeatSentAt = new Map<string, number>();
  private heartbeatRound = 0;
  /** Per voter, the send tick of the newest heartbeat it acknowledged (this term). */
  private readonly heartbeatAckedAt = new Map<NodeId, number>();
  /** A TimeoutNow went out this term: another leader may appear at once, so no lease reads. */
  private leaseRevoked = false;
  private leaseReads = 0;
  private readonly messageBytesMax: number;
  private readonly committedBytesMaxPerReady: number;
  private readonly uncommittedBytesMax: number;
  private readonly readIndexPendingMax: number;
  private readonly forwardedProposalsMax: number;
  private readonly learnerPromotionLagMax: number;
  private readonly faults: TestingFaults;

  /** Ticks since the last election timeout reset (follower/candidate) or check-quorum round (leader). */
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private readonly readOnly: ReadIndexQueue;
  /** Reads that arrived before this leader committed an entry of its own term (thesis §6.4 step 1). */
  private pendingReads: { context: string; from: NodeId }[] = [];
  private droppedReads: string[] = [];
  private msgs: Message[] = [];
  /** The ProposalForward in msgs that further forwarded proposals join until the next Ready. */
  private forwardBatch:
    | {
        readonly to: NodeId;
        readonly term: Term;
        readonly proposals: { type: EntryType; data: Uint8Array }[];
        bytes: number;
      }
    | undefined;
  private readStates: ReadState[] = [];
  private forwarded: ForwardedProposal[] = [];
  /** Leadership transfer target, or NO_NODE. */
  private leadTransferee: NodeId = NO_NODE;
  /** Index of the latest configuration change entry this leader appended (one at a time). */
  pendingConfIndex: Index = asIndex(0);
  private uncommittedBytes = 0;
  /** Entries were proposed since the last broadcast; ready() sends them in batches. */
  private appendPending = false;
  /** The newest snapshot, sent to followers that need compacted entries. */
  private latestSnapshot: Snapshot | undefined;
  private snapshotHandedOut = false;
  private prevHardState: HardState;
  private prevSoftState: SoftState;
  private outstanding: Ready | undefined;
  /** Messages dropped by the well-formedness check. */
  droppedMessages = 0;

  constructor(options: RaftOptions) {
    assert(options.id !== NO_NODE, "raft: empty id");
    assert(
      options.heartbeatTicks > 0 && options.heartbeatTicks < options.electionTicks,
      "raft: bad ticks",
    );
    this.id = options.id;
    this.electionTicks = options.electionTicks;
    this.heartbeatTicks = options.heartbeatTicks;
    this.prng = options.prng;
    this.preVote = options.preVote ?? true;
    this.checkQuorum = options.checkQuorum ?? true;
    const drift = options.leaseClockDrift ?? 0.1;
    assert(Number.isFinite(drift) && drift >= 0 && drift < 1, "raft: leaseClockDrift in [0, 1)");
    const lease = options.readMode === "lease";
    assert(!lease || this.checkQuorum, "raft: lease reads need checkQuorum");
    this.leaseTicks = lease
      ? Math.max(0, Math.floor((options.electionTicks - 1) / (1 + drift)) - 1)
      : 0;
    this.bootVoteHold = lease;
    this.messageBytesMax = options.messageBytesMax ?? 1024 * 1024;
    this.committedBytesMaxPerReady = options.committedBytesMaxPerReady ?? 8 * 1024 * 1024;
    this.uncommittedBytesMax = options.uncommittedBytesMax ?? 64 * 1024 * 1024;
    this.readIndexPendingMax = options.readIndexPendingMax ?? 4096;
    this.forwardedProposalsMax = options.forwardedProposalsMax ?? 4096;
    this.learnerPromotionLagMax = options.learnerPromotionLagMax ?? 1000;
    this.faults = options.testingFaults ?? {};
    this.readOnly = new ReadIndexQueue(this.readIndexPendingMax);

    const hs = options.hardState ?? { term: asTerm(0), vote: NO_NODE, commit: asIndex(0) };
    const snap = options.snapshot;
    this.log = new RaftLog(
      snap?.meta.index ?? asIndex(0),
      snap?.meta.term ?? asTerm(0),
      options.entries ?? [],
      hs.commit,
    );
    this.latestSnapshot = snap;
    this.snapshotHandedOut = true;
    this.tracker = new ProgressTracker(
      snap?.meta.confState ?? options.confState,
      options.inflightMessagesMax ?? 256,
    );
    this.term = hs.term;
    this.vote = hs.vote;
    this.prevHardState = hs;
    this.becomeFollower(this.term, NO_NODE);
    this.prevSoftState = this.softState();
  }

  // ───────────────────────────── inputs ─────────────────────────────

  /** Advances logical time by one tick. */
  tick(): void {
    if (this.role === "Leader") this.tickHeartbeat();
    else this.tickElection();
  }

  /** Proposes `data` for the log. Leader only; returns where it will sit if committed. */
  propose(data: Uint8Array, type: EntryType = "Normal"): { index: Index; term: Term } {
    if (this.role !== "Leader") throw new NotLeaderError(this.lead);
    if (this.leadTransferee !== NO_NODE) {
      throw new LeadershipTransferError(this.leadTransferee);
    }
    const entry: Entry = { index: asIndex(this.log.lastIndex() + 1), term: this.term, type, data };
    const bytes = entryBytes(entry);
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + bytes > this.uncommittedBytesMax) {
      throw new RaftError("PROPOSAL_DROPPED", "too many uncommitted bytes; try again later");
    }
    if (type === "ConfChange") {
      if (this.pendingConfIndex > this.log.applied) {
        throw new RaftError("PROPOSAL_DROPPED", "a configuration change is already in progress");
      }
      this.pendingConfIndex = entry.index;
    }
    this.log.append([entry]);
    this.uncommittedBytes += bytes;
    this.appendPending = true;
    return { index: entry.index, term: entry.term };
  }

  /**
   * Proposes a membership change (thesis §4.3). Leader only. Refused with PROPOSAL_DROPPED while
   * a previous change is not yet applied, before this leader has committed an entry of its own
   * term, when the change would leave no voter, when it is not allowed from the current
   * configuration (see nextConfState), or when it promotes a learner that lags too far behind.
   * The configuration changes when the entry is applied (applyConfChange), not when proposed.
   */
  proposeConfChange(cc: ConfChange): { index: Index; term: Term } {
    if (this.role !== "Leader") throw new NotLeaderError(this.lead);
    if (this.log.term(this.log.committed) !== this.term) {
      throw new RaftError(
        "PROPOSAL_DROPPED",
        "configuration change refused: this leader has not yet committed an entry of its term",
      );
    }
    if (this.pendingConfIndex > this.log.applied) {
      throw new RaftError(
        "PROPOSAL_DROPPED",
        `configuration change refused: the change at index ${this.pendingConfIndex} is not yet applied (applied ${this.log.applied})`,
      );
    }
    const next = nextConfState(this.tracker.confState, cc);
    if ("error" in next) {
      throw new RaftError("PROPOSAL_DROPPED", `configuration change refused: ${next.error}`);
    }
    for (const c of cc.changes) {
      const pr = this.tracker.get(c.node);
      if (c.type !== "AddVoter" || pr === undefined || !pr.isLearner) continue;
      // etcd's rule (isLearnerReady): the learner's match at least 90% of the leader's; and
      // Ordo's: at most learnerPromotionLagMax entries behind, and heard from recently.
      const last = this.log.lastIndex();
      const lag = last - pr.match;
      if (lag > this.learnerPromotionLagMax || pr.match < last * LEARNER_READY_FRACTION) {
        throw new RaftError(
          "PROPOSAL_DROPPED",
          `configuration change refused: learner ${c.node} is ${lag} entries behind, not in sync with the leader (match ${pr.match}, last ${last}; at least 90% of it and at most ${this.learnerPromotionLagMax} entries behind needed); promote it once it has caught up`,
        );
      }
      if (!pr.recentActive && !pr.activeLastRound) {
        throw new RaftError(
          "PROPOSAL_DROPPED",
          `configuration change refused: learner ${c.node} is not in sync with the leader: not heard from within the last election timeout`,
        );
      }
    }
    return this.propose(encodeConfChange(cc), "ConfChange");
  }

  /**
   * Applies a committed ConfChange entry (Ready contract step 4). Every member calls it, in log
   * order. Returns the configuration now in force; the runtime persists it with its snapshot
   * metadata. A change that is not valid from the current configuration (it can only come from
   * a raw propose(data, "ConfChange")) changes nothing, identically on every replica.
   */
  applyConfChange(cc: ConfChange): ConfState {
    let next = nextConfState(this.tracker.confState, cc);
    if ("error" in next) return this.tracker.confState;
    if (this.faults.skipJointConsensus === true && isJoint(next.conf)) {
      next = {
        conf: { voters: next.conf.voters, votersOutgoing: [], learners: next.conf.learners },
      };
    }
    const before = new Set(this.tracker.memberIds());
    this.tracker.setConf(next.conf, asIndex(this.log.lastIndex() + 1));
    if (this.role !== "Leader") return next.conf;
    for (const [id, pr] of this.tracker.entries()) {
      // New members count as active for check-quorum until the next round.
      if (!before.has(id)) pr.recentActive = true;
    }
    if (this.leadTransferee !== NO_NODE && !this.tracker.isVoter(this.leadTransferee)) {
      this.leadTransferee = NO_NODE;
    }
    if (!this.tracker.isVoter(this.id)) {
      // Removed: tell the others what is committed (so they apply the removal too), hand the
      // leadership to the most up-to-date remaining voter at once (TimeoutNow, as in a transfer:
      // no election timeout without a leader), then step down. Not being a voter, this node
      // never campaigns again.
      this.broadcastAppend();
      let successor: NodeId = NO_NODE;
      let best = -1;
      for (const [id, pr] of this.tracker.entries()) {
        if (id === this.id || !this.tracker.isVoter(id) || pr.match < this.log.committed) continue;
        if (pr.match > best) {
          best = pr.match;
          successor = id;
        }
      }
      if (successor !== NO_NODE) this.sendTimeoutNow(successor);
      this.becomeFollower(this.term, NO_NODE);
      return next.conf;
    }
    this.maybeCommit();
    this.broadcastAppend();
    return next.conf;
  }

  /**
   * Proposes on the leader, or forwards to the leader when this node follows one (etcd's
   * proposal forwarding). A forwarded proposal returns undefined: it has no index yet, and may
   * be lost; the runtime learns of it when the entry is applied. Throws when no leader is known.
   */
  proposeOrForward(
    data: Uint8Array,
    type: EntryType = "Normal",
  ): { index: Index; term: Term } | undefined {
    if (this.role === "Leader") return this.propose(data, type);
    if (this.lead === NO_NODE) throw new NotLeaderError(NO_NODE);
    // Proposals made before the next Ready share one message (bounded in count and bytes).
    const batch = this.forwardBatch;
    if (
      batch !== undefined &&
      batch.to === this.lead &&
      batch.term === this.term &&
      batch.proposals.length < FORWARD_BATCH_PROPOSALS_MAX &&
      batch.bytes + data.byteLength <= FORWARD_BATCH_BYTES_MAX
    ) {
      batch.proposals.push({ type, data });
      batch.bytes += data.byteLength;
      return undefined;
    }
    const proposals = [{ type, data }];
    this.send({
      type: "ProposalForward",
      from: this.id,
      to: this.lead,
      term: this.term,
      proposals,
    });
    this.forwardBatch = { to: this.lead, term: this.term, proposals, bytes: data.byteLength };
    return undefined;
  }

  /**
   * Requests a linearizable read (thesis §6.4). The answer arrives in a later Ready's readStates
   * with the same context (or its context in droppedReads). Throws when no leader is known.
   */
  readIndex(context: string): void {
    if (this.role === "Leader") {
      this.handleReadIndex(context, this.id);
      return;
    }
    if (this.lead === NO_NODE)
      throw new RaftError("NO_LEADER", "no leader known; cannot serve a linearizable read");
    this.send({ type: "ReadIndexRequest", from: this.id, to: this.lead, term: this.term, context });
  }

  /** Starts moving leadership to `to` (thesis §3.10). Aborted after an election timeout. */
  transferLeadership(to: NodeId): void {
    if (this.role !== "Leader") throw new NotLeaderError(this.lead);
    if (to === this.id || this.leadTransferee === to) return;
    if (!this.tracker.isVoter(to)) throw new RaftError("PROPOSAL_DROPPED", `${to} is not a voter`);
    this.leadTransferee = to;
    this.electionElapsed = 0;
    const pr = this.tracker.get(to);
    assert(pr !== undefined, "raft: voter without progress");
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppend(to, true);
  }

  /** The runtime took and persisted a snapshot of the state machine: compact the log up to it. */
  compact(snapshot: Snapshot): void {
    assert(snapshot.meta.index <= this.log.applied, "raft: snapshot beyond applied");
    if (snapshot.meta.index <= this.log.snapIndex) return;
    assert(
      this.log.term(snapshot.meta.index) === snapshot.meta.term,
      "raft: snapshot term mismatch",
    );
    this.log.compact(snapshot.meta.index);
    this.latestSnapshot = snapshot;
  }

  /** Processes a message from a peer. Malformed messages are dropped. */
  step(m: Message): void {
    if (!isWellFormed(m, this.id)) {
      this.droppedMessages++;
      return;
    }
    if (m.type === "VoteResponse") this.learnCommit(m.commit, m.commitTerm);
    if (m.term > this.term) {
      if (m.type === "VoteRequest") {
        // Thesis §4.2.3: a member that hears from a leader within the election timeout ignores
        // vote requests, so removed or partitioned servers cannot disrupt the cluster.
        // In lease mode a node that just booted holds its vote too: it may have acknowledged a
        // leader's heartbeat before it crashed, and that leader may still count on it.
        const inLease =
          this.checkQuorum &&
          (this.lead !== NO_NODE || this.bootVoteHold) &&
          this.electionElapsed < this.electionTicks;
        if (inLease && !m.transfer) return;
      }
      if (m.type === "VoteRequest" && m.preVote) {
        // A pre-vote never changes our term.
      } else if (m.type === "VoteResponse" && m.preVote && m.granted) {
        // Granted pre-votes carry the term we would campaign in; not a newer leader's term.
      } else {
        const leader =
          m.type === "AppendRequest" || m.type === "Heartbeat" || m.type === "InstallSnapshot"
            ? m.from
            : NO_NODE;
        this.becomeFollower(m.term, leader);
      }
    } else if (m.term < this.term) {
      this.stepStaleTerm(m);
      return;
    }

    if (m.type === "VoteRequest") {
      this.handleVoteRequest(m);
      return;
    }
    switch (this.role) {
      case "Leader":
        this.stepLeader(m);
        return;
      case "Candidate":
      case "PreCandidate":
        this.stepCandidate(m);
        return;
      case "Follower":
        this.stepFollower(m);
        return;
      default:
        assertNever(this.role, "role");
    }
  }

  // ───────────────────────────── outputs ─────────────────────────────

  hasReady(): boolean {
    if (this.outstanding !== undefined) return false;
    return (
      this.appendPending ||
      this.msgs.length > 0 ||
      this.readStates.length > 0 ||
      this.droppedReads.length > 0 ||
      this.forwarded.length > 0 ||
      this.log.hasUnstable() ||
      (this.log.pendingSnapshot !== undefined && !this.snapshotHandedOut) ||
      this.log.hasNextCommitted() ||
      !hardStateEqual(this.hardState(), this.prevHardState) ||
      !softStateEqual(this.softState(), this.prevSoftState)
    );
  }

  /** What the runtime must do now; see the Ready contract at the top of this file. */
  ready(): Ready {
    assert(this.outstanding === undefined, "raft: ready() before advance() of the previous Ready");
    if (this.appendPending) this.broadcastAppend();
    const hs = this.hardState();
    const ss = this.softState();
    const snapshot = this.snapshotHandedOut ? undefined : this.log.pendingSnapshot;
    const entries = this.log.unstableEntries();
    const hardStateChanged = !hardStateEqual(hs, this.prevHardState);
    const committedEntries = this.log.nextCommitted(this.committedBytesMaxPerReady);
    // A commit index alone need not be synced, except one that lets a configuration change be
    // applied: a node's configuration must never go back across a restart. (Otherwise members
    // that restart into an older joint configuration can need votes only removed members, whose
    // logs are newer and who never campaign, could give: a cluster stuck for good.)
    const appliesConfChange = committedEntries.some((e) => e.type === "ConfChange");
    const rd: Ready = {
      softState: softStateEqual(ss, this.prevSoftState) ? undefined : ss,
      hardState: hardStateChanged || appliesConfChange ? hs : undefined,
      entries,
      snapshot,
      committedEntries,
      messages: this.msgs,
      readStates: this.readStates,
      droppedReads: this.droppedReads,
      forwardedProposals: this.forwarded,
      leader: this.role === "Leader",
      mustSync:
        entries.length > 0 ||
        snapshot !== undefined ||
        appliesConfChange ||
        hs.term !== this.prevHardState.term ||
        hs.vote !== this.prevHardState.vote,
    };
    this.msgs = [];
    this.forwardBatch = undefined;
    this.readStates = [];
    this.droppedReads = [];
    this.forwarded = [];
    this.prevHardState = hs;
    this.prevSoftState = ss;
    if (snapshot !== undefined) this.snapshotHandedOut = true;
    const lastCommitted = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastCommitted !== undefined) this.log.applyingTo(lastCommitted.index);
    this.outstanding = rd;
    return rd;
  }

  /** The runtime carried out `rd` (persisted, sent, applied). */
  advance(rd: Ready): void {
    assert(this.outstanding === rd, "raft: advance() of a Ready that is not outstanding");
    this.outstanding = undefined;
    if (rd.snapshot !== undefined) this.log.snapshotApplied(rd.snapshot.meta.index);
    const lastEntry = rd.entries[rd.entries.length - 1];
    if (lastEntry !== undefined) this.log.stableTo(lastEntry.index, lastEntry.term);
    const lastCommitted = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastCommitted !== undefined) this.log.appliedTo(lastCommitted.index);
    if (this.role === "Leader") {
      // The leader's own durable log now counts toward commitment.
      const self = this.tracker.get(this.id);
      if (self?.maybeUpdate(this.log.stableIndex) && this.maybeCommit()) {
        this.broadcastAppend();
      }
      this.maybeAutoLeave();
    }
  }

  /**
   * etcd's autoLeave: once the leader has applied the entry that entered an implicit joint
   * configuration, it proposes the empty ConfChange that leaves it. Retried on later advances
   * if the proposal is refused for now (transfer in progress, own-term entry not yet committed).
   */
  private maybeAutoLeave(): void {
    const conf = this.tracker.confState;
    if (!isJoint(conf) || conf.autoLeave !== true) return;
    if (this.pendingConfIndex > this.log.applied) return;
    if (this.log.term(this.log.committed) !== this.term) return;
    try {
      this.proposeConfChange(leaveJointConfChange());
    } catch (e) {
      if (!(e instanceof RaftError)) throw e;
    }
  }

  /**
   * Asserts what must hold between any two calls (AssertionError otherwise): the log's
   * watermarks (snapshot ≤ applied ≤ applying, applied ≤ committed ≤ last, stable ≤ last), the
   * role's own facts (a candidate or leader voted for itself; a leader leads its term; only a
   * leader transfers) and, on a leader, every follower's progress (match < next ≤ last + 1, a
   * snapshot in flight only in Snapshot state, the inflight window within its bound). The test
   * harness and the simulator call it after every step.
   */
  checkInvariants(): void {
    const log = this.log;
    const last = log.lastIndex();
    // A snapshot from the leader moves the log to its index before the runtime has restored it.
    if (log.pendingSnapshot === undefined) {
      assert(
        log.snapIndex <= log.applied,
        `applied ${log.applied} below the snapshot ${log.snapIndex}`,
      );
    }
    assert(log.applied <= log.committed, `applied ${log.applied} above committed ${log.committed}`);
    assert(log.applied <= log.applying, `applying ${log.applying} below applied ${log.applied}`);
    assert(
      log.applying <= log.committed,
      `applying ${log.applying} above committed ${log.committed}`,
    );
    assert(log.committed <= last, `committed ${log.committed} above the last index ${last}`);
    assert(log.stableIndex <= last, `stable ${log.stableIndex} above the last index ${last}`);
    if (this.role === "Candidate" || this.role === "Leader") {
      assert(
        this.vote === this.id,
        `${this.role} ${this.id} voted for ${this.vote} in term ${this.term}`,
      );
    }
    if (this.role !== "Leader") {
      assert(this.leadTransferee === NO_NODE, "a transfer outside the leader role");
      return;
    }
    assert(this.lead === this.id, `the leader of term ${this.term} names ${this.lead} as leader`);
    for (const [id, pr] of this.tracker.entries()) {
      assert(pr.match < pr.next, `${id}: match ${pr.match} not below next ${pr.next}`);
      assert(pr.next <= last + 1, `${id}: next ${pr.next} past the last index ${last}`);
      if (pr.state === "Snapshot")
        assert(pr.pendingSnapshot > 0, `${id}: Snapshot state, none in flight`);
      else assert(pr.pendingSnapshot === 0, `${id}: a snapshot in flight in ${pr.state} state`);
      assert(pr.inflights.size <= pr.inflights.capacity, `${id}: inflight window overfull`);
      if (pr.state !== "Replicate")
        assert(pr.inflights.size === 0, `${id}: inflight outside Replicate`);
    }
  }

  status(): RaftStatus {
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leader: this.lead,
      commit: this.log.committed,
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
      firstIndex: this.log.firstIndex(),
      confState: this.tracker.confState,
      leadTransferee: this.leadTransferee,
      progress: this.tracker.entries().map(([id, pr]) => ({
        id,
        match: pr.match,
        next: pr.next,
        state: pr.state,
        recentActive: pr.recentActive,
        regressions: pr.regressions,
        inflight: pr.inflights.size,
      })),
    };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  softState(): SoftState {
    return { leader: this.lead, role: this.role, term: this.term };
  }

  // ───────────────────────────── roles ─────────────────────────────

  private reset(term: Term): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NO_NODE;
    }
    this.lead = NO_NODE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    // Randomized election timeouts (§5.2) in [electionTicks, 2·electionTicks).
    this.randomizedElectionTimeout = this.electionTicks + this.prng.int(this.electionTicks);
    this.leadTransferee = NO_NODE;
    this.tracker.resetVotes();
    this.tracker.resetProgress(asIndex(this.log.lastIndex() + 1));
    for (const r of this.readOnly.clear()) this.droppedReads.push(r.context);
    for (const r of this.pendingReads) this.droppedReads.push(r.context);
    this.pendingReads = [];
    this.forwarded = [];
    this.pendingConfIndex = asIndex(0);
    this.uncommittedBytes = 0;
    this.appendPending = false;
  }

  private becomeFollower(term: Term, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.role = "Follower";
  }

  private becomePreCandidate(): void {
    assert(this.role !== "Leader", "raft: leader cannot become pre-candidate");
    // Pre-vote changes neither term nor vote (thesis §9.6).
    this.role = "PreCandidate";
    this.lead = NO_NODE;
    this.tracker.resetVotes();
  }

  private becomeCandidate(): void {
    assert(this.role !== "Leader", "raft: leader cannot become candidate");
    this.reset(asTerm(this.term + 1));
    this.vote = this.id;
    this.role = "Candidate";
  }

  private becomeLeader(): void {
    assert(this.role === "Candidate", "raft: only a candidate becomes leader");
    this.reset(this.term);
    this.lead = this.id;
    this.role = "Leader";
    this.heartbeatSentAt.clear();
    this.heartbeatAckedAt.clear();
    this.leaseRevoked = false;
    for (const [id, pr] of this.tracker.entries()) {
      pr.recentActive = true;
      if (id === this.id) {
        pr.maybeUpdate(this.log.stableIndex);
        pr.becomeReplicate();
      }
    }
    // Conservatively treat any configuration change in the uncommitted log as pending.
    this.pendingConfIndex = this.log.lastIndex();
    // §8: a no-op entry of the new term lets the leader learn what is committed.
    this.log.append([
      {
        index: asIndex(this.log.lastIndex() + 1),
        term: this.term,
        type: "Normal",
        data: new Uint8Array(0),
      },
    ]);
    this.broadcastAppend();
  }

  private promotable(): boolean {
    return this.tracker.isVoter(this.id);
  }

  // ───────────────────────────── time ─────────────────────────────

  private tickElection(): void {
    this.electionElapsed++;
    if (this.bootVoteHold && this.electionElapsed >= this.electionTicks) this.bootVoteHold = false;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    this.leaderTicks++;
    this.bootVoteHold = false;
    if (this.electionElapsed >= this.electionTicks) {
      this.electionElapsed = 0;
      if (this.checkQuorum && !this.tracker.quorumActive(this.id)) {
        this.becomeFollower(this.term, NO_NODE);
        return;
      }
      if (this.leadTransferee !== NO_NODE) this.leadTransferee = NO_NODE;
    }
    for (const [, pr] of this.tracker.entries()) {
      // A snapshot that got no answer in time was probably lost: probe again (backing off while
      // snapshots keep timing out, see Progress.snapshotWaitTicks).
      if (
        pr.state === "Snapshot" &&
        ++pr.snapshotTicks >= pr.snapshotWaitTicks(this.electionTicks)
      ) {
        pr.snapshotTimeouts++;
        pr.becomeProbe();
      }
    }
    if (this.heartbeatElapsed >= this.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      // One stalled probe per heartbeat interval (Progress.probeStalled): the heartbeat's
      // response lets it go.
      for (const [, pr] of this.tracker.entries()) pr.unstall();
      this.broadcastHeartbeat(this.readOnly.lastContext());
    }
  }

  // ───────────────────────────── elections ─────────────────────────────

  private hup(transfer: boolean): void {
    if (this.role === "Leader" || !this.promotable()) return;
    if (this.preVote && !transfer) {
      this.becomePreCandidate();
      if (this.requestVotes(true, false) !== "Won") return;
    }
    this.becomeCandidate();
    if (this.requestVotes(false, transfer) === "Won") this.becomeLeader();
  }

  /** Votes for itself and asks every other voter; returns the immediate result (a single voter wins). */
  private requestVotes(preVote: boolean, transfer: boolean): "Won" | "Lost" | "Pending" {
    this.tracker.resetVotes();
    this.tracker.recordVote(this.id, true);
    const result = this.tracker.voteResult();
    if (result === "Won") return result;
    const term = asTerm(preVote ? this.term + 1 : this.term);
    for (const id of this.tracker.memberIds()) {
      if (id === this.id || !this.tracker.isVoter(id)) continue;
      this.send({
        type: "VoteRequest",
        from: this.id,
        to: id,
        term,
        preVote,
        lastLogIndex: this.log.lastIndex(),
        lastLogTerm: this.log.lastTerm(),
        transfer,
      });
    }
    return result;
  }

  /** Our commit index and its entry's term, as VoteResponse carries them. */
  private commitInfo(): { commit: Index; commitTerm: Term } {
    const commit = this.log.committed;
    return { commit, commitTerm: this.log.term(commit) ?? asTerm(0) };
  }

  /**
   * A peer says the entry at `commit`, of `commitTerm`, is committed. If ours there has the same
   * term, Log Matching makes our log identical up to it: that prefix is committed, whatever our
   * role or term (commitment is a fact of the log, not of a term).
   */
  private learnCommit(commit: Index, commitTerm: Term): void {
    if (commit <= this.log.committed || commit > this.log.lastIndex()) return;
    if (commitTerm === 0 || this.log.term(commit) !== commitTerm) return;
    this.log.commitTo(commit);
  }

  private handleVoteRequest(m: VoteRequest): void {
    // §5.2 / §5.4.1: one vote per term, and only for a candidate whose log is at least as up to date.
    const canVote =
      this.vote === m.from ||
      (this.vote === NO_NODE && this.lead === NO_NODE) ||
      (m.preVote && m.term > this.term);
    const upToDate =
      this.faults.skipVoteUpToDateCheck === true ||
      this.log.isUpToDate(m.lastLogIndex, m.lastLogTerm);
    if (canVote && upToDate) {
      this.send({
        type: "VoteResponse",
        from: this.id,
        to: m.from,
        ...this.commitInfo(),
        term: m.term,
        preVote: m.preVote,
        granted: true,
      });
      if (!m.preVote) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({
        type: "VoteResponse",
        from: this.id,
        to: m.from,
        ...this.commitInfo(),
        term: this.term,
        preVote: m.preVote,
        granted: false,
      });
    }
  }

  private stepStaleTerm(m: Message): void {
    if (
      (this.checkQuorum || this.preVote) &&
      (m.type === "AppendRequest" || m.type === "Heartbeat")
    ) {
      // A leader from an older term (cut off by a partition) would never hear of the newer term
      // if we ignored it, since pre-vote keeps the others from raising their terms: tell it.
      this.send({
        type: "AppendResponse",
        from: this.id,
        to: m.from,
        term: this.term,
        success: false,
        index: asIndex(0),
        hintIndex: asIndex(0),
        hintTerm: asTerm(0),
      });
    } else if (m.type === "VoteRequest" && m.preVote) {
      this.send({
        type: "VoteResponse",
        from: this.id,
        to: m.from,
        ...this.commitInfo(),
        term: this.term,
        preVote: true,
        granted: false,
      });
    }
    // Everything else from an older term is ignored.
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case "AppendRequest":
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case "Heartbeat":
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case "InstallSnapshot":
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case "VoteResponse":
        this.handleVoteResponse(m);
        return;
      default:
        return;
    }
  }

  private handleVoteResponse(m: VoteResponse): void {
    if (m.preVote !== (this.role === "PreCandidate")) return;
    this.tracker.recordVote(m.from, m.granted);
    const result = this.tracker.voteResult();
    if (result === "Won") {
      if (this.role === "PreCandidate") {
        this.becomeCandidate();
        if (this.requestVotes(false, false) === "Won") this.becomeLeader();
      } else {
        this.becomeLeader();
      }
    } else if (result === "Lost") {
      this.becomeFollower(this.term, NO_NODE);
    }
  }

  // ───────────────────────────── follower ─────────────────────────────

  private stepFollower(m: Message): void {
    switch (m.type) {
      case "AppendRequest":
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        return;
      case "Heartbeat":
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case "InstallSnapshot":
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case "ReadIndexResponse":
        this.readStates.push({ index: m.index, context: m.context });
        return;
      case "TimeoutNow":
        // Thesis §3.10: the leader handed over; campaign now, skipping pre-vote.
        this.hup(true);
        return;
      default:
        return;
    }
  }

  /** AppendEntries receiver implementation, Raft Figure 2. */
  private handleAppend(m: AppendRequest): void {
    const reply = (success: boolean, index: Index, hintIndex: Index, hintTerm: Term): void =>
      this.send({
        type: "AppendResponse",
        from: this.id,
        to: m.from,
        term: this.term,
        success,
        index,
        hintIndex,
        hintTerm,
      });
    if (m.prevLogIndex < this.log.committed) {
      // Everything up to our commit index already matches the leader's (Log Matching).
      reply(true, this.log.committed, asIndex(0), asTerm(0));
      return;
    }
    if (this.log.matchTerm(m.prevLogIndex, m.prevLogTerm)) {
      const lastNew = this.log.appendFromLeader(m.prevLogIndex, m.entries);
      this.log.commitTo(asIndex(Math.min(m.commit, lastNew)));
      reply(true, lastNew, asIndex(0), asTerm(0));
      return;
    }
    // Reject with a hint: our last entry at or below prevLogIndex whose term could match.
    const [hintIndex, hintTerm] = this.log.findConflictByTerm(
      asIndex(Math.min(m.prevLogIndex, this.log.lastIndex())),
      m.prevLogTerm,
    );
    reply(false, m.prevLogIndex, hintIndex, hintTerm);
  }

  private handleHeartbeat(m: Heartbeat): void {
    // The leader caps `commit` at what it knows we match, so committing to it is safe.
    this.log.commitTo(asIndex(Math.min(m.commit, this.log.lastIndex())));
    this.send({
      type: "HeartbeatResponse",
      from: this.id,
      to: m.from,
      term: this.term,
      context: m.context,
    });
  }

  private handleSnapshot(m: InstallSnapshot): void {
    const { index, term, confState } = m.snapshot.meta;
    const reply = (index: Index): void =>
      this.send({
        type: "AppendResponse",
        from: this.id,
        to: m.from,
        term: this.term,
        success: true,
        index,
        hintIndex: asIndex(0),
        hintTerm: asTerm(0),
      });
    if (index <= this.log.committed) {
      reply(this.log.committed);
      return;
    }
    if (this.log.matchTerm(index, term)) {
      // We already have the snapshot's last entry: fast-forward the commit index instead.
      this.log.commitTo(index);
      reply(index);
      return;
    }
    this.log.restore(m.snapshot);
    this.snapshotHandedOut = false;
    this.latestSnapshot = m.snapshot;
    this.tracker.setConf(confState, asIndex(index + 1));
    reply(index);
  }

  // ───────────────────────────── leader ─────────────────────────────

  private stepLeader(m: Message): void {
    switch (m.type) {
      case "AppendResponse":
        this.handleAppendResponse(m);
        return;
      case "HeartbeatResponse":
        this.handleHeartbeatResponse(m);
        return;
      case "ReadIndexRequest":
        this.handleReadIndex(m.context, m.from);
        return;
      case "ProposalForward":
        // Handed to the runtime, which stamps them (leader time, seed) and proposes them.
        for (const p of m.proposals) {
          if (this.forwarded.length >= this.forwardedProposalsMax) break; // dropped: the proposer times out
          this.forwarded.push({ from: m.from, type: p.type, data: p.data });
        }
        return;
      default:
        return;
    }
  }

  private handleAppendResponse(m: AppendResponse): void {
    const pr = this.tracker.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    if (!m.success) {
      // Fast backtracking: skip every index whose term cannot match the follower's hint.
      let probe = m.hintIndex;
      if (m.hintTerm > 0) probe = this.log.findConflictByTerm(m.hintIndex, m.hintTerm)[0];
      if (pr.maybeDecrTo(m.index, probe)) {
        if (pr.state === "Replicate") pr.becomeProbe();
        this.sendAppend(m.from, true);
      }
      return;
    }
    if (m.index > this.log.lastIndex()) return; // cannot match entries we never had
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index) && !(pr.match === m.index && pr.state === "Probe")) return;
    if (pr.state === "Probe") pr.becomeReplicate();
    else if (pr.state === "Snapshot" && pr.match >= pr.pendingSnapshot) {
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === "Replicate") pr.inflights.freeLE(m.index);

    if (this.maybeCommit()) this.broadcastAppend();
    else if (wasPaused) this.sendAppend(m.from, true);
    // Stream what is left, bounded by the inflight window.
    for (let i = 0; i < pr.inflights.capacity && this.sendAppend(m.from, false); i++);
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex())
      this.sendTimeoutNow(m.from);
  }

  private handleHeartbeatResponse(m: HeartbeatResponse): void {
    const pr = this.tracker.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    pr.probeSent = false;
    // The follower is alive but a full window may mean an append was lost: free one slot so the
    // next append goes out; if it leaves a gap, the follower's rejection sends us back to Probe.
    if (pr.state === "Replicate" && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.log.lastIndex()) this.sendAppend(m.from, true);
    const sentAt = this.heartbeatSentAt.get(m.context);
    if (sentAt !== undefined && sentAt > (this.heartbeatAckedAt.get(m.from) ?? -1)) {
      this.heartbeatAckedAt.set(m.from, sentAt);
    }
    if (m.context === "" || !this.tracker.isVoter(m.from)) return;
    const acks = this.readOnly.ack(m.context, m.from);
    if (acks === undefined || !this.tracker.isQuorum(acks)) return;
    for (const r of this.readOnly.release(m.context)) this.respondRead(r.context, r.from, r.index);
  }

  private handleReadIndex(context: string, from: NodeId): void {
    if (this.tracker.isSingleVoter(this.id)) {
      this.respondRead(context, from, this.log.committed);
      return;
    }
    // Thesis §6.4 step 1: until it commits an entry of its own term, a new leader does not
    // know the latest commit index. Hold the read until then.
    if (this.log.term(this.log.committed) !== this.term) {
      if (this.pendingReads.length < this.readIndexPendingMax)
        this.pendingReads.push({ context, from });
      else this.dropRead(context, from);
      return;
    }
    if (this.leaseHolds()) {
      this.leaseReads++;
      this.respondRead(context, from, this.log.committed);
      return;
    }
    if (!this.readOnly.add(context, from, this.log.committed, this.id)) {
      this.dropRead(context, from);
      return;
    }
    this.broadcastHeartbeat(context);
  }

  /** ReadIndex requests answered by the lease (no heartbeat round), for checkers and metrics. */
  get leaseReadsServed(): number {
    return this.leaseReads;
  }

  /** Lease mode: whether no other leader can exist yet (see RaftOptions.readMode). */
  private leaseHolds(): boolean {
    if (this.leaseTicks === 0 || this.leaseRevoked || this.leadTransferee !== NO_NODE) return false;
    const conf = this.tracker.confState;
    const acked = (id: NodeId): Index =>
      asIndex(id === this.id ? this.leaderTicks : (this.heartbeatAckedAt.get(id) ?? -1) + 1);
    // +1 above keeps "never acknowledged" (−1) at 0 for the Index type; undone here.
    const start = jointCommitted(conf.voters, conf.votersOutgoing, acked) - 1;
    return start >= 0 && this.leaderTicks - start < this.leaseTicks;
  }

  private dropRead(context: string, from: NodeId): void {
    if (from === this.id) this.droppedReads.push(context);
  }

  private respondRead(context: string, from: NodeId, index: Index): void {
    if (from === this.id) this.readStates.push({ index, context });
    else
      this.send({
        type: "ReadIndexResponse",
        from: this.id,
        to: from,
        term: this.term,
        context,
        index,
      });
  }

  /** Advances the commit index to what a quorum has matched, if that entry is of this term (§5.4.2). */
  private maybeCommit(): boolean {
    const quorumIndex = this.tracker.committed();
    const target = asIndex(Math.min(quorumIndex, this.log.lastIndex()));
    if (target <= this.log.committed) return false;
    const countingAllowed =
      this.faults.commitPriorTermByCounting === true || this.log.term(target) === this.term;
    if (!countingAllowed) return false;
    const before = this.log.committed;
    this.log.commitTo(target);
    for (let i = before + 1; i <= target; i++) {
      const e = this.log.entry(asIndex(i));
      if (e !== undefined && e.term === this.term) this.uncommittedBytes -= entryBytes(e);
    }
    if (this.uncommittedBytes < 0) this.uncommittedBytes = 0;
    if (this.pendingReads.length > 0 && this.log.term(this.log.committed) === this.term) {
      const reads = this.pendingReads;
      this.pendingReads = [];
      for (const r of reads) this.handleReadIndex(r.context, r.from);
    }
    return true;
  }

  private broadcastAppend(): void {
    this.appendPending = false;
    for (const id of this.tracker.memberIds()) if (id !== this.id) this.sendAppend(id, true);
  }

  private broadcastHeartbeat(readContext: string): void {
    let context = readContext;
    if (this.leaseTicks > 0) {
      // Lease mode: every round is named, so its acknowledgements date the lease.
      if (context === "") context = `\u0000lease/${++this.heartbeatRound}`;
      if (!this.heartbeatSentAt.has(context)) {
        this.heartbeatSentAt.set(context, this.leaderTicks);
        if (this.heartbeatSentAt.size > HEARTBEATS_DATED_MAX) {
          const oldest = this.heartbeatSentAt.keys().next().value;
          if (oldest !== undefined) this.heartbeatSentAt.delete(oldest);
        }
      }
    }
    for (const [id, pr] of this.tracker.entries()) {
      if (id === this.id) continue;
      const commit = asIndex(Math.min(pr.match, this.log.committed));
      this.send({ type: "Heartbeat", from: this.id, to: id, term: this.term, commit, context });
    }
  }

  /**
   * Sends the entries `to` needs next, or a snapshot when they are compacted. Returns whether a
   * message was sent. With sendIfEmpty false, nothing is sent when there are no new entries.
   */
  private sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.tracker.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevLogIndex = asIndex(pr.next - 1);
    const prevLogTerm = this.log.term(prevLogIndex);
    const entries = this.log.slice(pr.next, this.log.lastIndex(), this.messageBytesMax);
    if (prevLogTerm === undefined || entries === undefined) return this.sendSnapshot(to);
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send({
      type: "AppendRequest",
      from: this.id,
      to,
      term: this.term,
      prevLogIndex,
      prevLogTerm,
      entries,
      commit: this.log.committed,
    });
    const last = entries[entries.length - 1];
    pr.sentEntries(entries.length, last?.index ?? prevLogIndex);
    return true;
  }

  private sendSnapshot(to: NodeId): boolean {
    const pr = this.tracker.get(to);
    const snapshot = this.latestSnapshot;
    if (pr === undefined || snapshot === undefined) return false;
    if (!pr.recentActive && !(pr.isLearner && pr.activeLastRound)) return false;
    pr.becomeSnapshot(snapshot.meta.index);
    this.send({ type: "InstallSnapshot", from: this.id, to, term: this.term, snapshot });
    return true;
  }

  private sendTimeoutNow(to: NodeId): void {
    this.leaseRevoked = true;
    this.send({ type: "TimeoutNow", from: this.id, to, term: this.term });
  }

  private send(m: Message): void {
    assert(m.from === this.id && m.to !== this.id, "raft: message to self");
    this.msgs.push(m);
  }
}

function softStateEqual(a: SoftState, b: SoftState): boolean {
  return a.leader === b.leader && a.role === b.role && a.term === b.term;
}
