// Recovery: reads a data directory and works out the durable state, without changing anything.
// WalStorage.open() then carries out what it found (cut a torn tail, remove temp files, repair);
// `ordo wal verify` reports it. Both therefore judge a directory by the very same rules.
//
// Order of the work:
//  1. Snapshots, newest first: the first that reads back whole is the base; a damaged newer one
//     is reported and skipped (the log is kept back to the oldest kept snapshot, so an older
//     base still finds the entries after it).
//  2. Segments by sequence number: consecutive, or a segment is missing.
//  3. Every batch of every segment, oldest first, through the Replayer. The first bad byte is
//     either a torn last write (cut) or corruption: refuse, naming the file and offset, unless
//     repair is on, which cuts there instead and reports what it dropped.

import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { assert } from "../lib/index.js";
import type { DurableState, Snapshot } from "../raft/index.js";
import { asIndex, asTerm } from "../raft/index.js";
import { CorruptionError, StorageError } from "./errors.js";
import {
  BROKEN_SUFFIX,
  parseSegmentName,
  parseSnapshotName,
  type SegmentName,
  type SnapshotName,
  TEMP_SUFFIX,
} from "./file-names.js";
import { Replayer } from "./replay.js";
import { type ScanEnd, scanSegment } from "./segment-scanner.js";
import { readSnapshotFile } from "./snapshot-file.js";

/** Bounds the directory listing we are willing to act on. */
const dataDirFilesMax = 1_000_000;

export interface DataDirListing {
  /** Ascending by sequence number. */
  readonly segments: readonly SegmentName[];
  /** Ascending by index. */
  readonly snapshots: readonly SnapshotName[];
  readonly tempFiles: readonly string[];
  readonly brokenFiles: readonly string[];
  readonly otherFiles: readonly string[];
}

export async function listDataDir(dir: string): Promise<DataDirListing> {
  const names = (await readdir(dir)).sort();
  if (names.length > dataDirFilesMax) {
    throw new StorageError(
      "INVALID_ARGUMENT",
      `${dir} holds ${names.length} files; more than ${dataDirFilesMax}`,
    );
  }
  const segments: SegmentName[] = [];
  const snapshots: SnapshotName[] = [];
  const tempFiles: string[] = [];
  const brokenFiles: string[] = [];
  const otherFiles: string[] = [];
  for (const name of names) {
    const segment = parseSegmentName(name);
    const snapshot = parseSnapshotName(name);
    if (segment !== undefined) segments.push(segment);
    else if (snapshot !== undefined) snapshots.push(snapshot);
    else if (name.endsWith(TEMP_SUFFIX)) tempFiles.push(name);
    else if (name.endsWith(BROKEN_SUFFIX)) brokenFiles.push(name);
    else otherFiles.push(name);
  }
  segments.sort((a, b) => a.seq - b.seq);
  snapshots.sort((a, b) => a.index - b.index || a.term - b.term);
  return { segments, snapshots, tempFiles, brokenFiles, otherFiles };
}

export interface RecoveredSegment extends SegmentName {
  /** Bytes of whole, valid batches: where the next write goes if this segment is the last. */
  readonly validBytes: number;
}

export interface TornTail {
  readonly file: string;
  /** Where the valid log ends; the file is cut here (removed when 0). */
  readonly offset: number;
  readonly bytesCut: number;
  readonly reason: string;
}

export interface RepairReport {
  /** The file and offset of the first bad record. */
  readonly file: string;
  readonly offset: number;
  readonly reason: string;
  /** Where the kept log ends in that file: the start of the batch holding the bad record. */
  readonly cutOffset: number;
  readonly bytesDropped: number;
  /** Whole segment files dropped (paths). */
  readonly filesDropped: readonly string[];
  /** The last log index that survives the repair. */
  readonly lastIndexKept: number;
}

export interface DamagedSnapshot {
  readonly name: string;
  readonly error: CorruptionError;
}

export interface Recovered {
  readonly state: DurableState;
  readonly listing: DataDirListing;
  /** Snapshots that count as kept: the loaded one and every other not found damaged. Ascending. */
  readonly snapshots: readonly SnapshotName[];
  readonly damagedSnapshots: readonly DamagedSnapshot[];
  /** Segments that survive, in order; the last one is where writing continues. */
  readonly segments: readonly RecoveredSegment[];
  /** Segment files to remove: the rest of the log after a repair cut, or an empty torn last segment. */
  readonly segmentsToRemove: readonly string[];
  readonly tornTail: TornTail | undefined;
  readonly repair: RepairReport | undefined;
  readonly lastInstallIndex: number;
  readonly batches: number;
  readonly records: number;
  /** Entries after the snapshot dropped because they belong to another history (see Replayer.finish). */
  readonly droppedAfterSnapshot: number;
}

export interface RecoverOptions {
  /** Cut at the first bad record instead of throwing CorruptionError. */
  readonly repair: boolean;
  /** Read every snapshot file, not just until one loads (for `ordo wal verify`). */
  readonly checkAllSnapshots?: boolean;
}

interface Problem {
  /** Position in the segment list of the segment with the problem. */
  readonly position: number;
  readonly offset: number;
  readonly cutOffset: number;
  readonly reason: string;
}

/** Works out the durable state of `dir`. Throws CorruptionError when it must refuse to start. */
export async function recoverDataDir(dir: string, options: RecoverOptions): Promise<Recovered> {
  const listing = await listDataDir(dir);
  const { snapshot, kept, damaged } = await loadNewestSnapshot(
    dir,
    listing,
    options.checkAllSnapshots ?? false,
  );
  const base = snapshot?.meta ?? { index: asIndex(0), term: asTerm(0) };
  const segments = listing.segments;
  if (segments.length === 0 && listing.snapshots.length > 0) {
    throw new CorruptionError(
      dir,
      0,
      "snapshots but no WAL segment: the hard state (term, vote) is lost",
    );
  }
  const replayer = new Replayer({ index: base.index, term: base.term });
  const { survivors, segmentSizes, tornTail, problem } = await replaySegments(
    dir,
    segments,
    replayer,
  );
  const repair =
    problem === undefined
      ? undefined
      : await planRepair(
          dir,
          segments,
          segmentSizes,
          survivors,
          problem,
          replayer.lastIndex(),
          options.repair,
        );
  const segmentsToRemove = [...(repair?.filesDropped ?? []), ...dropEmptyLast(dir, survivors)];
  if (survivors.length === 0 && listing.snapshots.length > 0) {
    throw new CorruptionError(
      dir,
      0,
      "no WAL segment survives recovery: the hard state (term, vote) would be lost",
    );
  }
  const { entries, droppedAfterBase } = replayer.finish();
  return {
    state: { hardState: replayer.hardState(), snapshot, entries },
    listing,
    snapshots: kept,
    damagedSnapshots: damaged,
    segments: survivors,
    segmentsToRemove,
    tornTail,
    repair,
    lastInstallIndex: replayer.lastInstallIndex(),
    batches: replayer.batches,
    records: replayer.records,
    droppedAfterSnapshot: droppedAfterBase,
  };
}

/**
 * A last segment whose first write never completed holds nothing: it goes (taken off
 * `survivors`; its path, or none).
 */
function dropEmptyLast(dir: string, survivors: RecoveredSegment[]): string[] {
  const last = survivors[survivors.length - 1];
  if (last === undefined || last.validBytes !== 0) return [];
  survivors.pop();
  return [join(dir, last.name)];
}

/**
 * Replays the segments in order until the first problem (a gap in the sequence, a bad record,
 * an empty segment before the last): what survives (up to each one's valid bytes), every
 * segment's size as read, a torn tail of the last segment, and the problem, if any.
 */
async function replaySegments(
  dir: string,
  segments: readonly SegmentName[],
  replayer: Replayer,
): Promise<{
  survivors: RecoveredSegment[];
  segmentSizes: number[];
  tornTail: TornTail | undefined;
  problem: Problem | undefined;
}> {
  const survivors: RecoveredSegment[] = [];
  const segmentSizes: number[] = [];
  let tornTail: TornTail | undefined;
  let problem: Problem | undefined;
  for (let position = 0; position < segments.length && problem === undefined; position++) {
    const segment = segments[position]!;
    const previous = segments[position - 1];
    if (previous !== undefined && segment.seq !== previous.seq + 1) {
      const what =
        segment.seq === previous.seq
          ? "two segments with one sequence number"
          : `segment ${previous.seq + 1} is missing`;
      problem = { position, offset: 0, cutOffset: 0, reason: what };
      break;
    }
    const bytes = await readFile(join(dir, segment.name));
    segmentSizes.push(bytes.length);
    const isLast = position === segments.length - 1;
    const outcome = replaySegment(replayer, segment, bytes, isLast);
    if (outcome.problem !== undefined) {
      problem = { position, ...outcome.problem };
      break;
    }
    const end = outcome.end;
    if (end.kind === "torn") {
      tornTail = {
        file: join(dir, segment.name),
        offset: end.offset,
        bytesCut: bytes.length - end.offset,
        reason: end.reason,
      };
    }
    const validBytes = end.kind === "torn" ? end.offset : bytes.length;
    if (validBytes === 0 && !isLast) {
      problem = { position, offset: 0, cutOffset: 0, reason: "empty segment" };
      break;
    }
    survivors.push({ ...segment, validBytes });
  }
  return { survivors, segmentSizes, tornTail, problem };
}

function replaySegment(
  replayer: Replayer,
  segment: SegmentName,
  bytes: Buffer,
  isLast: boolean,
):
  | { readonly end: ScanEnd; readonly problem?: undefined }
  | { readonly problem: Omit<Problem, "position"> } {
  const scan = scanSegment(bytes, isLast);
  let first = true;
  // The scanner's own bound ends the loop; this one is the backstop.
  for (let n = 0; n <= bytes.length; n++) {
    const next = scan.next();
    if (next.done === true) {
      const end = next.value;
      if (end.kind === "corrupt")
        return { problem: { offset: end.offset, cutOffset: end.batchOffset, reason: end.reason } };
      return { end };
    }
    const failure = replayer.applyBatch(next.value, segment, first);
    if (failure !== undefined) {
      return {
        problem: { offset: failure.offset, cutOffset: next.value.offset, reason: failure.reason },
      };
    }
    first = false;
  }
  assert(false, "replaySegment: scan did not end");
}

async function loadNewestSnapshot(
  dir: string,
  listing: DataDirListing,
  checkAll: boolean,
): Promise<{ snapshot: Snapshot | undefined; kept: SnapshotName[]; damaged: DamagedSnapshot[] }> {
  let snapshot: Snapshot | undefined;
  const kept: SnapshotName[] = [];
  const damaged: DamagedSnapshot[] = [];
  for (let i = listing.snapshots.length - 1; i >= 0; i--) {
    const name = listing.snapshots[i]!;
    if (snapshot !== undefined && !checkAll) {
      kept.push(name);
      continue;
    }
    try {
      const read = await readSnapshotFile(dir, name.name);
      snapshot ??= read;
      kept.push(name);
    } catch (error) {
      if (!(error instanceof CorruptionError)) throw error;
      damaged.push({ name: name.name, error });
    }
  }
  kept.reverse();
  return { snapshot, kept, damaged };
}

async function planRepair(
  dir: string,
  segments: readonly SegmentName[],
  sizes: readonly number[],
  survivors: RecoveredSegment[],
  problem: Problem,
  lastIndexKept: number,
  repair: boolean,
): Promise<RepairReport> {
  const bad = segments[problem.position]!;
  const file = join(dir, bad.name);
  if (!repair) throw new CorruptionError(file, problem.offset, problem.reason);
  if (problem.position === 0 && problem.cutOffset === 0) {
    throw new CorruptionError(
      file,
      problem.offset,
      `${problem.reason} (repair keeps nothing: it is the first record of the log)`,
    );
  }
  assert(survivors.length === problem.position, "repair: survivors before the bad segment");
  const filesDropped: string[] = [];
  let bytesDropped = 0;
  if (problem.cutOffset > 0) {
    survivors.push({ ...bad, validBytes: problem.cutOffset });
    bytesDropped += (sizes[problem.position] ?? 0) - problem.cutOffset;
  } else {
    filesDropped.push(file);
    bytesDropped += sizes[problem.position] ?? (await stat(file)).size;
  }
  for (let i = problem.position + 1; i < segments.length; i++) {
    const path = join(dir, segments[i]!.name);
    filesDropped.push(path);
    bytesDropped += (await stat(path)).size;
  }
  return {
    file,
    offset: problem.offset,
    reason: problem.reason,
    cutOffset: problem.cutOffset,
    bytesDropped,
    filesDropped,
    lastIndexKept,
  };
}
