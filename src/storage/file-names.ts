// Names of the files in a data directory. Numbers are zero-padded decimal so that names sort in
// numeric order and a person can read them:
//   <seq:16>-<firstIndex:16>.wal   a WAL segment: its sequence number (consecutive from the
//                                  oldest kept) and the index its log continues at
//   <index:16>-<term:16>.snap      a snapshot covering the log up to (index, term)
//   *.tmp                          a file being written; left over only by a crash
//   *.broken                       a snapshot found damaged on open, set aside for inspection
import { assert } from "../lib/index.js";

const DIGITS = 16;
const SEGMENT_RE = /^(\d{16})-(\d{16})\.wal$/;
const SNAPSHOT_RE = /^(\d{16})-(\d{16})\.snap$/;
export const TEMP_SUFFIX = ".tmp";
export const BROKEN_SUFFIX = ".broken";

function pad(n: number): string {
  assert(Number.isSafeInteger(n) && n >= 0, `file name number out of range: ${n}`);
  const s = String(n).padStart(DIGITS, "0");
  assert(s.length === DIGITS, "file name number too long");
  return s;
}

export interface SegmentName {
  readonly name: string;
  readonly seq: number;
  readonly firstIndex: number;
}

export interface SnapshotName {
  readonly name: string;
  readonly index: number;
  readonly term: number;
}

export function segmentFileName(seq: number, firstIndex: number): string {
  return `${pad(seq)}-${pad(firstIndex)}.wal`;
}

export function snapshotFileName(index: number, term: number): string {
  return `${pad(index)}-${pad(term)}.snap`;
}

export function parseSegmentName(name: string): SegmentName | undefined {
  const m = SEGMENT_RE.exec(name);
  if (m === null) return undefined;
  const seq = Number(m[1]);
  const firstIndex = Number(m[2]);
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(firstIndex) || seq < 1 || firstIndex < 1)
    return undefined;
  return { name, seq, firstIndex };
}

export function parseSnapshotName(name: string): SnapshotName | undefined {
  const m = SNAPSHOT_RE.exec(name);
  if (m === null) return undefined;
  const index = Number(m[1]);
  const term = Number(m[2]);
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(term) || index < 1) return undefined;
  return { name, index, term };
}
