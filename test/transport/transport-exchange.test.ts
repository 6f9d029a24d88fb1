// Two and three transports on loopback exchange messages of every type, in order per sender;
// stop() ends delivery; onMessage errors are contained; peers can be added and removed.
import assert from "node:assert/strict";
import { test } from "node:test";
import { asNodeId, type Message } from "../../src/raft/index.js";
import { MessageGen, messageTypes, numbered } from "./message-gen.js";
import {
  from,
  sequence,
  startCluster,
  startNode,
  stopAll,
  type TestNode,
  waitFor,
} from "./transport-harness.js";

test("two transports exchange every message type, in order, both ways", async () => {
  const nodes = await startCluster(["n1", "n2"]);
  try {
    const [a, b] = nodes as [TestNode, TestNode];
    const gen = new MessageGen(31);
    const sentBy = new Map<string, Message[]>([
      [a.id, []],
      [b.id, []],
    ]);
    for (let i = 0; i < 600; i++) {
      const [src, dst] = i % 2 === 0 ? [a, b] : [b, a];
      const m = {
        ...gen.message(messageTypes[i % messageTypes.length]),
        from: src.id,
        to: dst.id,
      } as Message;
      sentBy.get(src.id)!.push(m);
      src.transport.send(m);
    }
    await waitFor("all messages", () => a.inbox.length === 300 && b.inbox.length === 300);
    assert.deepStrictEqual(b.inbox, sentBy.get(a.id));
    assert.deepStrictEqual(a.inbox, sentBy.get(b.id));
    const stats = a.transport.stats().get(b.id)!;
    assert.equal(stats.connected, true);
    assert.equal(stats.sent, 300);
    assert.equal(stats.dropped, 0);
    assert.equal(stats.queued, 0);
    assert.equal(b.transport.transportCounters().messagesReceived, 300);
  } finally {
    await stopAll(nodes);
  }
});

test("three transports: every node hears every other in the order it sent", async () => {
  const nodes = await startCluster(["n1", "n2", "n3"]);
  try {
    const count = 2000;
    // Sent in bursts from all three at once, so batches coalesce and interleave.
    for (let i = 0; i < count; i++) {
      for (const src of nodes)
        for (const dst of nodes) if (src !== dst) src.transport.send(numbered(src.id, dst.id, i));
      if (i % 250 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await waitFor("all messages", () => nodes.every((n) => n.inbox.length === 2 * count), 10_000);
    const expected = Array.from({ length: count }, (_, i) => i);
    for (const dst of nodes) {
      for (const src of nodes) {
        if (src === dst) continue;
        assert.deepStrictEqual(
          sequence(from(dst.inbox, src.id)),
          expected,
          `${src.id} → ${dst.id}`,
        );
      }
    }
  } finally {
    await stopAll(nodes);
  }
});

test("after stop() resolves nothing is delivered and send() is ignored", async () => {
  const nodes = await startCluster(["n1", "n2"]);
  const [a, b] = nodes as [TestNode, TestNode];
  try {
    for (let i = 0; i < 3000; i++) a.transport.send(numbered(a.id, b.id, i));
    await waitFor("some deliveries", () => b.inbox.length > 0);
    await b.transport.stop();
    const deliveredAtStop = b.inbox.length;
    a.transport.send(numbered(a.id, b.id, 3000));
    b.transport.send(numbered(b.id, a.id, 1)); // ignored: stopped
    // Let any straggling socket data run through the event loop: it must not be delivered.
    await waitFor("a notices the close", () => a.transport.stats().get(b.id)?.connected === false);
    assert.equal(b.inbox.length, deliveredAtStop);
    assert.deepStrictEqual(
      sequence(b.inbox),
      Array.from({ length: deliveredAtStop }, (_, i) => i),
    );
    assert.equal(b.transport.transportCounters().inboundConnections, 0);
    assert.equal(a.inbox.length, 0);
  } finally {
    await stopAll(nodes);
  }
});

test("an onMessage that throws is logged and later messages still arrive", async () => {
  let calls = 0;
  const b = await startNode("n2", {
    onMessage: () => {
      calls++;
      if (calls === 1) throw new Error("application bug");
    },
  });
  const a = await startNode("n1", { peers: new Map([[b.id, b.address]]) });
  try {
    for (let i = 0; i < 3; i++) a.transport.send(numbered(a.id, b.id, i));
    await waitFor("three deliveries", () => calls === 3);
    assert.equal(b.transport.transportCounters().deliveryErrors, 1);
    assert.ok(b.logs.some((l) => l.level === "error" && l.message === "onMessage threw"));
    assert.equal(a.transport.stats().get(b.id)?.connected, true, "the connection survived");
  } finally {
    await stopAll([a, b]);
  }
});

test("setPeer adds and moves peers, removePeer forgets them", async () => {
  const a = await startNode("n1");
  const b = await startNode("n2");
  const b2 = await startNode("n2");
  try {
    a.transport.send(numbered(a.id, b.id, 0));
    assert.equal(a.transport.transportCounters().messagesUnroutable, 1);
    a.transport.setPeer(b.id, b.address);
    a.transport.send(numbered(a.id, b.id, 1));
    await waitFor("delivery to b", () => b.inbox.length === 1);
    // n2 moves to another address: later messages go there.
    a.transport.setPeer(b.id, b2.address);
    a.transport.send(numbered(a.id, b.id, 2));
    await waitFor("delivery to the moved n2", () => b2.inbox.length === 1);
    assert.deepStrictEqual(sequence(b2.inbox), [2]);
    a.transport.removePeer(b.id);
    assert.equal(a.transport.stats().has(b.id), false);
    a.transport.send(numbered(a.id, b.id, 3));
    assert.equal(a.transport.transportCounters().messagesUnroutable, 2);
    // A transport ignores its own id among its peers.
    a.transport.setPeer(asNodeId("n1"), b.address);
    assert.equal(a.transport.stats().has(asNodeId("n1")), false);
  } finally {
    await stopAll([a, b, b2]);
  }
});

test("bad options are refused with INVALID_ARGUMENT; start twice is refused", async () => {
  const base = {
    id: asNodeId("n1"),
    clusterId: "c",
    listenHost: "127.0.0.1",
    listenPort: 0,
    peers: new Map(),
    onMessage: () => {},
  };
  const { TcpTransport } = await import("../../src/transport/index.js");
  for (const bad of [
    { listenPort: 70000 },
    { queueMessagesMax: 0 },
    { frameBytesMax: 100 },
    { snapshotChunkBytes: 16 * 1024 * 1024 },
    { reconnectBackoffMinMs: 100, reconnectBackoffMaxMs: 10 },
    { id: asNodeId("") },
  ]) {
    assert.throws(
      () => new TcpTransport({ ...base, ...bad }),
      { code: "INVALID_ARGUMENT" },
      JSON.stringify(bad),
    );
  }
  const t = new TcpTransport(base);
  assert.throws(() => t.setPeer(asNodeId("n2"), { host: "127.0.0.1", port: 0 }), {
    code: "INVALID_ARGUMENT",
  });
  for (const badId of ["", "x".repeat(256), "\ud800"]) {
    assert.throws(() => t.setPeer(asNodeId(badId), { host: "127.0.0.1", port: 1 }), {
      code: "INVALID_ARGUMENT",
    });
  }
  await t.start();
  await assert.rejects(t.start(), { code: "CLOSED" });
  // The port is taken: a second transport cannot listen on it.
  const clash = new TcpTransport({ ...base, listenPort: t.port });
  await assert.rejects(clash.start(), { code: "LISTEN_FAILED" });
  await clash.stop();
  await t.stop();
  await t.stop(); // idempotent
});

test("stop() leaves no sockets, servers or timers behind", async () => {
  const watched = new Set(["TCPSocketWrap", "TCPServerWrap", "TCPWRAP", "Timeout", "Immediate"]);
  const resources = (): string[] =>
    process
      .getActiveResourcesInfo()
      .filter((r) => watched.has(r))
      .sort();
  // libuv closes handles a loop turn or two after their close callbacks: let earlier tests' go.
  await waitFor(
    "earlier tests' handles closed",
    () => !resources().some((r) => r.startsWith("TCP")),
  );
  const before = resources();
  const nodes = await startCluster(["n1", "n2", "n3"]);
  const [a, b] = nodes as [TestNode, TestNode];
  // A peer that is down, so a reconnect timer is pending when we stop.
  a.transport.setPeer(asNodeId("n9"), { host: "127.0.0.1", port: 1 });
  for (let i = 0; i < 1000; i++) a.transport.send(numbered(a.id, b.id, i));
  await waitFor("some traffic", () => b.inbox.length > 0);
  await waitFor(
    "a failed dial",
    () => (a.transport.stats().get(asNodeId("n9"))?.sendFailures ?? 0) > 0,
  );
  assert.ok(resources().length > before.length);
  await stopAll(nodes);
  // Only the close lag above is waited out: far shorter than any timer the transport sets.
  await waitFor("everything released", () => resources().join() === before.join(), 500);
});
