// The decoding half of the wire primitives (see byte-writer.ts). Input comes from the network,
// so every read checks its bounds and every failure is a DecodeError naming what was being
// read; nothing here throws anything else. Decoding is canonical: the only bytes accepted for
// a value are the ones ByteWriter produces for it (shortest varints, booleans 0 or 1), so a
// successful decode re-encodes to exactly its input.
import { DecodeError } from "./errors.js";

// ignoreBOM keeps a leading U+FEFF in the string instead of silently eating it (canonical form).
const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

const VARINT_BYTES_MAX = 8;

export class ByteReader {
  private readonly bytes: Uint8Array;
  private offset = 0;

  constructor(input: Uint8Array) {
    // A plain Uint8Array view, so that slices are Uint8Arrays even when the input is a Buffer.
    this.bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  }

  get remainingBytes(): number {
    return this.bytes.byteLength - this.offset;
  }

  get position(): number {
    return this.offset;
  }

  fail(reason: string): never {
    throw new DecodeError(reason, this.offset);
  }

  u8(what: string): number {
    if (this.offset >= this.bytes.byteLength) this.fail(`${what}: truncated`);
    return this.bytes[this.offset++] as number;
  }

  bool(what: string): boolean {
    const b = this.u8(what);
    if (b > 1) this.fail(`${what}: boolean must be 0 or 1, not ${b}`);
    return b === 1;
  }

  /** An unsigned LEB128 varint in its shortest form, at most 2^53 − 1. */
  varint(what: string): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < VARINT_BYTES_MAX; i++) {
      const b = this.u8(what);
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) this.fail(`${what}: varint not in its shortest form`);
        // Sums past 2^53 may round, but never down to a safe integer, so this check holds.
        if (value > Number.MAX_SAFE_INTEGER) this.fail(`${what}: number beyond 2^53 - 1`);
        return value;
      }
      scale *= 0x80;
    }
    return this.fail(`${what}: varint longer than ${VARINT_BYTES_MAX} bytes`);
  }

  /**
   * A count of items that follow, each taking at least `itemBytesMin` bytes: bounded by
   * `countMax` and by what the input can still hold, so a lying count cannot make us loop or
   * allocate beyond the input's size.
   */
  count(what: string, countMax: number, itemBytesMin: number): number {
    const n = this.varint(what);
    if (n > countMax) this.fail(`${what}: count ${n} exceeds ${countMax}`);
    if (n * itemBytesMin > this.remainingBytes) this.fail(`${what}: count ${n} beyond the input`);
    return n;
  }

  /** A varint length and that many bytes, copied (the input buffer is not retained). */
  bytesField(what: string, bytesMax = Number.MAX_SAFE_INTEGER): Uint8Array {
    const n = this.varint(`${what} length`);
    if (n > bytesMax) this.fail(`${what}: ${n} bytes exceeds ${bytesMax}`);
    return this.take(what, n).slice();
  }

  /** A varint length and that many bytes of UTF-8. */
  string(what: string, bytesMax: number): string {
    const n = this.varint(`${what} length`);
    if (n > bytesMax) this.fail(`${what}: ${n} bytes exceeds ${bytesMax}`);
    const raw = this.take(what, n);
    try {
      return utf8Decoder.decode(raw);
    } catch {
      return this.fail(`${what}: not valid UTF-8`);
    }
  }

  /** A view of the next `n` bytes. */
  take(what: string, n: number): Uint8Array {
    if (n > this.remainingBytes) this.fail(`${what}: ${n} bytes beyond the input`);
    const view = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return view;
  }

  /** Decoding ends exactly at the end of the input: trailing bytes are malformed. */
  end(what: string): void {
    if (this.remainingBytes !== 0) this.fail(`${what}: ${this.remainingBytes} trailing bytes`);
  }
}
