// Operating errors of the transport: typed, with a stable `code`. Bytes from the network are
// input, not invariants, so everything a peer can send wrong ends in one of these (and the
// connection that carried it is closed); a failed assert (AssertionError) is our own bug.
import { AssertionError, DecodeError as BytesDecodeError, EncodeError } from "../lib/index.js";

export type TransportErrorCode =
  /** Bytes that are not a valid encoding: truncated, trailing, unknown tag, out of bounds. */
  | "MALFORMED"
  /** A frame header declared more bytes than `frameBytesMax`. */
  | "FRAME_TOO_LARGE"
  /** An option or argument is out of range. */
  | "INVALID_ARGUMENT"
  /** The listening socket could not be opened (address in use, permission). */
  | "LISTEN_FAILED"
  /** The transport was stopped (or never started) and cannot do what was asked. */
  | "CLOSED";

export class TransportError extends Error {
  override readonly name: string = "TransportError";
  constructor(
    readonly code: TransportErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Bytes that do not decode. `offset` is where in the input the decoder gave up. */
export class DecodeError extends TransportError {
  override readonly name = "DecodeError";
  constructor(
    readonly reason: string,
    readonly offset: number,
  ) {
    super("MALFORMED", `malformed input at byte ${offset}: ${reason}`);
  }
}

/** A frame header declared `frameBytes`, more than the `frameBytesMax` the reader accepts. */
export class FrameTooLargeError extends TransportError {
  override readonly name = "FrameTooLargeError";
  constructor(
    readonly frameBytes: number,
    readonly frameBytesMax: number,
  ) {
    super(
      "FRAME_TOO_LARGE",
      `frame of ${frameBytes} bytes exceeds the maximum of ${frameBytesMax}`,
    );
  }
}

/**
 * The shared byte codec's errors as the transport's, at its boundary (every encode and decode
 * entry point catches and rethrows through this): bytes that do not decode are a DecodeError
 * (MALFORMED) with the reader's reason and offset; a value our own encoder cannot write is a
 * bug, an AssertionError, as the transport's writer always reported it. Anything else as is.
 */
export function wireError(error: unknown): unknown {
  if (error instanceof BytesDecodeError) return new DecodeError(error.reason, error.offset);
  if (error instanceof EncodeError) return new AssertionError(`writer: ${error.message}`);
  return error;
}
