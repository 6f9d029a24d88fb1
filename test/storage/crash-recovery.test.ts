// Recovery from what crashes and bad disks leave behind, on copies of one reference WAL:
//  - cut at every record boundary and at random offsets inside records of the last segment:
//    opens, and holds exactly the appends whose batch is whole;
//  - single-bit flips anywhere: refuses to start, naming the file and an offset at or before the
//    flip; with repair on, opens with a prefix of the appends and says what it dropped;
//  - zeroed sectors at the tail (power loss) are torn, zeroed sectors earlier are corruption;
//  - a missing segment refuses to start.
import assert from "node:assert/strict";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { Xoshiro128 } from "../../src/raft/prng.js";
import { CorruptionError, type ScannedBatch, scanSegment } from "../../src/storage/index.js";
import { type AppendOp, LogModel, Workload } from "./crash-workload.js";
import {
  assertGenuine,
  entryRange,
  openAndLoad,
  removeDir,
  segmentNames,
  tempDir,
} from "./wal-helpers.js";

const options = { segmentBytesMax: 4096 };
const APPENDS = 60;

interface Reference {
  readonly dir: string;
  readonly ops: readonly AppendOp[];
  readonly segments: readonly string[];
  readonly files: ReadonlyMap<string, Buffer>;
  /** Batches per segment, from the scanner. */
  readonly batches: ReadonlyMap<string, readonly ScannedBatch[]>;
}

/** One append per batch (each awaited), so batch k after the segment headers is append k. */
async function buildReference(label: string, bigFinal = false): Promise<Reference> {
  const dir = await tempDir(label);
  const workload = new Workload(7);
  const ops: AppendOp[] = [];
  const { wal } = await openAndLoad(dir, options);
  for (let i = 0; i < APPENDS; i++) {
    const op = workload.next();
    ops.push(op);
    await wal.append(op.entries, op.hardState);
  }
  if (bigFinal) {
    // A last write spanning several sectors, for the torn-sector cases.
    const { model } = workload;
    const term = model.hardState.term;
    const op: AppendOp = {
      entries: entryRange(model.lastIndex() + 1, model.lastIndex() + 12, term),
      hardState: model.hardState,
    };
    ops.push(op);
    await wal.append(op.entries, op.hardState);
  }
  await wal.close();
  const segments = await segmentNames(dir);
  const files = new Map<string, Buffer>();
  const batches = new Map<string, ScannedBatch[]>();
  for (const [i, name] of segments.entries()) {
    const bytes = await readFile(join(dir, name));
    files.set(name, bytes);
    batches.set(name, [...scanSegment(bytes, i === segments.length - 1)]);
  }
  assert.ok(segments.length >= 3, `reference WAL spans ${segments.length} segments`);
  return { dir, ops, segments, files, batches };
}

/** How many appends a batch holds: all but the segment-opening header batch of segment 1. */
function appendsIn(batch: ScannedBatch): number {
  const records = batch.records.filter((r) => r.record.type !== "SegmentHeader");
  const isOpeningOnly = batch.records[0]?.record.type === "SegmentHeader" && records.length === 1;
  return isOpeningOnly ? 0 : 1;
}

function modelAfter(ops: readonly AppendOp[], count: number): LogModel {
  const model = new LogModel();
  for (let i = 0; i < count; i++) model.apply(ops[i]!);
  return model;
}

async function assertRecovers(dir: string, model: LogModel, context: string, repair = false) {
  const { wal, state } = await openAndLoad(dir, { ...options, repair });
  try {
    assert.deepEqual(state.hardState, model.hardState, `${context}: hard state`);
    assert.equal(state.entries.length, model.lastIndex(), `${context}: last index`);
    for (const e of state.entries) {
      assert.equal(e.term, model.termAt(e.index), `${context}: term of ${e.index}`);
      assertGenuine(e);
    }
    return wal.recovery;
  } finally {
    await wal.close();
  }
}

/** Writes a copy of the reference with `change` applied to one file (undefined: leave it out). */
async function copyWith(
  ref: Reference,
  into: string,
  file: string,
  change: (bytes: Buffer) => Buffer | undefined,
) {
  await mkdir(into, { recursive: true });
  for (const [name, bytes] of ref.files) {
    const out = name === file ? change(Buffer.from(bytes)) : bytes;
    if (out !== undefined) await writeFile(join(into, name), out);
  }
}

test("a WAL cut at every record boundary and inside records recovers the whole batches before the cut", async () => {
  const ref = await buildReference("cut-ref");
  const work = await tempDir("cut");
  try {
    const last = ref.segments[ref.segments.length - 1]!;
    const lastBytes = ref.files.get(last)!;
    let appendsBefore = 0;
    for (const name of ref.segments.slice(0, -1))
      for (const b of ref.batches.get(name)!) appendsBefore += appendsIn(b);
    const lastBatches = ref.batches.get(last)!;
    const offsets = new Set<number>([0, lastBytes.length]);
    for (const b of lastBatches) {
      offsets.add(b.offset);
      offsets.add(b.offset + 1);
      offsets.add(b.offset + 12);
      offsets.add(b.end);
      for (const r of b.records) {
        offsets.add(r.offset);
        offsets.add(r.offset + 5);
      }
    }
    const rng = new Xoshiro128(11);
    for (let i = 0; i < 40; i++) offsets.add(rng.int(lastBytes.length));
    let n = 0;
    for (const cut of [...offsets].sort((a, b) => a - b)) {
      const dir = join(work, `c${n++}`);
      await copyWith(ref, dir, last, (bytes) => bytes.subarray(0, cut));
      let whole = appendsBefore;
      for (const b of lastBatches) if (b.end <= cut) whole += appendsIn(b);
      const recovery = await assertRecovers(dir, modelAfter(ref.ops, whole), `cut at ${cut}`);
      const atBoundary = cut === 0 || lastBatches.some((b) => b.end === cut);
      assert.equal(
        recovery.tornTail === undefined,
        atBoundary,
        `cut at ${cut}: torn tail reported iff inside a batch`,
      );
      if (recovery.tornTail !== undefined) assert.ok(recovery.tornTail.offset <= cut);
      await removeDir(dir);
    }
    assert.ok(n > 60, `tried ${n} cuts`);
  } finally {
    await removeDir(work);
    await removeDir(ref.dir);
  }
});

test("single-bit flips anywhere refuse to start, naming the file and an offset at or before the flip", async () => {
  const ref = await buildReference("flip-ref");
  const work = await tempDir("flip");
  try {
    const rng = new Xoshiro128(23);
    const total = [...ref.files.values()].reduce((s, b) => s + b.length, 0);
    for (let i = 0; i < 120; i++) {
      let at = rng.int(total);
      let file = ref.segments[0]!;
      for (const name of ref.segments) {
        const size = ref.files.get(name)!.length;
        if (at < size) {
          file = name;
          break;
        }
        at -= size;
      }
      const bit = rng.int(8);
      const dir = join(work, `f${i}`);
      await copyWith(ref, dir, file, (bytes) => {
        bytes[at]! ^= 1 << bit;
        return bytes;
      });
      const batchStart = ref.batches.get(file)!.find((b) => b.offset <= at && at < b.end)!.offset;
      await assert.rejects(
        openAndLoad(dir, options),
        (e: unknown) => {
          assert.ok(e instanceof CorruptionError, `flip at ${file}:${at}: ${String(e)}`);
          assert.equal(e.code, "CORRUPTION");
          assert.equal(e.file, join(dir, file));
          assert.ok(
            e.offset >= batchStart && e.offset <= at,
            `flip at ${at} reported at ${e.offset} (batch at ${batchStart})`,
          );
          assert.ok(e.message.includes(file) && e.message.includes(String(e.offset)));
          return true;
        },
        `flip of bit ${bit} at ${file}:${at}`,
      );
      // The same damage with repair on: a prefix of the appends, and a report of what went.
      if (i % 4 === 0 && !(file === ref.segments[0] && batchStart === 0)) {
        let kept = 0;
        for (const name of ref.segments) {
          for (const b of ref.batches.get(name)!) {
            if (name === file && b.offset >= batchStart) break;
            kept += appendsIn(b);
          }
          if (name === file) break;
        }
        const recovery = await assertRecovers(
          dir,
          modelAfter(ref.ops, kept),
          `repair of flip at ${file}:${at}`,
          true,
        );
        assert.equal(recovery.repair?.file, join(dir, file));
        assert.equal(recovery.repair?.cutOffset, batchStart);
        assert.ok((recovery.repair?.bytesDropped ?? 0) > 0);
      }
      await removeDir(dir);
    }
  } finally {
    await removeDir(work);
    await removeDir(ref.dir);
  }
});

test("zeroed sectors: in the last write they are a torn write, before it they are corruption", async () => {
  const ref = await buildReference("zero-ref", true);
  const work = await tempDir("zero");
  try {
    const last = ref.segments[ref.segments.length - 1]!;
    const lastBatches = ref.batches.get(last)!;
    const final = lastBatches[lastBatches.length - 1]!;
    const all = ref.ops.length;
    // Power loss after the size grew but before the data landed: the file ends in zeros.
    await copyWith(ref, join(work, "a"), last, (bytes) =>
      Buffer.concat([bytes, Buffer.alloc(4096)]),
    );
    const a = await assertRecovers(join(work, "a"), modelAfter(ref.ops, all), "zero-extended tail");
    assert.ok(a.tornTail !== undefined);
    // The last batch's end is zeros: its write was torn, the batch goes.
    const sector = Math.ceil((final.offset + 1) / 512) * 512;
    assert.ok(sector + 512 < final.end, "the last batch spans a whole sector");
    await copyWith(ref, join(work, "b"), last, (bytes) => bytes.fill(0, sector, sector + 512));
    const b = await assertRecovers(
      join(work, "b"),
      modelAfter(ref.ops, all - 1),
      "zeroed end of the last batch",
    );
    assert.equal(b.tornTail?.offset, final.offset);
    // Zeros in an earlier batch: that batch was acknowledged before the next was written.
    const [file, earlier] =
      lastBatches.length >= 2
        ? [last, lastBatches[lastBatches.length - 2]!]
        : [
            ref.segments[ref.segments.length - 2]!,
            ref.batches.get(ref.segments[ref.segments.length - 2]!)!.at(-1)!,
          ];
    await copyWith(ref, join(work, "c"), file, (bytes) =>
      bytes.fill(0, earlier.offset + 20, earlier.end),
    );
    await assert.rejects(openAndLoad(join(work, "c"), options), CorruptionError);
  } finally {
    await removeDir(work);
    await removeDir(ref.dir);
  }
});

test("a missing segment refuses to start; repair keeps the segments before the gap", async () => {
  const ref = await buildReference("missing-ref");
  const work = await tempDir("missing");
  try {
    const middle = ref.segments[1]!;
    await copyWith(ref, join(work, "a"), middle, () => undefined);
    await assert.rejects(openAndLoad(join(work, "a"), options), (e: unknown) => {
      assert.ok(e instanceof CorruptionError);
      assert.equal(e.file, join(work, "a", ref.segments[2]!));
      assert.equal(e.offset, 0);
      assert.match(e.reason, /missing/);
      return true;
    });
    let kept = 0;
    for (const b of ref.batches.get(ref.segments[0]!)!) kept += appendsIn(b);
    const recovery = await assertRecovers(
      join(work, "a"),
      modelAfter(ref.ops, kept),
      "repaired gap",
      true,
    );
    assert.ok((recovery.repair?.filesDropped.length ?? 0) >= 1);
    assert.deepEqual(await readdir(join(work, "a")), [ref.segments[0]!]);
    // Without the first segment (and no snapshot) the log's start is missing.
    await copyWith(ref, join(work, "b"), ref.segments[0]!, () => undefined);
    await assert.rejects(openAndLoad(join(work, "b"), options), (e: unknown) => {
      assert.ok(e instanceof CorruptionError);
      assert.equal(e.file, join(work, "b", ref.segments[1]!));
      assert.match(e.reason, /missing/);
      return true;
    });
  } finally {
    await removeDir(work);
    await removeDir(ref.dir);
  }
});
