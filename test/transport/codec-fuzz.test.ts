// Decoder fuzzing: random byte strings and single-byte mutations and truncations of valid
// encodings. Every decoder must either return a value (which then re-encodes to exactly its
// input: the encoding is canonical) or throw DecodeError — never another exception, never hang.
import assert from "node:assert/strict";
import { test } from "node:test";
import { asTerm, Xoshiro128 } from "../../src/raft/index.js";
import {
  DecodeError,
  decodeHello,
  decodeMessage,
  decodeReply,
  decodeSnapshotChunk,
  encodeHello,
  encodeMessage,
  encodeReply,
  encodeSnapshotChunk,
  SNAPSHOT_CHUNK_TAG,
} from "../../src/transport/index.js";
import { MessageGen } from "./message-gen.js";

interface Codec {
  readonly name: string;
  readonly decode: (bytes: Uint8Array) => unknown;
  readonly encode: (value: never) => Uint8Array;
}

const codecs: readonly Codec[] = [
  { name: "message", decode: decodeMessage, encode: encodeMessage },
  { name: "chunk", decode: decodeSnapshotChunk, encode: encodeSnapshotChunk },
  { name: "hello", decode: decodeHello, encode: encodeHello },
  { name: "reply", decode: decodeReply, encode: encodeReply },
];

/** Decodes; on success checks the canonical re-encoding. Returns whether it decoded. */
function probe(codec: Codec, bytes: Uint8Array, what: string): boolean {
  let value: unknown;
  try {
    value = codec.decode(bytes);
  } catch (error) {
    assert.ok(error instanceof DecodeError, `${codec.name} ${what}: threw ${String(error)}`);
    assert.equal(error.code, "MALFORMED");
    return false;
  }
  assert.deepStrictEqual(
    codec.encode(value as never),
    bytes,
    `${codec.name} ${what}: not canonical`,
  );
  return true;
}

function validEncodings(gen: MessageGen, count: number): { codec: Codec; bytes: Uint8Array }[] {
  const out: { codec: Codec; bytes: Uint8Array }[] = [];
  for (let i = 0; i < count; i++) {
    out.push({ codec: codecs[0]!, bytes: encodeMessage(gen.message()) });
    const snapshot = gen.snapshot();
    const piece = gen.bytes(40);
    if (piece.byteLength > 0) {
      const chunk = {
        from: gen.id(),
        to: gen.id(),
        term: asTerm(gen.number()),
        meta: snapshot.meta,
        totalBytes: piece.byteLength + gen.rng.int(100),
        offset: 0,
        piece,
      };
      out.push({ codec: codecs[1]!, bytes: encodeSnapshotChunk(chunk) });
    }
    if (i % 4 === 0) {
      out.push({
        codec: codecs[2]!,
        bytes: encodeHello({ clusterId: gen.string(6), from: gen.id(), to: gen.id() }),
      });
      out.push({ codec: codecs[3]!, bytes: encodeReply({ status: 2, reason: gen.string(10) }) });
    }
  }
  return out;
}

test("random byte strings decode or throw DecodeError", { timeout: 20_000 }, () => {
  const rng = new Xoshiro128(99);
  let decoded = 0;
  for (let i = 0; i < 20_000; i++) {
    const bytes = new Uint8Array(rng.int(48));
    for (let j = 0; j < bytes.length; j++) bytes[j] = rng.int(256);
    // Steer half of the inputs past the first check: a plausible tag, small varints.
    if (bytes.length > 0 && rng.chance(0.5))
      bytes[0] = rng.chance(0.1) ? SNAPSHOT_CHUNK_TAG : 1 + rng.int(11);
    if (rng.chance(0.5))
      for (let j = 1; j < bytes.length; j++) bytes[j] = (bytes[j] as number) & 0x07;
    for (const codec of codecs) if (probe(codec, bytes, `random #${i}`)) decoded++;
  }
  // The steering makes some random strings valid messages, which exercises the success path.
  assert.ok(decoded > 0, "no random input decoded");
});

test("single-byte mutations of valid encodings decode or throw DecodeError", {
  timeout: 20_000,
}, () => {
  const gen = new MessageGen(4242);
  const rng = new Xoshiro128(4243);
  let mutations = 0;
  for (const { codec, bytes } of validEncodings(gen, 600)) {
    assert.ok(probe(codec, bytes, "valid"), `${codec.name}: a valid encoding did not decode`);
    for (let k = 0; k < 12; k++) {
      const mutated = bytes.slice();
      const at = rng.int(mutated.length);
      mutated[at] = rng.chance(0.5) ? rng.int(256) : (mutated[at] as number) ^ (1 << rng.int(8));
      probe(codec, mutated, `mutation at ${at}`);
      mutations++;
    }
    // An inserted byte and a deleted byte.
    const at = rng.int(bytes.length + 1);
    probe(
      codec,
      new Uint8Array([...bytes.subarray(0, at), rng.int(256), ...bytes.subarray(at)]),
      "insert",
    );
    if (bytes.length > 0)
      probe(codec, new Uint8Array([...bytes.subarray(0, at), ...bytes.subarray(at + 1)]), "delete");
  }
  assert.ok(mutations > 10_000);
});

test("every truncation of a valid encoding throws DecodeError", { timeout: 20_000 }, () => {
  const gen = new MessageGen(777);
  for (const { codec, bytes } of validEncodings(gen, 300)) {
    for (let length = 0; length < bytes.length; length++) {
      assert.throws(
        () => codec.decode(bytes.subarray(0, length)),
        DecodeError,
        `${codec.name} cut at ${length}`,
      );
    }
    // And one trailing byte too many.
    assert.throws(
      () => codec.decode(new Uint8Array([...bytes, 0])),
      DecodeError,
      `${codec.name} + 1 byte`,
    );
  }
});
