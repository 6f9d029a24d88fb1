// The two errors of the byte codec. Each folder maps them to its own at its boundary
// (transport: TransportError MALFORMED / AssertionError; kv: KvError; rsm re-exports these as
// its own), so the messages and codes its users see are that folder's.

/** Bytes that do not decode. `offset` is where in the input the reader gave up. */
export class DecodeError extends Error {
  override readonly name = "DecodeError";
  readonly code = "MALFORMED";
  constructor(
    /** What was being read and what was wrong with it, e.g. "term: truncated". */
    readonly reason: string,
    readonly offset: number,
  ) {
    super(`malformed input at byte ${offset}: ${reason}`);
  }
}

/** A value the format cannot hold (an unsafe integer, a u8 above 255, a string over its bound). */
export class EncodeError extends RangeError {
  override readonly name = "EncodeError";
}
