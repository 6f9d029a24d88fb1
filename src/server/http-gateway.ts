// The member's HTTP/1.1 endpoints, served on the client port next to gRPC (client-listener.ts):
//
//   POST /v3/...   etcd 3.4's JSON gateway (grpc-gateway) for curl users, every v3 service:
//        KV          /v3/kv/range | put | deleterange | txn | compaction
//        Watch       /v3/watch (bidi stream)
//        Lease       /v3/lease/grant | revoke | keepalive (bidi stream) | timetolive | leases,
//                    and /v3/kv/lease/revoke | timetolive | leases
//        Cluster     /v3/cluster/member/add | remove | update | list | promote
//        Maintenance /v3/maintenance/alarm | status | defragment | hash | hashkv |
//                    snapshot (server stream) | transfer-leadership
//        Auth        /v3/auth/enable | disable | authenticate,
//                    /v3/auth/user/add | get | list | delete | changepw | grant | revoke,
//                    /v3/auth/role/add | get | list | delete | grant | revoke
//        The request body is the etcd message in protobuf's JSON form with etcd's field names
//        (snake_case; camelCase accepted too), bytes in base64, int64 as strings (numbers
//        accepted); the response likewise, fields with their zero value left out as etcd's
//        gateway leaves them out. Errors as the gateway's: HTTP status from the gRPC code, body
//        {"error", "message", "code"}. Streams answer chunked, one {"result": ...} line per
//        message, an error as {"error": {...}} (gateway/streams.ts). The token is the
//        `Authorization` header, as etcd's gateway takes it.
//   GET  /health   200 {"health":"true"} while this member sees a leader and a quorum, else 503
//                  {"health":"false","reason":...}
//   GET  /status   {name, role, term, leader, commit, applied, verdict, ...}: verdict tells
//                  "no quorum — stopped, refusing writes" from "quorum — slow" from "healthy"
//   GET  /metrics  Prometheus text (metrics.ts)
//   GET  /version  {"etcdserver", "etcdcluster"}, as etcd answers it
//   GET  /dashboard...  the live dashboard (dashboard.ts, through extraRoutes)
//
// The KV endpoints reuse the gRPC service's pieces: etcd-mapping.ts for the messages, the same
// KvBackend, statusOf for errors, the same request size limit. The other services' routes
// (gateway/routes.ts) call the gRPC server's own handlers through an adapter (gateway/rpc.ts,
// gateway/call.ts), so auth and limits are the gRPC calls' exactly. A handler never throws:
// every request ends in exactly one response, whatever the body or the backend do.
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:http";
import * as grpc from "@grpc/grpc-js";
import { etcdProto } from "../api/index.js";
import {
  type AuthInfo,
  DEFAULT_KV_LIMITS,
  encodeCommand,
  encodeQuery,
  KvError,
  type KvQuery,
  type PlainKvCommand,
} from "../kv/index.js";
import { type AuthGate, credentialsOfHttp } from "./auth-gate.js";
import {
  compactionRequestFromEtcd,
  compactionResponseToEtcd,
  deleteRangeRequestFromEtcd,
  deleteRangeResponseToEtcd,
  putRequestFromEtcd,
  putResponseToEtcd,
  rangeRequestFromEtcd,
  rangeResponseToEtcd,
  txnRequestFromEtcd,
  txnResponseToEtcd,
} from "./etcd-mapping.js";
import {
  errorBody,
  HttpError,
  httpStatusOfGrpc,
  parseJson,
  readBody,
  send,
  sendJson,
} from "./gateway/http-io.js";
import { JSON_DEPTH_MAX } from "./gateway/json-codec.js";
import { GATEWAY_ROUTES } from "./gateway/routes.js";
import { serveRpc } from "./gateway/rpc.js";
import type { GrpcRoute } from "./grpc/server.js";
import { type KvBackend, type ResponseOf, responseOf, statusOf } from "./kv-service.js";
import { ORDO_RELEASE, ORDO_VERSION } from "./maintenance-service.js";
import type { ClientMetrics } from "./metrics.js";
import { tlsCommonNameOf } from "./tls-identity.js";

/** Default largest request body: etcd's default --max-request-bytes, 1.5 MiB. */
export const HTTP_BODY_BYTES_MAX_DEFAULT = 1.5 * 1024 * 1024;
export { httpStatusOfGrpc };

// ---- health -----------------------------------------------------------------------------------

const REQUEST_MESSAGE_OF_PATH: Readonly<Record<string, string>> = {
  "/v3/kv/range": "RangeRequest",
  "/v3/kv/put": "PutRequest",
  "/v3/kv/deleterange": "DeleteRangeRequest",
  "/v3/kv/txn": "TxnRequest",
  "/v3/kv/compaction": "CompactionRequest",
};

const knownFieldsCache = new Map<string, ReadonlySet<string>>();

/** The request message's field names, as in the .proto (snake_case) and as lowerCamelCase. */
function knownFields(message: string): ReadonlySet<string> {
  let known = knownFieldsCache.get(message);
  if (known === undefined) {
    const type = etcdProto().etcdserverpb[message] as unknown as {
      type: { field: { name: string }[] };
    };
    const names = type.type.field.map((f) => f.name);
    known = new Set([
      ...names,
      ...names.map((n) => n.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase())),
    ]);
    knownFieldsCache.set(message, known);
  }
  return known;
}

/** Like etcd's gateway: a field the request message does not have is an error, not ignored. */
function rejectUnknownFields(json: unknown, path: string): void {
  const message = REQUEST_MESSAGE_OF_PATH[path];
  if (message === undefined || json === null || typeof json !== "object" || Array.isArray(json))
    return;
  const known = knownFields(message);
  for (const field of Object.keys(json)) {
    if (!known.has(field)) {
      throw new HttpError(
        400,
        grpc.status.INVALID_ARGUMENT,
        `unknown field "${field}" in etcdserverpb.${message}`,
      );
    }
  }
}

/** What the member knows of itself, read at each /health or /status request. */
export interface HealthInput {
  readonly name: string;
  readonly role: string;
  readonly term: number;
  /** The leader's name, "" when none is known. */
  readonly leader: string;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly voters: readonly string[];
  /** Non-empty during a joint configuration change: a quorum of both is needed. */
  readonly votersOutgoing: readonly string[];
  /** Milliseconds since a message last arrived from each peer (by name); absent: never. */
  readonly heardAgoMs: ReadonlyMap<string, number>;
  /** A peer heard from within this is live (e.g. two election timeouts). */
  readonly heardWindowMs: number;
  readonly stopped: boolean;
  readonly fatal: string | undefined;
  readonly divergenceAlarms: number;
}

export interface HealthThresholds {
  /** commit - applied above this is "slow". Default 1000 entries. */
  readonly applyLagMax?: number;
  /** lastIndex - commit above this is "slow". Default 1000 entries. */
  readonly commitLagMax?: number;
}

export const VERDICT_HEALTHY = "healthy";
export const VERDICT_SLOW = "quorum — slow";
export const VERDICT_NO_QUORUM = "no quorum — stopped, refusing writes";
export const VERDICT_DIVERGED = "alarm — state diverged from the leader's";

export interface HealthAssessment {
  /** This member sees a leader and a quorum, and raises no alarm. */
  readonly healthy: boolean;
  /** Why not healthy, or why slow; empty when healthy and not slow. */
  readonly reasons: readonly string[];
  readonly verdict: string;
  readonly applyLag: number;
  readonly commitLag: number;
}

function quorumOf(
  voters: readonly string[],
  live: (name: string) => boolean,
): { live: number; need: number } {
  const need = Math.floor(voters.length / 2) + 1;
  return { live: voters.filter(live).length, need };
}

/**
 * Whether the member sees a leader and a quorum. The leader counts itself and the voters it
 * heard from within the window (the responses to its heartbeats); a follower needs a known
 * leader it heard from within the window. Pure: the member supplies the times.
 */
export function assessHealth(h: HealthInput, t: HealthThresholds = {}): HealthAssessment {
  const down: string[] = [];
  if (h.stopped) down.push("member stopped");
  if (h.fatal !== undefined) down.push(`fatal: ${h.fatal}`);
  const heard = (name: string): boolean => {
    if (name === h.name) return true;
    const ago = h.heardAgoMs.get(name);
    return ago !== undefined && ago <= h.heardWindowMs;
  };
  if (h.leader === "") {
    down.push("no leader");
  } else if (h.role === "Leader") {
    for (const voters of [h.voters, h.votersOutgoing]) {
      if (voters.length === 0) continue;
      const q = quorumOf(voters, heard);
      if (q.live < q.need) {
        down.push(
          `no quorum: heard from ${q.live} of ${voters.length} voters (need ${q.need}) ` +
            `within ${h.heardWindowMs} ms`,
        );
      }
    }
  } else if (!heard(h.leader)) {
    const ago = h.heardAgoMs.get(h.leader);
    down.push(
      ago === undefined
        ? `leader ${h.leader} never heard from`
        : `leader ${h.leader} not heard from for ${Math.round(ago)} ms`,
    );
  }
  const alarm = h.divergenceAlarms > 0;
  if (alarm) down.push("divergence alarm: this replica's state differs from the leader's");
  const applyLag = Math.max(0, h.commit - h.applied);
  const commitLag = Math.max(0, h.lastIndex - h.commit);
  const slow: string[] = [];
  const applyLagMax = t.applyLagMax ?? 1000;
  const commitLagMax = t.commitLagMax ?? 1000;
  if (applyLag > applyLagMax) slow.push(`apply lag ${applyLag} entries (> ${applyLagMax})`);
  if (commitLag > commitLagMax) slow.push(`commit lag ${commitLag} entries (> ${commitLagMax})`);
  let verdict = VERDICT_HEALTHY;
  if (alarm && down.length === 1) verdict = VERDICT_DIVERGED;
  else if (down.length > 0) verdict = VERDICT_NO_QUORUM;
  else if (slow.length > 0) verdict = VERDICT_SLOW;
  return {
    healthy: down.length === 0,
    reasons: down.length > 0 ? down : slow,
    verdict,
    applyLag,
    commitLag,
  };
}

// ---- JSON ⇄ etcd messages ---------------------------------------------------------------------

/** The bytes fields of etcd's KV requests (key, range_end; value of a put or a compare). */
const BYTES_FIELDS = new Set(["key", "range_end", "value"]);
/** Standard or URL-safe base64, padded or not, as protobuf's JSON mapping accepts. */
const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]*|[A-Za-z0-9_-]*)={0,2}$/;

const invalid = (message: string): KvError => new KvError("INVALID_ARGUMENT", message);

const snakeCase = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function base64Field(value: unknown, name: string): unknown {
  if (value === null || value === undefined) return value;
  if (typeof value !== "string" || !BASE64_PATTERN.test(value) || value.length % 4 === 1) {
    throw invalid(`etcdserver: ${name} must be a base64 string`);
  }
  return Buffer.from(value, "base64");
}

/**
 * A parsed JSON body as the message proto-loader would hand the gRPC service: snake_case
 * names, bytes fields decoded from base64. Other values go through unchanged for
 * etcd-mapping.ts to check.
 */
export function messageFromGatewayJson(value: unknown, depth = 0): unknown {
  if (depth > JSON_DEPTH_MAX) throw invalid("etcdserver: request nested too deep");
  if (Array.isArray(value)) return value.map((v) => messageFromGatewayJson(v, depth + 1));
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(value)) {
    const snake = snakeCase(name);
    out[snake] = BYTES_FIELDS.has(snake)
      ? base64Field(field, snake)
      : messageFromGatewayJson(field, depth + 1);
  }
  return out;
}

/**
 * An etcd response message (etcd-mapping.ts's shapes) as etcd's gateway writes it: bytes in
 * base64; fields holding their zero value (false, "0", empty bytes or list) left out.
 */
export function messageToGatewayJson(value: unknown): unknown {
  if (value instanceof Uint8Array) {
    return value.length === 0 ? undefined : Buffer.from(value).toString("base64");
  }
  if (Array.isArray(value)) {
    return value.length === 0 ? undefined : value.map((v) => messageToGatewayJson(v) ?? {});
  }
  if (value === false || value === "0" || value === "" || value === undefined || value === null) {
    return undefined;
  }
  if (typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(value)) {
    const json = messageToGatewayJson(field);
    if (json !== undefined) out[name] = json;
  }
  return out;
}

// ---- errors -----------------------------------------------------------------------------------

// ---- the gateway ------------------------------------------------------------------------------

export interface HttpGatewayOptions {
  readonly backend: KvBackend;
  /** The member's view of itself, for /health and /status. */
  readonly health: () => HealthInput;
  readonly thresholds?: HealthThresholds;
  readonly metrics?: ClientMetrics;
  /** Largest request body; a larger one is refused with 413. Default 1.5 MiB. */
  readonly bodyBytesMax?: number;
  /** Largest encoded command or query, as the gRPC service's. Default kv/'s requestBytesMax. */
  readonly requestBytesMax?: number;
  /** Extra fields for /status (e.g. member and cluster ids). */
  readonly statusExtra?: () => Readonly<Record<string, unknown>>;
  /**
   * More endpoints (the dashboard, dashboard.ts): takes the request and answers it itself when
   * it returns true; false falls through to the 404.
   */
  readonly extraRoutes?: (req: IncomingMessage, res: ServerResponse, path: string) => boolean;
  /** Hears every request that ended 500 (a bug or a broken backend), for logging. */
  readonly onInternalError?: (path: string, error: unknown) => void;
  /**
   * Authentication and authorization, the same gate as the gRPC services' (auth-gate.ts): the
   * token is the `Authorization` header, as etcd's gateway takes it.
   */
  readonly auth?: AuthGate;
  /**
   * The gRPC server's methods (GrpcServer.route): the Watch, Lease, Cluster, Maintenance and
   * Auth routes call their handlers. Without it those routes answer 501.
   */
  readonly grpc?: (grpcPath: string) => GrpcRoute | undefined;
}

/** A gateway route: the decoded body and who sent it (gatewayAuthInfo). */
type KvRoute = (body: unknown, auth: AuthInfo | undefined) => Promise<object>;

/** Who an HTTP request is, by the gateway's gate (undefined without auth or credentials). */
export function gatewayAuthInfo(
  options: Pick<HttpGatewayOptions, "auth">,
  req: IncomingMessage,
): AuthInfo | undefined {
  return options.auth?.authInfo(credentialsOfHttp(req.headers, tlsCommonNameOf(req)));
}

function kvRoutes(options: HttpGatewayOptions): ReadonlyMap<string, KvRoute> {
  const { backend } = options;
  const requestBytesMax = options.requestBytesMax ?? DEFAULT_KV_LIMITS.requestBytesMax;
  const checked = (bytes: Uint8Array): Uint8Array => {
    if (bytes.length > requestBytesMax) {
      throw new KvError("REQUEST_TOO_LARGE", "etcdserver: request is too large");
    }
    return bytes;
  };
  const gate = options.auth;
  const propose = async <T extends PlainKvCommand["type"]>(
    command: PlainKvCommand & { type: T },
    auth: AuthInfo | undefined,
  ): Promise<ResponseOf<T>> => {
    const wrapped = gate === undefined ? command : gate.withAuth(command, auth);
    return responseOf(await backend.propose(checked(encodeCommand(wrapped))), command.type);
  };
  const range = async (
    query: KvQuery & { type: "Range" },
    auth: AuthInfo | undefined,
  ): Promise<ResponseOf<"Range">> => {
    const mode = query.request.serializable === true ? "serializable" : "linearizable";
    gate?.checkRange(auth, query.request.key, query.request.rangeEnd);
    const response = responseOf(await backend.read(checked(encodeQuery(query)), mode), "Range");
    gate?.checkUnchanged(auth);
    return response;
  };
  return new Map<string, KvRoute>([
    [
      "/v3/kv/range",
      async (body, auth) => {
        const request = rangeRequestFromEtcd(body);
        const response = await range({ type: "Range", request }, auth);
        return rangeResponseToEtcd(response, backend.header());
      },
    ],
    [
      "/v3/kv/put",
      async (body, auth) => {
        const response = await propose({ type: "Put", request: putRequestFromEtcd(body) }, auth);
        return putResponseToEtcd(response, backend.header());
      },
    ],
    [
      "/v3/kv/deleterange",
      async (body, auth) => {
        const request = deleteRangeRequestFromEtcd(body);
        const response = await propose({ type: "DeleteRange", request }, auth);
        return deleteRangeResponseToEtcd(response, backend.header());
      },
    ],
    [
      "/v3/kv/txn",
      async (body, auth) => {
        const response = await propose({ type: "Txn", request: txnRequestFromEtcd(body) }, auth);
        return txnResponseToEtcd(response, backend.header());
      },
    ],
    [
      "/v3/kv/compaction",
      async (body, auth) => {
        const request = compactionRequestFromEtcd(body);
        const response = await propose({ type: "Compaction", request }, auth);
        return compactionResponseToEtcd(response, backend.header());
      },
    ],
  ]);
}

/** GET /status's body (also what the dashboard shows of this member). */
export function statusBody(
  options: Pick<HttpGatewayOptions, "health" | "thresholds" | "statusExtra">,
): Record<string, unknown> {
  const h = options.health();
  const a = assessHealth(h, options.thresholds);
  return {
    name: h.name,
    ...options.statusExtra?.(),
    role: h.role,
    term: h.term,
    leader: h.leader,
    commit: h.commit,
    applied: h.applied,
    lastIndex: h.lastIndex,
    applyLag: a.applyLag,
    commitLag: a.commitLag,
    health: a.healthy,
    verdict: a.verdict,
    reasons: a.reasons,
  };
}

/** The node:http request listener serving every endpoint above. */
export function httpGatewayHandler(
  options: HttpGatewayOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const bodyBytesMax = options.bodyBytesMax ?? HTTP_BODY_BYTES_MAX_DEFAULT;
  if (!Number.isSafeInteger(bodyBytesMax) || bodyBytesMax <= 0) {
    throw new RangeError("http-gateway: bodyBytesMax must be a positive integer");
  }
  const routes = kvRoutes(options);
  const rpcContext = {
    lookup: options.grpc ?? (() => undefined),
    bodyBytesMax,
    onInternalError: (path: string, error: unknown) => {
      try {
        options.onInternalError?.(path, error);
      } catch {
        // A logger's failure must not turn into the caller's.
      }
    },
  };

  const fail = (res: ServerResponse, path: string, error: unknown): void => {
    if (res.headersSent) {
      // A stream that failed after its head went out: end it, there is no other answer left.
      if (!res.writableEnded) res.end();
      return;
    }
    if (error instanceof HttpError) {
      sendJson(res, error.httpStatus, errorBody(error.grpcCode, error.message));
      return;
    }
    const status = statusOf(error);
    if (status.code === grpc.status.INTERNAL) {
      try {
        options.onInternalError?.(path, error);
      } catch {
        // A logger's failure must not turn into the caller's.
      }
    }
    sendJson(res, httpStatusOfGrpc(status.code), errorBody(status.code, status.details));
  };

  const serveKv = async (
    req: IncomingMessage,
    res: ServerResponse,
    route: KvRoute,
    path: string,
  ) => {
    const auth = gatewayAuthInfo(options, req);
    const body = await readBody(req, bodyBytesMax);
    const json = parseJson(body);
    rejectUnknownFields(json, path);
    const message = messageFromGatewayJson(json);
    sendJson(res, 200, messageToGatewayJson(await route(message, auth)) ?? {});
  };

  const serveHealth = (res: ServerResponse): void => {
    const a = assessHealth(options.health(), options.thresholds);
    if (a.healthy) sendJson(res, 200, { health: "true", reason: "" });
    else sendJson(res, 503, { health: "false", reason: a.reasons.join("; ") });
  };

  const serveStatus = (res: ServerResponse): void => sendJson(res, 200, statusBody(options));

  const serveMetrics = async (res: ServerResponse): Promise<void> => {
    if (options.metrics === undefined) {
      sendJson(res, 404, errorBody(grpc.status.NOT_FOUND, "metrics are not enabled"));
      return;
    }
    send(res, 200, await options.metrics.text(), options.metrics.contentType);
  };

  const getRoutes = new Map<string, (res: ServerResponse) => void | Promise<void>>([
    ["/health", serveHealth],
    ["/status", serveStatus],
    ["/metrics", serveMetrics],
    [
      "/version",
      // etcd's two fields (the same version Maintenance.Status reports), and Ordo's own.
      (res) =>
        sendJson(res, 200, {
          etcdserver: ORDO_VERSION,
          etcdcluster: ORDO_VERSION,
          ordo: ORDO_RELEASE,
        }),
    ],
  ]);

  const serve = async (req: IncomingMessage, res: ServerResponse, path: string) => {
    if (path === "/ordo/v1/session") {
      if (req.method !== "POST") {
        res.setHeader("allow", "POST");
        throw new HttpError(405, grpc.status.UNIMPLEMENTED, `${path} takes POST`);
      }
      const register = options.backend.registerSession;
      if (register === undefined)
        throw new HttpError(404, grpc.status.NOT_FOUND, "sessions are not enabled");
      sendJson(res, 200, { id: await register.call(options.backend) });
      return;
    }
    const kv = routes.get(path);
    if (kv !== undefined) {
      if (req.method !== "POST") {
        res.setHeader("allow", "POST");
        throw new HttpError(405, grpc.status.UNIMPLEMENTED, `${path} takes POST`);
      }
      await serveKv(req, res, kv, path);
      return;
    }
    const rpc = GATEWAY_ROUTES.get(path);
    if (rpc !== undefined) {
      if (req.method !== "POST") {
        res.setHeader("allow", "POST");
        throw new HttpError(405, grpc.status.UNIMPLEMENTED, `${path} takes POST`);
      }
      await serveRpc(req, res, path, rpc, rpcContext);
      return;
    }
    const get = getRoutes.get(path);
    if (get !== undefined) {
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.setHeader("allow", "GET, HEAD");
        throw new HttpError(405, grpc.status.UNIMPLEMENTED, `${path} takes GET`);
      }
      await get(res);
      return;
    }
    if (options.extraRoutes?.(req, res, path) === true) return;
    throw new HttpError(404, grpc.status.NOT_FOUND, `no such endpoint: ${path}`);
  };

  return (req, res) => {
    res.on("error", () => req.destroy());
    req.on("error", () => req.destroy());
    const path = (req.url ?? "/").split("?", 1)[0] ?? "/";
    serve(req, res, path)
      .catch((error: unknown) => fail(res, path, error))
      .catch(() => res.destroy())
      .finally(() => {
        // A body we did not read (an early 404, 405 or 413) is drained, not kept; a stream
        // still being answered reads its own body.
        if (!req.complete && res.writableEnded) req.resume();
      });
  };
}

/**
 * A node:http server for the gateway, fed connections by ClientListener (it never listens
 * itself). Timeouts bound slow clients; node:http only enforces them on a server that has
 * emitted 'listening' (that starts its connection tracking), so this one emits it.
 */
export function createHttpGateway(options: HttpGatewayOptions): Server {
  const server = createServer(httpGatewayHandler(options));
  server.requestTimeout = 60_000;
  server.headersTimeout = 20_000;
  server.keepAliveTimeout = 5_000;
  server.emit("listening");
  return server;
}
