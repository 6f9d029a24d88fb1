// Shared pieces of the storage tests: temp directories, entries whose bytes follow from their
// index and term (so any recovered entry can be checked on its own), and comparisons.
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Entry, HardState, Snapshot } from "../../src/raft/types.js";
import { asIndex, asNodeId, asTerm } from "../../src/raft/types.js";
import { type WalLogLevel, type WalOptions, WalStorage } from "../../src/storage/index.js";

export async function tempDir(label: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `ordo-${label}-`));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** Bytes that look random (no long zero runs) and are a pure function of (index, term, length). */
export function entryData(index: number, term: number, length: number): Uint8Array {
  const data = new Uint8Array(length);
  let x = (index * 2654435761 + term * 40503 + 1) >>> 0;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    data[i] = x & 0xff;
  }
  return data;
}

/** Default data length for an entry: varies with the index, 0..299 bytes. */
export const dataLength = (index: number): number => (index * 37) % 300;

export function entry(index: number, term: number, length = dataLength(index)): Entry {
  return {
    index: asIndex(index),
    term: asTerm(term),
    type: index % 17 === 0 ? "ConfChange" : "Normal",
    data: entryData(index, term, length),
  };
}

export function entryRange(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term));
  return out;
}

export function hardState(term: number, commit: number, vote = "n1"): HardState {
  return { term: asTerm(term), vote: asNodeId(vote), commit: asIndex(commit) };
}

export function snapshot(index: number, term: number, bytes = 64): Snapshot {
  return {
    meta: {
      index: asIndex(index),
      term: asTerm(term),
      confState: {
        voters: [asNodeId("n1"), asNodeId("n2"), asNodeId("n3")],
        votersOutgoing: [],
        learners: [asNodeId("n4")],
      },
    },
    data: entryData(index, term + 1000, bytes),
  };
}

/** Checks that `actual` holds exactly the entries `expected` (by index, term, type and bytes). */
export function assertEntries(
  actual: readonly Entry[],
  expected: readonly Entry[],
  message = "",
): void {
  assert.equal(actual.length, expected.length, `${message} entry count`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    assert.equal(a.index, e.index, `${message} index at ${i}`);
    assert.equal(a.term, e.term, `${message} term of entry ${e.index}`);
    assert.equal(a.type, e.type, `${message} type of entry ${e.index}`);
    assert.deepEqual(
      Buffer.from(a.data),
      Buffer.from(e.data),
      `${message} data of entry ${e.index}`,
    );
  }
}

/** Checks that an entry's bytes are the ones its (index, term) implies: nothing made up. */
export function assertGenuine(e: Entry): void {
  assert.deepEqual(
    Buffer.from(e.data),
    Buffer.from(entryData(e.index, e.term, e.data.byteLength)),
    `entry ${e.index} bytes`,
  );
}

export interface LogLine {
  readonly level: WalLogLevel;
  readonly message: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

/** Opens `dir` and loads it, collecting log lines. */
export async function openAndLoad(dir: string, options: WalOptions = {}) {
  const logs: LogLine[] = [];
  const wal = await WalStorage.open(dir, {
    ...options,
    logger: (level, message, fields) => logs.push({ level, message, fields }),
  });
  const state = await wal.load();
  return { wal, state, logs };
}

export async function segmentNames(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith(".wal")).sort();
}

export async function snapshotNames(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith(".snap")).sort();
}
