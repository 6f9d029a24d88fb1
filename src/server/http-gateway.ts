// The member's HTTP/1.1 endpoints, served on the client port next to gRPC (client-listener.ts):
//
//   POST /v3/kv/range | put | deleterange | txn | compaction
//        etcd's JSON gateway (grpc-gateway) for curl users: the request body is the etcd message
//        in protobuf's JSON form with etcd's field names (snake_case; camelCase accepted too),
//        bytes in base64, int64 as strings (numbers accepted); the response likewise, fields
//        with their zero value left out as etcd's gateway leaves them out. Errors as the
//        gateway's: HTTP status from the gRPC code, body {"error", "message", "code"}.
//   GET  /health   200 {"health":"true"} while this member sees a leader and a quorum, else 503
//                  {"health":"false","reason":...}
//   GET  /status   {name, role, term, leader, commit, applied, verdict, ...}: verdict tells
//                  "no quorum — stopped, refusing writes" from "quorum — slow" from "healthy"
//   GET  /metrics  Prometheus text (metrics.ts)
//   GET  /version  {"etcdserver", "etcdcluster"}, as etcd answers it
//   GET  /dashboard...  the live dashboard (dashboard.ts, through extraRoutes)
//
// The KV endpoints reuse the gRPC service's pieces: etcd-mapping.ts for the messages, the same
// KvBackend, statusOf for errors, the same request size limit. A handler never throws: every
// request ends in exactly one response, whatever the body or the backend do.
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
import { type KvBackend, type ResponseOf, responseOf, statusOf } from "./kv-service.js";
import { ORDO_RELEASE, ORDO_VERSION } from "./maintenance-service.js";
import type { ClientMetrics } from "./metrics.js";
import { tlsCommonNameOf } from "./tls-identity.js";

/** Default largest request body: etcd's default --max-request-bytes, 1.5 MiB. */
export const HTTP_BODY_BYTES_MAX_DEFAULT = 1.5 * 1024 * 1024;
/** Nesting of a request body's JSON beyond which it is refused (a txn nests 4 levels per txn). */
const JSON_DEPTH_MAX = 64;

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
  /** NOSPACE alarms raised (replicated: the same on every member); absent: none. */
  readonly spaceAlarms?: number;
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
export const VERDICT_NOSPACE = "alarm — database space exceeded, refusing writes";

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
  // etcd's /health is false while any alarm is raised; NOSPACE refuses writes everywhere.
  const noSpace = (h.spaceAlarms ?? 0) > 0;
  if (noSpace) {
    down.push(
      "NOSPACE alarm: database space exceeded (etcdserver: mvcc: database space exceeded); compact, defrag and disarm",
    );
  }
  const alarms = (alarm ? 1 : 0) + (noSpace ? 1 : 0);
  const applyLag = Math.max(0, h.commit - h.applied);
  const commitLag = Math.max(0, h.lastIndex - h.commit);
  const slow: string[] = [];
  const applyLagMax = t.applyLagMax ?? 1000;
  const commitLagMax = t.commitLagMax ?? 1000;
  if (applyLag > applyLagMax) slow.push(`apply lag ${applyLag} entries (> ${applyLagMax})`);
  if (commitLag > commitLagMax) slow.push(`commit lag ${commitLag} entries (> ${commitLagMax})`);
  let verdict = VERDICT_HEALTHY;
  if (alarms > 0 && down.length === alarms) verdict = alarm ? VERDICT_DIVERGED : VERDICT_NOSPACE;
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

/** grpc-gateway's HTTPStatusFromCode. */
export function httpStatusOfGrpc(code: number): number {
  switch (code) {
    case grpc.status.OK:
      return 200;
    case grpc.status.CANCELLED:
      return 499;
    case grpc.status.INVALID_ARGUMENT:
    case grpc.status.FAILED_PRECONDITION:
    case grpc.status.OUT_OF_RANGE:
      return 400;
    case grpc.status.DEADLINE_EXCEEDED:
      return 504;
    case grpc.status.NOT_FOUND:
      return 404;
    case grpc.status.ALREADY_EXISTS:
    case grpc.status.ABORTED:
      return 409;
    case grpc.status.PERMISSION_DENIED:
      return 403;
    case grpc.status.UNAUTHENTICATED:
      return 401;
    case grpc.status.RESOURCE_EXHAUSTED:
      return 429;
    case grpc.status.UNIMPLEMENTED:
      return 501;
    case grpc.status.UNAVAILABLE:
      return 503;
    default:
      return 500;
  }
}

/** An error with the HTTP status and gateway body it ends as. */
class HttpError extends Error {
  override readonly name = "HttpError";
  constructor(
    readonly httpStatus: number,
    readonly grpcCode: number,
    message: string,
  ) {
    super(message);
  }
}

function errorBody(grpcCode: number, message: string): object {
  return { error: message, message, code: grpcCode };
}

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

/** Reads the whole body, refusing (413) one larger than `max` bytes. */
function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const declared = Number(req.headers["content-length"]);
    const tooLarge = (): HttpError =>
      new HttpError(
        413,
        grpc.status.INVALID_ARGUMENT,
        `etcdserver: request is too large (the body exceeds ${max} bytes)`,
      );
    if (Number.isFinite(declared) && declared > max) {
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (chunk: Buffer) => {
      if (over) return; // drained, not kept
      size += chunk.length;
      if (size > max) {
        over = true;
        chunks.length = 0;
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.once("end", () => resolve(Buffer.concat(chunks)));
    req.once("error", reject);
    req.once("close", () => reject(new Error("the request was closed before its body ended")));
  });
}

function parseJson(body: Buffer): unknown {
  if (body.length === 0) return {};
  try {
    return JSON.parse(body.toString("utf8"));
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    throw new HttpError(400, grpc.status.INVALID_ARGUMENT, `malformed JSON body: ${detail}`);
  }
}

function send(res: ServerResponse, status: number, body: string, contentType: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {
    "content-type": contentType,
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, `${JSON.stringify(body)}\n`, "application/json");
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

  const fail = (res: ServerResponse, path: string, error: unknown): void => {
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
        // A body we did not read (an early 404, 405 or 413) is drained, not kept.
        if (!req.complete) req.resume();
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
