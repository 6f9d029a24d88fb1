// The dashboard's server side (src/server/dashboard.ts) without a cluster: the verdict from the
// members' statuses, the checking of a peer's /status, the WAL latency window, and the HTTP
// endpoints against a fake member: keys (base64, previews, bad input refused), the event and
// watch streams (history then ticks; only the prefix's events), the bound on open streams, and
// a client leaving mid-stream. The whole page in a browser: test/browser/dashboard.test.ts.
import assert from "node:assert/strict";
import { createServer, get, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import type { EventBatch, KeyValue, RangeRequest, RangeResponse } from "../../src/kv/index.js";
import { type RsmMetrics, zeroMetrics } from "../../src/rsm/index.js";
import {
  clusterVerdict,
  Dashboard,
  type DashboardSource,
  type MemberRow,
  type MemberStatus,
  memberStatusOf,
} from "../../src/server/dashboard.js";
import type { MemberView } from "../../src/server/member-records.js";
import { LatencyWindow, quantile } from "../../src/storage/index.js";
import { freePort } from "../cluster/ports.js";

const BOUND_MS = 10_000;

// ---- the verdict ------------------------------------------------------------------------------

const healthyStatus = (name: string, role: string, extra: Partial<MemberStatus> = {}) =>
  memberStatusOf({
    name,
    nodeId: name,
    role,
    term: 3,
    leader: "n1",
    commit: 10,
    applied: 10,
    lastIndex: 10,
    health: true,
    verdict: "healthy",
    reasons: [],
    ...extra,
  });

const row = (name: string, status: MemberStatus | undefined, extra: Partial<MemberRow> = {}) => ({
  name,
  nodeId: name,
  clientURL: "",
  self: name === "n1",
  reachable: status !== undefined,
  isLearner: false,
  ...(status !== undefined ? { status } : { error: "ECONNREFUSED" }),
  ...extra,
});

const replicate = { match: 10, state: "Replicate", inflight: 0 };

describe("clusterVerdict", () => {
  test("every member reachable, healthy and replicating: healthy", () => {
    const v = clusterVerdict([
      row("n1", healthyStatus("n1", "Leader")),
      row("n2", healthyStatus("n2", "Follower"), { progress: replicate }),
      row("n3", healthyStatus("n3", "Follower"), { progress: replicate }),
    ]);
    assert.deepEqual(v, { state: "healthy", words: "healthy", reasons: [], unreachable: [] });
  });

  test("a member unreachable while this one has a quorum: quorum, slow, naming it", () => {
    const v = clusterVerdict([
      row("n1", healthyStatus("n1", "Leader")),
      row("n2", healthyStatus("n2", "Follower"), { progress: replicate }),
      row("n3", undefined, { progress: { match: 4, state: "Probe", inflight: 0 } }),
    ]);
    assert.equal(v.state, "slow");
    assert.equal(v.words, "quorum, slow");
    assert.deepEqual(v.unreachable, ["n3"]);
    assert.ok(v.reasons.includes("n3 unreachable (ECONNREFUSED)"), v.reasons.join("; "));
    assert.ok(v.reasons.some((r) => r.startsWith("follower n3 in Probe state")));
  });

  test("this member sees no quorum: no quorum, stopped, with the unreachable members", () => {
    const self = healthyStatus("n1", "Follower", {
      health: false,
      leader: "",
      reasons: ["no leader"],
    } as Partial<MemberStatus>);
    const v = clusterVerdict([row("n1", self), row("n2", undefined), row("n3", undefined)]);
    assert.equal(v.state, "down");
    assert.equal(v.words, "no quorum, stopped");
    assert.deepEqual(v.reasons, ["no leader", "unreachable: n2, n3"]);
  });

  test("lag, fsync latency and a lagging follower are reasons for slow", () => {
    const leader = healthyStatus("n1", "Leader", { lastIndex: 5000, commit: 5000 });
    const v = clusterVerdict([
      row("n1", leader),
      row("n2", healthyStatus("n2", "Follower", { reasons: ["apply lag 2000 entries (> 1000)"] }), {
        progress: { match: 5000, state: "Replicate", inflight: 3 },
      }),
      row("n3", healthyStatus("n3", "Follower", { fsyncP99Ms: 750 }), {
        progress: { match: 100, state: "Replicate", inflight: 0 },
      }),
    ]);
    assert.equal(v.state, "slow");
    assert.deepEqual(v.reasons, [
      "n2: apply lag 2000 entries (> 1000)",
      "n3: fsync p99 750.0 ms (> 500 ms)",
      "follower n3 lagging: 4900 entries behind the leader",
    ]);
  });

  test("a CORRUPT alarm anywhere is an alarm", () => {
    const v = clusterVerdict([
      row("n1", healthyStatus("n1", "Leader")),
      row(
        "n2",
        healthyStatus("n2", "Follower", {
          alarms: [{ alarm: "CORRUPT", reason: "divergence" }],
        }),
      ),
    ]);
    assert.equal(v.state, "alarm");
    assert.deepEqual(v.reasons, ["n2: CORRUPT alarm: divergence"]);
  });
});

test("memberStatusOf keeps only well-typed, bounded fields of a peer's answer", () => {
  const s = memberStatusOf({
    name: "x".repeat(1000),
    term: "7",
    commit: Number.NaN,
    reasons: Array.from({ length: 100 }, () => 1),
    progress: [null, { id: "n2", match: 3, state: "Replicate", inflight: 2 }],
    alarms: "CORRUPT",
    health: "true",
  });
  assert.equal(s.name.length, 128);
  assert.equal(s.term, 0);
  assert.equal(s.commit, 0);
  assert.equal(s.health, false);
  assert.equal(s.reasons.length, 16);
  assert.deepEqual(s.progress, [
    { id: "", match: 0, state: "", inflight: 0 },
    { id: "n2", match: 3, state: "Replicate", inflight: 2 },
  ]);
  assert.deepEqual(s.alarms, []);
  assert.equal(memberStatusOf(null).role, "");
});

test("LatencyWindow keeps the latest samples; since() takes what came after a count", () => {
  const w = new LatencyWindow(4);
  for (let i = 1; i <= 6; i++) w.record(i, i * 1000);
  assert.equal(w.count, 6);
  assert.deepEqual(w.since(0), [3, 4, 5, 6]);
  assert.deepEqual(w.since(5), [6]);
  assert.deepEqual(w.since(6), []);
  assert.deepEqual(w.endedSince(5000), [5, 6]);
  assert.equal(quantile([5, 1, 3, 2, 4], 0.5), 3);
  assert.equal(quantile([5, 1, 3, 2, 4], 0.99), 5);
  assert.equal(quantile([], 0.5), undefined);
  assert.throws(() => new LatencyWindow(0), RangeError);
});

// ---- the HTTP side, against a fake member ------------------------------------------------------

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const kv = (key: Uint8Array, value: Uint8Array, rev: number): KeyValue => ({
  key,
  value,
  createRevision: rev,
  modRevision: rev,
  version: 1,
  lease: 0,
});

interface Fake {
  readonly dashboard: Dashboard;
  readonly port: number;
  readonly ranges: RangeRequest[];
  emit(batch: EventBatch): void;
  listeners(): number;
}

async function startFake(t: { after(fn: () => unknown): void }, sseClientsMax = 4): Promise<Fake> {
  const deadPort = await freePort(); // nobody listens: the peer n2 is unreachable
  let listeners: ((b: EventBatch) => void)[] = [];
  const ranges: RangeRequest[] = [];
  const metrics: RsmMetrics = zeroMetrics();
  const source: DashboardSource = {
    nodeId: "n1",
    status: () => ({
      name: "n1",
      nodeId: "n1",
      role: "Leader",
      term: 2,
      leader: "n1",
      leaderName: "n1",
      commit: 5,
      applied: 5,
      lastIndex: 5,
      health: true,
      verdict: "healthy",
      reasons: [],
      revision: 7,
      progress: [{ id: "n2", match: 1, state: "Probe", inflight: 0 }],
    }),
    members: () =>
      [
        { nodeId: "n1", id: "1", name: "n1", peerURLs: [], clientURLs: [], isLearner: false },
        {
          nodeId: "n2",
          id: "2",
          name: "n2",
          peerURLs: [],
          clientURLs: [`http://127.0.0.1:${deadPort}`],
          isLearner: false,
        },
      ] as unknown as MemberView[],
    metrics: () => {
      metrics.proposals += 3;
      return metrics;
    },
    fsync: new LatencyWindow(8),
    range: async (request) => {
      ranges.push(request);
      return {
        header: { revision: 7 },
        kvs: [
          kv(bytes("a/<b>"), new Uint8Array(1000).fill(0x41), 3),
          kv(Uint8Array.of(0x61, 0x2f, 0xff), Uint8Array.of(0), 4),
        ],
        more: false,
        count: 2,
      } satisfies RangeResponse;
    },
    subscribe: (l) => {
      listeners.push(l);
      return () => {
        listeners = listeners.filter((x) => x !== l);
      };
    },
  };
  const dashboard = new Dashboard(source, { intervalMs: 50, sseClientsMax });
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?", 1)[0] ?? "/";
    if (!dashboard.handle(req, res, path)) {
      res.statusCode = 418;
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(async () => {
    dashboard.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return {
    dashboard,
    port: (server.address() as AddressInfo).port,
    ranges,
    emit: (batch) => {
      for (const l of listeners) l(batch);
    },
    listeners: () => listeners.length,
  };
}

async function getJson(
  port: number,
  path: string,
  method = "GET",
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method });
  const text = await res.text();
  return { status: res.status, body: text === "" ? {} : JSON.parse(text), headers: res.headers };
}

/** An open event stream: next(event) resolves with the data of the next such event. */
interface Stream {
  readonly status: number;
  /** The next `event` (for which `where` holds), dropping what came before it. */
  next(
    event: string,
    where?: (data: Record<string, unknown>) => boolean,
  ): Promise<Record<string, unknown>>;
  close(): void;
}

function openStream(port: number, path: string): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = get({ host: "127.0.0.1", port, path }, (res: IncomingMessage) => {
      let buffer = "";
      const queue: { event: string; data: Record<string, unknown> }[] = [];
      let waiter: (() => void) | undefined;
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        buffer += chunk;
        for (;;) {
          const end = buffer.indexOf("\n\n");
          if (end < 0) break;
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event !== undefined && data !== undefined)
            queue.push({ event, data: JSON.parse(data) });
        }
        waiter?.();
      });
      res.on("error", () => {});
      resolve({
        status: res.statusCode ?? 0,
        next: async (event, where = () => true) => {
          const deadline = Date.now() + BOUND_MS;
          for (;;) {
            const i = queue.findIndex((e) => e.event === event && where(e.data));
            if (i >= 0)
              return (queue.splice(0, i + 1).pop() as { data: Record<string, unknown> }).data;
            if (Date.now() > deadline) throw new Error(`no "${event}" event within ${BOUND_MS} ms`);
            await new Promise<void>((r) => {
              waiter = r;
              setTimeout(r, 100).unref();
            });
          }
        },
        close: () => req.destroy(),
      });
    });
    req.on("error", reject);
  });
}

/** Waits (bounded) until the dashboard counts `n` open streams: the server saw the close. */
async function streamsBecome(d: Dashboard, n: number): Promise<void> {
  const deadline = Date.now() + BOUND_MS;
  while (d.streams !== n) {
    if (Date.now() > deadline) throw new Error(`streams stayed ${d.streams}, not ${n}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const b64 = (s: string): string => Buffer.from(s).toString("base64");
const b64url = (s: string | Uint8Array): string =>
  Buffer.from(typeof s === "string" ? bytes(s) : s).toString("base64url");

describe("the dashboard's endpoints", () => {
  test("keys: base64 keys and value previews; the prefix's range; bad input refused", async (t) => {
    const f = await startFake(t);
    const r = await getJson(f.port, `/dashboard/api/keys?prefix=${b64url("a/")}&limit=10`);
    assert.equal(r.status, 200);
    assert.equal(r.body.revision, 7);
    const keys = r.body.keys as Record<string, unknown>[];
    assert.equal(keys[0]?.key, Buffer.from("a/<b>").toString("base64"));
    assert.equal(keys[0]?.valueSize, 1000);
    assert.equal(Buffer.from(keys[0]?.value as string, "base64").length, 256);
    assert.equal(keys[1]?.key, Buffer.from([0x61, 0x2f, 0xff]).toString("base64"));
    assert.deepEqual(f.ranges[0], { key: bytes("a/"), rangeEnd: bytes("a0"), limit: 10 });
    // The empty prefix is every key: etcd's "\0" to "\0".
    assert.equal((await getJson(f.port, "/dashboard/api/keys?prefix=")).status, 200);
    assert.deepEqual(f.ranges[1], {
      key: Uint8Array.of(0),
      rangeEnd: Uint8Array.of(0),
      limit: 100,
    });
    for (const bad of ["prefix=%3Cscript%3E", "prefix=YQ&limit=0", "prefix=YQ&limit=x"]) {
      const b = await getJson(f.port, `/dashboard/api/keys?${bad}`);
      assert.equal(b.status, 400, bad);
      assert.equal(typeof b.body.error, "string");
    }
    assert.equal((await getJson(f.port, "/dashboard/api/keys", "POST")).status, 405);
    assert.equal((await getJson(f.port, "/dashboard/nope")).status, 404);
    assert.equal((await fetch(`http://127.0.0.1:${f.port}/elsewhere`)).status, 418);
  });

  test("the page, with a script-only-from-self CSP, and uPlot from node_modules", async (t) => {
    const f = await startFake(t);
    const page = await fetch(`http://127.0.0.1:${f.port}/dashboard`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-security-policy") ?? "", /script-src 'self'/);
    assert.match(await page.text(), /<script src="\/dashboard\/dashboard.js" defer>/);
    const uplot = await fetch(`http://127.0.0.1:${f.port}/dashboard/uplot.js`);
    assert.equal(uplot.status, 200);
    assert.match(await uplot.text(), /uPlot/);
  });

  test("events: history on connect, then ticks with the cluster and its verdict", async (t) => {
    const f = await startFake(t);
    const s = await openStream(f.port, "/dashboard/events");
    t.after(() => s.close());
    assert.equal(s.status, 200);
    const history = await s.next("history");
    assert.ok(Array.isArray(history.samples));
    const tick = await s.next("tick");
    const members = tick.members as MemberRow[];
    assert.deepEqual(
      members.map((m) => [m.name, m.reachable]),
      [
        ["n1", true],
        ["n2", false],
      ],
    );
    assert.deepEqual(members[1]?.progress, { match: 1, state: "Probe", inflight: 0 });
    const verdict = tick.verdict as { state: string; unreachable: string[] };
    assert.equal(verdict.state, "slow");
    assert.deepEqual(verdict.unreachable, ["n2"]);
    // Samples accumulate: a second viewer's history has them.
    await s.next("tick");
    const later = await openStream(f.port, "/dashboard/events");
    t.after(() => later.close());
    const samples = (await later.next("history")).samples as { proposalsPerS: number }[];
    assert.ok(samples.length >= 1);
    assert.ok(samples.every((x) => x.proposalsPerS > 0));
  });

  test("watch: only the prefix's events; one shared subscription, dropped with the last watcher", async (t) => {
    const f = await startFake(t);
    const w = await openStream(f.port, `/dashboard/watch?prefix=${b64url("a/")}`);
    assert.deepEqual(await w.next("ready"), {
      prefix: Buffer.from("a/").toString("base64"),
      revision: 7,
    });
    const everything = await openStream(f.port, "/dashboard/watch?prefix=");
    await everything.next("ready");
    assert.equal(f.listeners(), 1);
    f.emit({
      revision: 8,
      events: [
        { type: "PUT", kv: kv(bytes("b/1"), bytes("no"), 8) },
        { type: "PUT", kv: kv(Uint8Array.of(0x61, 0x2f, 0xfe), bytes("yes"), 8) },
      ],
    });
    const got = await w.next("event");
    assert.equal(got.key, Buffer.from([0x61, 0x2f, 0xfe]).toString("base64"));
    assert.equal(got.revision, 8);
    assert.equal((await everything.next("event")).key, Buffer.from("b/1").toString("base64"));
    assert.equal((await everything.next("event")).key, got.key);
    // A client leaving mid-stream: later events still reach the others, nothing throws.
    w.close();
    await streamsBecome(f.dashboard, 1);
    f.emit({
      revision: 9,
      events: [{ type: "DELETE", kv: kv(bytes("a/x"), new Uint8Array(), 9) }],
    });
    assert.equal((await everything.next("event")).type, "DELETE");
    everything.close();
    await streamsBecome(f.dashboard, 0);
    assert.equal(f.listeners(), 0);
  });

  test("a watcher that does not read is dropped once its buffer is full; the others go on", async (t) => {
    const f = await startFake(t);
    const reader = await openStream(f.port, `/dashboard/watch?prefix=${b64url("s/")}`);
    t.after(() => reader.close());
    await reader.next("ready");
    // A client that sends its request and never reads a byte of the answer.
    const { connect } = await import("node:net");
    const stalled = connect(f.port, "127.0.0.1");
    t.after(() => stalled.destroy());
    stalled.on("error", () => {});
    stalled.write(`GET /dashboard/watch?prefix=${b64url("s/")} HTTP/1.1\r\nhost: x\r\n\r\n`);
    stalled.pause();
    await streamsBecome(f.dashboard, 2);
    const value = new Uint8Array(200).fill(0x7a);
    const events = Array.from({ length: 500 }, (_, i) => ({
      type: "PUT" as const,
      kv: kv(bytes(`s/${i}`), value, 10),
    }));
    // Bounded: far more than the 1 MiB buffer plus the kernel's socket buffers.
    for (let i = 0; i < 400 && f.dashboard.streams === 2; i++) {
      f.emit({ revision: 10 + i, events });
      // The reading client keeps up: it has the whole batch before the next is sent.
      await reader.next("event", (e) => e.revision === 10 + i && e.key === b64(`s/499`));
    }
    assert.equal(f.dashboard.streams, 1, "the stalled watcher was dropped");
    f.emit({ revision: 1000, events: [{ type: "PUT", kv: kv(bytes("s/last"), value, 1000) }] });
    assert.equal((await reader.next("event", (e) => e.revision === 1000)).key, b64("s/last"));
  });

  test("at most sseClientsMax open streams; a closed one frees its place", async (t) => {
    const f = await startFake(t, 3);
    const open = [
      await openStream(f.port, "/dashboard/events"),
      await openStream(f.port, "/dashboard/events"),
      await openStream(f.port, `/dashboard/watch?prefix=${b64url("a")}`),
    ];
    t.after(() => {
      for (const s of open) s.close();
    });
    assert.deepEqual(
      open.map((s) => s.status),
      [200, 200, 200],
    );
    const refused = await getJson(f.port, "/dashboard/events");
    assert.equal(refused.status, 503);
    assert.match(String(refused.body.error), /at most 3/);
    open[0]?.close();
    await streamsBecome(f.dashboard, 2);
    const again = await openStream(f.port, "/dashboard/events");
    open.push(again);
    assert.equal(again.status, 200);
    await again.next("history");
    // close() ends every stream.
    f.dashboard.close();
    assert.equal(f.dashboard.streams, 0);
    assert.equal((await getJson(f.port, "/dashboard/events")).status, 503);
  });
});
