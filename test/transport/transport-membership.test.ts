// The transport's part in membership changes: a joining node discovers the cluster through a
// discovery hello, a node marked removed is refused with Removed (and hears that it must stop),
// and marking it removed closes the connections it already had.
import assert from "node:assert/strict";
import { test } from "node:test";
import { asNodeId } from "../../src/raft/index.js";
import { askClusterInfo, discoverCluster, TransportError } from "../../src/transport/index.js";
import { numbered } from "./message-gen.js";
import {
  from,
  HOST,
  sequence,
  startCluster,
  startNode,
  stopAll,
  type TestNode,
  waitFor,
} from "./transport-harness.js";

test("discovery: a member answers ClusterInfo and delivers nothing; without a provider it refuses", async () => {
  const info = {
    clusterId: "test",
    members: [{ nodeId: asNodeId("n1"), id: "17", peerURLs: ["http://127.0.0.1:1234"] }],
  };
  const a = await startNode("n1", { clusterInfo: () => info });
  const b = await startNode("n2");
  try {
    assert.deepStrictEqual(await askClusterInfo(a.address), info);
    assert.equal(a.transport.transportCounters().discoveryAnswers, 1);
    assert.equal(a.transport.transportCounters().handshakesAccepted, 0);
    assert.equal(a.inbox.length, 0);
    await assert.rejects(
      askClusterInfo(b.address),
      (e: unknown) => e instanceof TransportError && /WrongCluster/.test(e.message),
    );
    // discoverCluster moves past a member that cannot answer, and waits for an acceptable one.
    let asked = 0;
    const found = await discoverCluster([b.address, a.address], {
      timeoutMs: 5000,
      accept: () => ++asked >= 2,
    });
    assert.equal(found.clusterId, "test");
    assert.equal(asked, 2);
  } finally {
    await stopAll([a, b]);
  }
});

test("discovery gives up at its deadline, naming what failed", async () => {
  const closed = await startNode("n9");
  const address = closed.address;
  await closed.transport.stop();
  const started = Date.now();
  await assert.rejects(
    discoverCluster([address], { timeoutMs: 400, attemptTimeoutMs: 100 }),
    (e: unknown) => e instanceof TransportError && e.message.includes(`${HOST}:${address.port}`),
  );
  assert.ok(Date.now() - started < 3000);
});

test("a node marked removed is refused with Removed, hears it, and its connections are closed", async () => {
  const removedBy: string[] = [];
  const nodes = await startCluster(["n1", "n2"]);
  const [a, b] = nodes as [TestNode, TestNode];
  // n3 is a separate node so that its onRemoved can be observed.
  const c = await startNode("n3", {
    peers: new Map([[a.id, a.address]]),
    onRemoved: (by, reason) => removedBy.push(`${by}: ${reason}`),
  });
  a.transport.setPeer(c.id, c.address);
  try {
    c.transport.send(numbered(c.id, a.id, 0));
    await waitFor("n3's first message", () => a.inbox.some((m) => m.from === c.id));
    a.transport.setRemoved(c.id);
    assert.equal(a.transport.isRemoved(c.id), true);
    assert.equal(a.transport.peerIds().includes(c.id), false, "no longer a peer to send to");
    // Its accepted connection was closed; it redials, and its hello is refused.
    await waitFor("n3 hears it was removed", () => removedBy.length > 0);
    assert.match(removedBy[0] ?? "", /^n1: node "n3" was removed from the cluster$/);
    assert.equal(a.inbox.filter((m) => m.from === c.id).length, 1);
    assert.ok(
      a.logs.some(
        (l) => l.message === "refused a peer connection" && l.fields.status === "Removed",
      ),
    );
    // Others are unaffected; and a node added back is accepted again.
    a.transport.send(numbered(a.id, b.id, 7));
    await waitFor("n2 still served", () => b.inbox.length === 1);
    a.transport.setRemoved(c.id, false);
    c.transport.send(numbered(c.id, a.id, 2));
    await waitFor("n3 accepted again", () => a.inbox.filter((m) => m.from === c.id).length >= 2);
    assert.deepStrictEqual(sequence(from(a.inbox, c.id)), [0, 2]);
  } finally {
    await stopAll([a, b, c]);
  }
});
