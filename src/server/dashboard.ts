// The live dashboard every member serves on its client port (through http-gateway.ts's
// extraRoutes):
//
//   GET /dashboard                the page (dashboard/ at the package root: plain HTML, CSS, JS)
//   GET /dashboard/uplot.js|.css  uPlot, the chart library, from node_modules
//   GET /dashboard/events         server-sent events: "history" (the last 10 minutes of samples)
//                                 on connect, then "tick" once a second: this member's sample
//                                 and the cluster as this member sees it (every member's /status,
//                                 polled over HTTP, a verdict)
//   GET /dashboard/api/keys?prefix=B64&limit=N   keys under a prefix (serializable, this member's
//                                 state): revisions, version, lease, size, a value preview
//   GET /dashboard/watch?prefix=B64  server-sent events: every later put or delete under prefix
//
// The dashboard must not be able to hurt the member: samples are taken once a second into a
// fixed ring (600); peers are polled once a second, only while someone watches, one poll shared
// by every viewer, each request bounded in time and size; at most SSE_CLIENTS_MAX streams are
// open at once (more get 503); a stream whose client does not read is dropped once its buffer
// passes SSE_BUFFER_MAX; a client leaving mid-stream only removes its stream. All watch streams
// share one store subscription, which sees each write's events once and copies only previews.
// Keys and values travel in base64: the page decodes and renders them as text, never as markup.

import { readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import {
  type AlarmMember,
  type EventBatch,
  type KeyValue,
  KvError,
  type KvStateMachine,
  type RangeRequest,
  type RangeResponse,
} from "../kv/index.js";
import { prefixEnd } from "../lib/index.js";
import type { NodeStatus, RsmMetrics, RsmNode } from "../rsm/index.js";
import { type LatencyWindow, quantile, type WalStats, type WalStorage } from "../storage/index.js";
import { type HealthInput, statusBody } from "./http-gateway.js";
import type { MemberView } from "./member-records.js";

/** Samples kept: one a second for the last 10 minutes. */
export const SAMPLES_MAX = 600;
/** Open event streams (events and watches together) at most. */
export const SSE_CLIENTS_MAX = 32;
/** A stream whose unsent bytes pass this is dropped: its client does not keep up. */
const SSE_BUFFER_MAX = 1024 * 1024;
const SAMPLE_INTERVAL_MS = 1000;
const PEER_TIMEOUT_MS = 800;
const PEER_BODY_MAX = 256 * 1024;
const KEYS_LIMIT_DEFAULT = 100;
const KEYS_LIMIT_MAX = 500;
const VALUE_PREVIEW_BYTES = 256;
const PREFIX_BYTES_MAX = 4096;
/**
 * fsync p99 (over the last FSYNC_RECENT_MS) above this is "slow": half of the 1 s at which etcd
 * logs a slow fdatasync (etcd's hardware guidance aims at a p99 under 10 ms; a shared or busy
 * disk passes 100 ms often enough that a lower bound would cry wolf).
 */
export const FSYNC_SLOW_MS = 500;
const FSYNC_RECENT_MS = 10_000;
/** A follower whose match index trails the leader's last index by more than this is lagging. */
export const FOLLOWER_LAG_MAX = 1000;

// ---- what /status adds for the dashboard ------------------------------------------------------

export interface StatusDetailsInput {
  readonly nodeId: string;
  readonly status: NodeStatus;
  readonly wal: WalStats;
  readonly fsync: LatencyWindow;
  /** Node id → member name, for the leader's name. */
  readonly nameOf: (nodeId: string) => string;
  /** The replicated alarms (KvStore.alarms): NOSPACE raised by any member. */
  readonly alarms?: readonly AlarmMember[];
}

export interface Alarm {
  readonly member: string;
  readonly alarm: "CORRUPT" | "NOSPACE";
  readonly reason: string;
}

/**
 * The fields /status gains for the dashboard (none of the old ones change): voter or learner,
 * the log's extent and snapshot, the leader's replication progress, alarms, fsync latency.
 */
export function statusDetails(d: StatusDetailsInput): Record<string, unknown> {
  const s = d.status;
  const recent = d.fsync.endedSince(performance.now() - FSYNC_RECENT_MS);
  const alarms: { alarm: string; reason: string }[] = s.divergence.map((a) => ({
    alarm: "CORRUPT",
    reason: `divergence: this replica's state differs from the leader's (${JSON.stringify(a)})`,
  }));
  if (s.fatal !== undefined && /ENOSPC|no space/i.test(s.fatal))
    alarms.push({ alarm: "NOSPACE", reason: s.fatal });
  for (const a of d.alarms ?? []) {
    if (a.alarm !== "NOSPACE") continue;
    alarms.push({
      alarm: "NOSPACE",
      reason: `space quota exceeded (raised by member ${a.memberId}): writes are refused until compact, defrag and alarm disarm`,
    });
  }
  return {
    nodeId: d.nodeId,
    leaderName: s.leader === "" ? "" : d.nameOf(s.leader),
    isLearner: (s.confState.learners as readonly string[]).includes(d.nodeId),
    voters: s.confState.voters,
    learners: s.confState.learners,
    firstIndex: s.firstIndex,
    snapshotIndex: d.wal.snapshotIndex,
    logEntries: Math.max(0, s.lastIndex - s.firstIndex + 1),
    walSegments: d.wal.segments,
    walBytesWritten: d.wal.bytesWritten,
    fsyncP50Ms: round(quantile(recent, 0.5)),
    fsyncP99Ms: round(quantile(recent, 0.99)),
    progress:
      s.role === "Leader"
        ? s.progress.map((p) => ({
            id: p.id,
            match: p.match,
            next: p.next,
            state: p.state,
            inflight: p.inflight,
            recentActive: p.recentActive,
          }))
        : [],
    alarms,
    stopped: s.stopped,
    ...(s.fatal !== undefined ? { fatal: s.fatal } : {}),
  };
}

const round = (ms: number | undefined): number | null =>
  ms === undefined ? null : Math.round(ms * 1000) / 1000;

// ---- a member's status as read from a peer ----------------------------------------------------

/** The /status fields the dashboard reads, checked: a peer's bytes are never trusted. */
export interface MemberStatus {
  readonly name: string;
  readonly nodeId: string;
  readonly role: string;
  readonly term: number;
  readonly leader: string;
  readonly leaderName: string;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly firstIndex: number | null;
  readonly snapshotIndex: number | null;
  readonly logEntries: number | null;
  readonly applyLag: number;
  readonly commitLag: number;
  readonly health: boolean;
  readonly verdict: string;
  readonly reasons: readonly string[];
  readonly isLearner: boolean | null;
  readonly revision: number | null;
  readonly fsyncP50Ms: number | null;
  readonly fsyncP99Ms: number | null;
  readonly progress: readonly {
    readonly id: string;
    readonly match: number;
    readonly state: string;
    readonly inflight: number;
  }[];
  readonly alarms: readonly { readonly alarm: string; readonly reason: string }[];
}

const str = (v: unknown, max = 512): string => (typeof v === "string" ? v.slice(0, max) : "");
const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);
const numOrNull = (v: unknown): number | null =>
  typeof v === "number" && Number.isFinite(v) ? v : null;
const list = (v: unknown, max: number): unknown[] => (Array.isArray(v) ? v.slice(0, max) : []);
const obj = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/** A /status body (this member's or a peer's) reduced to the checked fields above. */
export function memberStatusOf(body: unknown): MemberStatus {
  const b = obj(body);
  return {
    name: str(b.name, 128),
    nodeId: str(b.nodeId, 128),
    role: str(b.role, 32),
    term: num(b.term),
    leader: str(b.leader, 128),
    leaderName: str(b.leaderName, 128) || str(b.leader, 128),
    commit: num(b.commit),
    applied: num(b.applied),
    lastIndex: num(b.lastIndex),
    firstIndex: numOrNull(b.firstIndex),
    snapshotIndex: numOrNull(b.snapshotIndex),
    logEntries: numOrNull(b.logEntries),
    applyLag: num(b.applyLag),
    commitLag: num(b.commitLag),
    health: b.health === true,
    verdict: str(b.verdict, 128),
    reasons: list(b.reasons, 16).map((r) => str(r)),
    isLearner: typeof b.isLearner === "boolean" ? b.isLearner : null,
    revision: numOrNull(b.revision),
    fsyncP50Ms: numOrNull(b.fsyncP50Ms),
    fsyncP99Ms: numOrNull(b.fsyncP99Ms),
    progress: list(b.progress, 64).map((p) => {
      const o = obj(p);
      return {
        id: str(o.id, 128),
        match: num(o.match),
        state: str(o.state, 32),
        inflight: num(o.inflight),
      };
    }),
    alarms: list(b.alarms, 16).map((a) => {
      const o = obj(a);
      return { alarm: str(o.alarm, 32), reason: str(o.reason) };
    }),
  };
}

// ---- the cluster as one member sees it, and its verdict ---------------------------------------

export interface MemberRow {
  readonly name: string;
  readonly nodeId: string;
  readonly clientURL: string;
  /** The member serving this dashboard. */
  readonly self: boolean;
  readonly reachable: boolean;
  /** Why not reachable. */
  readonly error?: string;
  readonly isLearner: boolean;
  readonly status?: MemberStatus;
  /** Replication progress as the leader reports it (absent for the leader itself, or none known). */
  readonly progress?: { readonly match: number; readonly state: string; readonly inflight: number };
}

export type VerdictState = "healthy" | "slow" | "down" | "alarm";

export interface ClusterVerdict {
  readonly state: VerdictState;
  /** "healthy", "quorum, slow", "no quorum, stopped" or "alarm". */
  readonly words: string;
  readonly reasons: readonly string[];
  readonly unreachable: readonly string[];
}

export const VERDICT_WORDS: Readonly<Record<VerdictState, string>> = {
  healthy: "healthy",
  slow: "quorum, slow",
  down: "no quorum, stopped",
  alarm: "alarm",
};

/**
 * The seed's distinction, at a glance. This member's own /status says whether it sees a leader
 * and a quorum: if not, the cluster (as far as this member can tell) is stopped. With a quorum,
 * anything short of every member reachable, healthy and keeping up is "slow", with the reasons:
 * unreachable members, their own slow or unhealthy verdicts (commit or apply lag), fsync latency,
 * followers the leader sees lagging or probing. A CORRUPT alarm anywhere is "alarm".
 */
export function clusterVerdict(rows: readonly MemberRow[]): ClusterVerdict {
  const unreachable = rows.filter((r) => !r.reachable).map((r) => r.name);
  const self = rows.find((r) => r.self)?.status;
  const alarms = rows.flatMap((r) =>
    (r.status?.alarms ?? []).map((a) => `${r.name}: ${a.alarm} alarm: ${a.reason}`),
  );
  if (alarms.length > 0)
    return { state: "alarm", words: VERDICT_WORDS.alarm, reasons: alarms, unreachable };
  if (self === undefined || !self.health) {
    const reasons = [...(self?.reasons ?? ["this member's status is unknown"])];
    if (unreachable.length > 0) reasons.push(`unreachable: ${unreachable.join(", ")}`);
    return { state: "down", words: VERDICT_WORDS.down, reasons, unreachable };
  }
  const reasons: string[] = [];
  for (const r of rows) {
    if (!r.reachable) {
      reasons.push(`${r.name} unreachable${r.error !== undefined ? ` (${r.error})` : ""}`);
      continue;
    }
    const s = r.status;
    if (s === undefined) continue;
    if (s.reasons.length > 0) reasons.push(...s.reasons.map((why) => `${r.name}: ${why}`));
    if (s.fsyncP99Ms !== null && s.fsyncP99Ms > FSYNC_SLOW_MS)
      reasons.push(`${r.name}: fsync p99 ${s.fsyncP99Ms.toFixed(1)} ms (> ${FSYNC_SLOW_MS} ms)`);
  }
  const leader = rows.find((r) => r.status?.role === "Leader")?.status;
  for (const r of rows) {
    const p = r.progress;
    if (p === undefined || leader === undefined) continue;
    const behind = leader.lastIndex - p.match;
    if (behind > FOLLOWER_LAG_MAX)
      reasons.push(`follower ${r.name} lagging: ${behind} entries behind the leader`);
    else if (p.state !== "Replicate")
      reasons.push(`follower ${r.name} in ${p.state} state (match ${p.match})`);
  }
  return reasons.length > 0
    ? { state: "slow", words: VERDICT_WORDS.slow, reasons, unreachable }
    : { state: "healthy", words: VERDICT_WORDS.healthy, reasons: [], unreachable };
}

/** Each member's row: itself from `self`, the others from their polled /status. */
export function memberRows(
  selfNodeId: string,
  members: readonly MemberView[],
  self: MemberStatus,
  polled: ReadonlyMap<string, PeerPoll>,
): MemberRow[] {
  const rows: MemberRow[] = [];
  const known = members.some((m) => m.nodeId === selfNodeId) ? members : [];
  for (const m of known) {
    const name = m.name !== "" ? m.name : m.nodeId;
    const base = {
      name,
      nodeId: m.nodeId,
      clientURL: m.clientURLs[0] ?? "",
      isLearner: m.isLearner,
    };
    if (m.nodeId === selfNodeId) {
      rows.push({ ...base, name: self.name || name, self: true, reachable: true, status: self });
      continue;
    }
    const poll = polled.get(m.nodeId);
    if (poll === undefined)
      rows.push({ ...base, self: false, reachable: false, error: "not polled yet" });
    else if (poll.ok) rows.push({ ...base, self: false, reachable: true, status: poll.status });
    else rows.push({ ...base, self: false, reachable: false, error: poll.error });
  }
  if (rows.length === 0)
    rows.push({
      name: self.name,
      nodeId: selfNodeId,
      clientURL: "",
      isLearner: false,
      self: true,
      reachable: true,
      status: self,
    });
  rows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const leader = rows.find((r) => r.status?.role === "Leader")?.status;
  return rows.map((r) => {
    const p = leader?.progress.find((x) => x.id === r.nodeId);
    return p === undefined || r.status === leader
      ? r
      : { ...r, progress: { match: p.match, state: p.state, inflight: p.inflight } };
  });
}

export type PeerPoll =
  | { readonly ok: true; readonly status: MemberStatus }
  | { readonly ok: false; readonly error: string };

/** GET <clientURL>/status within PEER_TIMEOUT_MS, its body at most PEER_BODY_MAX bytes. */
export async function pollPeer(clientURL: string, timeoutMs = PEER_TIMEOUT_MS): Promise<PeerPoll> {
  if (clientURL === "") return { ok: false, error: "no client URL published yet" };
  try {
    const res = await fetch(new URL("/status", clientURL), {
      signal: AbortSignal.timeout(timeoutMs),
      headers: { accept: "application/json" },
    });
    const body = res.body;
    if (res.status !== 200 || body === null) {
      await body?.cancel().catch(() => {});
      return { ok: false, error: `HTTP ${res.status}` };
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
      size += chunk.length;
      if (size > PEER_BODY_MAX) return { ok: false, error: "status body too large" };
      chunks.push(chunk);
    }
    return { ok: true, status: memberStatusOf(JSON.parse(Buffer.concat(chunks).toString("utf8"))) };
  } catch (e) {
    if (e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError"))
      return { ok: false, error: `no answer within ${timeoutMs} ms` };
    const cause = e instanceof Error ? (e.cause as { code?: unknown } | undefined) : undefined;
    const code = typeof cause?.code === "string" ? cause.code : undefined;
    return { ok: false, error: code ?? (e instanceof Error ? e.message : String(e)) };
  }
}

// ---- samples ----------------------------------------------------------------------------------

export interface Sample {
  /** Unix time, seconds (uPlot's x axis). */
  readonly t: number;
  readonly proposalsPerS: number;
  readonly commitsPerS: number;
  readonly fsyncP50Ms: number | null;
  readonly fsyncP99Ms: number | null;
  readonly applyLag: number;
  readonly commitLag: number;
}

export interface Mark {
  readonly t: number;
  readonly kind: "leader" | "membership";
  readonly text: string;
}

/** A fixed-capacity ring, oldest first out. */
export class Ring<T> {
  private readonly items: T[] = [];
  private start = 0;
  constructor(readonly capacity: number) {}
  push(item: T): void {
    if (this.items.length < this.capacity) this.items.push(item);
    else {
      this.items[this.start] = item;
      this.start = (this.start + 1) % this.capacity;
    }
  }
  toArray(): T[] {
    return [...this.items.slice(this.start), ...this.items.slice(0, this.start)];
  }
  get size(): number {
    return this.items.length;
  }
}

// ---- the dashboard ----------------------------------------------------------------------------

export interface DashboardSource {
  readonly nodeId: string;
  /** This member's /status body (http-gateway.ts statusBody). */
  readonly status: () => Record<string, unknown>;
  /** The members as this member last applied them. */
  readonly members: () => readonly MemberView[];
  readonly metrics: () => Readonly<RsmMetrics>;
  /** The WAL's sync latencies (WalStorage.syncLatency). */
  readonly fsync: LatencyWindow;
  /** A serializable range of this member's store. */
  readonly range: (request: RangeRequest) => Promise<RangeResponse>;
  readonly subscribe: (listener: (batch: EventBatch) => void) => () => void;
}

export interface DashboardOptions {
  /** Where the page's files are; default dashboard/ at the package root. */
  readonly assetsDir?: string;
  readonly sseClientsMax?: number;
  /** Take samples and poll on this period. Default 1000 ms (tests may go faster). */
  readonly intervalMs?: number;
  readonly onError?: (what: string, error: unknown) => void;
}

interface Watcher {
  readonly res: ServerResponse;
  readonly prefix: Uint8Array;
  readonly end: Uint8Array;
  readonly all: boolean;
}

const ASSETS: Readonly<Record<string, { file: string; type: string; from: "assets" | "uplot" }>> = {
  "/dashboard": { file: "index.html", type: "text/html; charset=utf-8", from: "assets" },
  "/dashboard/": { file: "index.html", type: "text/html; charset=utf-8", from: "assets" },
  "/dashboard/dashboard.js": {
    file: "dashboard.js",
    type: "text/javascript; charset=utf-8",
    from: "assets",
  },
  "/dashboard/dashboard.css": {
    file: "dashboard.css",
    type: "text/css; charset=utf-8",
    from: "assets",
  },
  "/dashboard/uplot.js": {
    file: "uPlot.iife.min.js",
    type: "text/javascript; charset=utf-8",
    from: "uplot",
  },
  "/dashboard/uplot.css": { file: "uPlot.min.css", type: "text/css; charset=utf-8", from: "uplot" },
};

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const defaultAssetsDir = (): string =>
  fileURLToPath(new URL("../../../dashboard/", import.meta.url));
const uplotDir = (): string => {
  const require = createRequire(import.meta.url);
  return require.resolve("uplot/dist/uPlot.iife.min.js").replace(/uPlot\.iife\.min\.js$/, "");
};

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

class BadRequest extends Error {}

function prefixParam(url: URL): Uint8Array {
  const raw = url.searchParams.get("prefix") ?? "";
  if (!BASE64.test(raw) || raw.length % 4 === 1)
    throw new BadRequest("prefix must be base64 (standard or URL-safe)");
  const bytes = Buffer.from(raw, "base64");
  if (bytes.length > PREFIX_BYTES_MAX)
    throw new BadRequest(`prefix longer than ${PREFIX_BYTES_MAX} bytes`);
  return new Uint8Array(bytes);
}

const b64 = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("base64");

function keyJson(kv: KeyValue): Record<string, unknown> {
  return {
    key: b64(kv.key),
    createRevision: kv.createRevision,
    modRevision: kv.modRevision,
    version: kv.version,
    lease: kv.lease,
    valueSize: kv.value.length,
    value: b64(kv.value.subarray(0, VALUE_PREVIEW_BYTES)),
  };
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(
    Buffer.from(a.buffer, a.byteOffset, a.length),
    Buffer.from(b.buffer, b.byteOffset, b.length),
  );
}

export class Dashboard {
  private readonly samples = new Ring<Sample>(SAMPLES_MAX);
  private readonly marks = new Ring<Mark>(SAMPLES_MAX);
  private readonly viewers = new Set<ServerResponse>();
  private readonly watchers = new Set<Watcher>();
  private unsubscribe: (() => void) | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly polled = new Map<string, PeerPoll>();
  private polling = false;
  /** The last "tick" sent, for a viewer that connects between two (performance.now() time). */
  private lastTick: { readonly at: number; readonly data: unknown } | undefined;
  private closed = false;
  private last: { metrics: RsmMetrics; fsyncs: number; at: number; leader: string };
  private readonly assets = new Map<string, Buffer>();
  private readonly sseClientsMax: number;

  constructor(
    private readonly source: DashboardSource,
    private readonly options: DashboardOptions = {},
  ) {
    this.sseClientsMax = options.sseClientsMax ?? SSE_CLIENTS_MAX;
    this.last = {
      metrics: { ...source.metrics() },
      fsyncs: source.fsync.count,
      at: performance.now(),
      leader: "",
    };
    this.timer = setInterval(() => this.tick(), options.intervalMs ?? SAMPLE_INTERVAL_MS);
    this.timer.unref();
  }

  /** Open event streams (events and watches). */
  get streams(): number {
    return this.viewers.size + this.watchers.size;
  }

  /** Stops sampling and polling and ends every stream. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    for (const res of this.viewers) res.end();
    for (const w of this.watchers) w.res.end();
    this.viewers.clear();
    this.watchers.clear();
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** http-gateway.ts's extraRoutes: answers every /dashboard path, never throws. */
  readonly handle = (req: IncomingMessage, res: ServerResponse, path: string): boolean => {
    if (path !== "/dashboard" && !path.startsWith("/dashboard/")) return false;
    try {
      this.route(req, res, path);
    } catch (error) {
      this.fail(res, path, error);
    }
    return true;
  };

  private route(req: IncomingMessage, res: ServerResponse, path: string): void {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      this.json(res, 405, { error: `${path} takes GET` });
      return;
    }
    const url = new URL(req.url ?? "/", "http://dashboard.invalid");
    const asset = ASSETS[path];
    if (asset !== undefined) {
      this.serveAsset(req, res, asset).catch((e: unknown) => this.fail(res, path, e));
      return;
    }
    if (path === "/dashboard/events") {
      this.openEvents(req, res);
      return;
    }
    if (path === "/dashboard/watch") {
      this.openWatch(req, res, url);
      return;
    }
    if (path === "/dashboard/api/keys") {
      this.serveKeys(res, url).catch((e: unknown) => this.fail(res, path, e));
      return;
    }
    this.json(res, 404, { error: `no such dashboard endpoint: ${path}` });
  }

  private fail(res: ServerResponse, path: string, error: unknown): void {
    if (error instanceof BadRequest) {
      this.json(res, 400, { error: error.message });
      return;
    }
    if (error instanceof KvError) {
      this.json(res, 400, { error: error.message });
      return;
    }
    try {
      this.options.onError?.(path, error);
    } catch {
      // A logger's failure is not the client's.
    }
    if (!res.headersSent && !res.destroyed) this.json(res, 500, { error: String(error) });
    else res.destroy();
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    if (res.headersSent || res.destroyed) return;
    const text = `${JSON.stringify(body)}\n`;
    res.writeHead(status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(text),
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
    });
    res.end(text);
  }

  private async serveAsset(
    req: IncomingMessage,
    res: ServerResponse,
    asset: { file: string; type: string; from: "assets" | "uplot" },
  ): Promise<void> {
    const key = `${asset.from}/${asset.file}`;
    let body = this.assets.get(key);
    if (body === undefined) {
      const dir =
        asset.from === "uplot" ? uplotDir() : (this.options.assetsDir ?? defaultAssetsDir());
      try {
        body = await readFile(`${dir}${dir.endsWith("/") ? "" : "/"}${asset.file}`);
      } catch (e) {
        throw new Error(`dashboard asset ${asset.file} not found in ${dir}: ${String(e)}`);
      }
      this.assets.set(key, body);
    }
    if (res.headersSent || res.destroyed) return;
    res.writeHead(200, {
      "content-type": asset.type,
      "content-length": body.length,
      "cache-control": "no-cache",
      "x-content-type-options": "nosniff",
      ...(asset.file === "index.html" ? { "content-security-policy": CSP } : {}),
    });
    res.end(req.method === "HEAD" ? undefined : body);
  }

  private async serveKeys(res: ServerResponse, url: URL): Promise<void> {
    const prefix = prefixParam(url);
    const limitText = url.searchParams.get("limit");
    const limit = limitText === null ? KEYS_LIMIT_DEFAULT : Number(limitText);
    if (!Number.isSafeInteger(limit) || limit <= 0 || limit > KEYS_LIMIT_MAX)
      throw new BadRequest(`limit must be an integer from 1 to ${KEYS_LIMIT_MAX}`);
    // Every key: etcd's "\0" to "\0" (an empty key is refused).
    const key = prefix.length === 0 ? Uint8Array.of(0) : prefix;
    let r: RangeResponse;
    try {
      r = await this.source.range({ key, rangeEnd: prefixEnd(prefix), limit });
    } catch (e) {
      if (e instanceof KvError) throw e;
      this.json(res, 503, { error: `this member cannot read its store: ${String(e)}` });
      return;
    }
    this.json(res, 200, {
      revision: r.header.revision,
      count: r.count,
      more: r.more,
      keys: r.kvs.map(keyJson),
    });
  }

  /** Starts an event stream, or refuses it (503) when SSE_CLIENTS_MAX are open. */
  private startStream(req: IncomingMessage, res: ServerResponse): boolean {
    if (this.closed || this.streams >= this.sseClientsMax) {
      this.json(res, 503, { error: `too many dashboard streams (at most ${this.sseClientsMax})` });
      return false;
    }
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      "x-accel-buffering": "no",
    });
    if (req.method === "HEAD") {
      res.end();
      return false;
    }
    res.socket?.setNoDelay(true);
    res.write("retry: 2000\n\n");
    return true;
  }

  /** Writes one event; drops the stream if its client does not keep up. */
  private send(res: ServerResponse, event: string, data: unknown): void {
    if (res.destroyed || res.writableEnded) return;
    if (res.writableLength > SSE_BUFFER_MAX) {
      res.destroy();
      return;
    }
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private openEvents(req: IncomingMessage, res: ServerResponse): void {
    if (!this.startStream(req, res)) return;
    this.viewers.add(res);
    res.once("close", () => this.viewers.delete(res));
    res.on("error", () => res.destroy());
    this.send(res, "history", {
      self: this.source.nodeId,
      samples: this.samples.toArray(),
      marks: this.marks.toArray(),
      intervalMs: this.options.intervalMs ?? SAMPLE_INTERVAL_MS,
    });
    // A viewer joining others gets the latest tick at once; a first viewer (no tick for two
    // periods) polls now rather than wait for the next period. Either way the peers are polled
    // at most once a period by the timer, plus once per two periods for a first viewer.
    const interval = this.options.intervalMs ?? SAMPLE_INTERVAL_MS;
    if (this.lastTick !== undefined && performance.now() - this.lastTick.at < 2 * interval)
      this.send(res, "tick", this.lastTick.data);
    else this.poll();
  }

  private openWatch(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const prefix = prefixParam(url);
    if (!this.startStream(req, res)) return;
    const watcher: Watcher = { res, prefix, end: prefixEnd(prefix), all: prefix.length === 0 };
    this.watchers.add(watcher);
    res.on("error", () => res.destroy());
    res.once("close", () => {
      this.watchers.delete(watcher);
      if (this.watchers.size === 0) {
        this.unsubscribe?.();
        this.unsubscribe = undefined;
      }
    });
    try {
      this.unsubscribe ??= this.source.subscribe((batch) => this.onEvents(batch));
    } catch (e) {
      // The store's listener limit: tell the page, end this stream.
      this.send(res, "failed", { error: e instanceof Error ? e.message : String(e) });
      res.end();
      return;
    }
    const revision = memberStatusOf(this.source.status()).revision;
    this.send(res, "ready", { prefix: b64(prefix), revision });
  }

  /** The store's listener: called in the apply path, so cheap and never throwing. */
  private onEvents(batch: EventBatch): void {
    try {
      for (const w of this.watchers) {
        for (const e of batch.events) {
          const key = e.kv.key;
          const inside =
            w.all ||
            (compareBytes(key, w.prefix) >= 0 &&
              (w.end.length === 1 && w.end[0] === 0 ? true : compareBytes(key, w.end) < 0));
          if (!inside) continue;
          this.send(w.res, "event", { type: e.type, revision: batch.revision, ...keyJson(e.kv) });
        }
      }
    } catch (error) {
      try {
        this.options.onError?.("watch", error);
      } catch {
        // never into the apply path
      }
    }
  }

  private tick(): void {
    if (this.closed) return;
    try {
      this.sample();
    } catch (error) {
      this.options.onError?.("sample", error);
    }
    if (this.viewers.size > 0) this.poll();
  }

  private sample(): void {
    const now = performance.now();
    const m = this.source.metrics();
    const seconds = Math.max((now - this.last.at) / 1000, 0.001);
    const syncs = this.source.fsync.since(this.last.fsyncs);
    const status = memberStatusOf(this.source.status());
    const t = Math.round(Date.now() / 100) / 10;
    const sample: Sample = {
      t,
      proposalsPerS: Math.round((m.proposals - this.last.metrics.proposals) / seconds),
      commitsPerS: Math.round((m.commits - this.last.metrics.commits) / seconds),
      fsyncP50Ms: round(quantile(syncs, 0.5)),
      fsyncP99Ms: round(quantile(syncs, 0.99)),
      applyLag: status.applyLag,
      commitLag: status.commitLag,
    };
    const marks: Mark[] = [];
    if (m.leaderChanges !== this.last.metrics.leaderChanges || status.leader !== this.last.leader) {
      const who = status.leaderName !== "" ? status.leaderName : "none";
      marks.push({ t, kind: "leader", text: `leader ${who} (term ${status.term})` });
    }
    if (m.membershipChanges !== this.last.metrics.membershipChanges)
      marks.push({ t, kind: "membership", text: "membership change" });
    for (const mark of marks) this.marks.push(mark);
    this.samples.push(sample);
    this.last = {
      metrics: { ...m },
      fsyncs: this.source.fsync.count,
      at: now,
      leader: status.leader,
    };
  }

  /** One poll of every peer, shared by every viewer; none while one is under way. */
  private poll(): void {
    if (this.polling || this.closed) return;
    this.polling = true;
    const members = this.source.members();
    const peers = members.filter((m) => m.nodeId !== this.source.nodeId);
    Promise.all(peers.map(async (m) => [m.nodeId, await pollPeer(m.clientURLs[0] ?? "")] as const))
      .then((results) => {
        this.polled.clear();
        for (const [id, poll] of results) this.polled.set(id, poll);
        this.broadcast(members);
      })
      .catch((error: unknown) => this.options.onError?.("poll", error))
      .finally(() => {
        this.polling = false;
      });
  }

  /** The cluster now, as this member sees it (also what a "tick" event carries). */
  view(members = this.source.members()): { rows: MemberRow[]; verdict: ClusterVerdict } {
    const self = memberStatusOf(this.source.status());
    const rows = memberRows(this.source.nodeId, members, self, this.polled);
    return { rows, verdict: clusterVerdict(rows) };
  }

  private broadcast(members: readonly MemberView[]): void {
    if (this.viewers.size === 0 || this.closed) return;
    const { rows, verdict } = this.view(members);
    const all = this.samples.toArray();
    const marks = this.marks.toArray();
    const data = {
      self: this.source.nodeId,
      sample: all[all.length - 1],
      marks: marks.slice(-20),
      verdict,
      members: rows,
    };
    this.lastTick = { at: performance.now(), data };
    for (const res of this.viewers) this.send(res, "tick", data);
  }
}

// ---- wiring into a member ---------------------------------------------------------------------

export interface MemberDashboardParts {
  readonly nodeId: string;
  readonly runtime: Pick<RsmNode, "status" | "metrics" | "readWith">;
  readonly kv: KvStateMachine;
  readonly storage: Pick<WalStorage, "stats" | "syncLatency">;
  readonly health: () => HealthInput;
  readonly members: () => readonly MemberView[];
  /** The member's own extra /status fields (ids, revision). */
  readonly statusExtra: () => Readonly<Record<string, unknown>>;
  readonly onError?: (what: string, error: unknown) => void;
}

/**
 * A member's dashboard, and the /status extra fields (the member's own plus statusDetails) for
 * its HTTP gateway, so the dashboard and /status show the same.
 */
export function memberDashboard(p: MemberDashboardParts): {
  dashboard: Dashboard;
  statusExtra: () => Record<string, unknown>;
} {
  const nameOf = (id: string): string => p.members().find((v) => v.nodeId === id)?.name || id;
  const statusExtra = (): Record<string, unknown> => ({
    ...p.statusExtra(),
    ...statusDetails({
      nodeId: p.nodeId,
      status: p.runtime.status(),
      wal: p.storage.stats(),
      fsync: p.storage.syncLatency,
      nameOf,
      alarms: p.kv.store.alarms.get(),
    }),
  });
  const dashboard = new Dashboard(
    {
      nodeId: p.nodeId,
      status: () => statusBody({ health: p.health, statusExtra }),
      members: p.members,
      metrics: () => p.runtime.metrics,
      fsync: p.storage.syncLatency,
      range: (request) => p.runtime.readWith("serializable", () => p.kv.store.range(request)),
      subscribe: (listener) => p.kv.store.subscribe(listener),
    },
    p.onError !== undefined ? { onError: p.onError } : {},
  );
  return { dashboard, statusExtra };
}
