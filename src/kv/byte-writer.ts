// Appends the codec's primitives to a growing buffer. The encoding is canonical (one byte string
// per value), which is what makes snapshots of equal states byte-identical:
//   uvarint  unsigned LEB128, 0 ≤ n ≤ 2^53 - 1, at most 8 bytes, no redundant trailing group
//   sint     a sign byte (0 non-negative, 1 negative) then the magnitude as uvarint; no "-0"
//   bytes    uvarint length, then the bytes
//   bool     one byte, 0 or 1
// A number that cannot be encoded (unsafe, negative where unsigned) is the caller's error:
// INVALID_ARGUMENT, so a server encoding a client's request can answer it.
import { encodeUtf8 } from "./bytes.js";
import { invalidArgumentError } from "./errors.js";

export class ByteWriter {
  private buffer: Uint8Array;
  private length = 0;

  constructor(capacityBytes = 64) {
    this.buffer = new Uint8Array(capacityBytes);
  }

  get size(): number {
    return this.length;
  }

  u8(value: number): void {
    if (!(Number.isInteger(value) && value >= 0 && value <= 0xff)) {
      throw invalidArgumentError(`byte ${String(value)} out of range`);
    }
    this.reserve(1);
    this.buffer[this.length++] = value;
  }

  bool(value: boolean): void {
    this.u8(value ? 1 : 0);
  }

  uvarint(value: number): void {
    if (!(Number.isSafeInteger(value) && value >= 0)) {
      throw invalidArgumentError(`${String(value)} is not a non-negative safe integer`);
    }
    this.reserve(8);
    let v = value;
    while (v >= 0x80) {
      this.buffer[this.length++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buffer[this.length++] = v;
  }

  sint(value: number): void {
    if (!Number.isSafeInteger(value)) {
      throw invalidArgumentError(`${String(value)} is not a safe integer`);
    }
    this.u8(value < 0 ? 1 : 0);
    this.uvarint(Math.abs(value));
  }

  bytes(value: Uint8Array): void {
    this.uvarint(value.length);
    this.reserve(value.length);
    this.buffer.set(value, this.length);
    this.length += value.length;
  }

  string(value: string): void {
    this.bytes(encodeUtf8(value));
  }

  /** The bytes written so far (a copy the caller owns). */
  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }

  private reserve(extraBytes: number): void {
    const needed = this.length + extraBytes;
    if (needed <= this.buffer.length) return;
    let capacity = this.buffer.length * 2;
    while (capacity < needed) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
  }
}
