// InstallSnapshot messages too big for one frame travel as a run of chunk frames, each
// carrying the message's envelope and snapshot meta, the snapshot's total size, the piece's
// offset, and the piece:
//
//   SnapshotChunk: tag u8 (16), from string, to string, term varint, meta (as in codec.ts),
//                  totalBytes varint, offset varint, piece (varint length + bytes)
//
// The tag shares the first byte with codec.ts's message tags (1–15), so a frame's first byte
// says which decoder to use. The sender splits lazily (SnapshotChunker: a 1 GiB snapshot is
// never copied whole); the receiver (SnapshotAssembler, one per connection) checks that every
// chunk continues the run in progress at exactly the next offset, and delivers one
// InstallSnapshot when the last byte arrives. A connection carries at most one run at a time.
// A run whose total exceeds snapshotBytesMax is discarded as it arrives, never buffered.

import { assert, ByteReader, ByteWriter } from "../lib/index.js";
import type { InstallSnapshot, NodeId, SnapshotMeta, Term } from "../raft/index.js";
import { readEnvelope, readSnapshotMeta, writeEnvelope, writeSnapshotMeta } from "./codec.js";
import { TransportError, wireError } from "./errors.js";
import { FRAME_HEADER_BYTES } from "./frame.js";

export const SNAPSHOT_CHUNK_TAG = 16;
/** Default piece size per chunk frame. */
export const SNAPSHOT_CHUNK_BYTES_DEFAULT = 1024 * 1024;
/** Default largest snapshot a receiver reassembles. */
export const SNAPSHOT_BYTES_MAX_DEFAULT = 1024 * 1024 * 1024;
const CHUNK_OVERHEAD_BYTES = 256;

export interface SnapshotChunk {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: Term;
  readonly meta: SnapshotMeta;
  readonly totalBytes: number;
  readonly offset: number;
  readonly piece: Uint8Array;
}

export function encodeSnapshotChunk(c: SnapshotChunk): Uint8Array {
  const w = new ByteWriter(CHUNK_OVERHEAD_BYTES + c.piece.byteLength);
  try {
    writeChunkFields(w, c);
    w.raw(c.piece);
  } catch (e) {
    throw wireError(e);
  }
  return w.finish();
}

/**
 * The chunk as one frame (frame.ts) in two parts: the frame header and every field up to the
 * piece's length, then the piece itself — a view of the snapshot's data, written without a copy.
 */
export function snapshotChunkFrame(c: SnapshotChunk): readonly [Uint8Array, Uint8Array] {
  const w = new ByteWriter(CHUNK_OVERHEAD_BYTES);
  try {
    w.u32(0); // the frame length, patched below
    writeChunkFields(w, c);
    w.setU32(0, w.byteLength - FRAME_HEADER_BYTES + c.piece.byteLength);
  } catch (e) {
    throw wireError(e);
  }
  return [w.finish(), c.piece];
}

/** Everything before the piece's bytes, its length included. */
function writeChunkFields(w: ByteWriter, c: SnapshotChunk): void {
  assert(c.piece.byteLength > 0, "chunk: empty piece");
  assert(c.offset + c.piece.byteLength <= c.totalBytes, "chunk: piece beyond the total");
  w.u8(SNAPSHOT_CHUNK_TAG);
  writeEnvelope(w, c.from, c.to, c.term);
  writeSnapshotMeta(w, c.meta);
  w.uvarint(c.totalBytes);
  w.uvarint(c.offset);
  w.uvarint(c.piece.byteLength);
}

/** Decodes a chunk frame's payload; `piece` is a view into `bytes`. */
export function decodeSnapshotChunk(bytes: Uint8Array): SnapshotChunk {
  try {
    return readSnapshotChunk(new ByteReader(bytes));
  } catch (e) {
    throw wireError(e);
  }
}

function readSnapshotChunk(r: ByteReader): SnapshotChunk {
  const tag = r.u8("chunk tag");
  if (tag !== SNAPSHOT_CHUNK_TAG) r.fail(`not a snapshot chunk (tag ${tag})`);
  const { from, to, term } = readEnvelope(r);
  const meta = readSnapshotMeta(r);
  const totalBytes = r.uvarint("totalBytes");
  const offset = r.uvarint("offset");
  // A view, not a copy: the assembler copies every piece into the snapshot once anyway.
  const piece = r.take("piece", r.uvarint("piece length"));
  r.end("snapshot chunk");
  if (piece.byteLength === 0) r.fail("empty snapshot piece");
  if (offset + piece.byteLength > totalBytes) r.fail("snapshot piece beyond the total size");
  return { from, to, term, meta, totalBytes, offset, piece };
}

/** The chunk payloads of one InstallSnapshot, produced one at a time. */
export class SnapshotChunker {
  private offset = 0;

  constructor(
    readonly message: InstallSnapshot,
    readonly chunkBytes: number,
  ) {
    assert(Number.isSafeInteger(chunkBytes) && chunkBytes > 0, "chunker: bad chunk size");
    assert(message.snapshot.data.byteLength > 0, "chunker: nothing to chunk");
  }

  get done(): boolean {
    return this.offset === this.message.snapshot.data.byteLength;
  }

  /** Bytes of snapshot data not yet handed out. */
  get remainingBytes(): number {
    return this.message.snapshot.data.byteLength - this.offset;
  }

  /** The next chunk as one frame in two parts (see snapshotChunkFrame). */
  next(): readonly [Uint8Array, Uint8Array] {
    assert(!this.done, "chunker: already done");
    const { from, to, term, snapshot } = this.message;
    const totalBytes = snapshot.data.byteLength;
    const end = Math.min(this.offset + this.chunkBytes, totalBytes);
    const piece = snapshot.data.subarray(this.offset, end);
    const frame = snapshotChunkFrame({
      from,
      to,
      term,
      meta: snapshot.meta,
      totalBytes,
      offset: this.offset,
      piece,
    });
    this.offset = end;
    return frame;
  }
}

export type AssemblyResult =
  /** More chunks are needed (or the run is being discarded). */
  | { readonly kind: "partial" }
  /** The run's first chunk declared more than snapshotBytesMax: the run will be discarded. */
  | { readonly kind: "rejected"; readonly totalBytes: number }
  | { readonly kind: "complete"; readonly message: InstallSnapshot };

interface Run {
  readonly first: SnapshotChunk;
  /** False for a run over the size limit: counted, not kept. */
  readonly keep: boolean;
  readonly pieces: Uint8Array[];
  receivedBytes: number;
}

export class SnapshotAssembler {
  private run: Run | undefined;

  constructor(readonly snapshotBytesMax: number = SNAPSHOT_BYTES_MAX_DEFAULT) {
    assert(Number.isSafeInteger(snapshotBytesMax) && snapshotBytesMax > 0, "assembler: bad max");
  }

  /** Bytes held for the run in progress. */
  get bufferedBytes(): number {
    return this.run?.keep === true ? this.run.receivedBytes : 0;
  }

  /**
   * Takes the next chunk of the connection. Throws TransportError (MALFORMED) when it does not
   * continue the run in progress: the connection must be closed.
   */
  accept(chunk: SnapshotChunk): AssemblyResult {
    let run = this.run;
    if (chunk.offset === 0) {
      if (run !== undefined) malformed("a snapshot started before the previous one finished");
      run = {
        first: chunk,
        keep: chunk.totalBytes <= this.snapshotBytesMax,
        pieces: [],
        receivedBytes: 0,
      };
      this.run = run;
    } else {
      if (run === undefined) malformed(`snapshot chunk at offset ${chunk.offset} without a start`);
      if (!sameRun(run.first, chunk)) malformed("snapshot chunk does not continue the run");
      if (chunk.offset !== run.receivedBytes) {
        malformed(`snapshot chunk at offset ${chunk.offset}, expected ${run.receivedBytes}`);
      }
    }
    run.receivedBytes += chunk.piece.byteLength;
    if (run.keep) run.pieces.push(chunk.piece);
    assert(run.receivedBytes <= run.first.totalBytes, "assembler: beyond the total");
    if (run.receivedBytes === run.first.totalBytes) {
      this.run = undefined;
      if (run.keep) return { kind: "complete", message: assemble(run) };
    }
    if (!run.keep && chunk.offset === 0) return { kind: "rejected", totalBytes: chunk.totalBytes };
    return { kind: "partial" };
  }

  /** The connection closed: a partial snapshot is dropped. */
  reset(): void {
    this.run = undefined;
  }
}

function assemble(run: Run): InstallSnapshot {
  const { from, to, term, meta, totalBytes } = run.first;
  const data = new Uint8Array(totalBytes);
  let offset = 0;
  for (const piece of run.pieces) {
    data.set(piece, offset);
    offset += piece.byteLength;
  }
  assert(offset === totalBytes, "assembler: pieces do not add up");
  return { type: "InstallSnapshot", from, to, term, snapshot: { meta, data } };
}

function sameRun(a: SnapshotChunk, b: SnapshotChunk): boolean {
  return (
    a.from === b.from &&
    a.to === b.to &&
    a.term === b.term &&
    a.totalBytes === b.totalBytes &&
    a.meta.index === b.meta.index &&
    a.meta.term === b.meta.term &&
    sameIds(a.meta.confState.voters, b.meta.confState.voters) &&
    sameIds(a.meta.confState.votersOutgoing, b.meta.confState.votersOutgoing) &&
    sameIds(a.meta.confState.learners, b.meta.confState.learners) &&
    a.meta.confState.autoLeave === b.meta.confState.autoLeave
  );
}

function sameIds(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}

function malformed(reason: string): never {
  throw new TransportError("MALFORMED", reason);
}
