// MemoryStorage: the LogStorage contract (src/raft/storage.ts) kept in memory, on the same
// SimDisk model the simulator uses. A runtime can run on it or on the durable WAL alike; the
// storage conformance tests hold both to the same behaviour.
import type { DurableState, Entry, HardState, LogStorage, Snapshot } from "../raft/index.js";
import { SimDisk } from "./disk.js";

export class MemoryStorage implements LogStorage {
  readonly disk = new SimDisk();
  private closed = false;

  async load(): Promise<DurableState> {
    this.assertOpen();
    return {
      hardState: this.disk.hardState,
      snapshot: this.disk.snapshot,
      entries: [...this.disk.entries],
    };
  }

  async append(
    entries: readonly Entry[],
    hardState: HardState | undefined,
    sync = true,
  ): Promise<void> {
    this.assertOpen();
    if (!sync && entries.length === 0) {
      if (hardState !== undefined) this.disk.defer(hardState);
      return;
    }
    this.disk.write(undefined, entries, hardState);
  }

  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    this.assertOpen();
    this.disk.compact(snapshot);
  }

  async installSnapshot(snapshot: Snapshot): Promise<void> {
    this.assertOpen();
    this.disk.write(snapshot, [], undefined);
  }

  async close(): Promise<void> {
    if (!this.closed && this.disk.deferredHardState !== undefined) {
      this.disk.write(undefined, [], undefined);
    }
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("storage is closed");
  }
}
