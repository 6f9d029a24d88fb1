// Operating errors of the core: typed, with a stable `code`. They are answers to a caller,
// not bugs; bugs are AssertionError.
import type { NodeId } from "./types.js";

export type RaftErrorCode = "NOT_LEADER" | "PROPOSAL_DROPPED" | "NO_LEADER";

export class RaftError extends Error {
  override readonly name: string = "RaftError";
  constructor(
    readonly code: RaftErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A proposal reached a member that is not the leader; `leaderHint` is who it thinks leads, or "". */
export class NotLeaderError extends RaftError {
  override readonly name = "NotLeaderError";
  constructor(readonly leaderHint: NodeId) {
    super(
      "NOT_LEADER",
      leaderHint ? `not the leader; try ${leaderHint}` : "not the leader; leader unknown",
    );
  }
}

/** A leader refuses proposals while it hands leadership to `transferee` (thesis §3.10). */
export class LeadershipTransferError extends RaftError {
  override readonly name = "LeadershipTransferError";
  constructor(readonly transferee: NodeId) {
    super("PROPOSAL_DROPPED", `leadership transfer to ${transferee} in progress`);
  }
}
