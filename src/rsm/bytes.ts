// Minimal binary writer/reader for the runtime's own records (entry envelopes, snapshots).
// The reader checks every length against the buffer and throws DecodeError, never reads past it.

export class DecodeError extends Error {
  override readonly name = "DecodeError";
  readonly code = "MALFORMED";
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  private len = 0;

  /** `capacity`: bytes to start with; a good guess saves the regrowth copies. */
  constructor(capacity = 64) {
    this.buf = new Uint8Array(Math.max(16, capacity));
    this.view = new DataView(this.buf.buffer);
  }

  private ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.len++] = v;
    return this;
  }

  u32(v: number): this {
    this.ensure(4);
    this.view.setUint32(this.len, v >>> 0);
    this.len += 4;
    return this;
  }

  /** A non-negative safe integer. */
  uint(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0)
      throw new RangeError(`not a safe unsigned integer: ${v}`);
    this.ensure(8);
    // Big-endian 64 bits as two words (no BigInt on this hot path).
    this.view.setUint32(this.len, Math.floor(v / 2 ** 32));
    this.view.setUint32(this.len + 4, v >>> 0);
    this.len += 8;
    return this;
  }

  f64(v: number): this {
    this.ensure(8);
    this.view.setFloat64(this.len, v);
    this.len += 8;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.u32(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }

  string(s: string): this {
    return this.bytes(utf8Encoder.encode(s));
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

export class ByteReader {
  private pos = 0;
  private readonly view: DataView;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length)
      throw new DecodeError(`truncated: need ${n} bytes at offset ${this.pos}`);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++] as number;
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  uint(): number {
    this.need(8);
    const hi = this.view.getUint32(this.pos);
    const lo = this.view.getUint32(this.pos + 4);
    this.pos += 8;
    if (hi > 0x1f_ffff) throw new DecodeError(`integer beyond 2^53 at offset ${this.pos - 8}`);
    return hi * 2 ** 32 + lo;
  }

  f64(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos);
    this.pos += 8;
    return v;
  }

  bytes(): Uint8Array {
    const n = this.u32();
    this.need(n);
    const out = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  string(): string {
    try {
      return utf8Decoder.decode(this.bytes());
    } catch (e) {
      if (e instanceof DecodeError) throw e;
      throw new DecodeError("invalid UTF-8 string");
    }
  }

  /** Bytes read so far: where the next field starts. */
  get offset(): number {
    return this.pos;
  }

  /** Skips a length-prefixed field (bytes or string) without copying or decoding it. */
  skipBytes(): void {
    const n = this.u32();
    this.need(n);
    this.pos += n;
  }

  end(): void {
    if (this.pos !== this.buf.length)
      throw new DecodeError(`${this.buf.length - this.pos} trailing bytes`);
  }
}
