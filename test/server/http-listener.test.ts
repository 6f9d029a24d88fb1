// The pieces behind the shared client port, without a member: protocol sniffing and the
// listener's bounds (timeouts, a gRPC side that refuses, no leaked sockets), the health
// verdicts, the JSON ⇄ message mapping and grpc-gateway's status table.
import assert from "node:assert/strict";
import { createServer as createHttpServer } from "node:http";
import { connect, type Socket } from "node:net";
import { after, describe, it } from "node:test";
import { ClientListener, HTTP2_CLIENT_PREFACE, sniff } from "../../src/server/client-listener.js";
import { messageFromJson, messageToJson } from "../../src/server/gateway/json-codec.js";
import {
  assessHealth,
  type HealthInput,
  httpStatusOfGrpc,
  VERDICT_DIVERGED,
  VERDICT_HEALTHY,
  VERDICT_NO_QUORUM,
  VERDICT_NOSPACE,
  VERDICT_SLOW,
} from "../../src/server/http-gateway.js";

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function eventually(check: () => boolean, what: string, ms = 2_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await wait(10);
  }
}

describe("sniff", () => {
  it("tells gRPC, HTTP and undecided apart", () => {
    assert.equal(sniff(HTTP2_CLIENT_PREFACE), "grpc");
    assert.equal(sniff(Buffer.concat([HTTP2_CLIENT_PREFACE, Buffer.from("more")])), "grpc");
    assert.equal(sniff(HTTP2_CLIENT_PREFACE.subarray(0, 10)), "undecided");
    assert.equal(sniff(Buffer.alloc(0)), "undecided");
    assert.equal(sniff(Buffer.from("GET / HTTP/1.1\r\n")), "http");
    assert.equal(sniff(Buffer.from("PRI * HTTP/1.1")), "http");
    assert.equal(sniff(Buffer.from([0xff])), "http");
  });
});

describe("ClientListener", () => {
  const httpServer = createHttpServer((_req, res) => res.end("hello http"));
  httpServer.emit("listening");
  // A stand-in for the gRPC server: echoes the sniffed bytes, then everything after them.
  const echo = (socket: Socket, head: Buffer): void => {
    socket.write(head);
    socket.pipe(socket);
    socket.resume();
  };

  after(() => {
    httpServer.close();
  });

  it("hands a preface-led connection to the gRPC side, preface included", async () => {
    const listener = await ClientListener.listen({
      host: "127.0.0.1",
      port: 0,
      grpc: echo,
      http: httpServer,
    });
    try {
      const echoed = await new Promise<Buffer>((resolve, reject) => {
        const socket = connect(listener.port, "127.0.0.1");
        const chunks: Buffer[] = [];
        const expected = HTTP2_CLIENT_PREFACE.length + 5;
        socket.on("data", (c: Buffer) => {
          chunks.push(c);
          if (Buffer.concat(chunks).length >= expected) {
            socket.destroy();
            resolve(Buffer.concat(chunks));
          }
        });
        socket.on("error", reject);
        socket.write(HTTP2_CLIENT_PREFACE.subarray(0, 3));
        setTimeout(() => socket.write(HTTP2_CLIENT_PREFACE.subarray(3)), 20);
        setTimeout(() => socket.write("hello"), 40);
      });
      assert.equal(echoed.toString("latin1"), `${HTTP2_CLIENT_PREFACE.toString("latin1")}hello`);
      // Closing the client closes the handed-over socket: nothing is left open.
      await eventually(() => listener.connectionCount === 0, "the connection to close");
    } finally {
      await listener.close();
    }
  });

  it("hands other connections to the HTTP server", async () => {
    const listener = await ClientListener.listen({
      host: "127.0.0.1",
      port: 0,
      grpc: echo,
      http: httpServer,
    });
    try {
      const res = await fetch(`http://127.0.0.1:${listener.port}/`);
      assert.equal(await res.text(), "hello http");
    } finally {
      await listener.close();
    }
  });

  it("closes a gRPC client when the gRPC side throws, and keeps serving", async () => {
    const listener = await ClientListener.listen({
      host: "127.0.0.1",
      port: 0,
      grpc: () => {
        throw new Error("refused");
      },
      http: httpServer,
    });
    try {
      const closed = await new Promise<boolean>((resolve) => {
        const socket = connect(listener.port, "127.0.0.1");
        socket.on("error", () => {});
        socket.on("close", () => resolve(true));
        socket.write(HTTP2_CLIENT_PREFACE);
      });
      assert.ok(closed);
      await eventually(() => listener.connectionCount === 0, "the refused connection to close");
      const res = await fetch(`http://127.0.0.1:${listener.port}/`);
      assert.equal(res.status, 200);
      await res.text();
    } finally {
      await listener.close();
    }
  });

  it("closes a connection that says nothing within the sniff timeout", async () => {
    const listener = await ClientListener.listen({
      host: "127.0.0.1",
      port: 0,
      grpc: echo,
      http: httpServer,
      sniffTimeoutMs: 100,
    });
    try {
      const started = Date.now();
      await new Promise<void>((resolve) => {
        const socket = connect(listener.port, "127.0.0.1");
        socket.on("error", () => {});
        socket.on("connect", () => socket.write("PRI")); // a prefix: undecided forever
        socket.on("close", () => resolve());
      });
      assert.ok(Date.now() - started < 2_000);
      await eventually(() => listener.connectionCount === 0, "the silent connection to close");
    } finally {
      await listener.close();
    }
  });

  it("close() ends open connections and refuses new ones", async () => {
    const listener = await ClientListener.listen({
      host: "127.0.0.1",
      port: 0,
      grpc: echo,
      http: httpServer,
    });
    const socket = connect(listener.port, "127.0.0.1");
    socket.on("error", () => {});
    const closed = new Promise<void>((r) => socket.on("close", () => r()));
    await new Promise<void>((r) => socket.on("connect", () => r()));
    await eventually(() => listener.connectionCount === 1, "the connection to be tracked");
    await listener.close();
    await closed;
    assert.equal(listener.connectionCount, 0);
    await assert.rejects(fetch(`http://127.0.0.1:${listener.port}/`));
  });
});

describe("assessHealth", () => {
  const base: HealthInput = {
    name: "n1",
    role: "Leader",
    term: 3,
    leader: "n1",
    commit: 10,
    applied: 10,
    lastIndex: 10,
    voters: ["n1", "n2", "n3"],
    votersOutgoing: [],
    heardAgoMs: new Map([
      ["n2", 5],
      ["n3", 5_000],
    ]),
    heardWindowMs: 1_000,
    stopped: false,
    fatal: undefined,
    divergenceAlarms: 0,
  };

  it("a leader that heard a quorum is healthy", () => {
    const a = assessHealth(base);
    assert.equal(a.healthy, true);
    assert.equal(a.verdict, VERDICT_HEALTHY);
    assert.deepEqual(a.reasons, []);
  });

  it("a leader that lost its quorum is not", () => {
    const a = assessHealth({ ...base, heardAgoMs: new Map([["n2", 5_000]]) });
    assert.equal(a.healthy, false);
    assert.equal(a.verdict, VERDICT_NO_QUORUM);
    assert.match(a.reasons.join(), /heard from 1 of 3 voters/);
  });

  it("a joint configuration needs a quorum of both halves", () => {
    const a = assessHealth({ ...base, votersOutgoing: ["n1", "n4", "n5"] });
    assert.equal(a.healthy, false);
  });

  it("no leader is unhealthy", () => {
    const a = assessHealth({ ...base, role: "Follower", leader: "" });
    assert.equal(a.healthy, false);
    assert.deepEqual(a.reasons, ["no leader"]);
  });

  it("a follower needs to have heard its leader recently", () => {
    const follower = { ...base, name: "n3", role: "Follower", leader: "n2" };
    assert.equal(assessHealth(follower).healthy, true);
    const stale = { ...follower, leader: "n1" };
    assert.equal(assessHealth(stale).healthy, false);
    assert.match(assessHealth(stale).reasons.join(), /leader n1 never heard from/);
  });

  it("lag above the thresholds is slow, not down", () => {
    const a = assessHealth({ ...base, commit: 5_000, applied: 10, lastIndex: 5_000 });
    assert.equal(a.healthy, true);
    assert.equal(a.verdict, VERDICT_SLOW);
    assert.match(a.reasons.join(), /apply lag 4990/);
    const c = assessHealth({ ...base, lastIndex: 50 }, { commitLagMax: 10 });
    assert.equal(c.verdict, VERDICT_SLOW);
  });

  it("a divergence alarm or a stopped member is unhealthy", () => {
    assert.equal(assessHealth({ ...base, divergenceAlarms: 1 }).verdict, VERDICT_DIVERGED);
    assert.equal(assessHealth({ ...base, stopped: true }).verdict, VERDICT_NO_QUORUM);
  });

  it("a NOSPACE alarm is unhealthy with its own verdict (etcd's /health is false too)", () => {
    const a = assessHealth({ ...base, spaceAlarms: 1 });
    assert.equal(a.healthy, false);
    assert.equal(a.verdict, VERDICT_NOSPACE);
    assert.match(a.reasons.join(), /NOSPACE alarm: database space exceeded/);
    const both = assessHealth({ ...base, spaceAlarms: 1, divergenceAlarms: 1 });
    assert.equal(both.verdict, VERDICT_DIVERGED);
    assert.equal(both.reasons.length, 2);
    const down = assessHealth({ ...base, spaceAlarms: 2, stopped: true });
    assert.equal(down.verdict, VERDICT_NO_QUORUM);
  });
});

describe("gateway JSON", () => {
  it("decodes base64 bytes fields and snake-cases names, recursively", () => {
    const m = messageFromJson("etcdserverpb.TxnRequest", {
      compare: [{ key: "YQ==", target: "VALUE", value: "Yg" }],
      success: [{ requestPut: { key: "YQ==", value: "", prevKv: true } }],
    }) as {
      compare: { key: Buffer; value: Buffer }[];
      success: { request_put: { key: Buffer; value: Buffer; prev_kv: boolean } }[];
    };
    assert.deepEqual(m.compare[0]?.key, Buffer.from("a"));
    assert.deepEqual(m.compare[0]?.value, Buffer.from("b"));
    assert.equal(m.success[0]?.request_put.prev_kv, true);
    assert.equal(m.success[0]?.request_put.value.length, 0);
  });

  it("refuses bytes that are not base64, and runaway nesting", () => {
    const range = (json: unknown) => messageFromJson("etcdserverpb.RangeRequest", json);
    assert.throws(() => range({ key: 12 }), /base64/);
    assert.throws(() => range({ key: "a*b" }), /base64/);
    let deep: unknown = {};
    for (let i = 0; i < 100; i++) deep = { success: [{ request_txn: deep }] };
    assert.throws(() => messageFromJson("etcdserverpb.TxnRequest", deep), /too deep/);
  });

  it("encodes responses as etcd's gateway: base64, zero values left out", () => {
    const json = messageToJson("etcdserverpb.RangeResponse", {
      header: { cluster_id: "1", member_id: "2", revision: "3", raft_term: "4" },
      kvs: [{ key: Buffer.from("k"), value: Buffer.alloc(0), lease: "0", version: "1" }],
      more: false,
      count: "1",
    });
    assert.deepEqual(json, {
      header: { cluster_id: "1", member_id: "2", revision: "3", raft_term: "4" },
      kvs: [{ key: "aw==", version: "1" }],
      count: "1",
    });
  });

  it("maps gRPC codes to HTTP statuses as grpc-gateway does", () => {
    assert.equal(httpStatusOfGrpc(0), 200);
    assert.equal(httpStatusOfGrpc(3), 400);
    assert.equal(httpStatusOfGrpc(8), 429);
    assert.equal(httpStatusOfGrpc(11), 400);
    assert.equal(httpStatusOfGrpc(13), 500);
    assert.equal(httpStatusOfGrpc(14), 503);
  });
});
