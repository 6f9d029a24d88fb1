// Ordo's client library.

export {
  AuthClient,
  Authenticator,
  type AuthOptions,
  type PermissionType,
  type RolePermission,
} from "./auth.js";
export { Election, Mutex, Session } from "./concurrency.js";
export { KvClientError } from "./errors.js";
export {
  type EndpointHealth,
  type EndpointResult,
  type EndpointStatus,
  type GetOptions,
  type GetResult,
  KvClient,
  type KvClientOptions,
  type LeaseGrant,
  type LeaseTimeToLive,
  type MemberAddResult,
  type MemberInfo,
  type SnapshotInfo,
} from "./kv-client.js";
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
