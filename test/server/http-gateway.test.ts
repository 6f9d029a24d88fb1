// The HTTP side of the client port, against a real single-member Member: etcd's JSON gateway
// (put / range / deleterange / txn / compaction, base64 round trips, gateway-shaped errors),
// /health, /status, /metrics, and gRPC still served on the same port.
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { KvClient } from "../../src/client/index.js";
import {
  b64,
  getJson,
  postJson,
  rawExchange,
  type SingleMember,
  startSingleMember,
  unb64,
} from "./http-harness.js";

describe("HTTP gateway on the shared client port", () => {
  let m: SingleMember;
  let client: KvClient;

  before(async () => {
    m = await startSingleMember();
    client = new KvClient([m.endpoint], { timeoutMs: 5_000, attempts: 2 });
  });
  after(async () => {
    client?.close();
    await m?.close();
  });

  it("refuses a request field the message does not have, and applies nothing", async () => {
    const res = await postJson(m.base, "/v3/kv/put", {
      key: b64("unknown-field"),
      value: b64("v"),
      bogus: 1,
    });
    assert.equal(res.status, 400);
    assert.match(res.body.message, /unknown field "bogus" in etcdserverpb\.PutRequest/);
    assert.equal((await client.get("unknown-field")).kvs.length, 0);
    const camel = await postJson(m.base, "/v3/kv/put", {
      key: b64("unknown-field"),
      value: b64("v"),
      prevKv: true,
    });
    assert.equal(camel.status, 200);
  });

  it("serves gRPC and HTTP on the same port", async () => {
    await client.put("grpc-key", "from grpc");
    const viaHttp = await postJson(m.base, "/v3/kv/range", { key: b64("grpc-key") });
    assert.equal(viaHttp.status, 200);
    assert.equal(unb64(viaHttp.body.kvs[0].value), "from grpc");

    const put = await postJson(m.base, "/v3/kv/put", { key: b64("http-key"), value: b64("héllo") });
    assert.equal(put.status, 200);
    const got = await client.get("http-key");
    assert.equal(got.kvs[0]?.value, "héllo");
  });

  it("put and range round-trip bytes in base64, with etcd's header", async () => {
    const value = Buffer.from([0, 1, 2, 0xfe, 0xff, 0x80]);
    const put = await postJson(m.base, "/v3/kv/put", {
      key: b64("bin"),
      value: value.toString("base64"),
    });
    assert.equal(put.status, 200);
    const header = put.body.header;
    assert.equal(header.cluster_id, m.member.clusterId);
    assert.equal(header.member_id, m.member.memberId);
    assert.match(header.revision, /^\d+$/);
    assert.match(header.raft_term, /^\d+$/);

    const range = await postJson(m.base, "/v3/kv/range", { key: b64("bin") });
    assert.equal(range.status, 200);
    assert.equal(range.body.count, "1");
    const kv = range.body.kvs[0];
    assert.deepEqual(Buffer.from(kv.value, "base64"), value);
    assert.equal(unb64(kv.key), "bin");
    assert.equal(kv.version, "1");
    assert.equal(kv.mod_revision, header.revision);
  });

  it("accepts camelCase names, number int64s and prev_kv", async () => {
    await postJson(m.base, "/v3/kv/put", { key: b64("p/a"), value: b64("1") });
    await postJson(m.base, "/v3/kv/put", { key: b64("p/b"), value: b64("2") });
    const again = await postJson(m.base, "/v3/kv/put", {
      key: b64("p/a"),
      value: b64("3"),
      prevKv: true,
    });
    assert.equal(unb64(again.body.prev_kv.value), "1");
    const range = await postJson(m.base, "/v3/kv/range", {
      key: b64("p/"),
      range_end: b64("p0"),
      limit: 1,
      sort_order: "DESCEND",
    });
    assert.equal(range.status, 200);
    assert.equal(range.body.count, "2");
    assert.equal(range.body.more, true);
    assert.equal(unb64(range.body.kvs[0].key), "p/b");
  });

  it("a range with no match leaves zero fields out, as etcd's gateway does", async () => {
    const range = await postJson(m.base, "/v3/kv/range", { key: b64("nothing-here") });
    assert.equal(range.status, 200);
    assert.equal(range.body.kvs, undefined);
    assert.equal(range.body.count, undefined);
    assert.ok(range.body.header.revision);
  });

  it("deleterange deletes and returns prev_kvs", async () => {
    await postJson(m.base, "/v3/kv/put", { key: b64("d/1"), value: b64("x") });
    await postJson(m.base, "/v3/kv/put", { key: b64("d/2"), value: b64("y") });
    const del = await postJson(m.base, "/v3/kv/deleterange", {
      key: b64("d/"),
      range_end: b64("d0"),
      prev_kv: true,
    });
    assert.equal(del.status, 200);
    assert.equal(del.body.deleted, "2");
    assert.deepEqual(del.body.prev_kvs.map((kv: { value: string }) => unb64(kv.value)).sort(), [
      "x",
      "y",
    ]);
    const got = await client.get("d/", { prefix: true });
    assert.equal(got.count, 0);
  });

  it("txn: compare-and-swap takes the success branch once, then the failure branch", async () => {
    await postJson(m.base, "/v3/kv/put", { key: b64("cas"), value: b64("old") });
    const txn = (expected: string) =>
      postJson(m.base, "/v3/kv/txn", {
        compare: [{ key: b64("cas"), result: "EQUAL", target: "VALUE", value: b64(expected) }],
        success: [{ request_put: { key: b64("cas"), value: b64("new") } }],
        failure: [{ request_range: { key: b64("cas") } }],
      });
    const first = await txn("old");
    assert.equal(first.status, 200);
    assert.equal(first.body.succeeded, true);
    assert.ok(first.body.responses[0].response_put);
    const second = await txn("old");
    assert.equal(second.status, 200);
    assert.equal(second.body.succeeded, undefined); // false is a zero value: left out
    assert.equal(unb64(second.body.responses[0].response_range.kvs[0].value), "new");
  });

  it("compaction compacts", async () => {
    const put = await postJson(m.base, "/v3/kv/put", { key: b64("c"), value: b64("1") });
    const revision = put.body.header.revision;
    const compact = await postJson(m.base, "/v3/kv/compaction", { revision, physical: true });
    assert.equal(compact.status, 200);
    const old = await postJson(m.base, "/v3/kv/range", { key: b64("c"), revision: "1" });
    assert.equal(old.status, 400);
    assert.match(old.body.error, /compacted/);
    assert.equal(old.body.code, 11);
  });

  it("errors in the gateway's shape", async () => {
    const bad = await postJson(m.base, "/v3/kv/put", "{not json");
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /malformed JSON/);
    assert.equal(bad.body.code, 3);
    assert.equal(bad.body.message, bad.body.error);

    const empty = await postJson(m.base, "/v3/kv/put", { key: "", value: b64("v") });
    assert.equal(empty.status, 400);
    assert.equal(empty.body.error, "etcdserver: key is not provided");
    assert.equal(empty.body.code, 3);

    const notBase64 = await postJson(m.base, "/v3/kv/put", { key: "***", value: b64("v") });
    assert.equal(notBase64.status, 400);
    assert.match(notBase64.body.error, /base64/);

    const badInt = await postJson(m.base, "/v3/kv/range", { key: b64("k"), limit: "ten" });
    assert.equal(badInt.status, 400);
    assert.match(badInt.body.error, /limit/);

    const notObject = await postJson(m.base, "/v3/kv/range", "[1,2]");
    assert.equal(notObject.status, 400);

    const unknown = await postJson(m.base, "/v3/kv/nope", {});
    assert.equal(unknown.status, 404);
    const root = await getJson(m.base, "/");
    assert.equal(root.status, 404);

    const wrongMethod = await getJson(m.base, "/v3/kv/range");
    assert.equal(wrongMethod.status, 405);
  });

  it("refuses an oversized body with 413 and keeps serving", async () => {
    const big = "A".repeat(2 * 1024 * 1024);
    const res = await postJson(m.base, "/v3/kv/put", { key: b64("big"), value: big });
    assert.equal(res.status, 413);
    assert.match(res.body.error, /request is too large/);
    const after = await postJson(m.base, "/v3/kv/range", { key: b64("big") });
    assert.equal(after.status, 200);
    assert.equal(after.body.kvs, undefined);
  });

  it("GET /health is 200 while the member leads a quorum", async () => {
    const health = await getJson(m.base, "/health");
    assert.equal(health.status, 200);
    assert.equal(health.body.health, "true");
  });

  it("GET /status tells role, term, leader, indexes and a verdict", async () => {
    const status = await getJson(m.base, "/status");
    assert.equal(status.status, 200);
    assert.equal(status.body.name, "n1");
    assert.equal(status.body.role, "Leader");
    assert.equal(status.body.leader, "n1");
    assert.ok(status.body.term >= 1);
    assert.ok(status.body.commit >= status.body.applied - 0);
    assert.equal(typeof status.body.applied, "number");
    assert.equal(status.body.verdict, "healthy");
    assert.equal(status.body.memberId, m.member.memberId);
  });

  it("GET /metrics exports ordo_* counters that grow with writes", async () => {
    const scrape = async (): Promise<string> => {
      const res = await fetch(`${m.base}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /text\/plain/);
      return res.text();
    };
    const value = (text: string, name: string): number => {
      const line = text
        .split("\n")
        .find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
      assert.ok(line, `${name} is exported`);
      return Number(line.split(" ").at(-1));
    };
    const before = await scrape();
    for (const name of [
      "ordo_proposals_total",
      "ordo_proposals_failed_total",
      "ordo_commits_total",
      "ordo_applies_total",
      "ordo_apply_seconds_total",
      "ordo_fsync_seconds_total",
      "ordo_leader_changes_total",
      "ordo_divergence_alarms_total",
      "ordo_membership_changes_total",
      "ordo_is_leader",
    ]) {
      value(before, name);
    }
    assert.equal(value(before, "ordo_voters"), 1);
    assert.equal(value(before, "ordo_learners"), 0);
    assert.equal(value(before, "ordo_joint_configuration"), 0);
    assert.equal(value(before, "ordo_is_learner"), 0);
    assert.match(before, /# TYPE ordo_peer_send_failures_total counter/);
    assert.match(before, /process_cpu_user_seconds_total/);
    assert.equal(value(before, "ordo_is_leader"), 1);
    assert.ok(value(before, "ordo_leader_changes_total") >= 1);

    await postJson(m.base, "/v3/kv/put", { key: b64("metered"), value: b64("1") });
    const afterPut = await scrape();
    assert.ok(value(afterPut, "ordo_proposals_total") > value(before, "ordo_proposals_total"));
    assert.ok(value(afterPut, "ordo_applies_total") > value(before, "ordo_applies_total"));
    assert.ok(value(afterPut, "ordo_commits_total") > value(before, "ordo_commits_total"));
  });

  it("survives garbage bytes on the client port and keeps serving both protocols", async () => {
    const garbage = Buffer.from([0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 0xff, 0x0a, 0x0d, 0x0a]);
    const reply = await rawExchange(m.member.clientPort, garbage, 1_000);
    assert.match(reply, /^HTTP\/1\.1 400/); // node:http answers a bad request line and closes
    // A half preface, then garbage: sniffed as HTTP, refused.
    await rawExchange(m.member.clientPort, "PRI * HTTP/2.0\r\nxx", 500);
    // A full preface, then garbage frames: gRPC's problem, that one connection only.
    await rawExchange(
      m.member.clientPort,
      Buffer.concat([
        Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1"),
        Buffer.alloc(64, 0xff),
      ]),
      500,
    );
    // A connection that opens and closes at once, and one that sends nothing.
    await rawExchange(m.member.clientPort, "", 100);

    const health = await getJson(m.base, "/health");
    assert.equal(health.status, 200);
    await client.put("still", "alive");
    assert.equal((await client.get("still")).kvs[0]?.value, "alive");
  });

  it("serves HTTP/1.1 keep-alive and a request line split across packets", async () => {
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect(m.member.clientPort, "127.0.0.1");
      let text = "";
      socket.on("data", (c: Buffer) => {
        text += c.toString("latin1");
        if ((text.match(/"health":"true"/g) ?? []).length === 2) {
          socket.destroy();
          resolve(text);
        }
      });
      socket.on("error", reject);
      // One byte first: the sniffer must wait for more only while the bytes match the preface.
      socket.write("G");
      setTimeout(() => {
        socket.write("ET /health HTTP/1.1\r\nHost: x\r\n\r\n");
        socket.write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
      }, 50);
    });
    assert.equal((reply.match(/HTTP\/1\.1 200/g) ?? []).length, 2);
  });

  it("a client sending the preface slowly is still gRPC", async () => {
    // "P", "RI * HTTP/2.0..." arrive apart: undecided until the whole preface is in.
    const reply = await new Promise<Buffer>((resolve) => {
      const socket = connect(m.member.clientPort, "127.0.0.1");
      const chunks: Buffer[] = [];
      socket.on("data", (c: Buffer) => {
        chunks.push(c);
        socket.destroy();
        resolve(Buffer.concat(chunks));
      });
      socket.on("error", () => resolve(Buffer.concat(chunks)));
      socket.write("P");
      setTimeout(() => {
        socket.write("RI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        // An empty SETTINGS frame: the server answers with its own SETTINGS (frame type 4).
        socket.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]));
      }, 50);
    });
    assert.ok(reply.length >= 9, "the gRPC server answered");
    assert.equal(reply[3], 4, "with a SETTINGS frame");
  });
});

describe("stopping a member with clients still connected", () => {
  it("ends open gRPC and HTTP keep-alive connections and releases the port", async () => {
    const m = await startSingleMember();
    const client = new KvClient([m.endpoint], { timeoutMs: 5_000, attempts: 1 });
    try {
      await client.put("k", "v"); // the gRPC channel is open now
      const socket = connect(m.member.clientPort, "127.0.0.1");
      socket.on("error", () => {});
      const closed = new Promise<void>((r) => socket.on("close", () => r()));
      socket.write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"); // keep-alive: stays open
      await new Promise<void>((r) => socket.once("data", () => r()));
      const started = Date.now();
      await m.close();
      await closed;
      assert.ok(Date.now() - started < 8_000, "stop() did not hang on open connections");
      await assert.rejects(fetch(`${m.base}/health`));
    } finally {
      client.close();
    }
  });
});
