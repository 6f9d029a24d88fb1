// gRPC's length-prefixed message framing (the "Length-Prefixed-Message" of PROTOCOL-HTTP2.md):
// a 1-byte compressed flag, a 4-byte big-endian length, then that many bytes. HTTP/2 DATA
// frames carry these with no alignment: one message may span many frames and one frame may
// hold many messages, so MessageReader reassembles across chunks.
//
// Bounds: the length is checked against the limit as soon as the 5-byte prefix is complete,
// before a byte of the body is held, so an oversized message is refused without buffering it.
// A message that arrives whole inside one chunk is handed on as a view of that chunk (no copy);
// only a message split across chunks is copied, once, into a buffer of its announced size.
// Compression is not supported: a set flag is a protocol error for the call.

/** Bytes of the prefix before each message. */
export const MESSAGE_PREFIX_BYTES = 5;

/** Why a stream's bytes cannot be read as messages; the caller ends the call with a status. */
export type FramingError =
  | { readonly kind: "too-large"; readonly length: number; readonly limit: number }
  | { readonly kind: "compressed" }
  | { readonly kind: "bad-flag"; readonly flag: number };

/** Reassembles messages from the DATA chunks of one stream. */
export class MessageReader {
  private readonly prefix = Buffer.allocUnsafe(MESSAGE_PREFIX_BYTES);
  private prefixFilled = 0;
  /** The body being filled when a message spans chunks. */
  private body: Buffer | undefined;
  private bodyFilled = 0;
  private failed = false;

  constructor(private readonly messageBytesMax: number) {}

  /** True while part of a message has been read: a half-close now cuts a message short. */
  get midMessage(): boolean {
    return this.prefixFilled > 0 || this.body !== undefined;
  }

  /**
   * Feeds one chunk; calls onMessage for every message it completes, in order. Returns the
   * first framing error (after which the reader refuses everything), or undefined.
   */
  push(chunk: Buffer, onMessage: (message: Buffer) => void): FramingError | undefined {
    if (this.failed) return undefined;
    let at = 0;
    const n = chunk.length;
    // Bounded: every turn consumes at least one byte of the chunk or completes a message.
    while (at < n) {
      if (this.body !== undefined) {
        const take = Math.min(this.body.length - this.bodyFilled, n - at);
        chunk.copy(this.body, this.bodyFilled, at, at + take);
        this.bodyFilled += take;
        at += take;
        if (this.bodyFilled === this.body.length) {
          const message = this.body;
          this.body = undefined;
          this.bodyFilled = 0;
          onMessage(message);
        }
        continue;
      }
      let flag: number;
      let length: number;
      if (this.prefixFilled === 0 && n - at >= MESSAGE_PREFIX_BYTES) {
        flag = chunk[at]!;
        length = chunk.readUInt32BE(at + 1);
        at += MESSAGE_PREFIX_BYTES;
      } else {
        const take = Math.min(MESSAGE_PREFIX_BYTES - this.prefixFilled, n - at);
        chunk.copy(this.prefix, this.prefixFilled, at, at + take);
        this.prefixFilled += take;
        at += take;
        if (this.prefixFilled < MESSAGE_PREFIX_BYTES) return undefined;
        this.prefixFilled = 0;
        flag = this.prefix[0]!;
        length = this.prefix.readUInt32BE(1);
      }
      const error = this.check(flag, length);
      if (error !== undefined) {
        this.failed = true;
        return error;
      }
      if (n - at >= length) {
        const message = chunk.subarray(at, at + length);
        at += length;
        onMessage(message);
      } else {
        this.body = Buffer.allocUnsafe(length);
        this.bodyFilled = 0;
      }
    }
    return undefined;
  }

  private check(flag: number, length: number): FramingError | undefined {
    if (flag === 1) return { kind: "compressed" };
    if (flag !== 0) return { kind: "bad-flag", flag };
    if (length > this.messageBytesMax)
      return { kind: "too-large", length, limit: this.messageBytesMax };
    return undefined;
  }
}

/** One buffer holding the prefix and the payload, to go out in a single write. */
export function frameMessage(payload: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(MESSAGE_PREFIX_BYTES + payload.length);
  frame[0] = 0;
  frame.writeUInt32BE(payload.length, 1);
  frame.set(payload, MESSAGE_PREFIX_BYTES);
  return frame;
}
