// Entry envelopes: every kind round-trips, 64-bit fields hold any safe integer, malformed bytes
// get DecodeError, and the leader's restamp changes only time and seed.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  decodeEnvelope,
  type Envelope,
  encodeEnvelope,
  restampEnvelope,
} from "../../src/rsm/envelope.js";
import { ByteReader, ByteWriter, DecodeError } from "../../src/rsm/index.js";

const command = (): Envelope => ({
  kind: "Command",
  proposer: "run-7f",
  requestId: 2 ** 40 + 3,
  timestampMs: 0,
  seed: 0,
  clientId: "s12",
  seq: 9,
  command: new Uint8Array(300).map((_, i) => i & 0xff),
});

test("every envelope kind round-trips", () => {
  const base = { proposer: "n1", requestId: 5, timestampMs: 1234.5, seed: 0xdeadbeef };
  const all: Envelope[] = [
    { ...command(), timestampMs: 99, seed: 1 },
    { kind: "RegisterSession", ...base },
    { kind: "HashCheck", ...base },
    { kind: "HashReport", ...base, checkIndex: 77, hash: "abc" },
    { kind: "MemberContext", ...base, node: "n3", context: new Uint8Array([1, 2, 3]) },
    { kind: "Refusal", ...base, message: "no: é" },
  ];
  for (const e of all) assert.deepEqual(decodeEnvelope(encodeEnvelope(e)), e, e.kind);
});

test("64-bit integers: every safe integer round-trips, beyond 2^53 is refused", () => {
  const values = [
    0,
    1,
    2 ** 32 - 1,
    2 ** 32,
    2 ** 32 + 1,
    2 ** 52 + 12345,
    Number.MAX_SAFE_INTEGER,
  ];
  const w = new ByteWriter(8);
  for (const v of values) w.u64(v);
  const r = new ByteReader(w.finish());
  for (const v of values) assert.equal(r.u64(), v);
  r.end();
  assert.throws(() => new ByteWriter().u64(2 ** 53), RangeError);
  const beyond = new Uint8Array(8);
  beyond[1] = 0x20; // 2^53
  assert.throws(() => new ByteReader(beyond).u64(), DecodeError);
});

test("restamp replaces time and seed and nothing else, on a copy", () => {
  const original = encodeEnvelope(command());
  const before = original.slice();
  const stamped = restampEnvelope(original, 1_700_000_000_123.25, 0xfeedface);
  assert.deepEqual(original, before, "the forwarded bytes are not modified");
  assert.deepEqual(decodeEnvelope(stamped), {
    ...command(),
    timestampMs: 1_700_000_000_123.25,
    seed: 0xfeedface,
  });
});

test("restamp refuses a malformed header with DecodeError", () => {
  const good = encodeEnvelope(command());
  const badVersion = good.slice();
  badVersion[0] = 9;
  assert.throws(() => restampEnvelope(badVersion, 1, 1), DecodeError);
  assert.throws(() => restampEnvelope(good.subarray(0, 10), 1, 1), DecodeError);
  assert.throws(() => restampEnvelope(new Uint8Array(0), 1, 1), DecodeError);
});
