// Snapshot files: the state machine's bytes plus the metadata Raft needs to continue the log
// after them, under one checksum. Layout (integers little-endian):
//    0  8  magic "ORDOSNAP"
//    8  u32  crc        CRC-32C of bytes 12 .. end of file
//   12  u32  version
//   16  u64  index      last log index the snapshot covers
//   24  u64  term       term of that entry
//   32  u32  confBytes  length of the configuration (JSON: voters, votersOutgoing, learners)
//   36  u64  dataBytes  length of the state machine image
//   44  configuration, then data
// A snapshot becomes durable the classic way: write "<name>.tmp", fsync it, rename it to its
// final name, fsync the directory. A crash at any point leaves either no snapshot or a whole one
// (and perhaps a .tmp file, which the next open removes).

import { open, readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { assert } from "../lib/index.js";
import type { ConfState, NodeId, Snapshot } from "../raft/index.js";
import { asIndex, asNodeId, asTerm } from "../raft/index.js";
import { crc32c } from "./crc32c.js";
import { fsyncDirectory, writeFully } from "./durable-fs.js";
import { CorruptionError } from "./errors.js";
import { snapshotFileName, TEMP_SUFFIX } from "./file-names.js";

const MAGIC = Buffer.from("ORDOSNAP", "latin1");
const HEADER_BYTES = 44;
const SNAPSHOT_FORMAT_VERSION = 1;
const confBytesMax = 16 * 1024 * 1024;

function encodeConfState(conf: ConfState): Buffer {
  return Buffer.from(
    JSON.stringify({
      voters: conf.voters,
      votersOutgoing: conf.votersOutgoing,
      learners: conf.learners,
      ...(conf.autoLeave === true ? { autoLeave: true } : {}),
    }),
    "utf8",
  );
}

function writeU64(buf: Buffer, at: number, value: number): void {
  assert(Number.isSafeInteger(value) && value >= 0, `u64 out of range: ${value}`);
  buf.writeUInt32LE(value % 2 ** 32, at);
  buf.writeUInt32LE(Math.floor(value / 2 ** 32), at + 4);
}

function readU64(buf: Buffer, at: number): number | undefined {
  const high = buf.readUInt32LE(at + 4);
  return high > 0x1fffff ? undefined : high * 2 ** 32 + buf.readUInt32LE(at);
}

/** The header and configuration bytes of `snapshot`'s file; its data follows them. */
export function encodeSnapshotHead(snapshot: Snapshot): Buffer {
  const { meta, data } = snapshot;
  assert(meta.index >= 1, "snapshot at index 0");
  const conf = encodeConfState(meta.confState);
  assert(conf.length <= confBytesMax, "snapshot configuration too large");
  const head = Buffer.alloc(HEADER_BYTES + conf.length);
  MAGIC.copy(head, 0);
  head.writeUInt32LE(SNAPSHOT_FORMAT_VERSION, 12);
  writeU64(head, 16, meta.index);
  writeU64(head, 24, meta.term);
  head.writeUInt32LE(conf.length, 32);
  writeU64(head, 36, data.byteLength);
  conf.copy(head, HEADER_BYTES);
  head.writeUInt32LE(crc32c(data, crc32c(head.subarray(12))), 8);
  return head;
}

export type SnapshotDecodeResult =
  | { readonly ok: true; readonly snapshot: Snapshot }
  | { readonly ok: false; readonly offset: number; readonly reason: string };

/** Decodes a whole snapshot file; every field is checked since the bytes come from disk. */
export function decodeSnapshot(bytes: Buffer): SnapshotDecodeResult {
  const fail = (offset: number, reason: string): SnapshotDecodeResult => ({
    ok: false,
    offset,
    reason,
  });
  if (bytes.length < HEADER_BYTES)
    return fail(0, `file of ${bytes.length} bytes is shorter than a snapshot header`);
  if (!bytes.subarray(0, 8).equals(MAGIC)) return fail(0, "not a snapshot file (bad magic)");
  if (crc32c(bytes.subarray(12)) !== bytes.readUInt32LE(8))
    return fail(8, "snapshot checksum mismatch");
  const version = bytes.readUInt32LE(12);
  if (version !== SNAPSHOT_FORMAT_VERSION)
    return fail(12, `unsupported snapshot version ${version}`);
  const index = readU64(bytes, 16);
  const term = readU64(bytes, 24);
  if (index === undefined || index < 1 || term === undefined)
    return fail(16, "snapshot index or term out of range");
  const confBytes = bytes.readUInt32LE(32);
  const dataBytes = readU64(bytes, 36);
  if (dataBytes === undefined || HEADER_BYTES + confBytes + dataBytes !== bytes.length) {
    return fail(32, "snapshot section lengths do not add up to the file size");
  }
  const confState = decodeConfState(bytes.subarray(HEADER_BYTES, HEADER_BYTES + confBytes));
  if (confState === undefined) return fail(HEADER_BYTES, "snapshot configuration is not valid");
  const data = new Uint8Array(bytes.subarray(HEADER_BYTES + confBytes));
  assert(data.byteLength === dataBytes, "snapshot data copy");
  return {
    ok: true,
    snapshot: { meta: { index: asIndex(index), term: asTerm(term), confState }, data },
  };
}

function decodeConfState(bytes: Buffer): ConfState | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString("utf8"));
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null) return undefined;
  const o = parsed as Record<string, unknown>;
  const ids = (v: unknown): NodeId[] | undefined =>
    Array.isArray(v) && v.every((x) => typeof x === "string")
      ? v.map((x: string) => asNodeId(x))
      : undefined;
  const voters = ids(o.voters);
  const votersOutgoing = ids(o.votersOutgoing);
  const learners = ids(o.learners);
  if (voters === undefined || votersOutgoing === undefined || learners === undefined)
    return undefined;
  if (o.autoLeave !== undefined && o.autoLeave !== true) return undefined;
  return o.autoLeave === true
    ? { voters, votersOutgoing, learners, autoLeave: true }
    : { voters, votersOutgoing, learners };
}

/** Writes `snapshot` durably into `dir` (temp file, fsync, rename, directory fsync). Returns its name. */
export async function writeSnapshotFile(dir: string, snapshot: Snapshot): Promise<string> {
  const name = snapshotFileName(snapshot.meta.index, snapshot.meta.term);
  const tempPath = join(dir, name + TEMP_SUFFIX);
  const head = encodeSnapshotHead(snapshot);
  const handle = await open(tempPath, "w");
  try {
    await writeFully(handle, head, 0);
    await writeFully(handle, snapshot.data, head.length);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tempPath, join(dir, name));
  await fsyncDirectory(dir);
  return name;
}

/** Reads and checks the snapshot file `name` in `dir`; damage is a CorruptionError naming it. */
export async function readSnapshotFile(dir: string, name: string): Promise<Snapshot> {
  const path = join(dir, name);
  const decoded = decodeSnapshot(await readFile(path));
  if (!decoded.ok) throw new CorruptionError(path, decoded.offset, decoded.reason);
  const expected = snapshotFileName(decoded.snapshot.meta.index, decoded.snapshot.meta.term);
  if (expected !== name)
    throw new CorruptionError(path, 16, `file holds the snapshot that belongs in ${expected}`);
  return decoded.snapshot;
}
