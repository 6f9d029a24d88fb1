// The transport under faults: a peer restarts, a peer of another cluster or under another id
// dials, garbage arrives on the listening port, a peer stays down while messages pile up.
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { test } from "node:test";
import { asIndex, asNodeId, asTerm, Xoshiro128 } from "../../src/raft/index.js";
import {
  decodeReply,
  encodeFrame,
  encodeHello,
  encodeMessage,
  frameHeader,
  HandshakeStatus,
} from "../../src/transport/index.js";
import { numbered } from "./message-gen.js";
import {
  HOST,
  sequence,
  startCluster,
  startNode,
  stopAll,
  type TestNode,
  waitFor,
} from "./transport-harness.js";

const range = (lo: number, hi: number): number[] =>
  Array.from({ length: hi - lo }, (_, i) => lo + i);

test("a peer stopped and restarted on the same port is reconnected to and gets later messages", async () => {
  const nodes = await startCluster(["n1", "n2"]);
  const [a, b] = nodes as [TestNode, TestNode];
  let b2: TestNode | undefined;
  try {
    for (let i = 0; i < 10; i++) a.transport.send(numbered(a.id, b.id, i));
    await waitFor("first batch", () => b.inbox.length === 10);
    await b.transport.stop();
    await waitFor("a sees n2 gone", () => a.transport.stats().get(b.id)?.connected === false);
    // Sent while n2 is down: queued, then delivered once it is back.
    for (let i = 10; i < 20; i++) a.transport.send(numbered(a.id, b.id, i));
    await waitFor(
      "a failed to reconnect at least once",
      () => (a.transport.stats().get(b.id)?.sendFailures ?? 0) >= 2,
    );
    b2 = await startNode("n2", { listenPort: b.address.port });
    await waitFor("second batch at the restarted n2", () => b2!.inbox.length === 10);
    assert.deepStrictEqual(sequence(b2.inbox), range(10, 20));
    for (let i = 20; i < 30; i++) a.transport.send(numbered(a.id, b.id, i));
    await waitFor("third batch", () => b2!.inbox.length === 20);
    assert.deepStrictEqual(sequence(b2.inbox), range(10, 30));
    const stats = a.transport.stats().get(b.id)!;
    assert.equal(stats.connected, true);
    assert.ok(stats.reconnects >= 1);
    assert.equal(stats.dropped, 0);
  } finally {
    await stopAll([a, b, b2]);
  }
});

test("a dialer of another cluster is refused, delivers nothing, and backs off", async () => {
  const b = await startNode("n2", { clusterId: "green" });
  const a = await startNode("n1", { clusterId: "blue", peers: new Map([[b.id, b.address]]) });
  try {
    const started = Date.now();
    for (let i = 0; i < 5; i++) a.transport.send(numbered(a.id, b.id, i));
    await waitFor("three refusals", () => b.transport.transportCounters().handshakesRefused >= 3);
    const elapsedMs = Date.now() - started;
    // After a refusal the dialer waits its longest backoff (here 50–100 ms): two waits at least.
    assert.ok(elapsedMs >= 100, `three attempts in ${elapsedMs} ms: a hot loop`);
    assert.equal(b.inbox.length, 0);
    assert.equal(b.transport.transportCounters().handshakesAccepted, 0);
    const stats = a.transport.stats().get(b.id)!;
    assert.equal(stats.connected, false);
    assert.equal(stats.sent, 0);
    assert.equal(stats.queued, 5, "messages wait for a connection that is accepted");
    assert.ok(
      b.logs.some(
        (l) => l.message === "refused a peer connection" && l.fields.status === "WrongCluster",
      ),
    );
    assert.ok(
      a.logs.some((l) => l.level === "warn" && String(l.fields.error).includes("WrongCluster")),
    );
  } finally {
    await stopAll([a, b]);
  }
});

test("a dialer that addresses another node id is refused", async () => {
  const b = await startNode("n2");
  // n1 believes n3 lives at n2's address.
  const a = await startNode("n1", { peers: new Map([[asNodeId("n3"), b.address]]) });
  try {
    a.transport.send(numbered(a.id, asNodeId("n3"), 0));
    await waitFor("a refusal", () => b.transport.transportCounters().handshakesRefused >= 1);
    assert.ok(
      b.logs.some(
        (l) => l.message === "refused a peer connection" && l.fields.status === "WrongNode",
      ),
    );
    assert.equal(b.inbox.length, 0);
  } finally {
    await stopAll([a, b]);
  }
});

interface RawClient {
  readonly socket: Socket;
  readonly received: Buffer[];
  readonly closed: Promise<void>;
  isClosed(): boolean;
}

async function rawConnect(port: number): Promise<RawClient> {
  const socket = connect({ host: HOST, port });
  const received: Buffer[] = [];
  let closed = false;
  socket.on("data", (chunk: Buffer) => received.push(chunk));
  socket.on("error", () => {}); // a reset is one of the expected endings
  const closedPromise = new Promise<void>((resolve) =>
    socket.once("close", () => {
      closed = true;
      resolve();
    }),
  );
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return { socket, received, closed: closedPromise, isClosed: () => closed };
}

function randomBytes(rng: Xoshiro128, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.int(256);
  return out;
}

test("garbage on the listening port closes that connection; the transport keeps serving", async () => {
  const nodes = await startCluster(["n1", "n2"], { handshakeTimeoutMs: 1000 });
  const [a, b] = nodes as [TestNode, TestNode];
  const rng = new Xoshiro128(1234);
  const n1 = a.id;
  const n2 = b.id;
  const hello = encodeFrame(encodeHello({ clusterId: "test", from: asNodeId("n9"), to: n2 }));
  const validMessage = (fromId: string) =>
    encodeFrame(
      encodeMessage({ type: "TimeoutNow", from: asNodeId(fromId), to: n2, term: asTerm(1) }),
    );
  const cases: { name: string; afterHello: boolean; bytes: () => Uint8Array }[] = [
    { name: "random bytes", afterHello: false, bytes: () => randomBytes(rng, 1000) },
    {
      name: "an HTTP request",
      afterHello: false,
      bytes: () => new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
    },
    {
      name: "a small frame of garbage",
      afterHello: false,
      bytes: () => encodeFrame(randomBytes(rng, 40)),
    },
    { name: "random bytes after a hello", afterHello: true, bytes: () => randomBytes(rng, 1000) },
    {
      name: "garbage frames after a hello",
      afterHello: true,
      bytes: () => encodeFrame(new Uint8Array([99, 1, 2])),
    },
    {
      name: "an oversized frame header after a hello",
      afterHello: true,
      bytes: () => frameHeader(0xfffffff0),
    },
    {
      name: "a message from someone else after a hello",
      afterHello: true,
      bytes: () => validMessage("n1"),
    },
  ];
  try {
    let seq = 0;
    for (const c of cases) {
      const client = await rawConnect(b.address.port);
      if (c.afterHello) {
        client.socket.write(hello);
        await waitFor(`${c.name}: accepted`, () => client.received.length > 0);
        assert.equal(
          decodeReply(Buffer.concat(client.received).subarray(4)).status,
          HandshakeStatus.Accepted,
        );
      }
      client.socket.write(c.bytes());
      await waitFor(`${c.name}: connection closed`, () => client.isClosed(), 3000);
      // n1 → n2 still works.
      a.transport.send(numbered(n1, n2, seq++));
      await waitFor(`${c.name}: n2 still serves n1`, () => b.inbox.length === seq);
    }
    // A valid message on a valid connection is delivered: the raw client is a real dialer.
    const client = await rawConnect(b.address.port);
    client.socket.write(hello);
    client.socket.write(validMessage("n9"));
    await waitFor("n9's message", () => b.inbox.some((m) => m.from === "n9"));
    client.socket.destroy();
    await client.closed;
    const counters = b.transport.transportCounters();
    assert.ok(counters.connectionsMalformed >= 5, `malformed: ${counters.connectionsMalformed}`);
    assert.ok(b.logs.some((l) => l.message.startsWith("malformed input from peer")));
    assert.ok(!b.logs.some((l) => l.level === "error"), "no unexpected errors");
    assert.deepStrictEqual(sequence(b.inbox.filter((m) => m.from === n1)), range(0, cases.length));
    await waitFor(
      "closed connections forgotten",
      () => b.transport.transportCounters().inboundConnections === 1,
    );
  } finally {
    await stopAll(nodes);
  }
});

test("while a peer is down its queue is bounded: later messages are dropped and counted", async () => {
  const down = await startNode("n2");
  const port = down.address.port;
  await down.transport.stop();
  const a = await startNode("n1", {
    queueMessagesMax: 100,
    peers: new Map([[down.id, { host: HOST, port }]]),
  });
  let b: TestNode | undefined;
  try {
    for (let i = 0; i < 250; i++) a.transport.send(numbered(a.id, down.id, i));
    let stats = a.transport.stats().get(down.id)!;
    assert.equal(stats.queued, 100);
    assert.equal(stats.dropped, 150);
    await waitFor(
      "failed attempts",
      () => (a.transport.stats().get(down.id)?.sendFailures ?? 0) >= 2,
    );
    assert.ok(a.logs.some((l) => l.message === "dropping messages to peer"));
    // The peer comes back: exactly the queued (oldest) messages arrive.
    b = await startNode("n2", { listenPort: port });
    await waitFor("the queue drains", () => b!.inbox.length === 100);
    assert.deepStrictEqual(sequence(b.inbox), range(0, 100));
    stats = a.transport.stats().get(down.id)!;
    assert.equal(stats.queued, 0);
    assert.equal(stats.sent, 100);
    assert.equal(stats.dropped, 150);
    // A message too large for a frame is dropped at send, not sent.
    const big = new Uint8Array(5 * 1024 * 1024);
    const a2 = a.transport;
    a2.send({
      type: "AppendRequest",
      from: a.id,
      to: down.id,
      term: asTerm(1),
      prevLogIndex: asIndex(0),
      prevLogTerm: asTerm(0),
      commit: asIndex(0),
      entries: Array.from({ length: 4 }, (_, i) => ({
        index: asIndex(i + 1),
        term: asTerm(1),
        type: "Normal" as const,
        data: big,
      })),
    });
    assert.equal(a2.stats().get(down.id)!.dropped, 151);
  } finally {
    await stopAll([a, b]);
  }
});
