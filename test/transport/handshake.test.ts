// The connection handshake's encoding: round-trips, and refusals of what is not an Ordo peer
// of this protocol version.
import assert from "node:assert/strict";
import { test } from "node:test";
import { asNodeId } from "../../src/raft/index.js";
import {
  clusterInfoBytesMax,
  DecodeError,
  decodeClusterInfo,
  decodeHello,
  decodeReply,
  encodeClusterInfo,
  encodeHello,
  encodeReply,
  HandshakeStatus,
  PROTOCOL_VERSION,
  TransportError,
} from "../../src/transport/index.js";

test("hello and reply round-trip", () => {
  const hello = { clusterId: "prod-eu", from: asNodeId("n1"), to: asNodeId("n3") };
  assert.deepStrictEqual(decodeHello(encodeHello(hello)), hello);
  for (const status of Object.values(HandshakeStatus)) {
    const reply = { status, reason: status === 0 ? "" : "wrong cluster — ça arrive" };
    assert.deepStrictEqual(decodeReply(encodeReply(reply)), reply);
  }
});

test("the incarnation rides as a trailing field of the hello and the Accepted reply", () => {
  const hello = {
    clusterId: "prod-eu",
    from: asNodeId("n1"),
    to: asNodeId("n3"),
    incarnation: "0123456789abcdef0123456789abcdef",
  };
  assert.deepStrictEqual(decodeHello(encodeHello(hello)), hello);
  const reply = { status: HandshakeStatus.Accepted, reason: "", incarnation: "feedfacecafebeef" };
  assert.deepStrictEqual(decodeReply(encodeReply(reply)), reply);
  // An empty incarnation is the absent field: the same bytes as a hello without one.
  const without = { clusterId: "c", from: asNodeId("a"), to: asNodeId("b") };
  assert.deepStrictEqual(encodeHello({ ...without, incarnation: "" }), encodeHello(without));
  // ...and an explicitly empty one on the wire is not canonical.
  const bytes = encodeHello(without);
  assert.throws(() => decodeHello(new Uint8Array([...bytes, 0])), DecodeError);
});

test("a long refusal reason is cut on a character boundary, not refused", () => {
  const reply = decodeReply(
    encodeReply({ status: HandshakeStatus.WrongNode, reason: "日".repeat(2000) }),
  );
  assert.ok(reply.reason.length > 0 && reply.reason.length < 2000);
  assert.ok(reply.reason.split("").every((c) => c === "日"));
});

test("bad magic and other versions are refused", () => {
  const hello = encodeHello({ clusterId: "c", from: asNodeId("a"), to: asNodeId("b") });
  const http = new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n");
  assert.throws(() => decodeHello(http), /bad magic/);
  const v2 = hello.slice();
  v2[4] = PROTOCOL_VERSION + 1;
  assert.throws(
    () => decodeHello(v2),
    (e: unknown) => e instanceof DecodeError && /version 2/.test(e.message),
  );
  const badStatus = encodeReply({ status: HandshakeStatus.Busy, reason: "" }).slice();
  badStatus[5] = 200;
  assert.throws(() => decodeReply(badStatus), /unknown handshake status/);
});

test("a discovery hello has an empty clusterId and ids; a ClusterInfo reply carries JSON, uncut", () => {
  const none = asNodeId("");
  const hello = { clusterId: "", from: none, to: none };
  assert.deepStrictEqual(decodeHello(encodeHello(hello)), hello);
  const info = {
    clusterId: "1234",
    members: Array.from({ length: 60 }, (_, i) => ({
      nodeId: asNodeId(`member-${i}`),
      id: String(1000 + i),
      peerURLs: [`http://127.0.0.1:${20000 + i}`],
    })),
  };
  const payload = encodeClusterInfo(info);
  assert.ok(payload.length > 2048, "larger than a plain reason may be");
  const reply = decodeReply(encodeReply({ status: HandshakeStatus.ClusterInfo, reason: payload }));
  assert.equal(reply.status, HandshakeStatus.ClusterInfo);
  assert.deepStrictEqual(decodeClusterInfo(reply.reason), info);
  // A plain refusal's reason is still cut at 1 KiB.
  const long = decodeReply(
    encodeReply({ status: HandshakeStatus.Removed, reason: "x".repeat(5000) }),
  );
  assert.equal(long.reason.length, 1024);
});

test("a ClusterInfo over the bound is refused when encoded; a malformed one when decoded", () => {
  const huge = {
    clusterId: "c",
    members: Array.from({ length: 1000 }, (_, i) => ({
      nodeId: asNodeId(`n${i}`),
      peerURLs: [`http://${"h".repeat(60)}:${i}`],
    })),
  };
  assert.throws(
    () => encodeClusterInfo(huge),
    (e: unknown) => e instanceof TransportError && e.code === "INVALID_ARGUMENT",
  );
  assert.ok(clusterInfoBytesMax < 64 * 1024);
  for (const bad of [
    "not json",
    "[]",
    "{}",
    '{"clusterId":"","members":[]}',
    '{"clusterId":"c","members":{}}',
    '{"clusterId":"c","members":[{"nodeId":"","peerURLs":[]}]}',
    '{"clusterId":"c","members":[{"nodeId":"a","peerURLs":"http://x:1"}]}',
    '{"clusterId":"c","members":[{"nodeId":"a","id":"-1","peerURLs":[]}]}',
    '{"clusterId":"c","members":[{"nodeId":"a","peerURLs":[7]}]}',
  ]) {
    assert.throws(() => decodeClusterInfo(bad), DecodeError, bad);
  }
});
