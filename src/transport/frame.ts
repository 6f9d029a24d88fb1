// Length-prefixed frames: a u32 big-endian payload length, then the payload. TCP is a byte
// stream; frames give it message boundaries back. FrameDecoder takes the stream in whatever
// chunks the socket hands over and returns whole payloads, one at a time, so the caller may
// change the size limit between frames (a connection accepts only a small handshake first).
//
// A declared length above frameBytesMax is rejected as soon as its four header bytes arrive:
// nothing of that size is allocated or waited for. Memory held is what the peer actually sent
// of the current frame, never what it claims.
import { assert } from "../lib/index.js";
import { FrameTooLargeError } from "./errors.js";

export const FRAME_HEADER_BYTES = 4;
/** Default largest frame payload. */
export const FRAME_BYTES_MAX_DEFAULT = 16 * 1024 * 1024;
/** The header's u32 caps any limit. */
export const FRAME_BYTES_LIMIT = 0xffffffff;

/** The 4-byte header announcing a payload of `payloadBytes`. */
export function frameHeader(payloadBytes: number): Uint8Array {
  assert(
    Number.isSafeInteger(payloadBytes) && payloadBytes >= 0 && payloadBytes <= FRAME_BYTES_LIMIT,
    "frame: payload length out of range",
  );
  const header = new Uint8Array(FRAME_HEADER_BYTES);
  new DataView(header.buffer).setUint32(0, payloadBytes, false);
  return header;
}

/** Header and payload in one buffer (for small frames; large ones write the two separately). */
export function encodeFrame(payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(FRAME_HEADER_BYTES + payload.byteLength);
  frame.set(frameHeader(payload.byteLength), 0);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

/** Buffered chunks kept as separate views before they are merged into one. */
const CHUNKS_MAX = 1024;

export class FrameDecoder {
  /** Received bytes not yet returned, oldest first; the first may be partly consumed. */
  private readonly chunks: Uint8Array[] = [];
  private chunksBytes = 0;
  /** The current frame's payload length once its header has been read. */
  private payloadBytes: number | undefined;
  private failure: FrameTooLargeError | undefined;
  private limitBytes: number;

  constructor(frameBytesMax: number = FRAME_BYTES_MAX_DEFAULT) {
    this.limitBytes = checkedLimit(frameBytesMax);
  }

  /** Largest payload accepted for frames whose header has not been read yet. */
  get frameBytesMax(): number {
    return this.limitBytes;
  }

  set frameBytesMax(bytes: number) {
    this.limitBytes = checkedLimit(bytes);
  }

  /** Bytes buffered and not yet returned as frames. */
  get bufferedBytes(): number {
    return this.chunksBytes;
  }

  /** Frames `next` can return at most before it needs more input: each takes ≥ 4 bytes. */
  get framesBufferedMax(): number {
    return Math.floor(this.chunksBytes / FRAME_HEADER_BYTES) + 1;
  }

  push(chunk: Uint8Array): void {
    if (this.failure !== undefined) throw this.failure;
    if (chunk.byteLength === 0) return;
    // Plain Uint8Array views, so frames are Uint8Arrays even when sockets hand over Buffers.
    this.chunks.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.chunksBytes += chunk.byteLength;
    // A peer dripping tiny chunks must not grow the list without bound: merge it now and then
    // (amortized, each merge copies at most what is buffered, itself below one frame).
    if (this.chunks.length > CHUNKS_MAX) {
      const merged = this.take(this.chunksBytes);
      this.chunks.length = 0;
      this.chunks.push(merged);
      this.chunksBytes = merged.byteLength;
    }
  }

  /**
   * The next whole frame's payload, or undefined until more bytes arrive. Throws
   * FrameTooLargeError for an oversized header; the stream is then unusable (every later call
   * throws the same error): close the connection.
   */
  next(): Uint8Array | undefined {
    if (this.failure !== undefined) throw this.failure;
    if (this.payloadBytes === undefined) {
      if (this.chunksBytes < FRAME_HEADER_BYTES) return undefined;
      const header = this.take(FRAME_HEADER_BYTES);
      const declared = new DataView(header.buffer, header.byteOffset, FRAME_HEADER_BYTES).getUint32(
        0,
        false,
      );
      if (declared > this.limitBytes) {
        this.failure = new FrameTooLargeError(declared, this.limitBytes);
        this.chunks.length = 0;
        this.chunksBytes = 0;
        throw this.failure;
      }
      this.payloadBytes = declared;
    }
    if (this.chunksBytes < this.payloadBytes) return undefined;
    const payload = this.take(this.payloadBytes);
    assert(payload.byteLength === this.payloadBytes, "frame: payload length");
    this.payloadBytes = undefined;
    return payload;
  }

  /** The next `n` buffered bytes: a view when they lie in one chunk, else a copy. */
  private take(n: number): Uint8Array {
    assert(n <= this.chunksBytes, "frame: take beyond the buffered bytes");
    this.chunksBytes -= n;
    const first = this.chunks[0];
    if (first !== undefined && first.byteLength >= n) {
      if (first.byteLength === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = new Uint8Array(n);
    let filled = 0;
    let consumed = 0;
    // Bounded by the chunk count; whole chunks are removed in one splice afterwards.
    for (let i = 0; i < this.chunks.length && filled < n; i++) {
      const chunk = this.chunks[i]!;
      const used = Math.min(chunk.byteLength, n - filled);
      out.set(chunk.subarray(0, used), filled);
      filled += used;
      if (used === chunk.byteLength) consumed++;
      else this.chunks[i] = chunk.subarray(used);
    }
    this.chunks.splice(0, consumed);
    assert(filled === n, "frame: take filled");
    return out;
  }
}

function checkedLimit(bytes: number): number {
  assert(
    Number.isSafeInteger(bytes) && bytes >= 1 && bytes <= FRAME_BYTES_LIMIT,
    "frame: frameBytesMax out of range",
  );
  return bytes;
}
