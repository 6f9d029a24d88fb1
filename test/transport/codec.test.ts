// The message codec: exact round-trips of every message type, canonical and compact bytes,
// and a DecodeError for each way input can be wrong.
import assert from "node:assert/strict";
import { test } from "node:test";
import { asIndex, asNodeId, asTerm, type Message } from "../../src/raft/index.js";
import {
  DecodeError,
  decodeMessage,
  decodeSnapshotChunk,
  encodeMessage,
  encodeSnapshotChunk,
  SNAPSHOT_CHUNK_TAG,
} from "../../src/transport/index.js";
import { MessageGen, messageTypes } from "./message-gen.js";

const n1 = asNodeId("n1");
const n2 = asNodeId("n2");

test("every message type round-trips exactly (seeded random messages)", () => {
  const gen = new MessageGen(20240611);
  const seen = new Set<string>();
  for (let i = 0; i < 3000; i++) {
    const m = gen.message();
    seen.add(m.type);
    const bytes = encodeMessage(m);
    const back = decodeMessage(bytes);
    assert.deepStrictEqual(back, m, `message ${i} (${m.type})`);
    // Canonical: the decoded message encodes to the very same bytes.
    assert.deepStrictEqual(encodeMessage(back), bytes, `message ${i} re-encodes identically`);
  }
  assert.deepStrictEqual([...seen].sort(), [...messageTypes].sort());
});

test("decoded byte fields are plain Uint8Arrays that do not alias the input", () => {
  const m: Message = {
    type: "AppendRequest",
    from: n1,
    to: n2,
    term: asTerm(3),
    prevLogIndex: asIndex(4),
    prevLogTerm: asTerm(2),
    commit: asIndex(4),
    entries: [
      { index: asIndex(5), term: asTerm(3), type: "Normal", data: new Uint8Array([1, 2, 3]) },
    ],
  };
  const bytes = Buffer.from(encodeMessage(m));
  const back = decodeMessage(bytes);
  assert.equal(back.type, "AppendRequest");
  if (back.type !== "AppendRequest") return;
  const data = back.entries[0]!.data;
  assert.equal(Object.getPrototypeOf(data), Uint8Array.prototype);
  bytes.fill(0);
  assert.deepStrictEqual([...data], [1, 2, 3]);
});

test("the encoding is compact: a heartbeat is a handful of bytes", () => {
  const hb: Message = {
    type: "Heartbeat",
    from: n1,
    to: n2,
    term: asTerm(7),
    commit: asIndex(100),
    context: "",
  };
  // tag, 2 × (length + 2 chars), term, commit (one varint byte below 128), empty context
  assert.equal(encodeMessage(hb).byteLength, 1 + 3 + 3 + 1 + 1 + 1);
});

test("boundary numbers: 0 and 2^53 - 1 round-trip; the encoder refuses what is not a safe integer ≥ 0", () => {
  for (const n of [0, 127, 128, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
    const m: Message = { type: "TimeoutNow", from: n1, to: n2, term: asTerm(n) };
    assert.deepStrictEqual(decodeMessage(encodeMessage(m)), m);
  }
  for (const bad of [-1, 1.5, 2 ** 53, Number.NaN]) {
    assert.throws(
      () => encodeMessage({ type: "TimeoutNow", from: n1, to: n2, term: asTerm(bad) }),
      {
        name: "AssertionError",
      },
    );
  }
});

const timeoutNow = (): Uint8Array =>
  encodeMessage({ type: "TimeoutNow", from: n1, to: n2, term: asTerm(5) });

function assertMalformed(bytes: Uint8Array, reason: RegExp): void {
  assert.throws(
    () => decodeMessage(bytes),
    (error: unknown) => {
      assert.ok(error instanceof DecodeError, `expected DecodeError, got ${String(error)}`);
      assert.equal(error.code, "MALFORMED");
      assert.match(error.reason, reason);
      return true;
    },
  );
}

test("DecodeError for each kind of bad input", () => {
  const good = timeoutNow();
  assertMalformed(new Uint8Array(0), /truncated/);
  assertMalformed(good.subarray(0, good.length - 1), /truncated/);
  assertMalformed(new Uint8Array([...good, 0]), /trailing/);
  assertMalformed(new Uint8Array([0, ...good.subarray(1)]), /unknown message tag 0/);
  assertMalformed(new Uint8Array([99, ...good.subarray(1)]), /unknown message tag 99/);
  assertMalformed(new Uint8Array([SNAPSHOT_CHUNK_TAG, ...good.subarray(1)]), /unknown message tag/);
  // A string length over its bound, and one within it but beyond the input.
  assertMalformed(new Uint8Array([10, 0x80, 0x80, 0x01]), /exceeds 255/);
  assertMalformed(new Uint8Array([5, 0, 0, 1, 0, 100, 0x61]), /beyond the input/);
  // Invalid UTF-8 in `from`.
  assertMalformed(new Uint8Array([10, 2, 0xc3, 0x28, 0, 0]), /UTF-8/);
  // 2^53 as a varint term: 8 bytes, one past the largest safe integer.
  const twoTo53 = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10];
  assertMalformed(new Uint8Array([10, 0, 0, ...twoTo53]), /beyond 2\^53/);
  // A varint longer than 8 bytes.
  assertMalformed(
    new Uint8Array([10, 0, 0, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]),
    /longer than/,
  );
  // A varint not in its shortest form (0 as two bytes).
  assertMalformed(new Uint8Array([10, 0, 0, 0x80, 0x00]), /shortest form/);
  // A boolean that is not 0 or 1 (VoteResponse.preVote).
  assertMalformed(new Uint8Array([2, 0, 0, 1, 2, 0]), /boolean/);
  // An entry count far beyond what the input could hold.
  assertMalformed(new Uint8Array([3, 0, 0, 1, 0, 0, 0, 0xff, 0xff, 0x03]), /count/);
  // An unknown entry type.
  assertMalformed(new Uint8Array([3, 0, 0, 1, 0, 0, 0, 1, 1, 1, 7, 0]), /entry type/);
});

test("snapshot chunks round-trip and reject pieces beyond the total", () => {
  const gen = new MessageGen(7);
  for (let i = 0; i < 200; i++) {
    const snapshot = gen.snapshot();
    const piece = gen.bytes(50);
    if (piece.byteLength === 0) continue;
    const offset = gen.rng.int(1000);
    const chunk = {
      from: gen.id(),
      to: gen.id(),
      term: asTerm(gen.number()),
      meta: snapshot.meta,
      totalBytes: offset + piece.byteLength + gen.rng.int(1000),
      offset,
      piece,
    };
    const bytes = encodeSnapshotChunk(chunk);
    const back = decodeSnapshotChunk(bytes);
    assert.deepStrictEqual({ ...back, piece: back.piece.slice() }, chunk);
    assert.deepStrictEqual(encodeSnapshotChunk(back), bytes);
  }
  const valid = encodeSnapshotChunk({
    from: n1,
    to: n2,
    term: asTerm(1),
    meta: {
      index: asIndex(1),
      term: asTerm(1),
      confState: { voters: [n1], votersOutgoing: [], learners: [] },
    },
    totalBytes: 10,
    offset: 8,
    piece: new Uint8Array([1, 2]),
  });
  // Rewrite totalBytes (the byte before offset, piece length and the two piece bytes) to 9.
  const bad = valid.slice();
  const totalAt = bad.length - 5;
  assert.equal(bad[totalAt], 10);
  bad[totalAt] = 9;
  assert.throws(() => decodeSnapshotChunk(bad), DecodeError);
});
