// WAL append throughput against the physical limit of the disk under it.
//
//   npm run bench:wal [-- --json] [-- --fsyncs N --dir PARENT]
//
// For 300-byte entries in batches of 1, 16 and 256 entries per fsync it measures, in the same
// run and on the same disk:
//   raw    a loop of write() + fdatasync() of batch-sized buffers appended to one file: the limit;
//   wal    WalStorage.append(batch, hardState), awaited one after another;
//   group  the same entries as `batch` concurrent appends of one entry each, coalesced by group
//          commit into one write + fdatasync (shown for information).
// The three modes take turns fsync by fsync, going through all six orders of the three in turn,
// so drift in the disk's speed, and other load on the machine, hits all modes alike, and every
// mode runs equally often right after each other mode (an fsync is slower right after another
// file's: with a plain rotation one mode followed raw two times in three, and measured 5-10%
// slower than the same work in another slot); each mode's rate is its entries over the time
// spent in its own steps. Prints a table; with --json the last line is one JSON
// object with, per batch size, entries/s of the WAL and of the raw loop and their ratio.
// The aim is a ratio of at least 0.9 at every batch size. Numbers, not a test: nothing here
// passes or fails.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, statfsSync, statSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { stderrProgress } from "../src/cli/progress.js";
import type { Entry, HardState } from "../src/raft/types.js";
import { asIndex, asNodeId, asTerm } from "../src/raft/types.js";
import { WalStorage } from "../src/storage/index.js";

const ENTRY_BYTES = 300;
const BATCH_SIZES = [1, 16, 256] as const;
/** The six orders of the three modes (raw 0, wal 1, group 2), one per round in turn. */
const ORDERS = [
  [0, 1, 2],
  [1, 2, 0],
  [2, 0, 1],
  [0, 2, 1],
  [2, 1, 0],
  [1, 0, 2],
] as const;

const { values } = parseArgs({
  options: {
    json: { type: "boolean", default: false },
    fsyncs: { type: "string", default: "500" },
    dir: { type: "string" },
    progress: { type: "boolean", default: false },
  },
});
const fsyncsPerMode = boundedInt(values.fsyncs, "--fsyncs", 10, 100_000);

function boundedInt(text: string, flag: string, lo: number, hi: number): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < lo || n > hi)
    throw new Error(`${flag} must be an integer in ${lo}..${hi}`);
  return n;
}

/** The working disk: os.tmpdir() when it is on the same device as the working directory. */
function benchParent(): string {
  if (values.dir !== undefined) return values.dir;
  const tmp = tmpdir();
  return statSync(tmp).dev === statSync(process.cwd()).dev ? tmp : process.cwd();
}

const FS_TYPES: Record<number, string> = {
  61267: "ext2/3/4",
  1481003842: "xfs",
  2435016766: "btrfs",
  16914836: "tmpfs",
  2035054128: "overlayfs",
  801189825: "zfs",
};

const data = new Uint8Array(randomBytes(ENTRY_BYTES));

function makeBatches(
  batchSize: number,
  count: number,
): { entries: Entry[]; hardState: HardState }[] {
  const batches: { entries: Entry[]; hardState: HardState }[] = [];
  let index = 1;
  for (let b = 0; b < count; b++) {
    const entries: Entry[] = [];
    for (let i = 0; i < batchSize; i++)
      entries.push({ index: asIndex(index++), term: asTerm(1), type: "Normal", data });
    batches.push({
      entries,
      hardState: { term: asTerm(1), vote: asNodeId("n1"), commit: asIndex(index - 1) },
    });
  }
  return batches;
}

/** One way of making `batch` entries durable with one fsync, run one step at a time. */
interface Runner {
  /** Makes the next batch durable. */
  step(): Promise<void>;
  close(): Promise<void>;
  /** fsyncs the runner did per step, checked after the run (the WAL must do exactly one). */
  fsyncsPerStep(steps: number): number;
}

async function rawRunner(dir: string, batchSize: number): Promise<Runner> {
  const buffer = Buffer.alloc(batchSize * ENTRY_BYTES);
  for (let i = 0; i < batchSize; i++) buffer.set(data, i * ENTRY_BYTES);
  const handle = await open(join(dir, "raw.bin"), "w");
  let position = 0;
  return {
    async step() {
      await handle.write(buffer, 0, buffer.length, position);
      await handle.datasync();
      position += buffer.length;
    },
    close: () => handle.close(),
    fsyncsPerStep: () => 1,
  };
}

async function walRunner(
  dir: string,
  batchSize: number,
  steps: number,
  grouped: boolean,
): Promise<Runner> {
  const wal = await WalStorage.open(join(dir, grouped ? "group" : "wal"));
  await wal.load();
  const batches = makeBatches(batchSize, steps);
  const fsyncsBefore = wal.stats().fsyncs;
  let next = 0;
  return {
    async step() {
      const batch = batches[next++];
      if (batch === undefined) throw new Error("more steps than batches");
      if (!grouped) return wal.append(batch.entries, batch.hardState);
      // One append per entry, all made before the first resolves: group commit makes them one batch.
      const appends: Promise<void>[] = [];
      const last = batch.entries.length - 1;
      for (let i = 0; i <= last; i++)
        appends.push(wal.append([batch.entries[i]!], i === last ? batch.hardState : undefined));
      await Promise.all(appends);
    },
    close: () => wal.close(),
    fsyncsPerStep: (n) => (wal.stats().fsyncs - fsyncsBefore) / n,
  };
}

interface Row {
  readonly batch: number;
  readonly rawEntriesPerSec: number;
  readonly walEntriesPerSec: number;
  readonly ratio: number;
  readonly groupCommitEntriesPerSec: number;
  readonly groupCommitRatio: number;
}

async function main(): Promise<void> {
  const parent = benchParent();
  const root = mkdtempSync(join(parent, "ordo-wal-bench-"));
  const cleanup = (): void => rmSync(root, { recursive: true, force: true });
  process.once("SIGINT", () => {
    cleanup();
    process.exit(130);
  });
  const fsType = FS_TYPES[statfsSync(root).type] ?? `type 0x${statfsSync(root).type.toString(16)}`;
  const rows: Row[] = [];
  const started = performance.now();
  const progress = stderrProgress("bench:wal fsyncs", "count", values);
  const totalSteps = BATCH_SIZES.length * fsyncsPerMode * 3;
  let stepsDone = 0;
  try {
    for (const batch of BATCH_SIZES) {
      const dir = mkdtempSync(join(root, `b${batch}-`));
      const steps = fsyncsPerMode;
      const runners = [
        await rawRunner(dir, batch),
        await walRunner(dir, batch, steps + 1, false),
        await walRunner(dir, batch, steps + 1, true),
      ];
      for (const r of runners) await r.step(); // warm up: first writes to fresh files
      // Interleave single fsyncs, cycling through every order: the disk's latency swings a lot
      // from one moment to the next on a shared machine, and this way every swing hits all modes
      // alike, and no mode always comes right after the same one.
      const seconds = [0, 0, 0];
      for (let n = 0; n < steps; n++) {
        const order = ORDERS[n % ORDERS.length]!;
        for (const which of order) {
          const start = performance.now();
          await runners[which]!.step();
          seconds[which]! += (performance.now() - start) / 1000;
          progress.update(++stepsDone, totalSteps, `batch ${batch}`);
        }
      }
      for (const [i, r] of runners.entries()) {
        const perStep = r.fsyncsPerStep(steps + 1);
        if (perStep !== 1) throw new Error(`mode ${i}: ${perStep} fsyncs per batch, expected 1`);
        await r.close();
      }
      rmSync(dir, { recursive: true, force: true });
      const [r, w, g] = seconds.map((s) => (batch * steps) / s) as [number, number, number];
      rows.push({
        batch,
        rawEntriesPerSec: r,
        walEntriesPerSec: w,
        ratio: w / r,
        groupCommitEntriesPerSec: g,
        groupCommitRatio: g / r,
      });
    }
  } finally {
    cleanup();
  }
  const elapsedSeconds = (performance.now() - started) / 1000;
  const fmt = (n: number): string => Math.round(n).toLocaleString("en-US").padStart(14);
  console.log(
    `WAL append vs raw write + fdatasync: ${ENTRY_BYTES}-byte entries, ${fsyncsPerMode} fsyncs per mode and batch size, modes interleaved`,
  );
  console.log(`disk: ${parent} (${fsType})`);
  console.log(
    `${"batch".padStart(6)} ${"raw entries/s".padStart(14)} ${"wal entries/s".padStart(14)} ${"wal/raw".padStart(8)} ${"group entries/s".padStart(16)} ${"group/raw".padStart(10)}`,
  );
  for (const row of rows) {
    console.log(
      `${String(row.batch).padStart(6)} ${fmt(row.rawEntriesPerSec)} ${fmt(row.walEntriesPerSec)} ${row.ratio.toFixed(3).padStart(8)} ${fmt(row.groupCommitEntriesPerSec).padStart(16)} ${row.groupCommitRatio.toFixed(3).padStart(10)}`,
    );
  }
  console.log(`elapsed ${elapsedSeconds.toFixed(1)} s; aim: wal/raw ≥ 0.9 at every batch size`);
  if (values.json) {
    const batches: Record<string, Omit<Row, "batch">> = {};
    for (const { batch, ...rest } of rows) {
      batches[String(batch)] = {
        rawEntriesPerSec: Math.round(rest.rawEntriesPerSec),
        walEntriesPerSec: Math.round(rest.walEntriesPerSec),
        ratio: Number(rest.ratio.toFixed(4)),
        groupCommitEntriesPerSec: Math.round(rest.groupCommitEntriesPerSec),
        groupCommitRatio: Number(rest.groupCommitRatio.toFixed(4)),
      };
    }
    const withinTenPercent = rows.every((r) => r.ratio >= 0.9);
    console.log(
      JSON.stringify({
        bench: "wal",
        entryBytes: ENTRY_BYTES,
        fsyncsPerMode,
        fsType,
        batches,
        withinTenPercent,
        elapsedSeconds: Number(elapsedSeconds.toFixed(1)),
      }),
    );
  }
}

await main();
