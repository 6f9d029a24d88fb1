// The public surface of kv/: an etcd v3-compatible MVCC key-value store as a deterministic
// state machine. KvStore is the typed API (etcd's messages in camelCase); KvStateMachine is the
// same store behind the runtime's byte-level StateMachine interface, with codec.ts as the
// format between them.
export {
  ALARM_ACTIONS,
  ALARM_TYPES,
  type AlarmAction,
  type AlarmMember,
  type AlarmRequest,
  type AlarmResponse,
  AlarmStore,
  type AlarmType,
  isMemberId,
} from "./alarm-store.js";
export { checkPermitted, checkTxn } from "./auth-apply.js";
export { AUTH_OPS, type AuthOp, type AuthRequest, type AuthResponse } from "./auth-codec.js";
export {
  type AuthInfo,
  type AuthListener,
  type AuthRole,
  AuthStore,
  type AuthUser,
  intervalsCover,
  NO_AUTH_INFO,
  PERMISSION_TYPES,
  type Permission,
  type PermissionType,
  ROOT_ROLE,
  ROOT_USER,
} from "./auth-store.js";
export {
  decodeCommand,
  decodeQuery,
  decodeResponse,
  decodeResult,
  encodeCommand,
  encodeQuery,
  encodeResult,
  errorInfoOf,
  type KvCommand,
  type KvErrorInfo,
  type KvMessageType,
  type KvQuery,
  type KvResponse,
  type KvResult,
  kvErrorOf,
  type PlainKvCommand,
} from "./codec.js";
export {
  AUTH_ERROR_MESSAGES,
  type AuthErrorCode,
  authError,
  GRPC_STATUS_OF,
  type GrpcStatus,
  grpcErrorOf,
  KV_ERROR_CODES,
  KvError,
  type KvErrorCode,
} from "./errors.js";
export { executeCommand, executeQuery, KvStateMachine } from "./kv-state-machine.js";
export {
  type EventListener,
  KvStore,
  type LeaderTimeContext,
  type LeaseGrantContext,
} from "./kv-store.js";
export {
  DEFAULT_KV_LIMITS,
  type KvLimits,
  LEASE_EXTEND_MAX_MS,
  LEASE_TTL_MAX_SECONDS,
  TIMESTAMP_MAX_MS,
  TXN_DEPTH_CODEC_MAX,
} from "./limits.js";
export {
  costPut,
  costTxn,
  DEFAULT_QUOTA_BYTES,
  KV_OVERHEAD_BYTES,
  LEASE_OVERHEAD_BYTES,
  MAX_QUOTA_BYTES,
  noSpaceError,
  quotaAvailable,
  quotaBytesOf,
  quotaCostOf,
  refusedWhenCapped,
} from "./quota.js";
export {
  checkDeleteRangeRequest,
  checkPutRequest,
  checkTxnRequest,
} from "./request-check.js";
export * from "./types.js";
