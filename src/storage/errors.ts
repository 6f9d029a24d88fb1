// Operating errors of the storage layer: typed, with a stable `code`, so the runtime and the
// `ordo wal` tool can tell "the disk holds damaged data" from "you called me wrong" without
// parsing messages. A failed assert (AssertionError) is a bug, not one of these.

export type StorageErrorCode =
  /** On-disk data is damaged or inconsistent; the store refuses to start. Carries file and offset. */
  | "CORRUPTION"
  /** The store was closed, or failed earlier: reopen it. */
  | "CLOSED"
  /** A read, write or fsync failed. After a failed fsync nothing written since the last good one
   * can be trusted (the kernel may have dropped the dirty pages), so the store stops accepting
   * writes until it is reopened and recovered from disk. */
  | "IO"
  /** Another live process holds the data directory's LOCK file. */
  | "LOCKED"
  /** The caller asked for something the store cannot do (an argument out of range). */
  | "INVALID_ARGUMENT"
  /** More bytes are queued for the next fsync than `pendingBytesMax` allows. */
  | "OVERLOADED";

export class StorageError extends Error {
  override readonly name: string = "StorageError";
  constructor(
    readonly code: StorageErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Damaged or inconsistent data on disk. `file` is the path of the damaged file (or of the file
 * after a missing one) and `offset` the byte offset in it where the damage starts.
 */
export class CorruptionError extends StorageError {
  override readonly name = "CorruptionError";
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super("CORRUPTION", `${file} at byte ${offset}: ${reason}`);
  }
}
