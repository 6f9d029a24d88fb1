// etcd v3's KV service (Range, Put, DeleteRange, Txn, Compact) over gRPC, in front of the
// replicated key-value store. Each call: map the etcd message to a kv/ request
// (etcd-mapping.ts), encode it (kv/codec.ts), hand it to the backend — a proposal through the
// log for writes, a read for Range — decode the result and map it back, with the serving
// member's header.
//
// Reads: Range with `serializable` is answered from the member's local state
// (read(query, "serializable")); any other Range is a linearizable read (ReadIndex).
// Txn: always proposed through the log, read-only or not. etcd serves a read-only txn with a
// linearizable read instead; kv/ has no txn query (KvQuery has no Txn), so a read-only txn
// costs a log entry here — it is still linearizable, and changes no revision.
// Compact: proposed; kv/ compacts while applying, so `physical` holds on return either way.
//
// Errors carry the status and message etcd's rpctypes give, so etcd clients that match on them
// keep working (see statusOf). A handler never throws and never leaves a promise unhandled: a
// malformed request, a failing backend or a bug all end as a status for that one call.
import * as grpc from "@grpc/grpc-js";
import { SEQ_METADATA_KEY, SESSION_METADATA_KEY } from "../api/index.js";
import {
  type AuthInfo,
  checkDeleteRangeRequest,
  checkPutRequest,
  checkTxnRequest,
  DEFAULT_KV_LIMITS,
  decodeResult,
  encodeCommand,
  encodeQuery,
  grpcErrorOf,
  KvError,
  type KvLimits,
  type KvMessageType,
  type KvQuery,
  type KvResponse,
  type KvResult,
  kvErrorOf,
  type PlainKvCommand,
  type RangeRequest,
  type RangeResponse,
} from "../kv/index.js";
import { type AuthGate, credentialsOfCall } from "./auth-gate.js";
import {
  compactionRequestFromEtcd,
  compactionResponseToEtcd,
  deleteRangeRequestFromEtcd,
  deleteRangeResponseToEtcd,
  type MemberHeader,
  putRequestFromEtcd,
  putResponseToEtcd,
  rangeRequestFromEtcd,
  rangeResponseToEtcd,
  txnRequestFromEtcd,
  txnResponseToEtcd,
} from "./etcd-mapping.js";
import type { SpaceQuota } from "./space-quota.js";

/**
 * Ordo's exactly-once writes over etcd's API (Raft thesis §6.3): a client registers a session
 * (POST /ordo/v1/session on the client port) and sends its writes with gRPC metadata
 * `ordo-session: <id>` and `ordo-seq: <n>` (1, 2, 3, ... one write at a time). A retry with the
 * same seq is applied at most once and answers with the first result. Without the metadata a
 * write has plain etcd semantics.
 */
export interface WriteSession {
  readonly clientId: string;
  readonly seq: number;
}

/**
 * A call's session. The project's gRPC server (grpc/call.ts) can say whether the session
 * headers are there at all, which spares building the call's Metadata for the plain calls
 * that are nearly all of them; a grpc-js call is read through its Metadata.
 */
function sessionOfCall(call: { readonly metadata: grpc.Metadata }): WriteSession | undefined {
  const has = (call as { hasHeader?: (name: string) => boolean }).hasHeader;
  if (
    has !== undefined &&
    !has.call(call, SESSION_METADATA_KEY) &&
    !has.call(call, SEQ_METADATA_KEY)
  )
    return undefined;
  return sessionOf(call.metadata);
}

/** Reads a write's session from its metadata; undefined when it has none. */
export function sessionOf(metadata: grpc.Metadata | undefined): WriteSession | undefined {
  const id = metadata?.get(SESSION_METADATA_KEY)[0];
  const seqText = metadata?.get(SEQ_METADATA_KEY)[0];
  if (id === undefined && seqText === undefined) return undefined;
  if (typeof id !== "string" || !/^s\d{1,16}$/.test(id)) {
    throw new KvError("INVALID_ARGUMENT", `etcdserver: bad ${SESSION_METADATA_KEY} metadata`);
  }
  const seq = typeof seqText === "string" && /^\d{1,15}$/.test(seqText) ? Number(seqText) : 0;
  if (seq < 1)
    throw new KvError("INVALID_ARGUMENT", `etcdserver: bad ${SEQ_METADATA_KEY} metadata`);
  return { clientId: id, seq };
}

export interface KvBackend {
  /**
   * Replicates an encoded KvCommand (kv/codec.ts encodeCommand) and resolves with the encoded
   * KvResult; with a session, at most once per (clientId, seq).
   */
  propose(command: Uint8Array, session?: WriteSession): Promise<Uint8Array>;
  /** Registers a client session through the log; resolves with its id. */
  registerSession?(): Promise<string>;
  /** Answers an encoded KvQuery (encodeQuery) with an encoded KvResult; linearizable or serializable (local). */
  read(query: Uint8Array, mode: "linearizable" | "serializable"): Promise<Uint8Array>;
  /** For response headers: cluster_id, member_id (decimal strings), raft_term. */
  header(): MemberHeader;
  /**
   * Optional fast path for Range: answered against the local store, with read()'s guarantees
   * for `mode`, without encoding the query and the result (RsmNode.readWith). KvError for a
   * refused range, as read() would report it.
   */
  readonly range?: (
    request: RangeRequest,
    mode: "linearizable" | "serializable",
  ) => Promise<RangeResponse>;
}

/**
 * What an encoded Range query adds to its key and range_end, at most: a Range request that
 * could come near requestBytesMax takes the encoded path, so the limit is judged on the same
 * bytes either way.
 */
const RANGE_QUERY_OVERHEAD_BYTES = 256;

export interface KvServiceOptions {
  /**
   * Largest encoded command or query (etcd's --max-request-bytes); larger requests get
   * INVALID_ARGUMENT "etcdserver: request is too large" before anything is proposed. Default
   * 1.5 MiB, kv/'s requestBytesMax: the store refuses larger commands when applying anyway.
   */
  readonly requestBytesMax?: number;
  /**
   * The store's limits: put, delete and txn requests are checked against them before they are
   * proposed, as etcd's API layer does, so a bad request costs no log entry. Default: kv/'s
   * defaults with requestBytesMax.
   */
  readonly limits?: KvLimits;
  /** Hears every call that ended INTERNAL (a bug or a broken backend), for logging. */
  readonly onInternalError?: (method: string, error: unknown) => void;
  /**
   * Authentication and authorization (auth-gate.ts): who each call is, writes proposed with
   * it, Range checked here. Without it every call is anonymous and nothing is checked.
   */
  readonly auth?: AuthGate;
  /**
   * The space quota (space-quota.ts, etcd's quotaKVServer): Put and Txn are checked before they
   * are proposed. Without it nothing is checked here (apply still honours a NOSPACE alarm).
   */
  readonly quota?: Pick<SpaceQuota, "check">;
}

/** etcd's grpcOverheadBytes: the gRPC receive limit is the request limit plus this. */
export const GRPC_OVERHEAD_BYTES = 512 * 1024;

/**
 * The gRPC server's receive limit for this service, as etcd sets it: requestBytesMax plus gRPC
 * overhead (a bigger message is refused by the gRPC layer itself with RESOURCE_EXHAUSTED).
 * Sending is not limited.
 */
export function grpcReceiveBytesMax(
  requestBytesMax: number = DEFAULT_KV_LIMITS.requestBytesMax,
): number {
  return requestBytesMax + GRPC_OVERHEAD_BYTES;
}

// ---- errors -----------------------------------------------------------------------------------

/** A gRPC status as the handler sends it. */
export interface GrpcErrorStatus {
  readonly code: grpc.status;
  readonly details: string;
}

/** A failure that is ours, not the caller's: it ends as INTERNAL. */
export class InternalFault extends Error {
  override readonly name = "InternalFault";
}

/**
 * The runtime's operating errors (rsm/errors.ts codes) as etcd's rpctypes errors. Proposals a
 * member cannot place (no leader known, or a leader it cannot reach) read as "no leader":
 * UNAVAILABLE, which etcd clients retry on another endpoint.
 */
export const RUNTIME_ERROR_STATUS: Readonly<Record<string, GrpcErrorStatus>> = {
  NOT_LEADER: { code: grpc.status.UNAVAILABLE, details: "etcdserver: no leader" },
  NO_LEADER: { code: grpc.status.UNAVAILABLE, details: "etcdserver: no leader" },
  TIMEOUT: { code: grpc.status.UNAVAILABLE, details: "etcdserver: request timed out" },
  STOPPED: { code: grpc.status.UNAVAILABLE, details: "etcdserver: server stopped" },
  // A member that applied its own removal serves nothing more (and stops): clients go elsewhere.
  REMOVED: {
    code: grpc.status.UNAVAILABLE,
    details: "etcdserver: this member was removed from the cluster",
  },
  // A leadership transfer in progress refuses proposals for a moment: the leader is changing,
  // which clients retry (etcd's "leader changed"), not a request to slow down.
  LEADER_CHANGING: { code: grpc.status.UNAVAILABLE, details: "etcdserver: leader changed" },
  // Raft refused the proposal (too many uncommitted bytes): etcd's
  // ErrGRPCRequestTooManyRequests, which is RESOURCE_EXHAUSTED.
  PROPOSAL_DROPPED: {
    code: grpc.status.RESOURCE_EXHAUSTED,
    details: "etcdserver: too many requests",
  },
};

function codeOf(error: unknown): string | undefined {
  if (error === null || typeof error !== "object") return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

const etcdPrefixed = (message: string): string =>
  message.startsWith("etcdserver: ") ? message : `etcdserver: ${message}`;

/**
 * The status for any failure: a KvError as etcd's rpctypes error (kv/errors.ts grpcErrorOf),
 * a runtime error by its code, anything else INTERNAL.
 */
export function statusOf(error: unknown): GrpcErrorStatus {
  if (error instanceof KvError) {
    const { status, message } = grpcErrorOf(error);
    return { code: grpc.status[status], details: message };
  }
  if (error instanceof InternalFault) {
    return { code: grpc.status.INTERNAL, details: `ordo: internal error: ${error.message}` };
  }
  const code = codeOf(error);
  const known = code === undefined ? undefined : RUNTIME_ERROR_STATUS[code];
  if (known !== undefined) return known;
  // The runtime refusing the command itself (a bad session seq, an unencodable proposal).
  if (code === "INVALID_ARGUMENT") {
    return { code: grpc.status.INVALID_ARGUMENT, details: etcdPrefixed(messageOf(error)) };
  }
  // Not applied: the member's client session is gone. The caller cannot fix it, but nothing
  // happened either.
  if (code === "SESSION_EXPIRED") {
    return { code: grpc.status.FAILED_PRECONDITION, details: etcdPrefixed(messageOf(error)) };
  }
  return { code: grpc.status.INTERNAL, details: `ordo: internal error: ${messageOf(error)}` };
}

// ---- results ----------------------------------------------------------------------------------

/** The response object of a KV command or query of `type`. */
export type ResponseOf<T extends KvMessageType> = Extract<KvResponse, { type: T }>["response"];

/**
 * The response of `type` in an encoded result (what the backend's propose and read answer); a
 * KvError for an error result, an InternalFault when the bytes are not such a result. Every
 * service (KV, Lease, Watch, the JSON gateway) reads results through this one function.
 */
export function responseOf<T extends KvMessageType>(bytes: unknown, type: T): ResponseOf<T> {
  if (!(bytes instanceof Uint8Array)) throw new InternalFault("the backend answered no bytes");
  let result: KvResult;
  try {
    result = decodeResult(bytes);
  } catch (e) {
    throw new InternalFault(`the store's result is malformed: ${messageOf(e)}`);
  }
  if (!result.ok) throw kvErrorOf(result.error);
  if (result.response.type !== type) {
    throw new InternalFault(`expected a ${type} result, got ${result.response.type}`);
  }
  return result.response.response as ResponseOf<T>;
}

// ---- handlers ---------------------------------------------------------------------------------

type Handle = (
  request: unknown,
  session: WriteSession | undefined,
  auth: AuthInfo | undefined,
) => Promise<object>;

/**
 * A unary handler around `answer`: every outcome reaches `callback` exactly once, and nothing
 * escapes (no throw into grpc-js, no unhandled rejection), whatever the request or backend do.
 * Failures are sent as statusOf gives them; INTERNAL ones are told to onInternalError. Every
 * unary service (KV, Auth, Lease) is served through this one wrapper.
 */
export function unaryCall(
  method: string,
  answer: (call: grpc.ServerUnaryCall<unknown, object>) => Promise<object>,
  options: Pick<KvServiceOptions, "onInternalError">,
): grpc.handleUnaryCall<unknown, object> {
  const fail = (callback: grpc.sendUnaryData<object>, error: unknown): void => {
    const status = statusOf(error);
    if (status.code === grpc.status.INTERNAL) {
      try {
        options.onInternalError?.(method, error);
      } catch {
        // A logger's failure must not turn into the caller's.
      }
    }
    try {
      callback({ code: status.code, details: status.details });
    } catch {
      // grpc-js does not throw from callback; if it ever does, the call is already lost.
    }
  };
  return (call, callback) => {
    const run = async (): Promise<void> => {
      let response: object;
      try {
        response = await answer(call);
      } catch (e) {
        fail(callback, e);
        return;
      }
      try {
        callback(null, response);
      } catch (e) {
        fail(callback, new InternalFault(`cannot send the response: ${messageOf(e)}`));
      }
    };
    run().catch(() => {});
  };
}

/** Who the call is, as options.auth says; auth off (the common case) reads no credentials. */
export function callerOf(
  call: grpc.ServerUnaryCall<unknown, object>,
  gate: AuthGate | undefined,
): AuthInfo | undefined {
  return gate === undefined || !gate.enabled ? undefined : gate.authInfo(credentialsOfCall(call));
}

/**
 * A unary handler around `handle`, given the call's request, write session and caller: see
 * unaryCall.
 */
export function unary(
  method: string,
  handle: Handle,
  options: KvServiceOptions,
): grpc.handleUnaryCall<unknown, object> {
  return unaryCall(
    method,
    (call) => {
      const info = callerOf(call, options.auth);
      return handle(call.request, sessionOfCall(call), info);
    },
    options,
  );
}

/** How KV calls reach the backend: size-checked, quota-checked proposals and reads. */
function kvAccess(backend: KvBackend, options: KvServiceOptions) {
  const requestBytesMax = options.requestBytesMax ?? DEFAULT_KV_LIMITS.requestBytesMax;
  if (!Number.isSafeInteger(requestBytesMax) || requestBytesMax <= 0) {
    throw new RangeError(`kv-service: requestBytesMax must be a positive integer`);
  }
  const limits = options.limits ?? { ...DEFAULT_KV_LIMITS, requestBytesMax };
  const checkSize = (bytes: Uint8Array): Uint8Array => {
    if (bytes.length > requestBytesMax) {
      throw new KvError("REQUEST_TOO_LARGE", "etcdserver: request is too large");
    }
    return bytes;
  };
  const gate = options.auth;
  const propose = async <T extends PlainKvCommand["type"]>(
    command: PlainKvCommand & { type: T },
    session: WriteSession | undefined,
    auth: AuthInfo | undefined,
  ): Promise<ResponseOf<T>> => {
    const wrapped = gate === undefined ? command : gate.withAuth(command, auth);
    const encoded = checkSize(encodeCommand(wrapped));
    await options.quota?.check(command);
    return responseOf(await backend.propose(encoded, session), command.type);
  };
  const read = async (
    query: KvQuery & { type: "Range" },
    mode: "linearizable" | "serializable",
  ): Promise<ResponseOf<"Range">> => {
    const encoded = checkSize(encodeQuery(query));
    return responseOf(await backend.read(encoded, mode), query.type);
  };
  return { requestBytesMax, limits, propose, read };
}

/**
 * The KV service's handlers, for `server.addService(serviceDefinition("KV"), ...)`. Serve them
 * with grpcReceiveBytesMax() so the gRPC layer's own receive limit matches requestBytesMax.
 */
export function kvServiceHandlers(
  backend: KvBackend,
  options: KvServiceOptions = {},
): grpc.UntypedServiceImplementation {
  const { requestBytesMax, limits, propose, read } = kvAccess(backend, options);
  const gate = options.auth;
  const direct = backend.range;
  const range: Handle = async (message, _session, auth) => {
    const request = rangeRequestFromEtcd(message);
    gate?.checkRange(auth, request.key, request.rangeEnd);
    const mode = request.serializable === true ? "serializable" : "linearizable";
    const small =
      request.key.length + (request.rangeEnd?.length ?? 0) + RANGE_QUERY_OVERHEAD_BYTES <=
      requestBytesMax;
    const response =
      direct !== undefined && small
        ? await direct(request, mode)
        : await read({ type: "Range", request }, mode);
    gate?.checkUnchanged(auth);
    return rangeResponseToEtcd(response, backend.header());
  };
  const put: Handle = async (message, session, auth) => {
    const request = putRequestFromEtcd(message);
    checkPutRequest(request, limits);
    const response = await propose({ type: "Put", request }, session, auth);
    return putResponseToEtcd(response, backend.header());
  };
  const deleteRange: Handle = async (message, session, auth) => {
    const request = deleteRangeRequestFromEtcd(message);
    checkDeleteRangeRequest(request, limits);
    const response = await propose({ type: "DeleteRange", request }, session, auth);
    return deleteRangeResponseToEtcd(response, backend.header());
  };
  const txn: Handle = async (message, session, auth) => {
    const request = txnRequestFromEtcd(message);
    checkTxnRequest(request, limits);
    const response = await propose({ type: "Txn", request }, session, auth);
    return txnResponseToEtcd(response, backend.header());
  };
  const compact: Handle = async (message, _session, auth) => {
    const request = compactionRequestFromEtcd(message);
    const response = await propose({ type: "Compaction", request }, undefined, auth);
    return compactionResponseToEtcd(response, backend.header());
  };

  return {
    Range: unary("Range", range, options),
    Put: unary("Put", put, options),
    DeleteRange: unary("DeleteRange", deleteRange, options),
    Txn: unary("Txn", txn, options),
    Compact: unary("Compact", compact, options),
  };
}
