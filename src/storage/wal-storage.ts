// WalStorage: the durable LogStorage. A directory of WAL segments and snapshot files; see
// record-codec.ts for the record layout, recovery.ts for how a directory is read back.
//
// Writing (group commit): append() checks its records and adds them to the open batch. One
// flusher takes the oldest batch, encodes it straight into a reused buffer, writes it with one
// write() that is durable when it returns (the active segment is opened O_DSYNC: the write and
// its fdatasync are one system call, one trip to the thread pool, instead of two with the event
// loop in between, which under load delayed the sync by a millisecond); appends arriving meanwhile
// join the next
// batch (an append whose entries continue the batch's last Entries record extends it: one
// checksum for many one-entry appends). All appends in one batch share one promise, settled once
// for the whole batch, so every promise resolves only after the fdatasync covering it returned,
// in call order. Only one write is ever in flight, which is what lets recovery call damage in
// the last batch a torn write.
//
// A hard state appended without sync (only the commit index moved: Ready.mustSync false) is not
// written at once: it is held in memory and rides in the next synced batch (or close()), so it
// costs no fsync of its own and nothing ever reaches the disk unsynced. A crash loses at most
// that commit index, which the node re-learns from the leader.
//
// Segments: a batch that would push the active segment past segmentBytesMax goes to a new
// segment instead. A segment opens with its header and the current hard state, so deleting
// older segments never loses the term and vote.
//
// Snapshots and compaction, in crash-safe order:
//  1. the snapshot file is made durable (temp file, fsync, rename, directory fsync);
//  2. a SnapshotMark record goes through the WAL queue; an install's mark voids the log before it;
//  3. only then are old segments removed, oldest first, each removal fsynced before the next,
//     and only segments whose every live entry the oldest kept snapshot covers. So a crash at
//     any point leaves a directory that recovers, and recovery can fall back to any kept
//     snapshot if a newer one is damaged.
// A failed write, fsync or snapshot file stops the store (code "IO"): after a failed fsync the
// kernel may have dropped the dirty pages, so nothing since the last good one can be trusted.
// Reopen it to recover from what is really on disk.

import { constants } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { open, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { AssertionError, assert } from "../lib/index.js";
import type { DurableState, Entry, HardState, LogStorage, Snapshot } from "../raft/index.js";
import { asIndex } from "../raft/index.js";
import { BatchBuffer } from "./batch-buffer.js";
import { acquireDirLock, type DirLock } from "./dir-lock.js";
import { fsyncDirectory, makeDirectories, writeFully } from "./durable-fs.js";
import { StorageError } from "./errors.js";
import {
  BROKEN_SUFFIX,
  parseSnapshotName,
  type SegmentName,
  type SnapshotName,
  segmentFileName,
} from "./file-names.js";
import { LatencyWindow } from "./latency-window.js";
import {
  BATCH_HEADER_BYTES,
  type BatchItem,
  checkedHardStateRecordBytes,
  checkedRecordBytes,
  ENTRIES_RECORD_OVERHEAD_BYTES,
  ENTRY_OVERHEAD_BYTES,
  entriesRecordBytesMax,
  entriesRecords,
  RECORD_HEADER_BYTES,
  type WalRecord,
} from "./record-codec.js";
import { type Recovered, type RepairReport, recoverDataDir, type TornTail } from "./recovery.js";
import { emptyHardState } from "./replay.js";
import { writeSnapshotFile } from "./snapshot-file.js";

export type WalLogLevel = "debug" | "info" | "warn" | "error";
/** Structured log sink: a message plus fields. */
export type WalLogger = (
  level: WalLogLevel,
  message: string,
  fields: Readonly<Record<string, unknown>>,
) => void;

export interface WalOptions {
  /** A batch that would grow the active segment past this goes to a new segment. Default 64 MiB. */
  readonly segmentBytesMax?: number;
  /** Snapshot files kept, newest first; the log is kept back to the oldest of them. Default 2. */
  readonly snapshotsKeep?: number;
  /**
   * On damage, cut the log at the first bad record (dropping everything after it) instead of
   * refusing to start. Default false: a node that lost acknowledged entries or votes must not
   * rejoin unknowingly. What was dropped is in `recovery.repair` and logged at level error.
   */
  readonly repair?: boolean;
  /** Bytes queued for the next write beyond which append() rejects with OVERLOADED. Default 64 MiB. */
  readonly pendingBytesMax?: number;
  readonly logger?: WalLogger;
}

interface Config {
  readonly segmentBytesMax: number;
  readonly snapshotsKeep: number;
  readonly repair: boolean;
  readonly pendingBytesMax: number;
  readonly logger: WalLogger;
}

const MiB = 1024 * 1024;
const defaults = {
  segmentBytesMax: 64 * MiB,
  snapshotsKeep: 2,
  pendingBytesMax: 64 * MiB,
} as const;
/** Bounds the segment-removal loop of one compaction. */
const segmentsPerCompactionMax = 1_000_000;

/** What open() found and did. */
export interface RecoveryReport {
  readonly segments: number;
  readonly batches: number;
  readonly records: number;
  /** The snapshot loaded, if any. */
  readonly snapshot: SnapshotName | undefined;
  readonly tornTail: TornTail | undefined;
  readonly repair: RepairReport | undefined;
  /** Snapshot files found damaged, renamed to *.broken. */
  readonly damagedSnapshots: readonly {
    readonly file: string;
    readonly offset: number;
    readonly reason: string;
  }[];
  readonly tempFilesRemoved: readonly string[];
  /** Entries after the snapshot dropped as belonging to another history (an interrupted install). */
  readonly droppedAfterSnapshot: number;
}

export interface WalStats {
  readonly segments: number;
  readonly activeSegment: string;
  /** Last index including queued appends. */
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  readonly appends: number;
  /** Batches written: each one write and one fdatasync. */
  readonly batches: number;
  readonly fsyncs: number;
  readonly bytesWritten: number;
  /** Hard states appended without sync, deferred to a later synced batch. */
  readonly deferredHardStates: number;
}

/** How an append's entries join the open batch (WalStorage.planAppend). */
interface AppendPlan {
  /** The Entries records of an append too large for one; undefined when it fits one. */
  readonly parts: WalRecord[] | undefined;
  /** Whether the entries extend the Entries record that ends the open batch. */
  readonly extend: boolean;
  /** Their bytes in the batch. */
  readonly bytes: number;
}

/**
 * One write in the making: the records of every append made until the flusher takes it, written
 * with one write() and one fdatasync(). Its appends share `done`, settled once for all of them.
 */
class PendingBatch {
  /**
   * In call order; encoded when written, not when queued: entries must not change until their
   * append settles. Each append adds its entries array itself (one Entries record) and its
   * hard state, so queueing allocates nothing per append.
   */
  readonly records: BatchItem[] = [];
  /** Bytes the records take on disk (checked when queued). */
  bodyBytes = 0;
  /** When the last record is an entries array this batch owns, that array (appends extend it). */
  ownedRun: Entry[] | undefined = undefined;
  /** Payload bytes of the last record, when it is an Entries record. */
  runPayloadBytes = 0;
  /** The log's last index once this batch is applied, when it changes it. */
  lastIndex: number | undefined = undefined;
  hardState: HardState | undefined = undefined;
  /** An install: ends the batch; a new segment starts right after it, so the replaced log can go. */
  install = false;
  /** Must settle before this batch reaches the disk (the snapshot file its install mark refers to). */
  gate: Promise<unknown> | undefined = undefined;
  readonly done: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;

  constructor() {
    let resolve: () => void = () => {};
    let reject: (error: unknown) => void = () => {};
    this.done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.resolve = resolve;
    this.reject = reject;
  }
}

/**
 * How the active segment is opened: read-write and O_DSYNC, so that every write() returns only
 * once its data (and the metadata needed to read it back, such as the file's new size) is on
 * the disk, as write() + fdatasync() would.
 */
const SEGMENT_OPEN_FLAGS = constants.O_RDWR | constants.O_DSYNC;

interface ActiveSegment extends SegmentName {
  readonly handle: FileHandle;
  /** Bytes in the file: where the next batch goes. */
  position: number;
}

export class WalStorage implements LogStorage {
  /** Batches waiting for the disk, oldest first; appends join `openBatch`, the last one. */
  private readonly queue: PendingBatch[] = [];
  /** The batch appends join, until the flusher takes it (or an install ends it). */
  private openBatch: PendingBatch | undefined;
  private queuedBytes = 0;
  private flushing: Promise<void> | undefined;
  private failure: StorageError | undefined;
  private closed = false;
  /** The recovered state until the first write (load() hands it out). */
  private recoveredState: DurableState | undefined;
  /** The log as appends see it: includes writes still queued. */
  private lastIndexQueued: number;
  private lastHardStateQueued: HardState;
  /** A hard state appended without sync, waiting to ride in the next synced batch. */
  private deferredHardState: HardState | undefined;
  /** Highest snapshot index saved or installed (requested); entries at or below are skipped. */
  private snapshotIndex: number;
  /** The log as written to disk, in write order. */
  private lastIndexWritten: number;
  private hardStateWritten: HardState;
  /** Every segment on disk, oldest first; the last is the active one. */
  private readonly segments: SegmentName[];
  private active: ActiveSegment;
  /** Kept snapshot files, ascending by index. */
  private snapshots: SnapshotName[];
  private lastInstallIndex: number;
  private snapshotChain: Promise<void> = Promise.resolve();
  private readonly operations = new Set<Promise<unknown>>();
  /** How long the latest batches' durable writes (write + sync, O_DSYNC) took (the dashboard). */
  readonly syncLatency = new LatencyWindow(512);
  private readonly counters = {
    appends: 0,
    batches: 0,
    fsyncs: 0,
    bytesWritten: 0,
    deferredHardStates: 0,
  };
  private readonly batchBuffer = new BatchBuffer();

  /** The data directory's LOCK, released by close(). */
  private lock: DirLock | undefined;

  private constructor(
    readonly dir: string,
    private readonly config: Config,
    recovered: Recovered,
    segments: SegmentName[],
    active: ActiveSegment,
    readonly recovery: RecoveryReport,
  ) {
    const state = recovered.state;
    this.recoveredState = state;
    const lastIndex = (state.snapshot?.meta.index ?? 0) + state.entries.length;
    this.lastIndexQueued = lastIndex;
    this.lastIndexWritten = lastIndex;
    this.lastHardStateQueued = state.hardState;
    this.hardStateWritten = state.hardState;
    this.snapshotIndex = state.snapshot?.meta.index ?? 0;
    this.segments = segments;
    this.active = active;
    this.snapshots = recovered.snapshots.filter(
      (s) => !recovered.damagedSnapshots.some((d) => d.name === s.name),
    );
    this.lastInstallIndex = recovered.lastInstallIndex;
    assert(segments[segments.length - 1]?.name === active.name, "open: active segment is the last");
  }

  /** Opens (creating if needed) the data directory `dir`, recovering what is durable in it. */
  static async open(dir: string, options: WalOptions = {}): Promise<WalStorage> {
    const config = resolveOptions(options);
    await makeDirectories(dir);
    const lock = await acquireDirLock(dir);
    try {
      return await WalStorage.openLocked(dir, config, lock);
    } catch (e) {
      await lock.release();
      throw e;
    }
  }

  private static async openLocked(dir: string, config: Config, lock: DirLock): Promise<WalStorage> {
    const recovered = await recoverDataDir(dir, { repair: config.repair });
    const tempFilesRemoved = await applyRecovery(dir, recovered, config.logger);
    const segments: SegmentName[] = recovered.segments.map(({ name, seq, firstIndex }) => ({
      name,
      seq,
      firstIndex,
    }));
    let active: ActiveSegment;
    const last = recovered.segments[recovered.segments.length - 1];
    if (last === undefined) {
      assert(
        recovered.state.snapshot === undefined,
        "open: a snapshot without segments passed recovery",
      );
      active = await createSegment(dir, new BatchBuffer(), 1, 1, emptyHardState(), [], 0);
      segments.push({ name: active.name, seq: active.seq, firstIndex: active.firstIndex });
    } else {
      const handle = await open(join(dir, last.name), SEGMENT_OPEN_FLAGS);
      active = {
        name: last.name,
        seq: last.seq,
        firstIndex: last.firstIndex,
        handle,
        position: last.validBytes,
      };
    }
    const report = recoveryReport(recovered, segments.length, tempFilesRemoved);
    const wal = new WalStorage(dir, config, recovered, segments, active, report);
    wal.lock = lock;
    const state = recovered.state;
    config.logger("info", "wal opened", {
      dir,
      segments: segments.length,
      snapshotIndex: state.snapshot?.meta.index ?? 0,
      lastIndex: wal.lastIndexWritten,
      term: state.hardState.term,
      commit: state.hardState.commit,
    });
    if (state.hardState.commit > wal.lastIndexWritten) {
      config.logger("warn", "hard state commit is beyond the last durable entry", {
        commit: state.hardState.commit,
        lastIndex: wal.lastIndexWritten,
      });
    }
    return wal;
  }

  /** The durable state recovered on open. Call before the first write. */
  async load(): Promise<DurableState> {
    this.throwIfUnusable();
    if (this.recoveredState === undefined) {
      throw new StorageError("INVALID_ARGUMENT", "load() must come before the first write");
    }
    return this.recoveredState;
  }

  /**
   * Queues `entries` and `hardState` for the next batch; resolves once they are fsynced. Entries
   * are encoded when the batch is written, so their data must not change until then (Raft
   * entries never change). A gap in the log or a term going down is a bug: AssertionError.
   *
   * `sync` false (a hard state alone whose term and vote did not change) defers the hard state
   * to the next synced batch and resolves at once; see the file comment.
   */
  append(entries: readonly Entry[], hardState: HardState | undefined, sync = true): Promise<void> {
    const unusable = this.unusable();
    if (unusable !== undefined) return Promise.reject(unusable);
    if (!sync) return this.deferHardState(entries, hardState);
    // Entries a snapshot already covers are skipped (as the simulator's disk does).
    let skip = 0;
    while (skip < entries.length && entries[skip]!.index <= this.snapshotIndex) skip++;
    const kept = skip === 0 ? entries : entries.slice(skip);
    const plan = this.planAppend(kept, hardState);
    const entriesBytes = plan.bytes;
    const written = hardState ?? this.deferredHardState;
    const bytes = entriesBytes + (written === undefined ? 0 : checkedHardStateRecordBytes(written));
    const overload = this.overloaded(bytes);
    if (overload !== undefined) return Promise.reject(overload);
    this.deferredHardState = undefined;
    this.recoveredState = undefined;
    const batch = this.batchToJoin();
    this.queueEntries(batch, kept, plan);
    const records = batch.records;
    if (written !== undefined) {
      records.push(written);
      batch.hardState = written;
    }
    batch.bodyBytes += bytes;
    this.queuedBytes += bytes;
    const last = kept[kept.length - 1];
    if (last !== undefined) {
      this.lastIndexQueued = last.index;
      batch.lastIndex = last.index;
    }
    if (hardState !== undefined) this.lastHardStateQueued = hardState;
    this.counters.appends++;
    this.kick();
    return batch.done;
  }

  /**
   * How `kept` goes into the open batch, and its bytes there: split over several Entries
   * records when one record's payload limit is too small (rare, exactly as entriesRecords()
   * splits it), or extending the Entries record that ends the open batch when they continue
   * it, so concurrent one-entry appends cost one checksum per batch, not one each (the layout
   * is the same: a run of consecutive entries; the batch is atomic on disk either way).
   */
  private planAppend(kept: readonly Entry[], hardState: HardState | undefined): AppendPlan {
    let entriesBytes = this.checkedAppendBytes(kept, hardState);
    let parts: WalRecord[] | undefined;
    if (entriesBytes - RECORD_HEADER_BYTES > entriesRecordBytesMax) {
      parts = entriesRecords(kept);
      entriesBytes = 0;
      for (const record of parts) entriesBytes += checkedRecordBytes(record);
    }
    const open = this.openBatch;
    let extend = false;
    if (parts === undefined && kept.length > 0 && open !== undefined) {
      const run = open.records[open.records.length - 1];
      if (Array.isArray(run)) {
        const runLast = (run as readonly Entry[])[run.length - 1]!;
        extend =
          runLast.index + 1 === kept[0]!.index &&
          open.runPayloadBytes + entriesBytes - ENTRIES_RECORD_OVERHEAD_BYTES <=
            entriesRecordBytesMax;
        if (extend) entriesBytes -= ENTRIES_RECORD_OVERHEAD_BYTES;
      }
    }
    return { parts, extend, bytes: entriesBytes };
  }

  /** Puts `kept` into `batch` as planned (the records, the run's payload bytes). */
  private queueEntries(batch: PendingBatch, kept: readonly Entry[], plan: AppendPlan): void {
    const records = batch.records;
    if (plan.parts !== undefined) {
      for (const record of plan.parts) records.push(record);
    } else if (plan.extend) {
      // The first extension copies the caller's array: entries arrays are never modified.
      let run = batch.ownedRun;
      if (run === undefined || run !== records[records.length - 1]) {
        run = (records.pop() as readonly Entry[]).slice();
        records.push(run);
        batch.ownedRun = run;
      }
      for (let i = 0; i < kept.length; i++) run.push(kept[i]!);
      batch.runPayloadBytes += plan.bytes;
    } else if (kept.length > 0) {
      records.push(kept);
      batch.runPayloadBytes = plan.bytes - RECORD_HEADER_BYTES;
    }
  }

  private deferHardState(
    entries: readonly Entry[],
    hardState: HardState | undefined,
  ): Promise<void> {
    try {
      if (entries.length > 0) throw new AssertionError("append: entries are always synced");
      if (hardState === undefined) return Promise.resolve();
      const last = this.lastHardStateQueued;
      if (hardState.term !== last.term || hardState.vote !== last.vote) {
        throw new AssertionError("append: a new term or vote is always synced");
      }
      this.checkedAppendBytes([], hardState);
    } catch (error) {
      return Promise.reject(error);
    }
    this.lastHardStateQueued = hardState;
    this.deferredHardState = hardState;
    this.counters.deferredHardStates++;
    return Promise.resolve();
  }

  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    this.throwIfUnusable();
    const index = snapshot.meta.index;
    if (index <= this.snapshotIndex) return;
    if (index > this.lastIndexQueued) {
      throw new StorageError(
        "INVALID_ARGUMENT",
        `snapshot at ${index} is beyond the last log index ${this.lastIndexQueued}`,
      );
    }
    this.snapshotIndex = index;
    const mark: WalRecord = {
      type: "SnapshotMark",
      index,
      term: snapshot.meta.term,
      install: false,
    };
    await this.track(
      this.serialize(async () => {
        const name = await this.fatalOnError(writeSnapshotFile(this.dir, snapshot));
        // Taking a snapshot voids nothing, so its mark need not hold back appends made meanwhile.
        await this.enqueueMark(mark, undefined);
        this.addSnapshot(name);
        await this.compact();
      }),
    );
  }

  installSnapshot(snapshot: Snapshot): Promise<void> {
    const unusable = this.unusable();
    if (unusable !== undefined) return Promise.reject(unusable);
    const { index, term } = snapshot.meta;
    if (index <= this.snapshotIndex) {
      return Promise.reject(
        new StorageError(
          "INVALID_ARGUMENT",
          `installing snapshot ${index}, not newer than snapshot ${this.snapshotIndex}`,
        ),
      );
    }
    this.snapshotIndex = index;
    this.lastIndexQueued = index;
    // The mark is queued now, so appends made after this call land after it; its write waits
    // for the snapshot file (the gate), so the mark never refers to a snapshot not on disk.
    const fileWritten = this.serialize(() => writeSnapshotFile(this.dir, snapshot));
    // Its failure surfaces through the gate (which stops the store); never as an unhandled rejection.
    fileWritten.catch(() => undefined);
    const mark: WalRecord = { type: "SnapshotMark", index, term, install: true };
    const marked = this.enqueueMark(mark, fileWritten);
    return this.track(
      marked.then(async () => {
        this.lastInstallIndex = Math.max(this.lastInstallIndex, index);
        this.addSnapshot(await fileWritten);
        await this.serialize(() => this.compact());
      }),
    );
  }

  /** Waits for queued writes and snapshot work, then releases the files. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.deferredHardState !== undefined && this.failure === undefined) {
      await this.append([], this.deferredHardState).catch(() => {});
    }
    this.closed = true;
    // Operations can start follow-up work (compaction) as they finish: drain until none is left.
    for (
      let round = 0;
      round < 1000 && (this.flushing !== undefined || this.operations.size > 0);
      round++
    ) {
      await Promise.allSettled([this.flushing, ...this.operations]);
    }
    await this.active.handle.close();
    await this.lock?.release();
  }

  stats(): WalStats {
    return {
      segments: this.segments.length,
      activeSegment: this.active.name,
      lastIndex: this.lastIndexQueued,
      snapshotIndex: this.snapshotIndex,
      ...this.counters,
    };
  }

  /**
   * Checks an append (throws AssertionError) and returns the bytes its entries take as one
   * Entries record (0 for none): one pass over the entries.
   */
  private checkedAppendBytes(entries: readonly Entry[], hardState: HardState | undefined): number {
    const first = entries[0];
    let bytes = 0;
    if (first !== undefined) {
      if (first.index > this.lastIndexQueued + 1) {
        throw new AssertionError(
          `append: entry ${first.index} leaves a gap after ${this.lastIndexQueued}`,
        );
      }
      assert(first.index >= 1, "entries record: none, or index below 1");
      bytes = ENTRIES_RECORD_OVERHEAD_BYTES;
      let previous = first;
      for (let i = 0; i < entries.length; i++) {
        const entry = entries[i]!;
        // Per entry: build the message only on failure.
        if (i > 0) {
          if (entry.index !== previous.index + 1)
            throw new AssertionError(`append: entries not contiguous at ${entry.index}`);
          if (entry.term < previous.term)
            throw new AssertionError(`append: term goes down at entry ${entry.index}`);
        }
        assert(
          Number.isSafeInteger(entry.term) && entry.term >= 0,
          "entries record: term out of range",
        );
        bytes += ENTRY_OVERHEAD_BYTES + entry.data.byteLength;
        previous = entry;
      }
    }
    if (hardState !== undefined) {
      if (hardState.term < this.lastHardStateQueued.term) {
        throw new AssertionError(`append: hard state term goes down to ${hardState.term}`);
      }
      assert(
        Number.isSafeInteger(hardState.commit) && hardState.commit >= 0,
        "append: bad commit index",
      );
    }
    return bytes;
  }

  private overloaded(bytes: number): StorageError | undefined {
    if (bytes > this.config.pendingBytesMax) {
      return new StorageError(
        "INVALID_ARGUMENT",
        `an append of ${bytes} bytes exceeds pendingBytesMax`,
      );
    }
    if (this.queuedBytes + bytes > this.config.pendingBytesMax) {
      return new StorageError("OVERLOADED", `${this.queuedBytes} bytes already wait for the disk`);
    }
    return undefined;
  }

  /** The batch an append made now goes into. */
  private batchToJoin(): PendingBatch {
    let batch = this.openBatch;
    if (batch === undefined) {
      batch = new PendingBatch();
      this.openBatch = batch;
      this.queue.push(batch);
    }
    return batch;
  }

  /**
   * Queues a snapshot mark. An install's (`gate`: its snapshot file being written) voids the log
   * before it and ends its batch: a new segment follows it, and later appends go after it.
   */
  private enqueueMark(
    mark: WalRecord & { readonly type: "SnapshotMark" },
    gate: Promise<unknown> | undefined,
  ): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const bytes = checkedRecordBytes(mark);
    this.recoveredState = undefined;
    const batch = this.batchToJoin();
    batch.records.push(mark);
    batch.bodyBytes += bytes;
    this.queuedBytes += bytes;
    if (mark.install) {
      batch.lastIndex = mark.index;
      batch.install = true;
      batch.gate = gate;
      this.openBatch = undefined;
    }
    this.kick();
    return batch.done;
  }

  private kick(): void {
    if (this.flushing !== undefined || this.failure !== undefined) return;
    this.flushing = this.flushLoop().finally(() => {
      this.flushing = undefined;
      // Appends made between the loop's last look at the queue and now still need a round.
      if (this.queue.length > 0) this.kick();
    });
  }

  /**
   * Writes rounds until the queue is empty. Each round takes what is queued (bounded by
   * pendingBytesMax), so the loop ends once callers stop appending.
   */
  private async flushLoop(): Promise<void> {
    // Let appends made in the same synchronous run as the first join its batch.
    await Promise.resolve();
    while (this.queue.length > 0 && this.failure === undefined) {
      const batch = this.takeBatch();
      try {
        await this.writeBatch(batch);
      } catch (error) {
        this.fail(error, batch);
        return;
      }
      batch.resolve();
    }
  }

  /** The oldest batch; appends made from now on go into a new one. */
  private takeBatch(): PendingBatch {
    const batch = this.queue.shift();
    assert(batch !== undefined, "queue: no batch to take");
    if (batch === this.openBatch) this.openBatch = undefined;
    this.queuedBytes -= batch.bodyBytes;
    assert(this.queuedBytes >= 0, "queue: byte count went negative");
    return batch;
  }

  private async writeBatch(batch: PendingBatch): Promise<void> {
    if (batch.gate !== undefined) await batch.gate;
    const records = batch.records;
    const bodyBytes = batch.bodyBytes;
    if (records.length > 0) {
      const started = performance.now();
      if (this.active.position + BATCH_HEADER_BYTES + bodyBytes > this.config.segmentBytesMax) {
        await this.rollover(records, bodyBytes);
      } else {
        const frame = this.batchBuffer.encode(records, bodyBytes);
        const handle = this.active.handle;
        const position = this.active.position;
        // One write() in the common case; writeFully only finishes a short one.
        const { bytesWritten } = await handle.write(frame, 0, frame.length, position);
        if (bytesWritten !== frame.length) {
          await writeFully(handle, frame.subarray(bytesWritten), position + bytesWritten);
        }
        // No fdatasync(): the handle is O_DSYNC, so the write returned once it was durable.
        this.active.position += frame.length;
        this.counted(frame.length);
      }
      this.syncLatency.record(performance.now() - started);
      this.batchBuffer.release();
    }
    if (batch.lastIndex !== undefined) this.lastIndexWritten = batch.lastIndex;
    if (batch.hardState !== undefined) this.hardStateWritten = batch.hardState;
    if (batch.install) await this.rollover([], 0);
  }

  /** Starts the next segment with `records` (may be none) in its first batch. */
  private async rollover(records: readonly BatchItem[], bodyBytes: number): Promise<void> {
    const next = await createSegment(
      this.dir,
      this.batchBuffer,
      this.active.seq + 1,
      this.lastIndexWritten + 1,
      this.hardStateWritten,
      records,
      bodyBytes,
    );
    this.counted(next.position);
    const previous = this.active;
    this.active = next;
    this.segments.push({ name: next.name, seq: next.seq, firstIndex: next.firstIndex });
    await previous.handle.close();
    this.config.logger("debug", "wal segment started", { segment: next.name });
  }

  private counted(bytes: number): void {
    this.counters.batches++;
    this.counters.fsyncs++;
    this.counters.bytesWritten += bytes;
  }

  private fail(error: unknown, batch: PendingBatch | undefined): void {
    const failure =
      error instanceof StorageError
        ? error
        : new StorageError(
            "IO",
            `WAL write failed; reopen the store to recover: ${String(error)}`,
            { cause: error },
          );
    this.failure ??= failure;
    const rejection = error instanceof AssertionError ? error : failure;
    const waiting = this.queue.splice(0, this.queue.length);
    this.openBatch = undefined;
    this.queuedBytes = 0;
    batch?.reject(rejection);
    for (const b of waiting) b.reject(rejection);
    this.config.logger("error", "wal stopped after a failed write", {
      dir: this.dir,
      error: String(error),
    });
  }

  /** Snapshot files and removals are part of durability too: their failure stops the store. */
  private async fatalOnError<T>(work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (error) {
      this.fail(error, undefined);
      throw this.failure;
    }
  }

  private serialize<T>(job: () => Promise<T>): Promise<T> {
    const run = this.snapshotChain.then(job);
    this.snapshotChain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private track<T>(operation: Promise<T>): Promise<T> {
    this.operations.add(operation);
    const untrack = (): void => {
      this.operations.delete(operation);
    };
    operation.then(untrack, untrack);
    return operation;
  }

  private addSnapshot(name: string): void {
    const parsed = parseSnapshotName(name);
    assert(parsed !== undefined, `snapshot file name ${name}`);
    this.snapshots = [...this.snapshots.filter((s) => s.name !== name), parsed].sort(
      (a, b) => a.index - b.index,
    );
  }

  /**
   * Keeps the newest snapshotsKeep snapshots (none older than the last install) and removes
   * segments that the oldest kept one covers entirely: segment k goes when segment k+1 starts at or
   * below that snapshot's index + 1. Oldest first, each removal durable before the next.
   */
  private async compact(): Promise<void> {
    // Snapshots older than the last install are useless: the log they would need was replaced.
    const surplus = Math.max(0, this.snapshots.length - this.config.snapshotsKeep);
    const dropped = this.snapshots.filter((s, i) => i < surplus || s.index < this.lastInstallIndex);
    const kept = this.snapshots.filter((s) => !dropped.includes(s));
    const compactIndex = kept[0]?.index ?? 0;
    const removed: string[] = [];
    for (let n = 0; n < segmentsPerCompactionMax; n++) {
      const [oldest, next] = this.segments;
      if (oldest === undefined || next === undefined || next.firstIndex - 1 > compactIndex) break;
      assert(oldest.name !== this.active.name, "compact: never the active segment");
      await this.fatalOnError(
        unlink(join(this.dir, oldest.name)).then(() => fsyncDirectory(this.dir)),
      );
      this.segments.shift();
      removed.push(oldest.name);
    }
    for (const s of dropped) await this.fatalOnError(unlink(join(this.dir, s.name)));
    if (dropped.length > 0) await this.fatalOnError(fsyncDirectory(this.dir));
    this.snapshots = kept;
    if (removed.length > 0 || dropped.length > 0) {
      this.config.logger("info", "wal compacted", {
        compactIndex,
        segmentsRemoved: removed,
        snapshotsRemoved: dropped.map((s) => s.name),
      });
    }
  }

  private unusable(): StorageError | undefined {
    if (this.closed) return new StorageError("CLOSED", "the store is closed");
    return this.failure;
  }

  private throwIfUnusable(): void {
    const unusable = this.unusable();
    if (unusable !== undefined) throw unusable;
  }
}

function resolveOptions(options: WalOptions): Config {
  const segmentBytesMax = options.segmentBytesMax ?? defaults.segmentBytesMax;
  const snapshotsKeep = options.snapshotsKeep ?? defaults.snapshotsKeep;
  const pendingBytesMax = options.pendingBytesMax ?? defaults.pendingBytesMax;
  const within = (value: number, lo: number, hi: number): boolean =>
    Number.isSafeInteger(value) && value >= lo && value <= hi;
  if (!within(segmentBytesMax, 1024, 1024 * MiB)) {
    throw new StorageError(
      "INVALID_ARGUMENT",
      `segmentBytesMax ${segmentBytesMax} is not within 1 KiB..1 GiB`,
    );
  }
  if (!within(snapshotsKeep, 1, 1000)) {
    throw new StorageError(
      "INVALID_ARGUMENT",
      `snapshotsKeep ${snapshotsKeep} is not within 1..1000`,
    );
  }
  if (!within(pendingBytesMax, 1024, 1024 * MiB)) {
    throw new StorageError(
      "INVALID_ARGUMENT",
      `pendingBytesMax ${pendingBytesMax} is not within 1 KiB..1 GiB`,
    );
  }
  return {
    segmentBytesMax,
    snapshotsKeep,
    pendingBytesMax,
    repair: options.repair ?? false,
    logger: options.logger ?? (() => {}),
  };
}

/** What open found and did, for WalStorage.recovery. */
function recoveryReport(
  recovered: Recovered,
  segments: number,
  tempFilesRemoved: RecoveryReport["tempFilesRemoved"],
): RecoveryReport {
  return {
    segments,
    batches: recovered.batches,
    records: recovered.records,
    snapshot:
      recovered.state.snapshot === undefined
        ? undefined
        : recovered.snapshots.find((s) => s.index === recovered.state.snapshot?.meta.index),
    tornTail: recovered.tornTail,
    repair: recovered.repair,
    damagedSnapshots: recovered.damagedSnapshots.map((d) => ({
      file: d.error.file,
      offset: d.error.offset,
      reason: d.error.reason,
    })),
    tempFilesRemoved,
    droppedAfterSnapshot: recovered.droppedAfterSnapshot,
  };
}

/**
 * Carries out what recovery found: removes temp files, sets damaged snapshots aside, drops
 * segments (newest first, so a crash part-way leaves a contiguous run), cuts the last segment
 * to its valid length, and fsyncs the directory. Returns the temp files removed.
 */
async function applyRecovery(
  dir: string,
  recovered: Recovered,
  logger: WalLogger,
): Promise<string[]> {
  const tempFilesRemoved = await removeLeftovers(dir, recovered, logger);
  const changed = tempFilesRemoved.length > 0 || recovered.damagedSnapshots.length > 0;
  const repair = recovered.repair;
  if (repair !== undefined) {
    logger("error", "wal repaired: data after the first bad record was dropped", {
      file: repair.file,
      offset: repair.offset,
      reason: repair.reason,
      cutOffset: repair.cutOffset,
      bytesDropped: repair.bytesDropped,
      filesDropped: repair.filesDropped,
      lastIndexKept: repair.lastIndexKept,
    });
  }
  for (const path of [...recovered.segmentsToRemove].sort().reverse()) {
    await unlink(path);
    await fsyncDirectory(dir);
  }
  const last = recovered.segments[recovered.segments.length - 1];
  if (last !== undefined) await cutToValidBytes(join(dir, last.name), last.validBytes);
  if (recovered.tornTail !== undefined) {
    const t = recovered.tornTail;
    logger("warn", "cut a torn write at the end of the log", {
      file: t.file,
      offset: t.offset,
      bytesCut: t.bytesCut,
      reason: t.reason,
    });
  }
  if (recovered.droppedAfterSnapshot > 0) {
    logger("warn", "dropped entries after the snapshot: they belong to the log it replaced", {
      entries: recovered.droppedAfterSnapshot,
    });
  }
  if (changed) await fsyncDirectory(dir);
  return tempFilesRemoved;
}

/** Removes the temp files a crash left and sets damaged snapshots aside; the temp files. */
async function removeLeftovers(
  dir: string,
  recovered: Recovered,
  logger: WalLogger,
): Promise<string[]> {
  const tempFilesRemoved: string[] = [];
  for (const name of recovered.listing.tempFiles) {
    await unlink(join(dir, name));
    tempFilesRemoved.push(name);
    logger("info", "removed a file left over by a crash", { file: join(dir, name) });
  }
  for (const { name, error } of recovered.damagedSnapshots) {
    await rename(join(dir, name), join(dir, name + BROKEN_SUFFIX));
    logger("warn", "damaged snapshot set aside; using an older one", {
      file: error.file,
      offset: error.offset,
      reason: error.reason,
      renamedTo: name + BROKEN_SUFFIX,
    });
  }
  return tempFilesRemoved;
}

/** Cuts the last segment to its valid length (a torn tail, or what a repair dropped). */
async function cutToValidBytes(path: string, validBytes: number): Promise<void> {
  const handle = await open(path, "r+");
  try {
    const { size } = await handle.stat();
    if (size !== validBytes) {
      assert(size > validBytes, "recovery: valid bytes beyond the file");
      await handle.truncate(validBytes);
      await handle.sync();
    }
  } finally {
    await handle.close();
  }
}

/** Creates segment (seq, firstIndex) durably; its first batch is its header, the hard state, `records`. */
async function createSegment(
  dir: string,
  batchBuffer: BatchBuffer,
  seq: number,
  firstIndex: number,
  hardState: HardState,
  records: readonly BatchItem[],
  recordBytes: number,
): Promise<ActiveSegment> {
  const name = segmentFileName(seq, firstIndex);
  const header: WalRecord = { type: "SegmentHeader", seq, firstIndex: asIndex(firstIndex) };
  const bodyBytes =
    recordBytes + checkedRecordBytes(header) + checkedHardStateRecordBytes(hardState);
  const frame = batchBuffer.encode([header, hardState, ...records], bodyBytes);
  const handle = await open(
    join(dir, name),
    SEGMENT_OPEN_FLAGS | constants.O_CREAT | constants.O_EXCL,
  );
  try {
    await writeFully(handle, frame, 0); // durable on return (O_DSYNC)
    await fsyncDirectory(dir);
  } catch (error) {
    await handle.close();
    throw error;
  }
  return { name, seq, firstIndex, handle, position: frame.length };
}
