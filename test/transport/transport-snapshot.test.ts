// Large snapshots over TCP: chunked by the sender, reassembled by the receiver, delivered as
// one InstallSnapshot; small messages keep flowing between chunks; oversized ones discarded.
import assert from "node:assert/strict";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { test } from "node:test";
import {
  asIndex,
  asNodeId,
  asTerm,
  type InstallSnapshot,
  type NodeId,
  Xoshiro128,
} from "../../src/raft/index.js";
import { encodeFrame, encodeReply, HandshakeStatus } from "../../src/transport/index.js";
import { numbered } from "./message-gen.js";
import { HOST, startCluster, stopAll, type TestNode, waitFor } from "./transport-harness.js";

function bigSnapshot(from: NodeId, to: NodeId, dataBytes: number, seed: number): InstallSnapshot {
  const rng = new Xoshiro128(seed);
  const words = new Uint32Array(Math.ceil(dataBytes / 4));
  for (let i = 0; i < words.length; i++) words[i] = rng.next32();
  const data = new Uint8Array(words.buffer, 0, dataBytes);
  return {
    type: "InstallSnapshot",
    from,
    to,
    term: asTerm(9),
    snapshot: {
      meta: {
        index: asIndex(123_456),
        term: asTerm(8),
        confState: {
          voters: [asNodeId("n1"), asNodeId("n2"), asNodeId("n3")],
          votersOutgoing: [],
          learners: [asNodeId("n4")],
        },
      },
      data,
    },
  };
}

const snapshotsIn = (inbox: readonly { type: string }[]): InstallSnapshot[] =>
  inbox.filter((m): m is InstallSnapshot => m.type === "InstallSnapshot");

test("a 5 MiB snapshot goes through in 1 MiB chunks and arrives intact", async () => {
  const nodes = await startCluster(["n1", "n2"]);
  const [a, b] = nodes as [TestNode, TestNode];
  try {
    const m = bigSnapshot(a.id, b.id, 5 * 1024 * 1024 + 17, 1);
    a.transport.send(numbered(a.id, b.id, 0));
    a.transport.send(m);
    a.transport.send(numbered(a.id, b.id, 1));
    await waitFor("the snapshot", () => snapshotsIn(b.inbox).length === 1, 10_000);
    const got = snapshotsIn(b.inbox)[0]!;
    assert.deepStrictEqual(got.snapshot.meta, m.snapshot.meta);
    assert.equal(got.snapshot.data.byteLength, m.snapshot.data.byteLength);
    assert.equal(Buffer.compare(got.snapshot.data, m.snapshot.data), 0, "data differs");
    assert.deepStrictEqual({ ...got, snapshot: null }, { ...m, snapshot: null });
    await waitFor("the heartbeats", () => b.inbox.length === 3);
    const stats = a.transport.stats().get(b.id)!;
    assert.equal(stats.sent, 3);
    assert.equal(stats.queued, 0);
  } finally {
    await stopAll(nodes);
  }
});

test("small messages flow between a snapshot's chunks", async () => {
  const nodes = await startCluster(["n1", "n2"], { snapshotChunkBytes: 64 * 1024 });
  const [a, b] = nodes as [TestNode, TestNode];
  try {
    const m = bigSnapshot(a.id, b.id, 2 * 1024 * 1024, 2);
    a.transport.send(m);
    for (let i = 0; i < 10; i++) a.transport.send(numbered(a.id, b.id, i));
    await waitFor("everything", () => b.inbox.length === 11, 10_000);
    // The heartbeats were sent after the snapshot but did not wait for its 32 chunks.
    assert.equal(b.inbox.at(-1)?.type, "InstallSnapshot");
    assert.equal(Buffer.compare(snapshotsIn(b.inbox)[0]!.snapshot.data, m.snapshot.data), 0);
  } finally {
    await stopAll(nodes);
  }
});

test("a snapshot over the receiver's snapshotBytesMax is discarded; the connection carries on", async () => {
  const nodes = await startCluster(["n1", "n2"], {
    snapshotChunkBytes: 256 * 1024,
    snapshotBytesMax: 1024 * 1024,
  });
  const [a, b] = nodes as [TestNode, TestNode];
  try {
    a.transport.send(bigSnapshot(a.id, b.id, 3 * 1024 * 1024, 3));
    a.transport.send(numbered(a.id, b.id, 0));
    const small = bigSnapshot(a.id, b.id, 512 * 1024, 4);
    a.transport.send(small);
    await waitFor("the small snapshot", () => snapshotsIn(b.inbox).length === 1, 10_000);
    assert.equal(snapshotsIn(b.inbox)[0]!.snapshot.data.byteLength, small.snapshot.data.byteLength);
    assert.equal(b.transport.transportCounters().snapshotsRejected, 1);
    assert.equal(b.transport.transportCounters().connectionsMalformed, 0);
    assert.ok(b.inbox.some((m) => m.type === "Heartbeat"));
  } finally {
    await stopAll(nodes);
  }
});

test("a peer that stops reading stalls the stream in our queue; losing it drops the partial snapshot", async () => {
  // A hand-made peer: accepts the handshake, reads a little, then stops reading.
  const sockets = new Set<Socket>();
  let receivedBytes = 0;
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    let replied = false;
    socket.on("data", (chunk: Buffer) => {
      receivedBytes += chunk.byteLength;
      if (!replied) {
        replied = true;
        socket.write(encodeFrame(encodeReply({ status: HandshakeStatus.Accepted, reason: "" })));
      }
      if (receivedBytes > 1024 * 1024) socket.pause();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const port = (server.address() as AddressInfo).port;
  const nodes = await startCluster(["n1"], { snapshotChunkBytes: 64 * 1024 });
  const a = nodes[0]!;
  const peer = asNodeId("n2");
  a.transport.setPeer(peer, { host: HOST, port });
  try {
    // 64 MiB: far more than the kernel's socket buffers can hold.
    a.transport.send(bigSnapshot(a.id, peer, 64 * 1024 * 1024, 5));
    await waitFor("the peer to stop reading", () => receivedBytes > 1024 * 1024);
    // Stalled: later messages wait in our queue (bounded), not in the socket's buffer.
    for (let i = 0; i < 5; i++) a.transport.send(numbered(a.id, peer, i));
    await waitFor("messages held back", () => a.transport.stats().get(peer)!.queued === 6);
    for (const s of sockets) s.destroy();
    await waitFor(
      "the partial snapshot dropped",
      () => a.transport.stats().get(peer)!.dropped === 1,
    );
    const stats = a.transport.stats().get(peer)!;
    assert.equal(stats.sent, 0);
    assert.equal(stats.queued, 5, "the heartbeats wait for the next connection");
  } finally {
    await stopAll(nodes);
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});
