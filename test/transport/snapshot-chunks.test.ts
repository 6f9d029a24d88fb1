// Snapshot chunking: split, encode, decode, reassemble gives the message back; the assembler
// refuses chunks that do not continue their run, and discards runs over the size limit.
import assert from "node:assert/strict";
import { test } from "node:test";
import { asIndex, asNodeId, asTerm, type InstallSnapshot } from "../../src/raft/index.js";
import {
  decodeSnapshotChunk,
  FrameDecoder,
  SnapshotAssembler,
  SnapshotChunker,
  TransportError,
} from "../../src/transport/index.js";
import { MessageGen } from "./message-gen.js";

function snapshotMessage(dataBytes: number, seed = 1): InstallSnapshot {
  const gen = new MessageGen(seed);
  const data = new Uint8Array(dataBytes);
  for (let i = 0; i < dataBytes; i++) data[i] = gen.rng.int(256);
  return {
    type: "InstallSnapshot",
    from: asNodeId("n1"),
    to: asNodeId("n2"),
    term: asTerm(4),
    snapshot: {
      meta: { index: asIndex(900), term: asTerm(3), confState: gen.confState() },
      data,
    },
  };
}

/** The chunk payloads, through the wire's framing: each chunk's two parts are one frame. */
function chunksOf(m: InstallSnapshot, chunkBytes: number): Uint8Array[] {
  const chunker = new SnapshotChunker(m, chunkBytes);
  const frames = new FrameDecoder(chunkBytes + 4096);
  const out: Uint8Array[] = [];
  for (let i = 0; i <= m.snapshot.data.byteLength && !chunker.done; i++) {
    const [fields, piece] = chunker.next();
    frames.push(fields);
    assert.equal(frames.next(), undefined, "a frame before its piece");
    frames.push(piece);
    const payload = frames.next();
    assert.ok(payload !== undefined, "the two parts make one frame");
    assert.equal(frames.bufferedBytes, 0);
    out.push(payload);
  }
  assert.ok(chunker.done);
  return out;
}

const isMalformed = (e: unknown): boolean => e instanceof TransportError && e.code === "MALFORMED";

test("a snapshot split into chunks reassembles into the same message", () => {
  for (const [bytes, chunkBytes] of [
    [10_000, 1000],
    [10_001, 1000],
    [1, 1000],
    [4096, 1],
  ] as const) {
    const m = snapshotMessage(bytes);
    const chunks = chunksOf(m, chunkBytes);
    assert.equal(chunks.length, Math.ceil(bytes / chunkBytes));
    const assembler = new SnapshotAssembler(1 << 20);
    const results = chunks.map((c) => assembler.accept(decodeSnapshotChunk(c)));
    assert.ok(results.slice(0, -1).every((r) => r.kind === "partial"));
    const last = results.at(-1);
    assert.equal(last?.kind, "complete");
    if (last?.kind === "complete") assert.deepStrictEqual(last.message, m);
    assert.equal(assembler.bufferedBytes, 0);
  }
});

test("a run over snapshotBytesMax is discarded as it arrives; the next run still works", () => {
  const assembler = new SnapshotAssembler(5000);
  const big = chunksOf(snapshotMessage(8000, 2), 1000).map(decodeSnapshotChunk);
  assert.deepStrictEqual(assembler.accept(big[0]!), { kind: "rejected", totalBytes: 8000 });
  for (const c of big.slice(1)) {
    assert.deepStrictEqual(assembler.accept(c), { kind: "partial" });
    assert.equal(assembler.bufferedBytes, 0);
  }
  const small = snapshotMessage(3000, 3);
  const results = chunksOf(small, 1000).map((c) => assembler.accept(decodeSnapshotChunk(c)));
  assert.equal(results.at(-1)?.kind, "complete");
});

test("chunks that do not continue their run are malformed", () => {
  const chunks = chunksOf(snapshotMessage(5000, 4), 1000).map(decodeSnapshotChunk);
  const other = chunksOf(snapshotMessage(5000, 5), 1000).map(decodeSnapshotChunk);

  const skip = new SnapshotAssembler();
  skip.accept(chunks[0]!);
  assert.throws(() => skip.accept(chunks[2]!), isMalformed, "a gap");

  const noStart = new SnapshotAssembler();
  assert.throws(() => noStart.accept(chunks[1]!), isMalformed, "no first chunk");

  const restart = new SnapshotAssembler();
  restart.accept(chunks[0]!);
  assert.throws(() => restart.accept(other[0]!), isMalformed, "a new run in the middle");

  const mixed = new SnapshotAssembler();
  mixed.accept(chunks[0]!);
  assert.throws(() => mixed.accept(other[1]!), isMalformed, "another run's chunk");

  const reset = new SnapshotAssembler();
  reset.accept(chunks[0]!);
  reset.reset(); // the connection closed: the partial snapshot is gone
  assert.throws(() => reset.accept(chunks[1]!), isMalformed, "continuing after a reset");
  assert.equal(reset.accept(chunks[0]!).kind, "partial");
});
