// The public surface of check/: the history format, the linearizability checker and the Raft
// invariant checks the simulator runs.
// Everything else in this folder is an implementation detail of the search.
export {
  type CasOp,
  type DeleteOp,
  describeHistoryOp,
  type GetOp,
  HistoryFormatError,
  type HistoryOp,
  type HistoryOpKind,
  type HistoryStatus,
  type IndexedHistoryOp,
  type PutOp,
  parseHistory,
} from "./history.js";
export {
  checkLinearizable,
  type LinearizabilityOptions,
  type LinearizabilityResult,
  type LinearizabilityStats,
  type LinearizabilityUnknown,
  type Linearizable,
  type NotLinearizable,
  STATES_MAX_DEFAULT,
} from "./linearizability.js";
export {
  type EntryDigest,
  fnv1a,
  type InvariantViolation,
  RaftInvariants,
} from "./raft-invariants.js";
