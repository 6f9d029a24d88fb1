// Ordo's client library.

export {
  AuthClient,
  Authenticator,
  type AuthOptions,
  type PermissionType,
  type RolePermission,
} from "./auth.js";
export type { MemberAddResult, MemberInfo } from "./cluster.js";
export { Election, Mutex, Session } from "./concurrency.js";
export type { KvClientOptions } from "./connection.js";
export { KvClientError } from "./errors.js";
export type { GetOptions, GetResult } from "./kv.js";
export { KvClient } from "./kv-client.js";
export type { LeaseGrant, LeaseTimeToLive } from "./lease.js";
export type {
  AlarmMember,
  EndpointHealth,
  EndpointResult,
  EndpointStatus,
  SnapshotInfo,
} from "./maintenance.js";
export { type ClientTlsOptions, channelCredentials } from "./tls.js";
export type {
  CompareOp,
  TxnCompare,
  TxnOp,
  TxnOpResult,
  TxnRequest,
  TxnResult,
} from "./txn.js";
export { Watch, type WatchEvent, type WatchOptions } from "./watch.js";
export {
  type Bytes,
  type KeyValue,
  leaseIdFromHex,
  leaseIdToHex,
  prefixRangeEnd,
  type RawHeader,
} from "./wire.js";
