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
//        `Authorization` header, as etcd's gateway takes it. 3.4's deprecated /v3beta/ prefix
//        is served too.
//   GET  /health   200 {"health":"true"} while this member sees a leader and a quorum, else 503
//                  {"health":"false","reason":...}
//   GET  /status   {name, role, term, leader, commit, applied, verdict, ...}: verdict tells
//                  "no quorum — stopped, refusing writes" from "quorum — slow" from "healthy"
//   GET  /metrics  Prometheus text (metrics.ts)
//   GET  /version  {"etcdserver", "etcdcluster"}, as etcd answers it
//   GET  /dashboard...  the live dashboard (dashboard.ts, through extraRoutes)
//
// Every /v3/ route (gateway/routes.ts) calls the gRPC server's own handler for its RPC through
// an adapter (gateway/rpc.ts, gateway/call.ts), so auth, limits and errors are the gRPC calls'
// exactly; gateway/json-codec.ts speaks etcd's JSON, gateway/streams.ts the chunked streams. A
// handler never throws: every request ends in exactly one response, whatever the body or the
// backend do.
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:http";
import * as grpc from "@grpc/grpc-js";
import { errorBody, HttpError, httpStatusOfGrpc, send, sendJson } from "./gateway/http-io.js";
import { gatewayRouteOf } from "./gateway/routes.js";
import { serveRpc } from "./gateway/rpc.js";
import type { CallObserver } from "./grpc/call.js";
import type { GrpcRoute } from "./grpc/server.js";
import { type KvBackend, statusOf } from "./kv-service.js";
import { ORDO_RELEASE, ORDO_VERSION } from "./maintenance-service.js";
import type { ClientMetrics } from "./metrics.js";

/** Default largest request body: etcd's default --max-request-bytes, 1.5 MiB. */
export const HTTP_BODY_BYTES_MAX_DEFAULT = 1.5 * 1024 * 1024;
export { httpStatusOfGrpc };

// ---- health -----------------------------------------------------------------------------------

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

// ---- the gateway ------------------------------------------------------------------------------

export interface HttpGatewayOptions {
  readonly backend: KvBackend;
  /** The member's view of itself, for /health and /status. */
  readonly health: () => HealthInput;
  readonly thresholds?: HealthThresholds;
  readonly metrics?: ClientMetrics;
  /** Largest request body; a larger one is refused with 413. Default 1.5 MiB. */
  readonly bodyBytesMax?: number;
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
   * The gRPC server's methods (GrpcServer.method): every /v3/ route calls the handler gRPC
   * calls reach, with its auth checks and limits (gateway/rpc.ts).
   */
  readonly grpc: (grpcPath: string) => GrpcRoute | undefined;
  /** Hears each /v3/ call's start and end, counted with the gRPC calls (grpc_server_*). */
  readonly grpcObserver?: CallObserver;
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
  const reportInternal = (path: string, error: unknown): void => {
    try {
      options.onInternalError?.(path, error);
    } catch {
      // A logger's failure must not turn into the caller's.
    }
  };
  const rpcContext = {
    lookup: options.grpc,
    bodyBytesMax,
    ...(options.grpcObserver !== undefined ? { observer: options.grpcObserver } : {}),
    onInternalError: reportInternal,
  };
  const getRoutes = getRoutesOf(options);

  const serve = async (req: IncomingMessage, res: ServerResponse, path: string) => {
    if (path === "/ordo/v1/session") {
      allowOnly(req, res, path, "POST");
      await serveSession(res, options.backend);
      return;
    }
    const rpc = gatewayRouteOf(path);
    if (rpc !== undefined) {
      allowOnly(req, res, path, "POST");
      await serveRpc(req, res, path, rpc, rpcContext);
      return;
    }
    const get = getRoutes.get(path);
    if (get !== undefined) {
      allowOnly(req, res, path, "GET");
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
      .catch((error: unknown) => fail(res, path, error, reportInternal))
      .catch(() => res.destroy())
      .finally(() => {
        // A body we did not read (an early 404, 405 or 413) is drained, not kept; a stream
        // still being answered reads its own body.
        if (!req.complete && res.writableEnded) req.resume();
      });
  };
}

/** 405 with `allow` unless the request's method is `method` (GET: or HEAD). */
function allowOnly(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  method: "GET" | "POST",
): void {
  if (req.method === method || (method === "GET" && req.method === "HEAD")) return;
  res.setHeader("allow", method === "GET" ? "GET, HEAD" : "POST");
  throw new HttpError(405, grpc.status.UNIMPLEMENTED, `${path} takes ${method}`);
}

/** POST /ordo/v1/session: a new exactly-once write session, registered through the log. */
async function serveSession(res: ServerResponse, backend: KvBackend): Promise<void> {
  const register = backend.registerSession;
  if (register === undefined)
    throw new HttpError(404, grpc.status.NOT_FOUND, "sessions are not enabled");
  sendJson(res, 200, { id: await register.call(backend) });
}

/** A failed request's answer: etcd's gateway error body, or the end of a stream already begun. */
function fail(
  res: ServerResponse,
  path: string,
  error: unknown,
  reportInternal: (path: string, error: unknown) => void,
): void {
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
  if (status.code === grpc.status.INTERNAL) reportInternal(path, error);
  sendJson(res, httpStatusOfGrpc(status.code), errorBody(status.code, status.details));
}

/** The GET endpoints: /health, /status, /metrics and /version. */
function getRoutesOf(
  options: HttpGatewayOptions,
): ReadonlyMap<string, (res: ServerResponse) => void | Promise<void>> {
  const serveHealth = (res: ServerResponse): void => {
    const a = assessHealth(options.health(), options.thresholds);
    if (a.healthy) sendJson(res, 200, { health: "true", reason: "" });
    else sendJson(res, 503, { health: "false", reason: a.reasons.join("; ") });
  };
  const serveMetrics = async (res: ServerResponse): Promise<void> => {
    if (options.metrics === undefined) {
      sendJson(res, 404, errorBody(grpc.status.NOT_FOUND, "metrics are not enabled"));
      return;
    }
    send(res, 200, await options.metrics.text(), options.metrics.contentType);
  };
  return new Map<string, (res: ServerResponse) => void | Promise<void>>([
    ["/health", serveHealth],
    ["/status", (res) => sendJson(res, 200, statusBody(options))],
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
