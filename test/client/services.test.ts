// The Cluster and Maintenance services on an in-process server, through KvClient, raw gRPC and
// Debian's etcdctl 3.4 when installed (a backend without membership changes: those answer
// UNIMPLEMENTED; test/server/cluster-service.test.ts covers them); and a watch that moves to
// another endpoint when its server goes away, without gap or duplicate.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { readSnapshotFile, serviceClient } from "../../src/api/index.js";
import { KvClient, KvClientError } from "../../src/client/index.js";
import { MEMBERSHIP_UNSUPPORTED } from "../../src/server/cluster-service.js";
import { SNAPSHOT_CHUNK_BYTES } from "../../src/server/maintenance-service.js";
import { etcdctlMissing, etcdctlOk } from "../cluster/etcdctl.js";
import { KvTestClient, MEMBER_ID } from "../server/kv-harness.js";
import {
  ClockBackend,
  MEMBERS,
  type ServicesServer,
  startServices,
  withTimeout,
} from "./harness.js";

const noEtcdctl = etcdctlMissing;

const etcdctl = (endpoint: string, args: readonly string[]): Promise<string> =>
  etcdctlOk(endpoint, args, {
    global: ["--dial-timeout=3s", "--command-timeout=10s"],
    killAfterMs: 20_000,
  });

describe("Cluster and Maintenance services", () => {
  let server: ServicesServer;
  let c: KvClient;
  let diverged = false;
  let dir: string;
  const raw = (service: "Cluster" | "Maintenance"): KvTestClient => {
    const Ctor = serviceClient(service);
    const client = new Ctor(server.endpoint, grpc.credentials.createInsecure());
    clients.push(client);
    return new KvTestClient(client);
  };
  const clients: grpc.Client[] = [];
  before(async () => {
    server = await startServices(new ClockBackend(), { diverged: () => diverged });
    c = new KvClient([server.endpoint]);
    dir = mkdtempSync(join(tmpdir(), "ordo-services-test-"));
  });
  after(async () => {
    for (const cl of clients) cl.close();
    c?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("MemberList answers every member with the header", async () => {
    const { members, header } = await c.memberList();
    assert.equal(header.member_id, MEMBER_ID);
    assert.deepEqual(
      members,
      MEMBERS.map((m) => ({
        id: m.id,
        name: m.name,
        peerUrls: m.peerUrls,
        clientUrls: m.clientUrls,
        isLearner: false,
      })),
    );
  });

  test("membership changes answer UNIMPLEMENTED", async () => {
    const cluster = raw("Cluster");
    for (const method of ["MemberAdd", "MemberRemove", "MemberUpdate", "MemberPromote"]) {
      await assert.rejects(cluster.call(method, {}), (e: grpc.ServiceError) => {
        assert.equal(e.code, grpc.status.UNIMPLEMENTED);
        assert.equal(e.details, MEMBERSHIP_UNSUPPORTED);
        return true;
      });
    }
  });

  test("Hash follows the state; HashKV at a revision is stable; compacted is OUT_OF_RANGE", async () => {
    const m = raw("Maintenance");
    const h0 = (await m.call("Hash", {})) as { hash: number };
    const first = await c.put("h/a", "1");
    const h1 = (await m.call("Hash", {})) as { hash: number };
    assert.notEqual(h0.hash, h1.hash);
    assert.equal(h1.hash, server.backend.sm.hash() >>> 0);
    const at = (await m.call("HashKV", { revision: String(first.revision) })) as {
      hash: number;
      compact_revision: string;
    };
    await c.put("h/a", "2");
    const again = (await m.call("HashKV", { revision: String(first.revision) })) as {
      hash: number;
    };
    const now = (await m.call("HashKV", { revision: "0" })) as { hash: number };
    assert.equal(again.hash, at.hash);
    assert.notEqual(now.hash, at.hash);
    assert.equal(at.compact_revision, "0");
    const kv = new (serviceClient("KV"))(server.endpoint, grpc.credentials.createInsecure());
    clients.push(kv);
    await new KvTestClient(kv).call("Compact", { revision: String(first.revision + 1) });
    await assert.rejects(
      m.call("HashKV", { revision: String(first.revision) }),
      (e: grpc.ServiceError) => e.code === grpc.status.OUT_OF_RANGE,
    );
  });

  test("Alarm lists the divergence alarm; Defragment is a no-op; MoveLeader UNIMPLEMENTED", async () => {
    const m = raw("Maintenance");
    assert.deepEqual(((await m.call("Alarm", { action: "Get" })) as { alarms: [] }).alarms, []);
    diverged = true;
    try {
      const r = (await m.call("Alarm", {})) as { alarms: { memberID: string; alarm: string }[] };
      assert.deepEqual(r.alarms, [{ memberID: MEMBER_ID, alarm: "Corrupt" }]);
      const [h] = await c.health();
      assert.equal(h?.ok, false);
    } finally {
      diverged = false;
    }
    await m.call("Defragment", {});
    await assert.rejects(
      m.call("MoveLeader", {}),
      (e: grpc.ServiceError) => e.code === grpc.status.UNIMPLEMENTED,
    );
  });

  test("snapshot save: chunks of 32 KiB, data then its SHA-256, verified and written", async () => {
    // Enough data for several chunks.
    for (let i = 0; i < 40; i++) await c.put(`snap/${i}`, "x".repeat(4096));
    const expected = server.backend.sm.snapshot();
    assert.ok(expected.length > 3 * SNAPSHOT_CHUNK_BYTES);
    const path = join(dir, "client.snap");
    const info = await c.snapshotSave(path);
    const file = readFileSync(path);
    assert.equal(info.snapshotBytes, expected.length);
    assert.equal(info.dataBytes % 512, 0); // etcdctl's page alignment
    assert.equal(file.length, info.dataBytes + 32);
    const sha = createHash("sha256").update(file.subarray(0, info.dataBytes)).digest();
    assert.deepEqual(file.subarray(info.dataBytes), sha);
    assert.equal(info.sha256, sha.toString("hex"));
    assert.deepEqual(readSnapshotFile(file), expected);
    const broken = Buffer.from(file);
    broken[20] = (broken[20] ?? 0) ^ 1;
    assert.throws(() => readSnapshotFile(broken), /SHA-256 mismatch/);
    assert.equal(existsSync(`${path}.part`), false);
  });

  test("etcdctl member list, endpoint status, alarm list, snapshot save", {
    skip: noEtcdctl,
  }, async () => {
    const members = await etcdctl(server.endpoint, ["member", "list"]);
    assert.match(members, new RegExp(`${BigInt(MEMBER_ID).toString(16)}, started, n1,`));
    assert.match(members, /2a, started, n2, http:\/\/127\.0\.0\.1:22380/);
    const status = await etcdctl(server.endpoint, ["endpoint", "status"]);
    assert.match(status, /, 3\.4\.0, /);
    assert.equal((await etcdctl(server.endpoint, ["alarm", "list"])).trim(), "");
    await etcdctl(server.endpoint, ["endpoint", "hashkv"]);
    const path = join(dir, "etcdctl.db");
    const out = await etcdctl(server.endpoint, ["snapshot", "save", path]);
    assert.match(out, /Snapshot saved at/);
    assert.deepEqual(readSnapshotFile(readFileSync(path)), server.backend.sm.snapshot());
    // `etcdctl snapshot status` expects a bbolt file: Ordo's snapshot is not one (documented).
  });
});

describe("watch across endpoints", () => {
  test("a watch resumes on the next endpoint from the last revision + 1", async () => {
    const backend = new ClockBackend();
    const a = await startServices(backend);
    const b = await startServices(backend);
    const writer = new KvClient([b.endpoint]);
    const c = new KvClient([a.endpoint, b.endpoint], { timeoutMs: 2000 });
    try {
      const w = c.watch("r/", { prefix: true });
      await withTimeout(w.created, "watch created");
      const seen: string[] = [];
      const it = w[Symbol.asyncIterator]();
      const nextValue = async (): Promise<string> => {
        const r = await withTimeout(it.next(), "a watch event");
        assert.equal(r.done, false);
        return r.done ? "" : r.value.kv.value;
      };
      await writer.put("r/k", "1");
      seen.push(await nextValue());
      await a.close(); // the stream to a ends; later writes happen while the watch moves to b
      await writer.put("r/k", "2");
      await writer.put("r/k", "3");
      seen.push(await nextValue(), await nextValue());
      await writer.put("r/k", "4");
      seen.push(await nextValue());
      assert.deepEqual(seen, ["1", "2", "3", "4"]);
      assert.ok(w.reconnects >= 1);
      w.close();
      assert.deepEqual(await withTimeout(it.next(), "end"), { done: true, value: undefined });
    } finally {
      c.close();
      writer.close();
      await a.close();
      await b.close();
    }
  });

  test("a watch from a compacted revision fails with OUT_OF_RANGE", async () => {
    const s = await startServices();
    const c = new KvClient([s.endpoint]);
    try {
      await c.put("k", "1");
      const r = await c.put("k", "2");
      const kv = new (serviceClient("KV"))(s.endpoint, grpc.credentials.createInsecure());
      try {
        await new KvTestClient(kv).call("Compact", { revision: String(r.revision) });
      } finally {
        kv.close();
      }
      const w = c.watch("k", { startRevision: 1 });
      await assert.rejects(
        withTimeout(w[Symbol.asyncIterator]().next(), "the compacted watch"),
        (e: KvClientError) => e instanceof KvClientError && e.grpcCode === grpc.status.OUT_OF_RANGE,
      );
    } finally {
      c.close();
      await s.close();
    }
  });
});
