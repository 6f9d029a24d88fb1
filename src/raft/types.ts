// The data the core speaks: ids, terms, indexes, entries, hard state, configurations,
// snapshots and messages. Every message and entry is a plain typed object (a discriminated
// union on `type`) so tests and the simulator can print, compare and replay them.

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

/** A member's id: a short stable name such as "n1". */
export type NodeId = Brand<string, "NodeId">;
/** A Raft term: 0 before the first election, then increasing. */
export type Term = Brand<number, "Term">;
/** A log index: entries start at 1; 0 means "before the log". */
export type Index = Brand<number, "Index">;

export const asNodeId = (s: string): NodeId => s as NodeId;
export const asTerm = (n: number): Term => n as Term;
export const asIndex = (n: number): Index => n as Index;
export const NO_NODE = "" as NodeId;

/** Kinds of log entry. `Normal` with empty data is the leader's no-op at the start of a term. */
export type EntryType = "Normal" | "ConfChange";

export interface Entry {
  readonly index: Index;
  readonly term: Term;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** What must be durable before a node answers anyone: Raft Figure 2's persistent state, plus commit. */
export interface HardState {
  readonly term: Term;
  readonly vote: NodeId;
  readonly commit: Index;
}

/**
 * A cluster configuration as data. `votersOutgoing` is non-empty only in a joint configuration
 * (Raft thesis §4.3): then decisions need majorities of both `voters` and `votersOutgoing`.
 * Learners receive the log but never vote.
 */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly votersOutgoing: readonly NodeId[];
  readonly learners: readonly NodeId[];
  /**
   * Set only in a joint configuration entered by an implicit (auto-leave) ConfChange: the leader
   * leaves it on its own once applied. Absent means the operator leaves it (explicit joint).
   */
  readonly autoLeave?: boolean;
}

export interface SnapshotMeta {
  readonly index: Index;
  readonly term: Term;
  readonly confState: ConfState;
}

/** A state machine image at `meta.index`; `data` is opaque to the core. */
export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

interface Envelope {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: Term;
}

/** RequestVote (§5.2), or a pre-vote (thesis §9.6) when `preVote`: asks without changing terms. */
export interface VoteRequest extends Envelope {
  readonly type: "VoteRequest";
  readonly preVote: boolean;
  readonly lastLogIndex: Index;
  readonly lastLogTerm: Term;
  /** Set when campaigning because of TimeoutNow: bypasses the check-quorum lease. */
  readonly transfer: boolean;
}

export interface VoteResponse extends Envelope {
  readonly type: "VoteResponse";
  readonly preVote: boolean;
  readonly granted: boolean;
  /**
   * The responder's commit index and the term of its entry there. A candidate whose log holds
   * that entry learns it is committed (Log Matching): a candidate that has not yet applied a
   * configuration change can otherwise stay stuck asking for votes only members the change
   * removed could give, who reject it and never campaign.
   */
  readonly commit: Index;
  readonly commitTerm: Term;
}

/** AppendEntries (§5.3). */
export interface AppendRequest extends Envelope {
  readonly type: "AppendRequest";
  readonly prevLogIndex: Index;
  readonly prevLogTerm: Term;
  readonly entries: readonly Entry[];
  readonly commit: Index;
}

/**
 * Answer to AppendRequest or InstallSnapshot. On success `index` is the follower's last index
 * known to match the leader. On rejection `index` is the rejected prevLogIndex and
 * (`hintIndex`, `hintTerm`) is the follower's last entry that could match: the leader skips
 * every index above it in one step (fast backtracking: Raft paper §5.3, thesis §3.5; etcd's findConflictByTerm).
 */
export interface AppendResponse extends Envelope {
  readonly type: "AppendResponse";
  readonly success: boolean;
  readonly index: Index;
  readonly hintIndex: Index;
  readonly hintTerm: Term;
}

/** Empty AppendEntries. `commit` is capped at what the follower is known to match. */
export interface Heartbeat extends Envelope {
  readonly type: "Heartbeat";
  readonly commit: Index;
  /** The ReadIndex round this heartbeat confirms leadership for, or "". */
  readonly context: string;
}

export interface HeartbeatResponse extends Envelope {
  readonly type: "HeartbeatResponse";
  readonly context: string;
}

export interface InstallSnapshot extends Envelope {
  readonly type: "InstallSnapshot";
  readonly snapshot: Snapshot;
}

/** A follower forwards a ReadIndex request to the leader. */
export interface ReadIndexRequest extends Envelope {
  readonly type: "ReadIndexRequest";
  readonly context: string;
}

export interface ReadIndexResponse extends Envelope {
  readonly type: "ReadIndexResponse";
  readonly context: string;
  readonly index: Index;
}

/** Leadership transfer (thesis §3.10): start an election now. */
export interface TimeoutNow extends Envelope {
  readonly type: "TimeoutNow";
}

/**
 * A follower forwards client proposals to the leader (etcd's MsgProp). Fire and forget: the
 * proposer learns the outcome by applying the entry (its payload identifies the request).
 */
export interface ProposalForward extends Envelope {
  readonly type: "ProposalForward";
  readonly proposals: readonly { readonly type: EntryType; readonly data: Uint8Array }[];
}

export type Message =
  | ProposalForward
  | VoteRequest
  | VoteResponse
  | AppendRequest
  | AppendResponse
  | Heartbeat
  | HeartbeatResponse
  | InstallSnapshot
  | ReadIndexRequest
  | ReadIndexResponse
  | TimeoutNow;

export type MessageType = Message["type"];

/**
 * One number per message type, 1–15: the transport's wire tag (16 is its snapshot chunk's) and
 * the simulator's code in run digests. Never renumber: peers running the same version, and
 * recorded simulator digests, must agree.
 */
export const MESSAGE_TYPE_CODES = {
  VoteRequest: 1,
  VoteResponse: 2,
  AppendRequest: 3,
  AppendResponse: 4,
  Heartbeat: 5,
  HeartbeatResponse: 6,
  InstallSnapshot: 7,
  ReadIndexRequest: 8,
  ReadIndexResponse: 9,
  TimeoutNow: 10,
  ProposalForward: 11,
} as const satisfies Record<MessageType, number>;

export type Role = "Follower" | "PreCandidate" | "Candidate" | "Leader";

/** A ReadIndex result: once the state machine has applied `index`, a read for `context` is linearizable. */
export interface ReadState {
  readonly index: Index;
  readonly context: string;
}

export interface SoftState {
  readonly leader: NodeId;
  readonly role: Role;
  readonly term: Term;
}

export const emptyConfState = (): ConfState => ({ voters: [], votersOutgoing: [], learners: [] });

export const hardStateEqual = (a: HardState, b: HardState): boolean =>
  a.term === b.term && a.vote === b.vote && a.commit === b.commit;

/** Bytes an entry costs in size limits: its payload plus a fixed header. */
export const entryBytes = (e: Entry): number => e.data.byteLength + 24;
