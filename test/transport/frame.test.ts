// Length-prefixed frames: a stream split at arbitrary chunk boundaries yields the same
// payloads; a declared length over the limit is refused at its header, before any payload.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Xoshiro128 } from "../../src/raft/index.js";
import {
  encodeFrame,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  FrameTooLargeError,
  frameHeader,
} from "../../src/transport/index.js";

function randomPayloads(rng: Xoshiro128, count: number): Uint8Array[] {
  return Array.from({ length: count }, () => {
    const size = rng.chance(0.2) ? 0 : rng.chance(0.1) ? rng.int(20_000) : rng.int(300);
    const payload = new Uint8Array(size);
    for (let i = 0; i < size; i++) payload[i] = rng.int(256);
    return payload;
  });
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** Pushes `stream` in chunks whose sizes `nextSize` picks; returns every frame decoded. */
function decodeInChunks(
  stream: Uint8Array,
  nextSize: () => number,
  frameBytesMax = 1 << 20,
): Uint8Array[] {
  const decoder = new FrameDecoder(frameBytesMax);
  const frames: Uint8Array[] = [];
  let at = 0;
  for (let pushes = 0; at < stream.length && pushes <= stream.length; pushes++) {
    const size = Math.min(Math.max(1, nextSize()), stream.length - at);
    decoder.push(stream.subarray(at, at + size));
    at += size;
    const framesMax = decoder.framesBufferedMax;
    for (let i = 0; i < framesMax; i++) {
      const frame = decoder.next();
      if (frame === undefined) break;
      frames.push(frame);
    }
  }
  assert.equal(at, stream.length);
  assert.equal(decoder.bufferedBytes, 0, "bytes left over");
  return frames;
}

test("frames survive arbitrary chunk boundaries", () => {
  const rng = new Xoshiro128(5);
  for (let round = 0; round < 40; round++) {
    const payloads = randomPayloads(rng, 1 + rng.int(60));
    const stream = concat(payloads.map(encodeFrame));
    const sizers: (() => number)[] = [
      () => 1,
      () => rng.int(8),
      () => rng.int(700),
      () => rng.int(70_000),
      () => stream.length,
    ];
    const frames = decodeInChunks(stream, sizers[round % sizers.length]!);
    assert.equal(frames.length, payloads.length);
    frames.forEach((frame, i) => {
      assert.equal(Object.getPrototypeOf(frame), Uint8Array.prototype);
      assert.deepStrictEqual(frame, payloads[i], `round ${round} frame ${i}`);
    });
  }
});

test("a frame dripped one byte at a time (thousands of chunks) decodes", () => {
  const rng = new Xoshiro128(6);
  const payloads = randomPayloads(rng, 3).concat([new Uint8Array(5000).fill(7)]);
  const frames = decodeInChunks(concat(payloads.map(encodeFrame)), () => 1);
  assert.deepStrictEqual(frames, payloads);
});

test("a declared length over the limit is refused at the header, without waiting or allocating", () => {
  const decoder = new FrameDecoder(1024);
  const header = frameHeader(0xffffffff);
  for (let i = 0; i < FRAME_HEADER_BYTES - 1; i++) {
    decoder.push(header.subarray(i, i + 1));
    assert.equal(decoder.next(), undefined);
  }
  decoder.push(header.subarray(FRAME_HEADER_BYTES - 1));
  assert.throws(
    () => decoder.next(),
    (error: unknown) =>
      error instanceof FrameTooLargeError &&
      error.code === "FRAME_TOO_LARGE" &&
      error.frameBytes === 0xffffffff &&
      error.frameBytesMax === 1024,
  );
  assert.equal(decoder.bufferedBytes, 0, "nothing kept after the refusal");
  // The stream is unusable from then on.
  assert.throws(() => decoder.next(), FrameTooLargeError);
  assert.throws(() => decoder.push(new Uint8Array(1)), FrameTooLargeError);
});

test("the limit is inclusive, and can change between frames", () => {
  const atLimit = new FrameDecoder(100);
  atLimit.push(encodeFrame(new Uint8Array(100)));
  assert.equal(atLimit.next()?.byteLength, 100);
  const overLimit = new FrameDecoder(100);
  overLimit.push(encodeFrame(new Uint8Array(101)));
  assert.throws(() => overLimit.next(), FrameTooLargeError);

  const decoder = new FrameDecoder(10);
  decoder.push(concat([encodeFrame(new Uint8Array(10)), encodeFrame(new Uint8Array(500))]));
  assert.equal(decoder.next()?.byteLength, 10);
  decoder.frameBytesMax = 1000;
  assert.equal(decoder.next()?.byteLength, 500);
  assert.equal(decoder.next(), undefined);
});
