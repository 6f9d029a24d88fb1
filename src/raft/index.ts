// The public surface of the Raft core.
export {
  CHANGES_MAX,
  CONTEXT_BYTES_MAX,
  type ConfChange,
  ConfChangeDecodeError,
  type ConfChangeSingle,
  type ConfChangeTransition,
  type ConfChangeType,
  decodeConfChange,
  encodeConfChange,
  isJoint,
  isLeaveJoint,
  leaveJointConfChange,
  nextConfState,
} from "./conf-change.js";
export {
  LeadershipTransferError,
  NotLeaderError,
  RaftError,
  type RaftErrorCode,
} from "./errors.js";
export { type Prng, Xoshiro128 } from "./prng.js";
export {
  canSendBeforePersist,
  type ForwardedProposal,
  Raft,
  type RaftOptions,
  type RaftStatus,
  type Ready,
  type TestingFaults,
} from "./raft.js";
export type { DurableState, LogStorage } from "./storage.js";
export * from "./types.js";
