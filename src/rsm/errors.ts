// Operating errors of the runtime: typed, with a stable `code`, so servers can map them to
// their protocol's errors (etcd's gRPC codes) and clients can decide whether to retry.

export type RsmErrorCode =
  | "NOT_LEADER"
  | "TIMEOUT"
  | "STOPPED"
  | "PROPOSAL_DROPPED"
  | "SESSION_EXPIRED"
  | "NO_LEADER"
  | "INVALID_ARGUMENT"
  | "REMOVED"
  | "LEADER_CHANGING";

export class RsmError extends Error {
  override readonly name: string = "RsmError";
  constructor(
    readonly code: RsmErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The request reached a member that cannot serve it; `leaderHint` names who leads, or "". */
export class NotLeader extends RsmError {
  override readonly name = "NotLeader";
  constructor(readonly leaderHint: string) {
    super("NOT_LEADER", leaderHint ? `not the leader; the leader is ${leaderHint}` : "no leader");
  }
}

/** No answer in time: a write may or may not have been applied (retry with the same session seq). */
export class Timeout extends RsmError {
  override readonly name = "Timeout";
  constructor(what: string) {
    super("TIMEOUT", `${what} timed out`);
  }
}

export class Stopped extends RsmError {
  override readonly name = "Stopped";
  constructor() {
    super("STOPPED", "the node is stopping");
  }
}

/**
 * The leader is handing leadership to `leaderHint` (a transfer in progress): the proposal was
 * not placed; retry, on the new leader.
 */
export class LeaderChanging extends RsmError {
  override readonly name = "LeaderChanging";
  constructor(readonly leaderHint: string) {
    super("LEADER_CHANGING", `leadership is moving to ${leaderHint}; retry there`);
  }
}

/** This member applied its own removal from the cluster: it serves nothing any more. */
export class Removed extends RsmError {
  override readonly name = "Removed";
  constructor() {
    super("REMOVED", "this member was removed from the cluster");
  }
}

/** A nondeterministic call inside StateMachine.apply (in tests and the simulator). */
export class DeterminismViolation extends Error {
  override readonly name = "DeterminismViolation";
  readonly code = "NONDETERMINISM";
}
