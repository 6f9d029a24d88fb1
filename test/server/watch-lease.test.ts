// The Watch and Lease services over a real grpc.Server on 127.0.0.1, backed by a KvStateMachine
// applied in process (watch-lease-harness.ts).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { decodeQuery, encodeCommand } from "../../src/kv/index.js";
import { b, rejectsWithStatus, s } from "./kv-harness.js";
import {
  startServer,
  type TestServer,
  WAIT_MS,
  type WatchResponse,
  type WatchTestStream,
  withTimeout,
} from "./watch-lease-harness.js";

const kinds = (r: WatchResponse): string[] =>
  r.events.map(
    (e) => `${e.type.toUpperCase()} ${s(e.kv.key)}=${s(e.kv.value)}@${e.kv.mod_revision}`,
  );

async function put(
  server: TestServer,
  key: string,
  value: string,
  lease?: string,
): Promise<number> {
  const r = (await server.kv.call("Put", {
    key: b(key),
    value: b(value),
    ...(lease === undefined ? {} : { lease }),
  })) as { header: { revision: string } };
  return Number(r.header.revision);
}

async function del(server: TestServer, key: string, rangeEnd?: string): Promise<number> {
  const r = (await server.kv.call("DeleteRange", {
    key: b(key),
    ...(rangeEnd === undefined ? {} : { range_end: b(rangeEnd) }),
  })) as { header: { revision: string } };
  return Number(r.header.revision);
}

/** A put applied synchronously (the in-process backend applies at the call). */
function putNow(server: TestServer, key: string, value: string): Promise<unknown> {
  return server.backend.propose(
    encodeCommand({ type: "Put", request: { key: b(key), value: b(value) } }),
  );
}

/** Creates a watch and returns its created response. */
async function created(stream: WatchTestStream, request: object): Promise<WatchResponse> {
  stream.create(request);
  const r = await stream.next();
  assert.equal(r.created, true, JSON.stringify(r));
  assert.equal(r.canceled, false, r.cancel_reason);
  return r;
}

/** Everything up to the next progress response (which follows every event already due). */
async function drain(stream: WatchTestStream): Promise<WatchResponse[]> {
  stream.progress();
  const out: WatchResponse[] = [];
  for (let i = 0; i < 10_000; i++) {
    const r = await stream.next();
    if (r.watch_id === "-1" && !r.created && r.events.length === 0) return out;
    out.push(r);
  }
  throw new Error("no progress response");
}

describe("Watch service", () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ progressNotifyIntervalMs: 50, replayChunkEvents: 2 });
  });
  after(async () => {
    await server.close();
  });

  test("created first, then PUT and DELETE events batched per revision", async () => {
    const stream = server.watchStream();
    const c = await created(stream, { key: b("w1/"), range_end: b("w10") });
    assert.equal(c.watch_id, "0");
    assert.equal(c.header.cluster_id, "14841639068965178418");
    const rev1 = await put(server, "w1/a", "1");
    const r1 = await stream.next();
    assert.equal(r1.watch_id, "0");
    assert.equal(r1.header.revision, String(rev1));
    assert.deepEqual(kinds(r1), [`PUT w1/a=1@${rev1}`]);
    assert.equal(r1.events[0]!.kv.version, "1");
    assert.equal(r1.events[0]!.prev_kv, null);
    await put(server, "other", "x"); // outside the range: no response
    await put(server, "w1/b", "2");
    const rev3 = await del(server, "w1/", "w10");
    const r2 = await stream.next();
    assert.deepEqual(kinds(r2), [`PUT w1/b=2@${rev3 - 1}`]);
    const r3 = await stream.next();
    assert.deepEqual(kinds(r3), [`DELETE w1/a=@${rev3}`, `DELETE w1/b=@${rev3}`]);
    assert.deepEqual(await drain(stream), []);
  });

  test("a second watch on the stream gets the next ID; prev_kv only when asked", async () => {
    const stream = server.watchStream();
    await created(stream, { key: b("w2") });
    const c = await created(stream, { key: b("w2"), prev_kv: true });
    assert.equal(c.watch_id, "1");
    await put(server, "w2", "old");
    const rev = await put(server, "w2", "new");
    const got = [
      await stream.next(),
      await stream.next(),
      await stream.next(),
      await stream.next(),
    ];
    const plain = got.filter((r) => r.watch_id === "0");
    const withPrev = got.filter((r) => r.watch_id === "1");
    assert.equal(plain.length, 2);
    assert.equal(withPrev.length, 2);
    assert.equal(plain[1]!.events[0]!.prev_kv, null);
    const last = withPrev[1]!.events[0]!;
    assert.equal(last.kv.mod_revision, String(rev));
    assert.equal(s(last.prev_kv!.value), "old");
  });

  test("filters: NOPUT sees only deletes, NODELETE only puts", async () => {
    const stream = server.watchStream();
    await created(stream, { key: b("w3"), filters: [0] });
    await created(stream, { key: b("w3"), filters: [1] });
    await put(server, "w3", "v");
    await del(server, "w3");
    const got = await drain(stream);
    assert.deepEqual(
      got.map(
        (r) =>
          `${r.watch_id}:${kinds(r)
            .map((k) => k.split(" ")[0])
            .join()}`,
      ),
      ["1:PUT", "0:DELETE"],
    );
  });

  test("cancel answers canceled and stops the events; an unknown ID gets nothing", async () => {
    const stream = server.watchStream();
    const c = await created(stream, { key: b("w4") });
    stream.cancel(c.watch_id);
    const r = await stream.next();
    assert.equal(r.canceled, true);
    assert.equal(r.watch_id, c.watch_id);
    stream.cancel(99);
    await put(server, "w4", "v");
    assert.deepEqual(await drain(stream), []);
  });

  test("a progress request answers the current revision, no events, watch_id -1", async () => {
    const stream = server.watchStream();
    await created(stream, { key: b("w5") });
    const rev = await put(server, "unwatched", "v");
    stream.progress();
    const r = await stream.next();
    assert.equal(r.watch_id, "-1");
    assert.equal(r.header.revision, String(rev));
    assert.deepEqual(r.events, []);
  });

  test("progress_notify sends periodic empty responses", async () => {
    const stream = server.watchStream();
    const c = await created(stream, { key: b("w6"), progress_notify: true });
    const r = await stream.next();
    assert.equal(r.watch_id, c.watch_id);
    assert.equal(r.created, false);
    assert.deepEqual(r.events, []);
    assert.equal(r.header.revision, String(server.backend.revision()));
  });

  test("start_revision in the past replays history, then live events: no gap, no duplicate", async () => {
    const first = await put(server, "w7/0", "0");
    for (let i = 1; i < 6; i++) await put(server, `w7/${i}`, String(i));
    // Writes land while the replay runs (between its chunked queries): they must come once.
    let live = 0;
    const writes: Promise<unknown>[] = [];
    server.backend.onRead = (query) => {
      if (decodeQuery(query).type !== "Events" || live >= 4) return;
      live++;
      // Applied synchronously, before this query is answered: the replay and the live
      // subscription both see it, and it must still arrive once.
      writes.push(putNow(server, `w7/live${live}`, "x"));
    };
    const stream = server.watchStream();
    try {
      await created(stream, { key: b("w7/"), range_end: b("w70"), start_revision: String(first) });
      const revisions: number[] = [];
      const deadline = Date.now() + WAIT_MS;
      // Bounded: 6 replayed + 4 live events are expected.
      while (revisions.length < 10 && Date.now() < deadline) {
        const r = await stream.next();
        for (const e of r.events) revisions.push(Number(e.kv.mod_revision));
        assert.equal(r.header.revision, r.events[0]!.kv.mod_revision);
      }
      await Promise.all(writes);
      assert.equal(live, 4);
      const expected = Array.from({ length: 10 }, (_, i) => first + i);
      assert.deepEqual(revisions, expected);
      assert.deepEqual(await drain(stream), []);
    } finally {
      server.backend.onRead = undefined;
    }
  });

  test("a compacted start revision: created, then compact_revision and canceled", async () => {
    const start = await put(server, "w8", "1");
    await put(server, "w8", "2");
    const compactAt = await put(server, "w8", "3");
    await server.kv.call("Compact", { revision: String(compactAt) });
    const stream = server.watchStream();
    const c = await created(stream, { key: b("w8"), start_revision: String(start) });
    const r = await stream.next();
    assert.equal(r.watch_id, c.watch_id);
    assert.equal(r.canceled, true);
    assert.equal(r.compact_revision, String(compactAt));
    assert.deepEqual(r.events, []);
  });

  test("bad create requests get created+canceled with a reason; the stream lives on", async () => {
    const stream = server.watchStream();
    stream.create({ key: b("z"), range_end: b("a") });
    const r1 = await stream.next();
    assert.equal(r1.created, true);
    assert.equal(r1.canceled, true);
    assert.equal(r1.watch_id, "-1");
    assert.equal(r1.cancel_reason, "mvcc: watcher range is empty");
    stream.create({ key: b("a"), watch_id: "-5" });
    assert.equal((await stream.next()).canceled, true);
    const ok = await created(stream, { key: b("w9"), watch_id: "7" });
    assert.equal(ok.watch_id, "7");
    stream.create({ key: b("w9"), watch_id: "7" });
    const dup = await stream.next();
    assert.equal(dup.canceled, true);
    assert.equal(dup.cancel_reason, "mvcc: duplicate watch ID provided on the WatchStream");
    stream.send({}); // no request at all: ignored
    await put(server, "w9", "v");
    const got = await drain(stream);
    assert.deepEqual(
      got.map((r) => r.watch_id),
      ["7"],
    );
  });
});

describe("Watch service bounds", () => {
  test("a watch whose buffered events exceed the stream's bound is canceled with a reason", async () => {
    const server = await startServer({ streamEventsMax: 3, replayChunkEvents: 1 });
    try {
      const first = await put(server, "x", "0");
      let writes = 0;
      const pending: Promise<unknown>[] = [];
      // Live writes while the replay runs are buffered: more than 3 overflow the stream.
      server.backend.onRead = () => {
        if (writes >= 6) return;
        for (let i = 0; i < 6; i++) pending.push(putNow(server, "x", String(++writes)));
      };
      const stream = server.watchStream();
      await created(stream, { key: b("x"), start_revision: String(first) });
      let canceled: WatchResponse | undefined;
      for (let i = 0; i < 20 && canceled === undefined; i++) {
        const r = await stream.next();
        if (r.canceled) canceled = r;
      }
      await Promise.all(pending);
      assert.ok(canceled !== undefined, "the watch was not canceled");
      assert.match(canceled.cancel_reason, /reads too slowly/);
      assert.equal(server.watch.watchCount(), 0);
    } finally {
      await server.close();
    }
  });

  test("close() ends open streams so the server shuts down", async () => {
    const server = await startServer();
    const stream = server.watchStream();
    await created(stream, { key: b("k") });
    assert.equal(server.watch.watchCount(), 1);
    server.watch.close();
    const status = await stream.waitEnded();
    assert.equal(status.code, grpc.status.OK);
    assert.equal(server.watch.watchCount(), 0);
    await server.close();
  });
});

describe("Lease service", () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.close();
  });

  interface Grant {
    ID: string;
    TTL: string;
    error: string;
  }
  interface TimeToLive {
    ID: string;
    TTL: string;
    grantedTTL: string;
    keys: Buffer[];
  }

  test("grant with and without an ID; etcd's errors for a duplicate ID and a huge TTL", async () => {
    const g = (await server.lease.call("LeaseGrant", { TTL: "60" })) as Grant;
    assert.notEqual(g.ID, "0");
    assert.equal(g.TTL, "60");
    assert.equal(g.error, "");
    const named = (await server.lease.call("LeaseGrant", { TTL: "1", ID: "1234" })) as Grant;
    assert.equal(named.ID, "1234");
    assert.equal(named.TTL, "2"); // raised to the store's minimum TTL
    await rejectsWithStatus(
      server.lease.call("LeaseGrant", { TTL: "5", ID: "1234" }),
      grpc.status.FAILED_PRECONDITION,
      "etcdserver: lease already exists",
    );
    await rejectsWithStatus(
      server.lease.call("LeaseGrant", { TTL: "9000000000000" }),
      grpc.status.OUT_OF_RANGE,
      "etcdserver: too large lease TTL",
    );
    const list = (await server.lease.call("LeaseLeases", {})) as { leases: { ID: string }[] };
    assert.deepEqual(list.leases.map((l) => l.ID).sort(), [g.ID, "1234"].sort());
  });

  test("keys attached, time to live, keep-alive, revoke deleting the keys (DELETE events)", async () => {
    const g = (await server.lease.call("LeaseGrant", { TTL: "60", ID: "77" })) as Grant;
    await put(server, "l/a", "1", g.ID);
    await put(server, "l/b", "2", g.ID);
    const ttl = (await server.lease.call("LeaseTimeToLive", {
      ID: "77",
      keys: true,
    })) as TimeToLive;
    assert.equal(ttl.grantedTTL, "60");
    assert.ok(Number(ttl.TTL) >= 58 && Number(ttl.TTL) <= 60, ttl.TTL);
    assert.deepEqual(ttl.keys.map(s), ["l/a", "l/b"]);
    const noKeys = (await server.lease.call("LeaseTimeToLive", { ID: "77" })) as TimeToLive;
    assert.deepEqual(noKeys.keys, []);

    const keepAlive = (
      server.leaseClient as unknown as Record<
        string,
        () => grpc.ClientDuplexStream<unknown, { ID: string; TTL: string }>
      >
    ).LeaseKeepAlive!.call(server.leaseClient);
    const answers: { ID: string; TTL: string }[] = [];
    const ended = withTimeout(
      new Promise<void>((resolve, reject) => {
        keepAlive.on("data", (r: { ID: string; TTL: string }) => answers.push(r));
        keepAlive.on("error", reject);
        keepAlive.on("end", resolve);
      }),
      "the keep-alive stream to end",
    );
    keepAlive.write({ ID: "77" });
    keepAlive.write({ ID: "999" });
    keepAlive.end();
    await ended;
    assert.deepEqual(
      answers.map((a) => [a.ID, a.TTL]),
      [
        ["77", "60"],
        ["999", "0"],
      ],
    );

    const stream = server.watchStream();
    await created(stream, { key: b("l/"), range_end: b("l0") });
    await server.lease.call("LeaseRevoke", { ID: "77" });
    const r = await stream.next();
    assert.deepEqual(
      r.events.map((e) => `${e.type.toUpperCase()} ${s(e.kv.key)}`),
      ["DELETE l/a", "DELETE l/b"],
    );
    const range = (await server.kv.call("Range", { key: b("l/"), range_end: b("l0") })) as {
      kvs: unknown[];
    };
    assert.equal(range.kvs.length, 0);
    const gone = (await server.lease.call("LeaseTimeToLive", { ID: "77" })) as TimeToLive;
    assert.equal(gone.TTL, "-1");
  });

  test("not found: revoke, put with the lease; keep-alive says TTL 0", async () => {
    await rejectsWithStatus(
      server.lease.call("LeaseRevoke", { ID: "4242" }),
      grpc.status.NOT_FOUND,
      "etcdserver: requested lease not found",
    );
    await rejectsWithStatus(
      put(server, "k", "v", "4242"),
      grpc.status.NOT_FOUND,
      "etcdserver: requested lease not found",
    );
  });
});
