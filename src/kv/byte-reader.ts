// Reads what ByteWriter writes, strictly: every read is bounds-checked, non-canonical forms are
// refused, counts cannot promise more items than bytes remain, and `end` insists the input is
// used up. Anything wrong is a KvError with the reader's code (MALFORMED for commands, queries
// and results; CORRUPT_SNAPSHOT for snapshots), never a RangeError or a silent default.
import { decodeUtf8 } from "./bytes.js";
import { KvError, type KvErrorCode } from "./errors.js";

export class ByteReader {
  private offset = 0;

  constructor(
    private readonly input: Uint8Array,
    private readonly errorCode: KvErrorCode,
    private readonly what: string,
  ) {}

  get remaining(): number {
    return this.input.length - this.offset;
  }

  fail(reason: string): never {
    throw new KvError(
      this.errorCode,
      `kv: malformed ${this.what}: ${reason} at byte ${this.offset}`,
    );
  }

  u8(): number {
    if (this.offset >= this.input.length) this.fail("unexpected end");
    return this.input[this.offset++]!;
  }

  bool(): boolean {
    const b = this.u8();
    if (b > 1) this.fail(`bad boolean ${b}`);
    return b === 1;
  }

  uvarint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8();
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) this.fail("non-canonical varint");
        if (!Number.isSafeInteger(value)) this.fail("varint above 2^53 - 1");
        return value;
      }
      scale *= 0x80;
    }
    return this.fail("varint longer than 8 bytes");
  }

  sint(): number {
    const negative = this.bool();
    const magnitude = this.uvarint();
    if (negative && magnitude === 0) this.fail("negative zero");
    return negative ? -magnitude : magnitude;
  }

  /** A view into the input (copy it before keeping it). */
  bytes(): Uint8Array {
    const length = this.uvarint();
    if (length > this.remaining) this.fail(`length ${length} past the end`);
    const out = this.input.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  string(): string {
    return decodeUtf8(this.bytes());
  }

  /** A count of items that take at least `itemBytesMin` bytes each. */
  count(itemBytesMin = 1): number {
    const n = this.uvarint();
    if (n * itemBytesMin > this.remaining) this.fail(`count ${n} past the end`);
    return n;
  }

  /** One of `values`, sent as its index. */
  oneOf<T>(values: readonly T[], what: string): T {
    const i = this.u8();
    const v = values[i];
    if (v === undefined) this.fail(`bad ${what} ${i}`);
    return v;
  }

  /** A flags byte whose bits above `bitCount` must be clear. */
  flags(bitCount: number): number {
    const f = this.u8();
    if (f >> bitCount !== 0) this.fail(`unknown flag bits ${f}`);
    return f;
  }

  end(): void {
    if (this.offset !== this.input.length) this.fail(`${this.remaining} trailing bytes`);
  }
}
