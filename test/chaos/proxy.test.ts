// The chaos network's proxy, against a stand-in member: it reads the dialer's Hello to know
// the directed link, forwards bytes on a healthy link, holds them on a stalled one until the
// link heals, delays them on a slow one, and resets connections on a cut one.
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { test } from "node:test";
import { ChaosNetwork } from "../../src/chaos/proxy.js";
import { asNodeId } from "../../src/raft/index.js";
import { encodeFrame, encodeHello } from "../../src/transport/index.js";

interface StandIn {
  server: Server;
  port: number;
  /** Bytes received after each connection's hello frame, per connection. */
  received: Buffer[];
  next: () => Promise<number>;
}

/** A stand-in for member "b": accepts, answers each hello with a byte, records the rest. */
async function standIn(): Promise<StandIn> {
  const received: Buffer[] = [];
  const waiters: (() => void)[] = [];
  const server = createServer((socket) => {
    const index = received.length;
    received.push(Buffer.alloc(0));
    let helloSeen = false;
    socket.on("error", () => {});
    socket.on("data", (chunk: Buffer) => {
      let data = chunk;
      if (!helloSeen) {
        helloSeen = true;
        const helloBytes = data.readUInt32BE(0) + 4;
        socket.write(Buffer.from([7]));
        data = data.subarray(helloBytes);
      }
      received[index] = Buffer.concat([received[index] as Buffer, data]);
      for (const w of waiters.splice(0)) w();
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;
  const next = () => new Promise<number>((resolve) => waiters.push(() => resolve(received.length)));
  return { server, port, received, next };
}

async function dial(port: number, from: string, to: string): Promise<Socket> {
  const socket = connect(port, "127.0.0.1");
  socket.on("error", () => {});
  await once(socket, "connect");
  const hello = encodeHello({ clusterId: "c1", from: asNodeId(from), to: asNodeId(to) });
  socket.write(encodeFrame(hello));
  const [reply] = (await once(socket, "data")) as [Buffer];
  assert.equal(reply[0], 7, "the acceptor's reply flows back");
  return socket;
}

/** Resolves when the socket has closed (a reset emits "error" first, which once() would throw). */
const closed = (s: Socket): Promise<void> =>
  new Promise((resolve) => s.once("close", () => resolve()));

async function until(what: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!what()) {
    if (performance.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}

test("forwards, stalls until healed, delays and resets, per directed link", async () => {
  const b = await standIn();
  const net = new ChaosNetwork({ targets: new Map([["b", b.port]]), random: () => 0.5 });
  await net.start();
  try {
    const port = net.proxyPort("b");
    const s = await dial(port, "a", "b");
    s.write("one");
    await until(() => b.received[0]?.toString() === "one");

    // Stalled: nothing arrives while it holds; everything arrives, in order, once healed.
    net.setLink("a", "b", { cut: "stall" });
    assert.deepEqual(net.faultyLinks(), ["a>b"]);
    s.write("two");
    // Another directed link to b is not affected.
    const other = await dial(port, "c", "b");
    other.write("from-c");
    await until(() => b.received[1]?.toString() === "from-c");
    assert.equal(b.received[0]?.toString(), "one", "stalled bytes were held");
    net.heal();
    await until(() => b.received[0]?.toString() === "onetwo");

    // Slow: bytes arrive, but not before the delay.
    net.setLink("a", "b", { delayMs: 150 });
    const sent = performance.now();
    s.write("three");
    await until(() => b.received[0]?.toString() === "onetwothree");
    assert.ok(performance.now() - sent >= 140, "delayed bytes waited");

    // Reset: the open connection is reset, and a new one is reset after its hello.
    net.setLink("a", "b", { cut: "reset" });
    await closed(s);
    assert.equal(s.destroyed, true);
    const again = connect(port, "127.0.0.1");
    again.on("error", () => {});
    await once(again, "connect");
    again.write(
      encodeFrame(encodeHello({ clusterId: "c1", from: asNodeId("a"), to: asNodeId("b") })),
    );
    await closed(again);
    assert.equal(b.received[0]?.toString(), "onetwothree", "nothing crossed a cut link");

    // Lossy: with a cut chance above the draw, the next chunk resets the connection.
    net.heal();
    const lossy = await dial(port, "c", "b");
    net.setLink("c", "b", { cutChance: 0.9 });
    lossy.write("x");
    await closed(lossy);
    assert.equal(net.cuts, 1);
    other.destroy();
  } finally {
    await net.stop();
    b.server.close();
  }
});
