// The few file-system moves durability rests on. A new, renamed or removed file is durable only
// once its directory is fsynced too; data only once its file is. Written out here once so every
// caller gets the order right.
import type { FileHandle } from "node:fs/promises";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
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

/**
 * Replaces `dir/name` with `bytes` so that a crash leaves the old file or the new one, never a
 * mix: written to `name.tmp`, fsynced, renamed over, and the directory fsynced.
 */
export async function replaceFileDurably(
  dir: string,
  name: string,
  bytes: Uint8Array,
): Promise<void> {
  const path = join(dir, name);
  const temp = `${path}.tmp`;
  const handle = await open(temp, "w");
  try {
    await writeFully(handle, bytes, 0);
    await handle.sync();
  } catch (e) {
    await handle.close();
    await rm(temp, { force: true });
    throw e;
  }
  await handle.close();
  await rename(temp, path);
  await fsyncDirectory(dir);
}

/**
 * `mkdir -p`: creates `dir` and its missing parents; resolves with the first directory it
 * created (undefined when `dir` existed), as `mkdir(dir, { recursive: true })` does. Written
 * out because Node 20's recursive mkdir never returns under /proc (it retries ENOENT forever);
 * here each level is one non-recursive mkdir, so the walk is bounded by the path's depth.
 */
export async function makeDirectories(dir: string): Promise<string | undefined> {
  const path = resolve(dir);
  try {
    await mkdir(path);
    return path;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EEXIST") {
      if ((await stat(path)).isDirectory()) return undefined;
      throw e;
    }
    const parent = dirname(path);
    if (code !== "ENOENT" || parent === path) throw e;
    const first = await makeDirectories(parent);
    try {
      await mkdir(path);
    } catch (again) {
      // The parent exists now; ENOENT again means this file system takes no new directory here.
      if ((again as NodeJS.ErrnoException).code === "EEXIST" && (await stat(path)).isDirectory())
        return first;
      throw again;
    }
    return first ?? path;
  }
}
