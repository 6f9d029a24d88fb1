// The runtime's public surface: bring a deterministic StateMachine, get a replicated service.
// The shared byte codec, for state machines that encode their own commands and snapshots.
export { ByteReader, ByteWriter, DecodeError, EncodeError } from "../lib/index.js";
export { type Clock, systemClock } from "./clock.js";
export { withDeterminismTrap } from "./determinism.js";
export {
  DeterminismViolation,
  LeaderChanging,
  NotLeader,
  Removed,
  RsmError,
  type RsmErrorCode,
  Stopped,
  Timeout,
} from "./errors.js";
export {
  type DivergenceAlarm,
  initialRuntimeSnapshot,
  type Logger,
  type LogLevel,
  type Membership,
  type NodeStatus,
  type RsmHooks,
  type RsmMetrics,
  RsmNode,
  type RsmNodeOptions,
  type Transport,
  zeroMetrics,
} from "./node.js";
export type { ApplyContext, DeterministicRandom, StateMachine } from "./state-machine.js";
