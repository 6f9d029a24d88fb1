// The one byte writer of the project (byte-reader.ts is the other half; the two agree byte for
// byte). Every format Ordo writes is built from these primitives, named by their encoding:
//   u8, bool        one byte (bool: 0 or 1)
//   u32             4 bytes big-endian; setU32 patches one written earlier (frame lengths)
//   u64             8 bytes big-endian, a safe integer (< 2^53) as two u32 words, no BigInt
//   f64             8 bytes big-endian IEEE 754
//   uvarint         unsigned LEB128, shortest form, at most 8 bytes (values < 2^53)
//   sint            a sign byte (0 non-negative, 1 negative) then the magnitude as uvarint;
//                   no "-0" (kv's format; not zigzag)
//   bytesU32 / stringU32        u32 length, then the bytes (strings UTF-8)
//   bytesVarint / stringVarint  uvarint length, then the bytes
//   raw             bytes as they are, no length
// A value the format cannot hold throws EncodeError (a RangeError); callers map it to their
// own error. Strings: a lone surrogate is written as U+FFFD (TextEncoder's rule); callers that
// must refuse it check `isWellFormed` first.
import { EncodeError } from "./errors.js";
import { utf8ByteLength, writeUtf8 } from "./utf8.js";

/** Bytes a uvarint takes at most: 8 × 7 bits cover every safe integer (< 2^53). */
export const VARINT_BYTES_MAX = 8;

const TWO_TO_32 = 2 ** 32;

/** An append-only byte buffer that grows by doubling, reusable after `reset`. */
export class ByteWriter {
  private buffer: Uint8Array;
  private view: DataView | undefined; // made on first f64, dropped when the buffer changes
  private length = 0;

  /** `capacityBytes` is a hint: encoders that know their size allocate once. */
  constructor(capacityBytes = 64) {
    if (!(Number.isSafeInteger(capacityBytes) && capacityBytes > 0))
      throw new EncodeError(`writer: bad capacity ${capacityBytes}`);
    this.buffer = new Uint8Array(capacityBytes);
  }

  /** Bytes written so far. */
  get byteLength(): number {
    return this.length;
  }

  /** Bytes the buffer holds before it must grow. */
  get capacityBytes(): number {
    return this.buffer.byteLength;
  }

  u8(value: number): this {
    if (!(Number.isInteger(value) && value >= 0 && value <= 0xff))
      throw new EncodeError(`byte ${String(value)} out of range`);
    this.reserve(1);
    this.buffer[this.length++] = value;
    return this;
  }

  bool(value: boolean): this {
    this.reserve(1);
    this.buffer[this.length++] = value ? 1 : 0;
    return this;
  }

  u32(value: number): this {
    this.reserve(4);
    this.setU32(this.length, value);
    this.length += 4;
    return this;
  }

  /** Overwrites the u32 at `at`, written earlier (a length known only at the end). */
  setU32(at: number, value: number): void {
    if (!(Number.isInteger(value) && value >= 0 && value <= 0xffffffff))
      throw new EncodeError(`u32 ${String(value)} out of range`);
    if (!(Number.isSafeInteger(at) && at >= 0 && at + 4 <= this.buffer.byteLength))
      throw new EncodeError(`u32 at ${at} beyond the buffer`);
    const b = this.buffer;
    b[at] = value >>> 24;
    b[at + 1] = (value >>> 16) & 0xff;
    b[at + 2] = (value >>> 8) & 0xff;
    b[at + 3] = value & 0xff;
  }

  /** A safe integer ≥ 0 in 8 bytes, big-endian. */
  u64(value: number): this {
    if (!(Number.isSafeInteger(value) && value >= 0))
      throw new EncodeError(`not a safe unsigned integer: ${String(value)}`);
    this.reserve(8);
    const at = this.length;
    this.setU32(at, Math.floor(value / TWO_TO_32));
    this.setU32(at + 4, value >>> 0);
    this.length += 8;
    return this;
  }

  f64(value: number): this {
    this.reserve(8);
    this.view ??= new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.byteLength);
    this.view.setFloat64(this.length, value);
    this.length += 8;
    return this;
  }

  /** A safe integer ≥ 0 as an unsigned LEB128 varint in its shortest form. */
  uvarint(value: number): this {
    if (!(Number.isSafeInteger(value) && value >= 0))
      throw new EncodeError(`${String(value)} is not a non-negative safe integer`);
    this.reserve(VARINT_BYTES_MAX);
    const b = this.buffer;
    let n = value;
    // Division, not shifts: JavaScript's bit operators truncate to 32 bits.
    while (n >= 0x80) {
      b[this.length++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    b[this.length++] = n;
    return this;
  }

  /** A safe integer: sign byte, then the magnitude as uvarint (−0 is written as 0). */
  sint(value: number): this {
    if (!Number.isSafeInteger(value))
      throw new EncodeError(`${String(value)} is not a safe integer`);
    this.reserve(1);
    this.buffer[this.length++] = value < 0 ? 1 : 0;
    return this.uvarint(Math.abs(value));
  }

  bytesU32(value: Uint8Array): this {
    this.u32(value.byteLength);
    return this.raw(value);
  }

  /** A uvarint count, then each item as `item` writes it (ByteReader.list reads it back). */
  list<T>(items: readonly T[], item: (value: T) => void): this {
    this.uvarint(items.length);
    for (const value of items) item(value);
    return this;
  }

  bytesVarint(value: Uint8Array): this {
    this.uvarint(value.byteLength);
    return this.raw(value);
  }

  /** UTF-8 with a u32 byte length. */
  stringU32(value: string): this {
    const n = utf8ByteLength(value);
    this.u32(n);
    this.reserve(n);
    this.length = writeUtf8(value, this.buffer, this.length);
    return this;
  }

  /**
   * UTF-8 with a uvarint byte length, at most `bytesMax` bytes (checked, never trimmed to).
   * All-ASCII strings (ids, contexts almost always are) take one pass and no allocation.
   */
  stringVarint(value: string, bytesMax = Number.MAX_SAFE_INTEGER, what = "string"): this {
    if (value.length <= bytesMax && this.asciiString(value)) return this;
    const n = utf8ByteLength(value);
    if (n > bytesMax) throw new EncodeError(`${what} longer than ${bytesMax} bytes`);
    this.uvarint(n);
    this.reserve(n);
    this.length = writeUtf8(value, this.buffer, this.length);
    return this;
  }

  /** Bytes as they are, without a length. */
  raw(value: Uint8Array): this {
    this.reserve(value.byteLength);
    this.buffer.set(value, this.length);
    this.length += value.byteLength;
    return this;
  }

  /**
   * The bytes written, as a view of the buffer (no copy). The caller owns them: the writer
   * must not be written or reset while they are in use.
   */
  finish(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }

  /** A copy of the bytes written, sized exactly; the writer may be reset and reused. */
  copy(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }

  /**
   * The bytes written, sized exactly, for output that is kept: the buffer itself when they fill
   * it (a writer sized exactly in advance: no copy, no slack kept alive), else a copy.
   */
  finishExact(): Uint8Array {
    return this.length === this.buffer.byteLength ? this.buffer : this.copy();
  }

  /** Forgets everything written after the first `length` bytes (undoes a partial write). */
  truncate(length: number): void {
    if (!(Number.isSafeInteger(length) && length >= 0 && length <= this.length))
      throw new EncodeError(`writer: bad truncate to ${length}`);
    this.length = length;
  }

  /**
   * Empties the writer for reuse; a buffer grown beyond `capacityBytesMax` is let go. Only
   * when no view from `finish` is still in use.
   */
  reset(capacityBytesMax = Number.MAX_SAFE_INTEGER): void {
    this.length = 0;
    if (this.buffer.byteLength > capacityBytesMax) {
      this.buffer = new Uint8Array(capacityBytesMax);
      this.view = undefined;
    }
  }

  /**
   * Writes `value` if it is all ASCII: one byte per character. Returns false, having written
   * nothing, otherwise.
   */
  private asciiString(value: string): boolean {
    const n = value.length;
    this.reserve(VARINT_BYTES_MAX + n);
    const start = this.length;
    this.uvarint(n);
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
    this.view = undefined;
  }
}
