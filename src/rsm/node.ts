// RsmNode: the runtime that turns a deterministic StateMachine into a replicated service. It
// drives the pure Raft core with a clock (timer → tick()), a LogStorage (the WAL, or memory)
// and a transport, following the Ready contract written out at the top of src/raft/raft.ts:
// persist before sending what depends on it, send a leader's appends while its own write runs,
// apply committed entries in order exactly once, resolve each proposal's promise with its
// apply result (or reject it with a typed error).
//
// On top of the core it adds what a service needs:
//  - proposal forwarding: followers forward to the leader, which stamps every entry with its
//    own time and a random seed (ApplyContext), so replicas agree on both;
//  - client sessions (Raft thesis §6.3): a command stamped (clientId, seq) is applied at most
//    once; a retry gets the first result; sessions are registered and expired through the log;
//  - linearizable reads (ReadIndex, also on followers) and serializable (local) reads;
//  - snapshots when the log grows past a size, and InstallSnapshot for lagging followers;
//  - determinism enforcement: apply runs with clock/random/timers trapped when asked (tests,
//    simulator), and replicas compare state hashes at the same index through the log;
//  - membership (thesis §4.3): ConfChange entries are applied in log order with the others,
//    each member's opaque context (addresses, names: the server's business) is replicated with
//    them, and the configuration travels in every snapshot. When a change adds a member the
//    runtime takes a snapshot at once, so a leader's log never reaches back before a member's
//    addition: a new member starts with an empty log and an empty configuration, never
//    campaigns, and catches up through the leader's snapshot (which names it) plus the log.
import { createHash, randomBytes } from "node:crypto";
import { assert, ByteReader, ByteWriter } from "../lib/index.js";
import {
  asIndex,
  type ConfChange,
  ConfChangeDecodeError,
  type ConfState,
  canSendBeforePersist,
  decodeConfChange,
  type Entry,
  encodeConfChange,
  type Index,
  LeadershipTransferError,
  type LogStorage,
  type Message,
  NO_NODE,
  type NodeId,
  NotLeaderError,
  nextConfState,
  Raft,
  RaftError,
  type RaftStatus,
  type Ready,
  type Snapshot,
  type TestingFaults,
  Xoshiro128,
} from "../raft/index.js";
import { type Clock, systemClock } from "./clock.js";
import { withDeterminismTrap } from "./determinism.js";
import { type DivergenceAlarm, DivergenceDetector } from "./divergence.js";
import { decodeEnvelope, type Envelope, encodeEnvelope, restampEnvelope } from "./envelope.js";
import { LeaderChanging, NotLeader, Removed, RsmError, Stopped, Timeout } from "./errors.js";
import {
  type ConfContext,
  decodeConfContext,
  encodeConfContext,
  isMemberOf,
  MemberRegistry,
  type Membership,
} from "./members.js";
import { invalid, OK_EMPTY, type Outcome } from "./outcome.js";
import { type PendingProposal, ProposalTable } from "./proposals.js";
import { ReadQueue } from "./reads.js";
import { SessionTable } from "./sessions.js";
import type { ApplyContext, StateMachine } from "./state-machine.js";

export type { DivergenceAlarm } from "./divergence.js";
export type { Membership } from "./members.js";

export interface Transport {
  /** Sends a message to its `to` member; may drop it (Raft tolerates loss). */
  send(m: Message): void;
}

export type LogLevel = "debug" | "info" | "warn" | "error";
export type Logger = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;

export interface RsmNodeOptions {
  readonly id: NodeId;
  /**
   * The initial configuration, used when storage holds no snapshot: the bootstrap voters of a
   * new cluster, or the empty configuration for a member joining an existing cluster (it waits,
   * never campaigning, for the leader's snapshot).
   */
  readonly confState: ConfState;
  readonly storage: LogStorage;
  readonly transport: Transport;
  readonly stateMachine: StateMachine;
  readonly clock?: Clock;
  readonly tickMs?: number;
  readonly electionTicks?: number;
  readonly heartbeatTicks?: number;
  /** Applied entries after which a snapshot is taken and the log compacted. Default 10 000. */
  readonly snapshotEntries?: number;
  readonly proposalTimeoutMs?: number;
  readonly readTimeoutMs?: number;
  /** A ReadIndex round unanswered this long is issued again (lost request or answer). Default 500. */
  readonly readRetryMs?: number;
  /** A session unused for this long (by leader time) is expired. Default 1 hour. */
  readonly sessionTtlMs?: number;
  /** Applied entries between state hash comparisons. Default 5 000; 0 disables. */
  readonly hashCheckEntries?: number;
  /** Trap Date, Math.random and timers inside apply (tests, simulator). */
  readonly trapNondeterminism?: boolean;
  /** checkInvariants() after every Ready round (tests, simulator, debug runs). */
  readonly checkInvariants?: boolean;
  readonly logger?: Logger;
  readonly testingFaults?: TestingFaults;
  readonly preVote?: boolean;
  readonly checkQuorum?: boolean;
  /** Linearizable reads by ReadIndex rounds ("index", default) or the leader's lease; see RaftOptions. */
  readonly readMode?: "index" | "lease";
  readonly leaseClockDrift?: number;
  /** Entropy for the node's run id, entry seeds and election timeouts. Default: crypto random. */
  readonly seed?: number;
  /** Observation points for the simulator's checkers (never needed in production). */
  readonly hooks?: RsmHooks;
  /**
   * Judges a membership change or context update when it applies, on every replica, so that
   * racing requests are decided in log order (e.g. two members added with one address). Must
   * be deterministic: a pure function of its arguments. A string refuses the entry (the
   * proposer gets INVALID_ARGUMENT with it; nothing changes anywhere).
   */
  readonly validateMembership?: (
    current: Membership,
    proposed: {
      readonly change: ConfChange | undefined;
      readonly contexts: ReadonlyMap<NodeId, Uint8Array>;
    },
  ) => string | undefined;
}

/** Called synchronously inside the Ready loop; must not throw or call back into the node. */
export interface RsmHooks {
  /** A Ready was taken; the core may be read (never changed) through `raft`. */
  readonly afterReady?: (rd: Ready, raft: Raft) => void;
  /** The core took a message or a tick: role changes are seen here, when they happen. */
  readonly afterStep?: (raft: Raft) => void;
  /**
   * The Ready's committed entries are applied next: while its own write is still in flight,
   * unless it carries a snapshot (then after the snapshot is durable and restored).
   */
  readonly beforeApply?: (rd: Ready) => void;
  /** The Ready's snapshot, entries and hard state are durable. */
  readonly afterPersist?: (rd: Ready) => void;
  /** A Ready round is over (everything applied, advanced): checkInvariants() may be called. */
  readonly afterRound?: () => void;
  /** A synced WAL write took `seconds` (metrics: etcd_disk_wal_fsync_duration_seconds). */
  readonly onFsync?: (seconds: number) => void;
  /** A Ready's committed entries (`count`, at least one) were applied in `seconds`. */
  readonly onApplied?: (seconds: number, count: number) => void;
}

export interface RsmMetrics {
  proposals: number;
  proposalsFailed: number;
  commits: number;
  applies: number;
  applySecondsTotal: number;
  fsyncs: number;
  fsyncSecondsTotal: number;
  /** Linearizable reads asked for, and the ReadIndex rounds that served them (batched). */
  linearizableReads: number;
  readIndexRounds: number;
  leaderChanges: number;
  snapshotsTaken: number;
  snapshotsInstalled: number;
  membershipChanges: number;
  divergenceAlarms: number;
}

/** Every counter at zero: a new node's metrics (and a stand-in for one in tests). */
export function zeroMetrics(): RsmMetrics {
  return {
    proposals: 0,
    proposalsFailed: 0,
    commits: 0,
    applies: 0,
    applySecondsTotal: 0,
    fsyncs: 0,
    fsyncSecondsTotal: 0,
    linearizableReads: 0,
    readIndexRounds: 0,
    leaderChanges: 0,
    snapshotsTaken: 0,
    snapshotsInstalled: 0,
    membershipChanges: 0,
    divergenceAlarms: 0,
  };
}

export interface NodeStatus extends RaftStatus {
  readonly applied: Index;
  readonly sessions: number;
  readonly divergence: readonly DivergenceAlarm[];
  readonly stopped: boolean;
  readonly fatal: string | undefined;
}

/** Version 2 added the membership contexts; version 1 snapshots are still read. */
const SNAPSHOT_VERSION = 2;

/** The runtime's snapshot: the log's time, sessions, members, the state machine's snapshot. */
function encodeRuntimeSnapshot(
  lastTimestampMs: number,
  sessions: SessionTable,
  members: MemberRegistry,
  stateMachine: Uint8Array,
): Uint8Array {
  const w = new ByteWriter().u8(SNAPSHOT_VERSION).f64(lastTimestampMs);
  sessions.encode(w);
  members.encode(w);
  w.bytesU32(stateMachine);
  return w.finishExact(); // kept: the snapshot is stored and sent
}

/**
 * The runtime snapshot of a new cluster whose state machine starts from `stateMachine` (a
 * StateMachine.snapshot()): no client sessions, no member records yet (members publish theirs
 * once they run, as bootstrap members do), nobody removed. `ordo snapshot restore` writes it.
 */
export function initialRuntimeSnapshot(stateMachine: Uint8Array): Uint8Array {
  return encodeRuntimeSnapshot(0, new SessionTable(1), new MemberRegistry(), stateMachine);
}

/**
 * A refusal of the core (raft/errors.ts) as the runtime's error (rsm/errors.ts): not leader,
 * leadership moving, or dropped with the core's reason. Runtime errors and bugs pass unchanged.
 */
function runtimeErrorOf(e: unknown): Error {
  if (e instanceof RsmError) return e;
  if (e instanceof NotLeaderError) return new NotLeader(e.leaderHint);
  if (e instanceof LeadershipTransferError) return new LeaderChanging(e.transferee);
  if (e instanceof RaftError) return new RsmError("PROPOSAL_DROPPED", e.message);
  return e as Error;
}

interface LeaderWaiter {
  readonly to: string;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
  readonly cancelTimer: () => void;
}
/** Ticks made up at once after a pause, at most (a lease is long over by then anyway). */
const TICK_CATCH_UP_MAX = 1000;

export class RsmNode {
  readonly id: NodeId;
  readonly metrics: RsmMetrics = zeroMetrics();
  private readonly raft: Raft;
  private readonly options: RsmNodeOptions;
  private readonly clock: Clock;
  private readonly storage: LogStorage;
  private readonly sm: StateMachine;
  private readonly log: Logger;
  /** Identifies this process's proposals in entries (a restarted node never claims old ones). */
  private readonly runId: string;
  private readonly seedPrng: Xoshiro128;
  private requestSeq = 0;
  private readonly proposals: ProposalTable;
  private readonly reads: ReadQueue;
  private readonly sessions: SessionTable;
  private readonly members = new MemberRegistry();
  private readonly divergence: DivergenceDetector;
  private lastTimestampMs = 0;
  private applied = 0;
  private snapshotIndex = 0;
  private stopTicking: (() => void) | undefined;
  /** Lease mode: the monotonic time the core's ticks have been given up to. */
  private tickedUntilMs = 0;
  private pumping = false;
  private pumpDone: Promise<void> = Promise.resolve();
  private stopped = false;
  private fatal: string | undefined;
  private lastLeader = "";
  private readonly appliedListeners: ((index: number) => void)[] = [];
  private readonly membershipListeners: ((m: Membership) => void)[] = [];
  private removedSelf = false;
  /** A change added a member: snapshot (and compact) at the next chance. */
  private snapshotSoon = false;
  /** A configuration or member context changed in this Ready's apply: notify after its sends. */
  private membershipChanged = false;
  private leaderWaiters: LeaderWaiter[] = [];
  /** Checked after each batch of applied entries; a waiter returning true is done. */
  private applyWaiters: (() => boolean)[] = [];

  private constructor(options: RsmNodeOptions, raft: Raft, snapshot: Snapshot | undefined) {
    this.options = options;
    this.id = options.id;
    this.raft = raft;
    this.clock = options.clock ?? systemClock;
    this.storage = options.storage;
    this.sm = options.stateMachine;
    this.log = options.logger ?? (() => {});
    const seed = options.seed ?? randomBytes(6).readUIntBE(0, 6);
    this.runId = `${options.id}/${seed.toString(36)}`;
    this.seedPrng = new Xoshiro128(seed);
    this.proposals = new ProposalTable(this.runId, () => this.metrics.proposalsFailed++);
    this.sessions = new SessionTable(options.sessionTtlMs ?? 3_600_000);
    this.divergence = new DivergenceDetector(options.hashCheckEntries ?? 5000);
    this.reads = new ReadQueue({
      clock: this.clock,
      runId: this.runId,
      retryMs: options.readRetryMs ?? 500,
      readIndex: (context) => {
        // A lease is judged on ticks: first give the core every tick that is due.
        this.catchUpTicks();
        this.raft.readIndex(context);
      },
      leader: () => this.raft.lead,
      applied: () => this.applied,
      pump: () => this.pump(),
      roundIssued: () => this.metrics.readIndexRounds++,
      stopped: () => this.stopped,
    });
    if (snapshot !== undefined) this.restoreSnapshot(snapshot);
  }

  /** Recovers from storage and builds the node. Call start() to begin ticking. */
  static async open(options: RsmNodeOptions): Promise<RsmNode> {
    const durable = await options.storage.load();
    const raft = new Raft({
      id: options.id,
      electionTicks: options.electionTicks ?? 10,
      heartbeatTicks: options.heartbeatTicks ?? 1,
      prng: new Xoshiro128(
        options.seed !== undefined ? options.seed + 1 : randomBytes(6).readUIntBE(0, 6),
      ),
      confState: options.confState,
      hardState: durable.hardState,
      snapshot: durable.snapshot,
      entries: durable.entries,
      ...(options.preVote !== undefined ? { preVote: options.preVote } : {}),
      ...(options.checkQuorum !== undefined ? { checkQuorum: options.checkQuorum } : {}),
      ...(options.readMode !== undefined ? { readMode: options.readMode } : {}),
      ...(options.leaseClockDrift !== undefined
        ? { leaseClockDrift: options.leaseClockDrift }
        : {}),
      ...(options.testingFaults !== undefined ? { testingFaults: options.testingFaults } : {}),
    });
    return new RsmNode(options, raft, durable.snapshot);
  }

  start(): void {
    if (this.stopTicking !== undefined || this.stopped) return;
    this.tickedUntilMs = this.clock.monotonicMs();
    this.stopTicking = this.clock.every(this.options.tickMs ?? 100, () => {
      if (this.stopped) return;
      if (this.options.readMode === "lease") this.catchUpTicks();
      else this.raft.tick();
      this.options.hooks?.afterStep?.(this.raft);
      this.pump();
    });
    this.pump();
  }

  /**
   * Lease mode (a no-op otherwise): gives the core every tick the monotonic clock says is due,
   * however few timer callbacks ran (a paused or stalled process gets its missed ticks at once),
   * so its lease is never judged on a tick count behind real time.
   */
  private catchUpTicks(): void {
    if (this.options.readMode !== "lease" || this.stopTicking === undefined) return;
    const tickMs = this.options.tickMs ?? 100;
    const due = Math.floor((this.clock.monotonicMs() - this.tickedUntilMs) / tickMs);
    const ticks = Math.min(Math.max(due, 0), TICK_CATCH_UP_MAX);
    for (let i = 0; i < ticks; i++) this.raft.tick();
    this.tickedUntilMs += due * tickMs;
  }

  /** Feeds a message from a peer (the transport calls this). */
  receive(m: Message): void {
    if (this.stopped) return;
    // Lease mode: a follower's ReadIndexRequest is judged on the lease too, so ticks first.
    this.catchUpTicks();
    this.raft.step(m);
    this.options.hooks?.afterStep?.(this.raft);
    this.pump();
  }

  // ───────────────────────────── client API ─────────────────────────────

  /**
   * Replicates `command` and resolves with the state machine's result once applied here.
   * With a session (clientId from registerSession(), seq increasing by one per command) a
   * retry after a Timeout is applied at most once and returns the first result.
   */
  propose(
    command: Uint8Array,
    session?: { clientId: string; seq: number },
    timeoutMs?: number,
  ): Promise<Uint8Array> {
    return this.submitEnvelope(
      (requestId) => ({
        kind: "Command",
        proposer: this.runId,
        requestId,
        timestampMs: 0,
        seed: 0,
        clientId: session?.clientId ?? "",
        seq: session?.seq ?? 0,
        command,
      }),
      timeoutMs,
    );
  }

  /** Registers a client session through the log; resolves with its clientId. */
  async registerSession(timeoutMs?: number): Promise<string> {
    const result = await this.submitEnvelope(
      (requestId) => ({
        kind: "RegisterSession",
        proposer: this.runId,
        requestId,
        timestampMs: 0,
        seed: 0,
      }),
      timeoutMs,
    );
    return new TextDecoder().decode(result);
  }

  /**
   * Answers a read-only query. "linearizable" (ReadIndex: confirmed with a quorum, works on
   * followers) sees every write acknowledged before it started; "serializable" is local and
   * may be stale.
   */
  read(
    query: Uint8Array,
    mode: "linearizable" | "serializable",
    timeoutMs?: number,
  ): Promise<Uint8Array> {
    return this.readWith(mode, () => this.sm.query(query), timeoutMs);
  }

  /**
   * read() for an in-process caller that knows the state machine: runs `answer` (which must
   * only read the state machine, synchronously) when a read in `mode` may be served here: at
   * once for serializable; for linearizable once a ReadIndex round confirmed the leadership and
   * this replica has applied up to the read's index. The KV service answers Range this way,
   * without encoding the query and the result to bytes and back.
   */
  readWith<T>(
    mode: "linearizable" | "serializable",
    answer: () => T,
    timeoutMs?: number,
  ): Promise<T> {
    if (this.stopped) return Promise.reject(new Stopped());
    if (this.removedSelf) return Promise.reject(new Removed());
    if (mode === "serializable") {
      try {
        return Promise.resolve(answer());
      } catch (e) {
        return Promise.reject(e);
      }
    }
    if (this.raft.role !== "Leader" && this.raft.lead === NO_NODE) {
      return Promise.reject(new NotLeader(NO_NODE));
    }
    this.metrics.linearizableReads++;
    const read = this.reads.add(answer, timeoutMs ?? this.options.readTimeoutMs ?? 5000);
    this.pump();
    return read;
  }

  /**
   * Moves leadership to `to` (thesis §3.10): the leader stops taking proposals, brings `to`
   * up to date and tells it to campaign at once. Leader only (else NotLeader with a hint).
   * Resolves once this node sees `to` lead; rejects with Timeout (the core aborts a transfer
   * after an election timeout) or PROPOSAL_DROPPED when `to` is not a voter.
   */
  transferLeadership(to: NodeId, timeoutMs?: number): Promise<void> {
    if (this.stopped) return Promise.reject(new Stopped());
    if (this.removedSelf) return Promise.reject(new Removed());
    if (this.raft.lead === to && to !== this.id) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      try {
        this.raft.transferLeadership(to);
      } catch (e) {
        reject(runtimeErrorOf(e));
        return;
      }
      if (to === this.id) {
        resolve();
        return;
      }
      const cancelTimer = this.clock.after(
        timeoutMs ?? this.options.proposalTimeoutMs ?? 5000,
        () => {
          const i = this.leaderWaiters.indexOf(waiter);
          if (i < 0) return;
          this.leaderWaiters.splice(i, 1);
          reject(new Timeout(`leadership transfer to ${to}`));
        },
      );
      const waiter: LeaderWaiter = { to, resolve, reject, cancelTimer };
      this.leaderWaiters.push(waiter);
      this.pump();
    });
  }

  // ───────────────────────────── membership ─────────────────────────────

  /** The configuration and member contexts as applied on this node. */
  membership(): Membership {
    return this.members.view(this.raft.tracker.confState);
  }

  /** Called after a membership change or context update applies here, or a snapshot brings one. */
  onMembershipChange(listener: (m: Membership) => void): void {
    this.membershipListeners.push(listener);
  }

  /** True once this node applied its own removal from the configuration. */
  get removed(): boolean {
    return this.removedSelf;
  }

  /**
   * Proposes a membership change and resolves once it is applied on this node. `contexts` sets
   * the context of members in the same entry (e.g. the address of the member being added).
   * On a follower it is forwarded to the leader. Rejects with NotLeader (no leader known),
   * PROPOSAL_DROPPED with the core's reason (a change in progress, a lagging learner, no voter
   * left, ...; a follower's change refused by the leader comes back through the log as a
   * Refusal entry), Timeout, Stopped.
   */
  async changeMembership(
    cc: ConfChange,
    contexts?: ReadonlyMap<NodeId, Uint8Array>,
    timeoutMs?: number,
  ): Promise<Membership> {
    const members = [...(contexts ?? new Map<NodeId, Uint8Array>())].map(([node, context]) => ({
      node,
      context,
    }));
    await this.leaderSettled(timeoutMs ?? this.options.proposalTimeoutMs ?? 5000);
    await this.submit((requestId) => {
      let full: ConfChange;
      let data: Uint8Array;
      try {
        const context = encodeConfContext({ proposer: this.runId, requestId, members });
        full = { transition: cc.transition, changes: cc.changes, context };
        data = encodeConfChange(full);
      } catch (e) {
        throw new RsmError(
          "INVALID_ARGUMENT",
          `cannot encode configuration change: ${(e as Error).message}`,
        );
      }
      if (this.raft.role === "Leader") return this.raft.proposeConfChange(full);
      return this.raft.proposeOrForward(data, "ConfChange");
    }, timeoutMs);
    return this.membership();
  }

  /**
   * A new leader takes no configuration change until it has committed an entry of its term
   * (its no-op, within a round trip): wait for that rather than refuse a caller who came right
   * after an election. Returns at once on a follower or a settled leader; after `timeoutMs`
   * the change is proposed anyway (and the core says why it refuses).
   */
  private leaderSettled(timeoutMs: number): Promise<void> {
    const settled = (): boolean =>
      this.stopped ||
      this.raft.role !== "Leader" ||
      this.raft.log.term(this.raft.log.committed) === this.raft.term;
    if (settled()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let done = false;
      const finish = (): boolean => {
        if (done || !settled()) return done;
        done = true;
        cancel();
        resolve();
        return true;
      };
      const cancel = this.clock.after(timeoutMs, () => {
        if (done) return;
        done = true;
        resolve();
      });
      this.applyWaiters.push(finish);
    });
  }

  /** Replaces a member's context through the log; rejects INVALID_ARGUMENT for a non-member. */
  async updateMemberContext(
    node: NodeId,
    context: Uint8Array,
    timeoutMs?: number,
  ): Promise<Membership> {
    await this.submitEnvelope(
      (requestId) => ({
        kind: "MemberContext",
        proposer: this.runId,
        requestId,
        timestampMs: 0,
        seed: 0,
        node,
        context,
      }),
      timeoutMs,
    );
    return this.membership();
  }

  /** Called after each applied entry (e.g. to wake watchers); must not throw. */
  onApplied(listener: (index: number) => void): void {
    this.appliedListeners.push(listener);
  }

  status(): NodeStatus {
    return {
      ...this.raft.status(),
      applied: asIndex(this.applied),
      sessions: this.sessions.size,
      divergence: [...this.divergence.alarms],
      stopped: this.stopped,
      fatal: this.fatal,
    };
  }

  get isLeader(): boolean {
    return this.raft.role === "Leader";
  }

  /** The current term, without building a whole status() (every response header carries it). */
  get term(): number {
    return this.raft.term;
  }

  get leader(): string {
    return this.raft.lead;
  }

  /** Stops ticking, fails pending requests, waits for the write in flight, closes storage. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.stopTicking?.();
    await this.pumpDone;
    this.failAll(new Stopped());
    await this.storage.close();
  }

  // ───────────────────────────── proposals ─────────────────────────────

  private submitEnvelope(
    make: (requestId: number) => Envelope,
    timeoutMs: number | undefined,
  ): Promise<Uint8Array> {
    return this.submit((requestId) => {
      let data: Uint8Array;
      try {
        // Only a leader's stamp counts: a forwarded proposal is stamped by the leader.
        const e = make(requestId);
        data = encodeEnvelope(this.raft.role === "Leader" ? this.stamp(e) : e);
      } catch (e) {
        throw new RsmError("INVALID_ARGUMENT", `cannot encode proposal: ${(e as Error).message}`);
      }
      return this.raft.proposeOrForward(data);
    }, timeoutMs);
  }

  /**
   * Places a proposal (`place` returns its index and term, or undefined when forwarded) and
   * resolves with its apply result when the entry carrying (runId, requestId) applies here.
   */
  private submit(
    place: (requestId: number) => { index: Index; term: number } | undefined,
    timeoutMs: number | undefined,
  ): Promise<Uint8Array> {
    if (this.stopped) return Promise.reject(new Stopped());
    if (this.removedSelf) return Promise.reject(new Removed());
    return new Promise<Uint8Array>((resolve, reject) => {
      const requestId = ++this.requestSeq;
      let placed: { index: Index; term: number } | undefined;
      try {
        placed = place(requestId);
      } catch (e) {
        this.metrics.proposalsFailed++;
        reject(runtimeErrorOf(e));
        return;
      }
      this.metrics.proposals++;
      const cancelTimer = this.clock.after(
        timeoutMs ?? this.options.proposalTimeoutMs ?? 5000,
        () => this.proposals.expire(requestId, new Timeout("proposal")),
      );
      const pending: PendingProposal = {
        resolve,
        reject,
        cancelTimer,
        index: placed?.index ?? -1,
        term: placed?.term ?? -1,
      };
      this.proposals.add(requestId, pending);
      this.pump();
    });
  }

  /** The leader's stamp: its clock and a fresh seed (followers' stamps are replaced by the leader's). */
  private stamp(e: Envelope): Envelope {
    e.timestampMs = this.clock.nowMs();
    e.seed = this.seedPrng.next32();
    return e;
  }

  private proposeForwarded(rd: Ready): void {
    for (const f of rd.forwardedProposals) {
      if (f.type === "ConfChange") {
        this.proposeForwardedConfChange(f.from, f.data);
        continue;
      }
      try {
        const data = restampEnvelope(f.data, this.clock.nowMs(), this.seedPrng.next32());
        this.raft.propose(data, f.type);
      } catch (err) {
        // Undecodable or refused: dropped; the proposer times out.
        this.log("debug", "dropped a forwarded proposal", { from: f.from, error: String(err) });
      }
    }
  }

  /** A follower's change: proposed, or refused through the log so the follower learns why. */
  private proposeForwardedConfChange(from: string, data: Uint8Array): void {
    let cc: ConfChange;
    try {
      cc = decodeConfChange(data);
    } catch (err) {
      if (!(err instanceof ConfChangeDecodeError)) throw err;
      this.log("info", "dropped an undecodable forwarded configuration change", {
        from,
        error: String(err),
      });
      return; // nobody to tell: the proposer times out
    }
    try {
      this.raft.proposeConfChange(cc);
    } catch (err) {
      if (!(err instanceof RaftError)) throw err;
      this.log("info", "refused a forwarded configuration change", { from, error: String(err) });
      let context: ConfContext;
      try {
        context = decodeConfContext(cc.context ?? new Uint8Array(0));
      } catch {
        return; // no proposer named: it times out
      }
      this.proposeInternal({
        kind: "Refusal",
        proposer: context.proposer,
        requestId: context.requestId,
        timestampMs: 0,
        seed: 0,
        message: err.message,
      });
    }
  }

  // ───────────────────────────── the Ready loop ─────────────────────────────

  private pump(): void {
    if (this.pumping || this.stopped || !this.raft.hasReady()) return;
    this.pumping = true;
    this.pumpDone = this.runReadyLoop()
      .catch((e: unknown) => this.failFatally(e))
      .finally(() => {
        this.pumping = false;
        if (!this.stopped && this.raft.hasReady()) this.pump();
      });
  }

  private async runReadyLoop(): Promise<void> {
    for (let round = 0; round < 10_000 && !this.stopped && this.raft.hasReady(); round++) {
      const rd = this.raft.ready();
      this.noteLeader(rd);
      this.options.hooks?.afterReady?.(rd, this.raft);
      for (const m of rd.messages) if (canSendBeforePersist(rd, m)) this.options.transport.send(m);
      const started = performance.now();
      if (rd.snapshot !== undefined) await this.storage.installSnapshot(rd.snapshot);
      // Only entries, a snapshot, a new term or vote need an fsync (Ready.mustSync); a commit
      // index alone is deferred by the storage to its next synced write.
      const written =
        rd.entries.length > 0 || rd.hardState !== undefined
          ? this.storage.append(rd.entries, rd.hardState, rd.mustSync)
          : undefined;
      // Committed entries are durable on a quorum already: apply them while our own write is in
      // flight (etcd does too), so apply and fsync overlap. A snapshot is restored first.
      const overlap = rd.snapshot === undefined;
      if (overlap) {
        try {
          this.applyCommitted(rd);
        } catch (e) {
          await written?.catch(() => {}); // the apply failure is the one to report
          throw e;
        }
      }
      if (written !== undefined) await written;
      if (rd.mustSync) {
        const seconds = (performance.now() - started) / 1000;
        this.metrics.fsyncs++;
        this.metrics.fsyncSecondsTotal += seconds;
        this.options.hooks?.onFsync?.(seconds);
      }
      this.options.hooks?.afterPersist?.(rd);
      for (const m of rd.messages) if (!canSendBeforePersist(rd, m)) this.options.transport.send(m);
      if (rd.snapshot !== undefined) {
        this.restoreSnapshot(rd.snapshot);
        this.metrics.snapshotsInstalled++;
      }
      if (!overlap) this.applyCommitted(rd);
      // Listeners (the server's transport) hear of a configuration change only now, once this
      // Ready's messages are out: a member just removed still gets the append that tells it.
      if (this.membershipChanged) {
        this.membershipChanged = false;
        this.notifyMembership();
      }
      if (rd.leader) this.proposeForwarded(rd);
      this.raft.advance(rd);
      await this.maybeSnapshot();
      this.maybeCheckHashes();
      if (this.options.checkInvariants) this.checkInvariants();
      this.options.hooks?.afterRound?.();
    }
  }

  private applyCommitted(rd: Ready): void {
    this.options.hooks?.beforeApply?.(rd);
    const started = performance.now();
    this.applyEntries(rd.committedEntries);
    if (rd.committedEntries.length > 0)
      this.options.hooks?.onApplied?.(
        (performance.now() - started) / 1000,
        rd.committedEntries.length,
      );
    this.reads.onReady(rd);
  }

  /** Proposals accepted and not yet answered (etcd_server_proposals_pending). */
  get pendingProposals(): number {
    return this.proposals.size;
  }

  private noteLeader(rd: Ready): void {
    if (rd.softState === undefined || rd.softState.leader === this.lastLeader) return;
    this.lastLeader = rd.softState.leader;
    if (this.leaderWaiters.length > 0) {
      const waiting: LeaderWaiter[] = [];
      for (const w of this.leaderWaiters) {
        if (w.to !== this.lastLeader) {
          waiting.push(w);
          continue;
        }
        w.cancelTimer();
        w.resolve();
      }
      this.leaderWaiters = waiting;
    }
    this.metrics.leaderChanges++;
    this.log("info", "leader changed", {
      leader: rd.softState.leader,
      term: rd.softState.term,
      role: rd.softState.role,
    });
  }

  // ───────────────────────────── apply ─────────────────────────────

  private applyEntries(entries: readonly Entry[]): void {
    for (const e of entries) {
      if (e.index <= this.applied) continue;
      // Ready contract: committed entries come in log order, with no gap after what is applied.
      assert(e.index === this.applied + 1, `apply: entry ${e.index} after applied ${this.applied}`);
      const started = performance.now();
      this.applyEntry(e);
      this.applied = e.index;
      this.metrics.applies++;
      this.metrics.commits++;
      this.metrics.applySecondsTotal += (performance.now() - started) / 1000;
      this.divergence.applied();
      for (const l of this.appliedListeners) {
        try {
          l(e.index);
        } catch (err) {
          this.log("error", "applied listener threw", { error: String(err) });
        }
      }
    }
    if (this.applyWaiters.length > 0) this.applyWaiters = this.applyWaiters.filter((w) => !w());
    this.reads.serve();
  }

  /** Who a proposal of ours that lost its index should be sent to ("" when we lead). */
  private leaderHint(): string {
    return this.raft.lead === this.id ? "" : this.raft.lead;
  }

  private applyEntry(e: Entry): void {
    if (e.type === "ConfChange") {
      this.applyConfChangeEntry(e);
      return;
    }
    if (e.data.length === 0) {
      this.proposals.settleByIndex(e, undefined, this.leaderHint());
      return; // the leader's no-op
    }
    let env: Envelope;
    try {
      env = decodeEnvelope(e.data);
    } catch (err) {
      // The same bytes fail the same way on every replica: skip deterministically.
      this.log("error", "undecodable entry skipped", { index: e.index, error: String(err) });
      this.proposals.settleByIndex(e, undefined, this.leaderHint());
      return;
    }
    // Time only moves forward in the log, whatever the leaders' clocks did.
    const timestampMs = Math.max(env.timestampMs, this.lastTimestampMs);
    this.lastTimestampMs = timestampMs;
    this.sessions.expire(timestampMs);
    const outcome = this.applyEnvelope(env, e, timestampMs);
    this.proposals.settle(e, env, outcome, this.leaderHint());
  }

  private applyEnvelope(env: Envelope, e: Entry, timestampMs: number): Outcome {
    switch (env.kind) {
      case "Command":
        return this.applyCommand(env, e, timestampMs);
      case "RegisterSession": {
        const clientId = this.sessions.register(e.index, timestampMs);
        return { ok: true, result: new TextEncoder().encode(clientId) };
      }
      case "HashCheck": {
        const hash = this.stateHash();
        this.divergence.recordHash(e.index, hash);
        if (this.raft.role === "Leader" && env.proposer === this.runId)
          this.proposeHashReport(e.index, hash);
        return { ok: true, result: new TextEncoder().encode(hash) };
      }
      case "HashReport": {
        const alarm = this.divergence.compare(env.checkIndex, env.hash);
        if (alarm !== undefined) this.raiseDivergence(alarm);
        return OK_EMPTY;
      }
      case "Refusal":
        return { ok: false, code: "PROPOSAL_DROPPED", message: env.message };
      case "MemberContext": {
        const node = env.node as NodeId;
        if (!isMemberOf(this.raft.tracker.confState, node))
          return invalid(`${env.node} is not a member`);
        const refused = this.judgeMembership(undefined, new Map([[node, env.context]]));
        if (refused !== undefined) return invalid(refused);
        this.members.setContext(node, env.context, e.index);
        this.membershipChanged = true;
        return OK_EMPTY;
      }
    }
  }

  /**
   * A committed ConfChange (Ready contract step 4): the core changes its configuration, the
   * runtime its member contexts; the proposer, if it is this node, learns the outcome.
   */
  private applyConfChangeEntry(e: Entry): void {
    let cc: ConfChange;
    try {
      cc = decodeConfChange(e.data);
    } catch (err) {
      this.log("error", "undecodable configuration change skipped", {
        index: e.index,
        error: String(err),
      });
      this.proposals.settleByIndex(e, undefined, this.leaderHint());
      return;
    }
    let context: ConfContext | undefined;
    if (cc.context !== undefined) {
      try {
        context = decodeConfContext(cc.context);
      } catch (err) {
        // Contexts of another runtime (or none): the change itself still applies.
        this.log("warn", "configuration change context not understood", {
          index: e.index,
          error: String(err),
        });
      }
    }
    const refusal = this.refusalOf(cc, context);
    // Every replica decides the same: a refused change is skipped, the configuration unchanged.
    const outcome =
      refusal !== undefined ? invalid(refusal) : this.changeConfiguration(cc, context, e);
    this.proposals.settle(e, context, outcome, this.leaderHint());
  }

  /** Why a committed change must be skipped (on every replica alike), if it must. */
  private refusalOf(cc: ConfChange, context: ConfContext | undefined): string | undefined {
    const check = nextConfState(this.raft.tracker.confState, cc);
    if ("error" in check) return check.error;
    const reused = cc.changes.find(
      (c) => c.type !== "RemoveNode" && this.members.wasRemoved(c.node),
    );
    if (reused !== undefined)
      return `${reused.node} was removed from this cluster; node ids are never reused`;
    return this.judgeMembership(
      cc,
      new Map((context?.members ?? []).map((m) => [m.node, m.context])),
    );
  }

  private changeConfiguration(cc: ConfChange, context: ConfContext | undefined, e: Entry): Outcome {
    const before = this.raft.tracker.confState;
    const after = this.raft.applyConfChange(cc);
    const { added } = this.members.applyChange(before, after, context?.members ?? [], e.index);
    this.metrics.membershipChanges++;
    if (added) this.snapshotSoon = true;
    if (isMemberOf(before, this.id) && !isMemberOf(after, this.id)) {
      this.removedSelf = true;
      this.log("info", "applied this member's own removal", { index: e.index });
    }
    this.log("info", "configuration changed", {
      index: e.index,
      voters: after.voters,
      votersOutgoing: after.votersOutgoing,
      learners: after.learners,
    });
    this.membershipChanged = true;
    return OK_EMPTY;
  }

  /** The application's verdict on a membership entry (options.validateMembership). */
  private judgeMembership(
    change: ConfChange | undefined,
    contexts: ReadonlyMap<NodeId, Uint8Array>,
  ): string | undefined {
    const validate = this.options.validateMembership;
    // Leaving a joint configuration is never refused (it could not be retried otherwise).
    if (validate === undefined || change?.changes.length === 0) return undefined;
    try {
      return validate(this.membership(), { change, contexts });
    } catch (err) {
      // Deterministic like the validator itself: the same throw on every replica.
      return `membership validation failed: ${(err as Error).message}`;
    }
  }

  private notifyMembership(): void {
    if (this.membershipListeners.length === 0) return;
    const m = this.membership();
    for (const l of this.membershipListeners) {
      try {
        l(m);
      } catch (err) {
        this.log("error", "membership listener threw", { error: String(err) });
      }
    }
  }

  private applyCommand(
    env: Envelope & { kind: "Command" },
    e: Entry,
    timestampMs: number,
  ): Outcome {
    const verdict = this.sessions.admit(env.clientId, env.seq, timestampMs);
    // A retry of a command already applied gets the first result, nothing applied again.
    if (!verdict.apply) return verdict.outcome;
    const random = new Xoshiro128(env.seed * 2 ** 20 + (e.index % 2 ** 20));
    const ctx: ApplyContext = { index: e.index, term: e.term, timestampMs, random };
    const run = (): Uint8Array => this.sm.apply(env.command, ctx);
    const result = this.options.trapNondeterminism ? withDeterminismTrap(run) : run();
    const outcome: Outcome = { ok: true, result };
    verdict.record(outcome);
    return outcome;
  }

  // ───────────────────────────── snapshots ─────────────────────────────

  private encodeSnapshot(): Uint8Array {
    return encodeRuntimeSnapshot(
      this.lastTimestampMs,
      this.sessions,
      this.members,
      this.sm.snapshot(),
    );
  }

  private restoreSnapshot(snapshot: Snapshot): void {
    const r = new ByteReader(snapshot.data);
    const version = r.u8();
    if (version !== SNAPSHOT_VERSION && version !== 1)
      throw new Error(`unknown runtime snapshot version ${version}`);
    this.lastTimestampMs = r.f64();
    this.sessions.restore(r);
    this.members.restore(version >= 2 ? r : undefined);
    // A copy: the state machine may keep what it is given (kv copies again; others may not).
    this.sm.restore(r.bytesU32("state machine snapshot"));
    r.end();
    this.applied = snapshot.meta.index;
    this.snapshotIndex = snapshot.meta.index;
    this.proposals.forgetIndexedUpTo(snapshot.meta.index);
    this.divergence.reset();
    // A snapshot's configuration without this node (and not the empty one a joiner starts
    // with) means it was removed before the snapshot was taken.
    const conf = snapshot.meta.confState;
    this.removedSelf = !isMemberOf(conf, this.id) && conf.voters.length > 0;
    this.notifyMembership();
  }

  private async maybeSnapshot(): Promise<void> {
    const every = this.options.snapshotEntries ?? 10_000;
    if (this.applied <= this.snapshotIndex) return;
    if (!this.snapshotSoon && this.applied - this.snapshotIndex < every) return;
    this.snapshotSoon = false;
    const index = asIndex(this.applied);
    const term = this.raft.log.term(index);
    if (term === undefined) return;
    const snapshot: Snapshot = {
      meta: { index, term, confState: this.raft.tracker.confState },
      data: this.encodeSnapshot(),
    };
    await this.storage.saveSnapshot(snapshot);
    this.raft.compact(snapshot);
    this.snapshotIndex = index;
    this.metrics.snapshotsTaken++;
    this.log("info", "snapshot taken", { index, bytes: snapshot.data.length });
  }

  // ───────────────────────────── divergence detection ─────────────────────────────

  /**
   * What divergence checks compare: the runtime's own state (sessions, members) with the state
   * machine's digest when it offers one, else its snapshot. The "d:" prefix names the first
   * kind: a hash of one kind compares nothing with one of the other (DivergenceDetector).
   */
  private stateHash(): string {
    const digest = this.sm.digest?.();
    const state = encodeRuntimeSnapshot(
      this.lastTimestampMs,
      this.sessions,
      this.members,
      digest ?? this.sm.snapshot(),
    );
    const hash = createHash("sha256").update(state).digest("hex").slice(0, 32);
    return digest === undefined ? hash : `d:${hash}`;
  }

  private maybeCheckHashes(): void {
    if (this.raft.role !== "Leader" || !this.divergence.checkDue()) return;
    this.proposeInternal({
      kind: "HashCheck",
      proposer: this.runId,
      requestId: ++this.requestSeq,
      timestampMs: 0,
      seed: 0,
    });
  }

  private proposeHashReport(checkIndex: number, hash: string): void {
    this.proposeInternal({
      kind: "HashReport",
      proposer: this.runId,
      requestId: ++this.requestSeq,
      timestampMs: 0,
      seed: 0,
      checkIndex,
      hash,
    });
  }

  private proposeInternal(e: Envelope): void {
    try {
      this.raft.propose(encodeEnvelope(this.stamp(e)));
    } catch (err) {
      if (!(err instanceof RaftError)) throw err;
    }
  }

  private raiseDivergence(alarm: DivergenceAlarm): void {
    this.metrics.divergenceAlarms++;
    this.log(
      "error",
      "DIVERGENCE: this replica's state differs from the leader's at the same index",
      { ...alarm },
    );
  }

  // ───────────────────────────── invariants ─────────────────────────────

  /** The divergence alarms raised so far (status().divergence, without building a status). */
  get divergenceAlarms(): readonly DivergenceAlarm[] {
    return this.divergence.alarms;
  }

  /**
   * What must always hold between the runtime and its core, checked after every Ready round
   * when options.checkInvariants is on (the simulator, tests, ORDO_CHECK_INVARIANTS=1 for a
   * member): the core's own invariants; applied ≤ commit; snapshot ≤ applied; every proposal
   * indexed above applied; reads in one place each, with an index once answered; sessions
   * well-formed; member contexts only for members, and no member among the removed ids.
   * Throws an Error naming the first broken rule (the node then stops: failFatally).
   */
  checkInvariants(): void {
    const fail = (message: string): never => {
      throw new Error(`runtime invariant broken on ${this.id}: ${message}`);
    };
    this.raft.checkInvariants();
    const committed = this.raft.log.committed;
    if (this.applied > committed) fail(`applied ${this.applied} > committed ${committed}`);
    if (this.snapshotIndex > this.applied)
      fail(`snapshot index ${this.snapshotIndex} > applied ${this.applied}`);
    this.proposals.check(this.applied, fail);
    this.reads.check(fail);
    this.sessions.check(fail);
    this.members.check(this.raft.tracker.confState, fail);
  }

  // ───────────────────────────── failure ─────────────────────────────

  private failAll(e: Error): void {
    this.proposals.failAll(e);
    this.reads.failAll(e);
    for (const w of this.leaderWaiters) {
      w.cancelTimer();
      w.reject(e);
    }
    this.leaderWaiters = [];
  }

  /** A storage failure or a bug (an assertion, a throwing state machine): stop, never diverge. */
  private failFatally(e: unknown): void {
    this.fatal = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    this.log("error", "fatal: the node stops", { error: this.fatal });
    this.stopped = true;
    this.stopTicking?.();
    this.failAll(new Stopped());
  }
}
