// The few file-system moves durability rests on. A new, renamed or removed file is durable only
// once its directory is fsynced too; data only once its file is. Written out here once so every
// caller gets the order right.
import type { FileHandle } from "node:fs/promises";
import { open } from "node:fs/promises";
import { StorageError } from "./errors.js";

/** fsync a directory, making creations, renames and removals in it durable. */
export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes all of `bytes` at `position`, looping over short writes (a bounded number of times). */
export async function writeFully(
  handle: FileHandle,
  bytes: Uint8Array,
  position: number,
): Promise<void> {
  let done = 0;
  // A regular file takes everything in one call; allow some short writes, never an endless loop.
  for (let attempt = 0; attempt < 1024 && done < bytes.byteLength; attempt++) {
    const { bytesWritten } = await handle.write(
      bytes,
      done,
      bytes.byteLength - done,
      position + done,
    );
    if (bytesWritten <= 0) break;
    done += bytesWritten;
  }
  if (done !== bytes.byteLength) {
    throw new StorageError(
      "IO",
      `short write: ${done} of ${bytes.byteLength} bytes at ${position}`,
    );
  }
}
