// The storage contract between the runtime and a log store. The durable WAL (src/storage/)
// and the simulator's in-memory disk (src/sim/) both implement it, so the runtime can use either.
// Types only: the core itself never calls storage; the runtime persists what Ready says.
import type { Entry, HardState, Snapshot } from "./types.js";

/** Everything a store holds durably, as recovered on open. */
export interface DurableState {
  /** The last hard state written, or term 0 / no vote / commit 0 for a new store. */
  readonly hardState: HardState;
  /** The newest valid snapshot, if any. */
  readonly snapshot: Snapshot | undefined;
  /** Entries after the snapshot (or from index 1), contiguous and in order. */
  readonly entries: readonly Entry[];
}

export interface LogStorage {
  /** Recover what is durable. Called once, before any write. */
  load(): Promise<DurableState>;
  /**
   * Make `entries` and `hardState` durable. If `entries[0].index` is at or below the last stored
   * index, the stored suffix from there is first truncated (follower log repair), durably too.
   * Resolves only after the data is fsynced. Calls made while an fsync is in flight are
   * coalesced into the next write + fsync (group commit); promises resolve in call order.
   *
   * With `sync` false (Ready.mustSync false: only the commit index moved) the write is ordered
   * after every earlier one and resolves once written, without an fsync of its own: a crash may
   * lose it until a later synced write (or close) makes it durable. That is safe because a
   * commit index is never needed for safety; after a restart it is re-learnt from the leader.
   */
  append(
    entries: readonly Entry[],
    hardState: HardState | undefined,
    sync?: boolean,
  ): Promise<void>;
  /**
   * Durably store a snapshot this node took of its own state machine, then compact the log:
   * entries up to `snapshot.meta.index` may be discarded; later entries are kept.
   */
  saveSnapshot(snapshot: Snapshot): Promise<void>;
  /**
   * Durably store a snapshot received from the leader (InstallSnapshot): it replaces the whole
   * log; every stored entry is discarded.
   */
  installSnapshot(snapshot: Snapshot): Promise<void>;
  /** Flush and release files. Further calls reject. */
  close(): Promise<void>;
}
