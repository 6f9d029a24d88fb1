// The connection handshake's encoding: round-trips, and refusals of what is not an Ordo peer
// of this protocol version.
import assert from "node:assert/strict";
import { test } from "node:test";
import { asNodeId } from "../../src/raft/index.js";
import {
  DecodeError,
  decodeHello,
  decodeReply,
  encodeHello,
  encodeReply,
  HandshakeStatus,
  PROTOCOL_VERSION,
} from "../../src/transport/index.js";

test("hello and reply round-trip", () => {
  const hello = { clusterId: "prod-eu", from: asNodeId("n1"), to: asNodeId("n3") };
  assert.deepStrictEqual(decodeHello(encodeHello(hello)), hello);
  for (const status of Object.values(HandshakeStatus)) {
    const reply = { status, reason: status === 0 ? "" : "wrong cluster — ça arrive" };
    assert.deepStrictEqual(decodeReply(encodeReply(reply)), reply);
  }
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
