// The user's contract (hashicorp/raft's clearest form): a state machine is apply / snapshot /
// restore, plus read-only queries. The runtime calls it with committed commands in log order
// on every replica, so it must be deterministic: it may not read the clock, Math.random, the
// environment, files or the network. Time and randomness come in through ApplyContext, fixed
// by the leader and carried in the log entry, so every replica sees the same values.
import type { Index, Term } from "../raft/index.js";

/** Deterministic randomness for one entry: the same on every replica. */
export interface DeterministicRandom {
  /** A uniformly distributed integer in [0, bound), bound ≤ 2^32. */
  int(bound: number): number;
}

export interface ApplyContext {
  /** The entry's log index and term. */
  readonly index: Index;
  readonly term: Term;
  /** The leader's wall-clock time when it proposed the entry, in Unix milliseconds. */
  readonly timestampMs: number;
  /** A PRNG seeded from the entry (leader-chosen seed): identical on every replica. */
  readonly random: DeterministicRandom;
}

export interface StateMachine {
  /**
   * Applies one committed command and returns its result (sent back to the proposer).
   * Must be deterministic. Throwing is a bug in the state machine: the runtime stops the node
   * rather than let replicas diverge. Reject bad commands by returning an error result.
   */
  apply(command: Uint8Array, ctx: ApplyContext): Uint8Array;
  /** Answers a read-only query against the current state. Must not change state. */
  query(query: Uint8Array): Uint8Array;
  /** Serializes the whole state (at the last applied index). */
  snapshot(): Uint8Array;
  /** Replaces the whole state with a snapshot's. */
  restore(snapshot: Uint8Array): void;
  /**
   * Optional: a short digest of the whole state (at the last applied index), equal on replicas
   * with equal states and different when they differ, and cheaper than snapshot(). The
   * runtime's divergence checks hash it instead of a snapshot when it is there: a check then
   * costs what the digest costs, not a full encoding of the state at every check.
   */
  digest?(): Uint8Array;
}
