// One process per data directory: a LOCK file created exclusively, holding the owner's PID.
// Two members writing one WAL would corrupt it, so a second opener is refused while the owner
// lives. A lock left by a process that died (kill -9, power loss) is stale and taken over; so
// is one left by this very process (a store reopened without close, as crash tests do).
import { open, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { StorageError } from "./errors.js";

export const LOCK_FILE = "LOCK";

export interface DirLock {
  release(): Promise<void>;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

export async function acquireDirLock(dir: string): Promise<DirLock> {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(path, "wx");
      try {
        await handle.writeFile(`${process.pid}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      return {
        release: async () => {
          const owner = Number((await readFile(path, "utf8").catch(() => "")).trim());
          if (owner === process.pid) await unlink(path).catch(() => {});
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new StorageError("IO", `cannot create ${path}: ${(e as Error).message}`, {
          cause: e,
        });
      }
      const holder = Number((await readFile(path, "utf8").catch(() => "")).trim());
      if (Number.isSafeInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
        throw new StorageError(
          "LOCKED",
          `${dir} is in use by process ${holder}; two processes must not share a data directory (if that process is not Ordo, remove ${path})`,
        );
      }
      // Stale: the owner is gone. Remove it and try the exclusive create again.
      await unlink(path).catch(() => {});
    }
  }
  throw new StorageError("LOCKED", `cannot take the lock ${path}`);
}
