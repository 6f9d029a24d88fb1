// The encoding half of the wire primitives: unsigned LEB128 varints for numbers, one byte for
// booleans and small codes, length-prefixed byte strings and UTF-8 strings. byte-reader.ts is
// the other half; the two must agree byte for byte (the codec tests check both directions).
import { assert } from "../raft/index.js";

const utf8Encoder = new TextEncoder();

// String.prototype.isWellFormed is in Node 20 but not in the ES2022 library types.
const isWellFormed = (s: string): boolean =>
  (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/** Bytes a varint takes at most: 8 × 7 bits cover every safe integer (< 2^53). */
export const VARINT_BYTES_MAX = 8;

/** An append-only byte buffer that grows by doubling. */
export class ByteWriter {
  private buffer: Uint8Array;
  private length = 0;

  /** `capacityBytes` is a hint: encoders that know their size allocate once. */
  constructor(capacityBytes = 64) {
    assert(Number.isSafeInteger(capacityBytes) && capacityBytes > 0, "writer: bad capacity");
    this.buffer = new Uint8Array(capacityBytes);
  }

  get byteLength(): number {
    return this.length;
  }

  u8(value: number): void {
    assert(Number.isInteger(value) && value >= 0 && value <= 0xff, "writer: u8 out of range");
    this.reserve(1);
    this.buffer[this.length++] = value;
  }

  bool(value: boolean): void {
    this.u8(value ? 1 : 0);
  }

  /** A safe non-negative integer as an unsigned LEB128 varint (the shortest form). */
  varint(value: number): void {
    assert(Number.isSafeInteger(value) && value >= 0, "writer: varint must be a safe integer ≥ 0");
    this.reserve(VARINT_BYTES_MAX);
    let n = value;
    // Division, not shifts: JavaScript's bit operators truncate to 32 bits.
    for (let i = 0; i < VARINT_BYTES_MAX && n >= 0x80; i++) {
      this.buffer[this.length++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    assert(n < 0x80, "writer: varint overflow");
    this.buffer[this.length++] = n;
  }

  /** A varint length, then the bytes. */
  bytes(value: Uint8Array): void {
    this.varint(value.byteLength);
    this.raw(value);
  }

  /** A UTF-8 string with a varint byte length; the caller's bound is checked, not trimmed to. */
  string(value: string, bytesMax: number, what: string): void {
    if (value.length <= bytesMax && this.asciiString(value)) return;
    // A lone surrogate would be replaced by U+FFFD on the way and arrive as a different string.
    assert(isWellFormed(value), `writer: ${what} is not well-formed UTF-16`);
    const encoded = utf8Encoder.encode(value);
    assert(encoded.byteLength <= bytesMax, `writer: ${what} longer than ${bytesMax} bytes`);
    this.bytes(encoded);
  }

  /** A big-endian u32 (frame headers). */
  u32(value: number): void {
    this.reserve(4);
    this.setU32(this.length, value);
    this.length += 4;
  }

  /** Overwrites the u32 at `at`, written earlier (a length known only at the end). */
  setU32(at: number, value: number): void {
    assert(
      Number.isInteger(value) && value >= 0 && value <= 0xffffffff,
      "writer: u32 out of range",
    );
    assert(at >= 0 && at + 4 <= this.buffer.byteLength, "writer: u32 beyond the buffer");
    new DataView(this.buffer.buffer, this.buffer.byteOffset).setUint32(at, value, false);
  }

  /** Bytes as they are, without a length. */
  raw(value: Uint8Array): void {
    this.reserve(value.byteLength);
    this.buffer.set(value, this.length);
    this.length += value.byteLength;
  }

  /** The bytes written, as a view of the buffer. The writer must not be used afterwards. */
  finish(): Uint8Array {
    const out = this.buffer.subarray(0, this.length);
    assert(out.byteLength === this.length, "writer: finish length");
    return out;
  }

  /** A copy of the bytes written, sized exactly; the writer may be reset and reused. */
  copy(): Uint8Array {
    const out = this.buffer.slice(0, this.length);
    assert(out.byteLength === this.length, "writer: copy length");
    return out;
  }

  /** Forgets everything written after the first `length` bytes (undoes a partial write). */
  truncate(length: number): void {
    assert(
      Number.isSafeInteger(length) && length >= 0 && length <= this.length,
      "writer: bad truncate",
    );
    this.length = length;
  }

  /** Empties the writer for reuse; a buffer grown beyond `capacityBytesMax` is let go. */
  reset(capacityBytesMax: number): void {
    this.length = 0;
    if (this.buffer.byteLength > capacityBytesMax) this.buffer = new Uint8Array(capacityBytesMax);
  }

  /**
   * Writes `value` if it is all ASCII (ids and contexts almost always are): one byte per
   * character, no intermediate allocation. Returns false, having written nothing, otherwise.
   */
  private asciiString(value: string): boolean {
    const n = value.length;
    this.reserve(VARINT_BYTES_MAX + n);
    const start = this.length;
    this.varint(n);
    const buffer = this.buffer;
    let at = this.length;
    for (let i = 0; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80) {
        this.length = start;
        return false;
      }
      buffer[at++] = c;
    }
    this.length = at;
    return true;
  }

  private reserve(bytes: number): void {
    const needed = this.length + bytes;
    if (needed <= this.buffer.byteLength) return;
    const grown = new Uint8Array(Math.max(needed, this.buffer.byteLength * 2));
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
  }
}
