// Incarnations at the handshake (transport/incarnations.ts): a node learns each peer's data
// directory incarnation at first contact, and refuses the same node id with another one, both
// ways: the acceptor refuses the hello with StaleIncarnation (the dialer hears it must stop),
// the dialer refuses to send to an acceptor whose Accepted reply shows another one. Refusals
// are counted and logged at a bounded rate.
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { test } from "node:test";
import { asNodeId } from "../../src/raft/index.js";
import { encodeFrame, FrameDecoder } from "../../src/transport/frame.js";
import {
  decodeHello,
  encodeReply,
  HandshakeStatus,
  judgeIncarnation,
  MemoryIncarnations,
} from "../../src/transport/index.js";
import { numbered } from "./message-gen.js";
import { startNode, stopAll, type TestNode, waitFor } from "./transport-harness.js";

test("judgeIncarnation: learn the first, match the same, refuse another", () => {
  assert.equal(judgeIncarnation(undefined, "a1"), "learn");
  assert.equal(judgeIncarnation("a1", "a1"), "match");
  assert.equal(judgeIncarnation("a1", "b2"), "stale");
  // A peer that sends none: let in while none is remembered, refused once one is.
  assert.equal(judgeIncarnation(undefined, ""), "match");
  assert.equal(judgeIncarnation("a1", ""), "stale");
});

test("a node back under its old id with a new data directory is refused both ways", async () => {
  const book = new MemoryIncarnations();
  const fenced: string[] = [];
  let a: TestNode | undefined;
  let c: TestNode | undefined;
  let c2: TestNode | undefined;
  try {
    a = await startNode("n1", { incarnation: "aaaa0001", peerIncarnations: book });
    c = await startNode("n3", {
      incarnation: "cccc0001",
      peers: new Map([[a.id, a.address]]),
    });
    a.transport.setPeer(c.id, c.address);
    c.transport.send(numbered(c.id, a.id, 0));
    const first = c;
    await waitFor("n3's first message", () => a?.inbox.some((m) => m.from === first.id) ?? false);
    assert.equal(book.get(asNodeId("n3")), "cccc0001", "learned at first contact");
    // n3 "restarts with a wiped data directory": same id and port, another incarnation.
    const port = c.address.port;
    await c.transport.stop();
    c = undefined;
    c2 = await startNode("n3", {
      incarnation: "cccc0002",
      listenPort: port,
      peers: new Map([[a.id, a.address]]),
      onFenced: (by, reason) => fenced.push(`${by}: ${reason}`),
    });
    const before = a.inbox.length;
    for (let i = 1; i <= 20; i++) c2.transport.send(numbered(c2.id, a.id, i));
    await waitFor("n3 hears it is fenced", () => fenced.length > 0);
    assert.match(fenced[0] ?? "", /^n1: .*wiped or replaced/);
    assert.equal(a.inbox.length, before, "nothing from the new n3 is delivered");
    // n1 does not send to it either: its Accepted reply shows the new incarnation.
    a.transport.send(numbered(a.id, c2.id, 99));
    const fresh = c2;
    await waitFor(
      "n1 refuses the new n3 as a destination",
      () => (a?.transport.transportCounters().incarnationRefusals ?? 0) >= 2,
    );
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(fresh.inbox.length, 0, "nothing from n1 reaches the new n3");
    const staleLogs = a.logs.filter((l) => /data directory is not the one/.test(l.message));
    assert.ok(staleLogs.length >= 1, "the refusal is logged");
    assert.ok(
      staleLogs.length <= 2,
      `rate-limited: ${staleLogs.length} lines for ${a.transport.transportCounters().incarnationRefusals} refusals`,
    );
    assert.equal(book.get(asNodeId("n3")), "cccc0001", "the remembered incarnation stays");
  } finally {
    await stopAll([a, c, c2]);
  }
});

test("an older peer that refuses the incarnation field as trailing bytes gets hellos without it", async () => {
  const hellos: (string | undefined)[] = [];
  // An acceptor of the protocol before incarnations: a hello with one has trailing bytes.
  const server = createServer((socket) => {
    const frames = new FrameDecoder(4096);
    socket.on("data", (chunk: Buffer) => {
      frames.push(chunk);
      const frame = frames.next();
      if (frame === undefined) return;
      const hello = decodeHello(frame);
      hellos.push(hello.incarnation);
      if (hello.incarnation !== undefined) {
        socket.end(
          encodeFrame(
            encodeReply({ status: HandshakeStatus.Malformed, reason: "hello: 33 trailing bytes" }),
          ),
        );
      } else {
        socket.write(encodeFrame(encodeReply({ status: HandshakeStatus.Accepted, reason: "" })));
      }
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  let a: TestNode | undefined;
  try {
    a = await startNode("n1", {
      incarnation: "aaaa0001",
      peers: new Map([[asNodeId("n2"), { host: "127.0.0.1", port }]]),
    });
    const node = a;
    await waitFor(
      "connected without the incarnation",
      () => node.transport.stats().get(asNodeId("n2"))?.connected === true,
    );
    assert.equal(hellos[0], "aaaa0001");
    assert.equal(hellos.at(-1), undefined);
  } finally {
    await stopAll([a]);
    server.close();
  }
});
