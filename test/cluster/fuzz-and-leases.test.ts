// A running 3-process cluster under hostile bytes and with leases left to expire:
//  - random and mutated bytes sent to every client port and every peer port (bounded count)
//    must not crash a member or lose a write: afterwards every member still serves and every
//    key written before holds its value;
//  - a key attached to a lease nobody keeps alive disappears once the lease expires, by an
//    entry the leader proposes with its time, on every member.
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, test } from "node:test";
import { KvClient } from "../../src/client/index.js";
import { asIndex, asNodeId, asTerm, Xoshiro128 } from "../../src/raft/index.js";
import { encodeFrame, encodeHello, encodeMessage } from "../../src/transport/index.js";
import { type ProcessCluster, startProcessCluster } from "./processes.js";

const clusters: ProcessCluster[] = [];
after(() => {
  for (const c of clusters) c.stop();
});

/** Sends `bytes` on a fresh connection and waits until the peer closes it or 300 ms pass. */
async function blast(port: number, bytes: Uint8Array): Promise<void> {
  await new Promise<void>((resolve) => {
    const socket = connect(port, "127.0.0.1");
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    };
    const timer = setTimeout(done, 300);
    socket.on("error", done);
    socket.on("close", done);
    socket.on("connect", () => socket.write(bytes));
  });
}

function mutate(prng: Xoshiro128, valid: Uint8Array): Uint8Array {
  const out = Uint8Array.from(valid);
  const flips = 1 + prng.int(4);
  for (let i = 0; i < flips && out.length > 0; i++) out[prng.int(out.length)] = prng.int(256);
  return prng.chance(0.3) ? out.subarray(0, prng.int(out.length + 1)) : out;
}

function randomBytes(prng: Xoshiro128, max: number): Uint8Array {
  const out = new Uint8Array(prng.int(max));
  for (let i = 0; i < out.length; i++) out[i] = prng.int(256);
  return out;
}

test("a running cluster survives random and mutated bytes on its ports and expires leases by leader time", {
  timeout: 120_000,
}, async () => {
  const cluster = await startProcessCluster(3, ["--initial-cluster-token", "fuzz"]);
  clusters.push(cluster);
  const { clientPorts, peerPorts } = cluster;
  const procs = cluster.processes;
  const client = new KvClient(
    clientPorts.map((p) => `127.0.0.1:${p}`),
    { timeoutMs: 3000, attempts: 15 },
  );
  try {
    const written = new Map<string, string>();
    for (let i = 0; i < 30; i++) {
      await client.put(`fuzz/k${i}`, `v${i}`);
      written.set(`fuzz/k${i}`, `v${i}`);
    }

    // Valid seeds to mutate: an HTTP/2 preface with a gRPC-ish frame, an HTTP request, and a
    // transport handshake followed by a real AppendRequest frame.
    const preface = new TextEncoder().encode(
      "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\u0000\u0000\u0012\u0004\u0000\u0000\u0000\u0000\u0000",
    );
    const http = new TextEncoder().encode(
      'POST /v3/kv/put HTTP/1.1\r\nHost: x\r\nContent-Length: 30\r\n\r\n{"key":"Zm9v","value":"YmFy"}',
    );
    const append = encodeMessage({
      type: "AppendRequest",
      from: asNodeId("n9"),
      to: asNodeId("n1"),
      term: asTerm(99),
      prevLogIndex: asIndex(0),
      prevLogTerm: asTerm(0),
      entries: [
        { index: asIndex(1), term: asTerm(99), type: "Normal", data: new Uint8Array([1, 2, 3]) },
      ],
      commit: asIndex(1),
    });
    // Another cluster's handshake: refused, so forged-but-valid Raft messages never reach the
    // core (Raft does not defend against a lying member); its mutations probe the parsers.
    const hello = encodeHello({
      clusterId: "another-cluster",
      from: asNodeId("n9"),
      to: asNodeId("n1"),
    });
    const peerSeed = new Uint8Array([...encodeFrame(hello), ...encodeFrame(append)]);

    const prng = new Xoshiro128(20261127);
    const sends: Promise<void>[] = [];
    for (let round = 0; round < 150; round++) {
      const clientPort = clientPorts[round % 3] as number;
      const peerPort = peerPorts[round % 3] as number;
      const kind = prng.int(4);
      const payload =
        kind === 0
          ? randomBytes(prng, 4096)
          : kind === 1
            ? mutate(prng, preface)
            : kind === 2
              ? mutate(prng, http)
              : mutate(prng, peerSeed);
      sends.push(blast(kind === 3 ? peerPort : clientPort, payload));
      sends.push(
        blast(peerPort, prng.chance(0.5) ? randomBytes(prng, 4096) : mutate(prng, peerSeed)),
      );
      if (sends.length >= 16) await Promise.all(sends.splice(0));
    }
    await Promise.all(sends);

    for (const [i, p] of procs.entries()) assert.equal(p.exitCode, null, `member n${i + 1} exited`);
    // Still serving, and nothing lost: every member, read locally, holds every key.
    await client.put("fuzz/after", "still-here");
    for (const port of clientPorts) {
      const single = new KvClient([`127.0.0.1:${port}`], { timeoutMs: 3000, attempts: 5 });
      try {
        const res = await single.get("fuzz/", { prefix: true });
        const got = new Map(res.kvs.map((kv) => [kv.key, kv.value]));
        for (const [k, v] of written) assert.equal(got.get(k), v, `${k} on port ${port}`);
        assert.equal(got.get("fuzz/after"), "still-here");
      } finally {
        single.close();
      }
    }

    // Leases: a key on a lease that nobody keeps alive goes away when the lease expires.
    // The key's presence is read at the revision its put made, not "now": on a loaded machine
    // the lease may already have expired by the time a plain get is answered.
    const lease = await client.leaseGrant(4);
    const put = await client.put("lease/ephemeral", "soon-gone", { lease: lease.id });
    await client.put("lease/durable", "stays");
    assert.equal(
      (await client.get("lease/ephemeral", { revision: put.revision })).kvs[0]?.value,
      "soon-gone",
    );
    const deadline = Date.now() + 20_000;
    for (;;) {
      const res = await client.get("lease/ephemeral");
      if (res.kvs.length === 0) break;
      assert.ok(Date.now() < deadline, "the leased key outlived its lease by far");
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const port of clientPorts) {
      const single = new KvClient([`127.0.0.1:${port}`], { timeoutMs: 3000, attempts: 5 });
      try {
        assert.equal((await single.get("lease/ephemeral")).kvs.length, 0);
        assert.equal((await single.get("lease/durable")).kvs[0]?.value, "stays");
      } finally {
        single.close();
      }
    }
  } finally {
    client.close();
  }
});
