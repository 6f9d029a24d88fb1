// Operating errors of the key-value store: typed, with a stable `code`. They answer a caller
// (a bad request, a compacted revision, a missing lease) and never stop a node; bugs are
// AssertionError. Messages are etcd's own wherever etcd has one, so etcd clients that match on
// them keep working; `grpcErrorOf` gives the status and message the gRPC layer should send.

import { DecodeError, EncodeError } from "../lib/index.js";

/**
 * Every code, in wire order: the codec sends a code as its index here, so only append.
 * Renaming or reordering breaks results already in flight between versions.
 */
export const KV_ERROR_CODES = [
  "INVALID_ARGUMENT",
  "EMPTY_KEY",
  "KEY_TOO_LARGE",
  "VALUE_TOO_LARGE",
  "VALUE_PROVIDED",
  "LEASE_PROVIDED",
  "KEY_NOT_FOUND",
  "DUPLICATE_KEY",
  "TOO_MANY_OPS",
  "REQUEST_TOO_LARGE",
  "COMPACTED",
  "FUTURE_REVISION",
  "LEASE_NOT_FOUND",
  "LEASE_EXISTS",
  "LEASE_TTL_TOO_LARGE",
  "MALFORMED",
  "CORRUPT_SNAPSHOT",
  "TOO_MANY_LISTENERS",
  // Authentication and authorization (auth-store.ts), etcd's auth errors.
  "AUTH_ROOT_USER_NOT_EXIST",
  "AUTH_ROOT_ROLE_NOT_EXIST",
  "AUTH_USER_ALREADY_EXIST",
  "AUTH_USER_EMPTY",
  "AUTH_USER_NOT_FOUND",
  "AUTH_ROLE_ALREADY_EXIST",
  "AUTH_ROLE_NOT_FOUND",
  "AUTH_ROLE_EMPTY",
  "AUTH_FAILED",
  "AUTH_PERMISSION_DENIED",
  "AUTH_ROLE_NOT_GRANTED",
  "AUTH_PERMISSION_NOT_GRANTED",
  "AUTH_NOT_ENABLED",
  "AUTH_INVALID_TOKEN",
  "AUTH_INVALID_MGMT",
  "AUTH_OLD_REVISION",
  // The space quota (quota.ts): etcd's ErrNoSpace.
  "NO_SPACE",
] as const;

export type KvErrorCode = (typeof KV_ERROR_CODES)[number];

export class KvError extends Error {
  override readonly name = "KvError";
  constructor(
    readonly code: KvErrorCode,
    message: string,
    /** For COMPACTED: the store's compaction revision (a watch reports it). Otherwise 0. */
    readonly compactRevision = 0,
  ) {
    super(message);
  }
}

export type GrpcStatus =
  | "INVALID_ARGUMENT"
  | "OUT_OF_RANGE"
  | "NOT_FOUND"
  | "FAILED_PRECONDITION"
  | "DATA_LOSS"
  | "RESOURCE_EXHAUSTED"
  | "PERMISSION_DENIED"
  | "UNAUTHENTICATED";

/** The gRPC status etcd's rpctypes attach to each error. */
export const GRPC_STATUS_OF: Readonly<Record<KvErrorCode, GrpcStatus>> = {
  INVALID_ARGUMENT: "INVALID_ARGUMENT",
  EMPTY_KEY: "INVALID_ARGUMENT",
  KEY_TOO_LARGE: "INVALID_ARGUMENT",
  VALUE_TOO_LARGE: "INVALID_ARGUMENT",
  VALUE_PROVIDED: "INVALID_ARGUMENT",
  LEASE_PROVIDED: "INVALID_ARGUMENT",
  KEY_NOT_FOUND: "INVALID_ARGUMENT",
  DUPLICATE_KEY: "INVALID_ARGUMENT",
  TOO_MANY_OPS: "INVALID_ARGUMENT",
  REQUEST_TOO_LARGE: "INVALID_ARGUMENT",
  COMPACTED: "OUT_OF_RANGE",
  FUTURE_REVISION: "OUT_OF_RANGE",
  LEASE_NOT_FOUND: "NOT_FOUND",
  LEASE_EXISTS: "FAILED_PRECONDITION",
  LEASE_TTL_TOO_LARGE: "OUT_OF_RANGE",
  MALFORMED: "INVALID_ARGUMENT",
  CORRUPT_SNAPSHOT: "DATA_LOSS",
  TOO_MANY_LISTENERS: "RESOURCE_EXHAUSTED",
  AUTH_ROOT_USER_NOT_EXIST: "FAILED_PRECONDITION",
  AUTH_ROOT_ROLE_NOT_EXIST: "FAILED_PRECONDITION",
  AUTH_USER_ALREADY_EXIST: "FAILED_PRECONDITION",
  AUTH_USER_EMPTY: "INVALID_ARGUMENT",
  AUTH_USER_NOT_FOUND: "FAILED_PRECONDITION",
  AUTH_ROLE_ALREADY_EXIST: "FAILED_PRECONDITION",
  AUTH_ROLE_NOT_FOUND: "FAILED_PRECONDITION",
  AUTH_ROLE_EMPTY: "INVALID_ARGUMENT",
  AUTH_FAILED: "INVALID_ARGUMENT",
  AUTH_PERMISSION_DENIED: "PERMISSION_DENIED",
  AUTH_ROLE_NOT_GRANTED: "FAILED_PRECONDITION",
  AUTH_PERMISSION_NOT_GRANTED: "FAILED_PRECONDITION",
  AUTH_NOT_ENABLED: "FAILED_PRECONDITION",
  AUTH_INVALID_TOKEN: "UNAUTHENTICATED",
  AUTH_INVALID_MGMT: "INVALID_ARGUMENT",
  AUTH_OLD_REVISION: "INVALID_ARGUMENT",
  NO_SPACE: "RESOURCE_EXHAUSTED",
};

/** etcd's rpctypes messages for the auth errors (api/v3rpc/rpctypes/error.go). */
export const AUTH_ERROR_MESSAGES = {
  AUTH_ROOT_USER_NOT_EXIST: "etcdserver: root user does not exist",
  AUTH_ROOT_ROLE_NOT_EXIST: "etcdserver: root user does not have root role",
  AUTH_USER_ALREADY_EXIST: "etcdserver: user name already exists",
  AUTH_USER_EMPTY: "etcdserver: user name is empty",
  AUTH_USER_NOT_FOUND: "etcdserver: user name not found",
  AUTH_ROLE_ALREADY_EXIST: "etcdserver: role name already exists",
  AUTH_ROLE_NOT_FOUND: "etcdserver: role name not found",
  AUTH_ROLE_EMPTY: "etcdserver: role name is empty",
  AUTH_FAILED: "etcdserver: authentication failed, invalid user ID or password",
  AUTH_PERMISSION_DENIED: "etcdserver: permission denied",
  AUTH_ROLE_NOT_GRANTED: "etcdserver: role is not granted to the user",
  AUTH_PERMISSION_NOT_GRANTED: "etcdserver: permission is not granted to the role",
  AUTH_NOT_ENABLED: "etcdserver: authentication is not enabled",
  AUTH_INVALID_TOKEN: "etcdserver: invalid auth token",
  AUTH_INVALID_MGMT: "etcdserver: invalid auth management",
  AUTH_OLD_REVISION: "etcdserver: revision of auth store is old",
} as const;

export type AuthErrorCode = keyof typeof AUTH_ERROR_MESSAGES;

/** An auth error with etcd's message. */
export const authError = (code: AuthErrorCode): KvError =>
  new KvError(code, AUTH_ERROR_MESSAGES[code]);

/**
 * What the gRPC layer sends for an error: etcd's rpctypes prefix the three mvcc errors with
 * "etcdserver: " ("etcdserver: mvcc: required revision has been compacted", "etcdserver: mvcc:
 * database space exceeded"); the rest already carry etcd's wording.
 */
export function grpcErrorOf(error: KvError): { status: GrpcStatus; message: string } {
  const prefixed =
    error.code === "COMPACTED" || error.code === "FUTURE_REVISION" || error.code === "NO_SPACE";
  return {
    status: GRPC_STATUS_OF[error.code],
    message: prefixed ? `etcdserver: ${error.message}` : error.message,
  };
}

// Constructors for the errors with a fixed etcd message.

export const emptyKeyError = (): KvError =>
  new KvError("EMPTY_KEY", "etcdserver: key is not provided");
export const keyNotFoundError = (): KvError =>
  new KvError("KEY_NOT_FOUND", "etcdserver: key not found");
export const valueProvidedError = (): KvError =>
  new KvError("VALUE_PROVIDED", "etcdserver: value is provided");
export const leaseProvidedError = (): KvError =>
  new KvError("LEASE_PROVIDED", "etcdserver: lease is provided");
export const duplicateKeyError = (): KvError =>
  new KvError("DUPLICATE_KEY", "etcdserver: duplicate key given in txn request");
export const tooManyOpsError = (): KvError =>
  new KvError("TOO_MANY_OPS", "etcdserver: too many operations in txn request");
export const requestTooLargeError = (): KvError =>
  new KvError("REQUEST_TOO_LARGE", "etcdserver: request is too large");
export const compactedError = (compactRevision: number): KvError =>
  new KvError("COMPACTED", "mvcc: required revision has been compacted", compactRevision);
export const futureRevisionError = (): KvError =>
  new KvError("FUTURE_REVISION", "mvcc: required revision is a future revision");
export const leaseNotFoundError = (): KvError =>
  new KvError("LEASE_NOT_FOUND", "etcdserver: requested lease not found");
export const leaseExistsError = (): KvError =>
  new KvError("LEASE_EXISTS", "etcdserver: lease already exists");
export const leaseTtlTooLargeError = (): KvError =>
  new KvError("LEASE_TTL_TOO_LARGE", "etcdserver: too large lease TTL");
export const invalidArgumentError = (message: string): KvError =>
  new KvError("INVALID_ARGUMENT", `etcdserver: ${message}`);

/**
 * The shared byte codec's errors as kv's, at kv's codec boundary (every encode and decode entry
 * point catches and rethrows through this): bytes that do not decode are a KvError with
 * `code` (MALFORMED for commands, queries and results; CORRUPT_SNAPSHOT for snapshots) and the
 * message "kv: malformed <what>: <reason> at byte <offset>"; a value the format cannot hold is
 * the caller's INVALID_ARGUMENT, so a server encoding a client's request can answer it.
 */
export function kvCodecError(error: unknown, code: KvErrorCode, what: string): unknown {
  if (error instanceof DecodeError) {
    return new KvError(code, `kv: malformed ${what}: ${error.reason} at byte ${error.offset}`);
  }
  if (error instanceof EncodeError) return invalidArgumentError(error.message);
  return error;
}
