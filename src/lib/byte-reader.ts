// The one byte reader of the project: reads what ByteWriter (byte-writer.ts, which lists the
// encodings) writes, strictly. Input may come from the network or a damaged disk, so every read
// checks its bounds and every failure is a DecodeError naming what was being read and where;
// nothing here throws anything else. Decoding is canonical: the only bytes accepted for a value
// are the ones ByteWriter produces for it (shortest varints, booleans 0 or 1, no "-0", valid
// UTF-8), so a successful decode re-encodes to exactly its input.
//
// Byte fields come two ways, and each call site picks one: `bytesVarint` / `bytesU32` return a
// copy (for values kept beyond the input buffer's life: log entries, stored values), the `…View`
// forms and `take` return a subarray of the input (for values used, or copied, at once).
import { DecodeError } from "./errors.js";
import { decodeUtf8Strict } from "./utf8.js";

const VARINT_BYTES_MAX = 8;
const TWO_TO_32 = 2 ** 32;
/** The high word of the largest safe integer (2^53 − 1). */
const U64_HIGH_MAX = 0x1f_ffff;

export class ByteReader {
  private readonly bytes: Uint8Array;
  private view: DataView | undefined; // made on the first f64
  private at = 0;

  constructor(input: Uint8Array) {
    // A plain Uint8Array, so that views and copies are Uint8Arrays even of a Buffer (whose
    // subarray and slice are Buffers); a plain input is used as it is, with no wrapper.
    this.bytes =
      input.constructor === Uint8Array
        ? input
        : new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  }

  /** Bytes read so far: where the next field starts. */
  get offset(): number {
    return this.at;
  }

  get remainingBytes(): number {
    return this.bytes.byteLength - this.at;
  }

  /** Throws a DecodeError at the current offset. */
  fail(reason: string): never {
    throw new DecodeError(reason, this.at);
  }

  u8(what = "byte"): number {
    if (this.at >= this.bytes.byteLength) this.fail(`${what}: truncated`);
    return this.bytes[this.at++] as number;
  }

  bool(what = "boolean"): boolean {
    const b = this.u8(what);
    if (b > 1) this.fail(`${what}: boolean must be 0 or 1, not ${b}`);
    return b === 1;
  }

  u32(what = "u32"): number {
    this.need(what, 4);
    const b = this.bytes;
    const at = this.at;
    this.at += 4;
    return (
      (b[at] as number) * 0x100_0000 +
      (((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number))
    );
  }

  /** 8 bytes big-endian, at most 2^53 − 1. */
  u64(what = "u64"): number {
    this.need(what, 8);
    const start = this.at;
    const hi = this.u32(what);
    const lo = this.u32(what);
    if (hi > U64_HIGH_MAX) {
      this.at = start;
      this.fail(`${what}: integer beyond 2^53 - 1`);
    }
    return hi * TWO_TO_32 + lo;
  }

  f64(what = "f64"): number {
    this.need(what, 8);
    const b = this.bytes;
    this.view ??= new DataView(b.buffer, b.byteOffset, b.byteLength);
    const v = this.view.getFloat64(this.at);
    this.at += 8;
    return v;
  }

  /** An unsigned LEB128 varint in its shortest form, at most 2^53 − 1. */
  uvarint(what = "varint"): number {
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

  /** A sign byte and a uvarint magnitude (ByteWriter.sint); "-0" is refused. */
  sint(what = "integer"): number {
    const negative = this.bool(`${what} sign`);
    const magnitude = this.uvarint(what);
    if (negative && magnitude === 0) this.fail(`${what}: negative zero`);
    return negative ? -magnitude : magnitude;
  }

  /**
   * A uvarint count of items that follow, each taking at least `itemBytesMin` bytes: bounded by
   * `countMax` and by what the input can still hold, so a lying count cannot make us loop or
   * allocate beyond the input's size.
   */
  count(what: string, countMax: number, itemBytesMin: number): number {
    const n = this.uvarint(what);
    if (n > countMax) this.fail(`${what}: count ${n} exceeds ${countMax}`);
    if (n * itemBytesMin > this.remainingBytes) this.fail(`${what}: count ${n} beyond the input`);
    return n;
  }

  /**
   * A counted list (ByteWriter.list): the count as count() bounds it, then each item as `item`
   * reads it.
   */
  list<T>(what: string, countMax: number, itemBytesMin: number, item: () => T): T[] {
    const n = this.count(what, countMax, itemBytesMin);
    const items: T[] = [];
    for (let i = 0; i < n; i++) items.push(item());
    return items;
  }

  /** A view of the next `n` bytes (no length prefix). */
  take(what: string, n: number): Uint8Array {
    if (n > this.remainingBytes) this.fail(`${what}: ${n} bytes beyond the input`);
    const view = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return view;
  }

  /** A uvarint length and that many bytes, as a view of the input. */
  bytesVarintView(what = "bytes", bytesMax = Number.MAX_SAFE_INTEGER): Uint8Array {
    const n = this.uvarint(`${what} length`);
    if (n > bytesMax) this.fail(`${what}: ${n} bytes exceeds ${bytesMax}`);
    return this.take(what, n);
  }

  /** A uvarint length and that many bytes, copied (the input buffer is not retained). */
  bytesVarint(what = "bytes", bytesMax = Number.MAX_SAFE_INTEGER): Uint8Array {
    return this.bytesVarintView(what, bytesMax).slice();
  }

  /** A u32 length and that many bytes, as a view of the input. */
  bytesU32View(what = "bytes"): Uint8Array {
    return this.take(what, this.u32(`${what} length`));
  }

  /** A u32 length and that many bytes, copied (the input buffer is not retained). */
  bytesU32(what = "bytes"): Uint8Array {
    return this.bytesU32View(what).slice();
  }

  /** Skips a u32-length-prefixed field without copying or decoding it. */
  skipBytesU32(what = "bytes"): void {
    this.bytesU32View(what);
  }

  /** A uvarint length and that many bytes of UTF-8, at most `bytesMax`. */
  stringVarint(what = "string", bytesMax = Number.MAX_SAFE_INTEGER): string {
    return this.utf8(what, this.bytesVarintView(what, bytesMax));
  }

  /** A u32 length and that many bytes of UTF-8. */
  stringU32(what = "string"): string {
    return this.utf8(what, this.bytesU32View(what));
  }

  /** One of `values`, sent as its index in one byte. */
  oneOf<T>(values: readonly T[], what: string): T {
    const i = this.u8(what);
    const v = values[i];
    if (v === undefined) this.fail(`${what}: bad ${what} ${i}`);
    return v;
  }

  /** A flags byte whose bits from `bitCount` up must be clear. */
  flags(bitCount: number, what = "flags"): number {
    const f = this.u8(what);
    if (f >> bitCount !== 0) this.fail(`${what}: unknown flag bits ${f}`);
    return f;
  }

  /** Decoding ends exactly at the end of the input: trailing bytes are malformed. */
  end(what = "input"): void {
    if (this.remainingBytes !== 0) this.fail(`${what}: ${this.remainingBytes} trailing bytes`);
  }

  private need(what: string, n: number): void {
    if (n > this.remainingBytes) this.fail(`${what}: truncated`);
  }

  private utf8(what: string, raw: Uint8Array): string {
    const text = decodeUtf8Strict(raw);
    if (text === undefined) this.fail(`${what}: not valid UTF-8`);
    return text;
  }
}
