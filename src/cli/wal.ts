// `ordo wal`: look into a node's data directory without changing it.
//
//   ordo wal verify DIR [--json] [--progress]
//                                  check every record and snapshot; exit 1 naming the file and
//                                  byte offset of the first damage in each file. Progress (bytes
//                                  checked) on stderr on a terminal, or with --progress
//   ordo wal dump DIR [--data short|full|none]
//                                  print every record readably, one per line (like etcd-dump-logs)
//
// Both read the directory with the same scanner and recovery rules the store opens it with, so
// "verify says ok" means "the store will open it", and a torn tail (normal after a crash, cut
// on open) is a warning, not an error. Exit codes: 0 ok, 1 damage found, 2 bad arguments.
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { decodeConfChange } from "../raft/index.js";
import {
  CorruptionError,
  type DataDirListing,
  listDataDir,
  readSnapshotFile,
  recoverDataDir,
  type ScanEnd,
  type ScannedRecord,
  scanSegment,
  type WalRecord,
} from "../storage/index.js";
import { commandProgress, type Progress } from "./progress.js";

export interface WalOutput {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Whether stderr is a terminal (progress); absent: not one. */
  readonly isTty?: boolean;
}

export const WAL_USAGE = `usage: ordo wal verify DIR [--json] [--progress]
       ordo wal dump DIR [--data short|full|none]

verify  checks every WAL record and snapshot in the data directory DIR; exits 1 and names the
        file and byte offset of any damage. A torn last write is reported but is not damage:
        the store cuts it off when it opens. --progress shows the bytes checked on stderr
        (shown anyway on a terminal, unless --json).
dump    prints every record: offsets, batches, entries, hard states, snapshot marks, and the
        snapshot files' metadata. --data chooses how much of each entry's bytes to show.`;

type DataMode = "short" | "full" | "none";

export async function runWal(args: string[], out: WalOutput): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (e) {
    out.stderr(`ordo wal: ${e instanceof Error ? e.message : String(e)}\n${WAL_USAGE}\n`);
    return 2;
  }
  if (parsed === "help") {
    out.stdout(`${WAL_USAGE}\n`);
    return 0;
  }
  const isDir = await stat(parsed.dir).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isDir) {
    out.stderr(`ordo wal: ${parsed.dir} is not a directory\n`);
    return 2;
  }
  const progress = commandProgress(
    { ...out, isTty: out.isTty === true },
    { json: parsed.json, progress: parsed.progress },
    `wal verify ${parsed.dir}`,
    "bytes",
  );
  return parsed.command === "verify"
    ? verify(parsed.dir, parsed.json, out, progress)
    : dump(parsed.dir, parsed.data, out);
}

function parse(
  args: string[],
):
  | "help"
  | { command: "verify" | "dump"; dir: string; json: boolean; data: DataMode; progress: boolean } {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      json: { type: "boolean", default: false },
      progress: { type: "boolean", default: false },
      data: { type: "string", default: "short" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help || positionals[0] === "help") return "help";
  const [command, dir, ...extra] = positionals;
  if (command !== "verify" && command !== "dump")
    throw new Error(`expected "verify" or "dump", got ${JSON.stringify(command ?? "")}`);
  if (dir === undefined) throw new Error(`${command}: missing DIR`);
  if (extra.length > 0) throw new Error(`${command}: unexpected ${extra.join(" ")}`);
  const data = values.data;
  if (data !== "short" && data !== "full" && data !== "none")
    throw new Error(`--data must be short, full or none`);
  if (command === "dump" && values.json) throw new Error("--json is for verify");
  if (command === "dump" && values.progress) throw new Error("--progress is for verify");
  return { command, dir, json: values.json, data, progress: values.progress };
}

interface Finding {
  readonly severity: "error" | "warning";
  readonly file: string;
  readonly offset: number;
  readonly message: string;
}

/** What verify has seen so far, and how far it got (for the progress line). */
interface VerifyTally {
  readonly findings: Finding[];
  records: number;
  batches: number;
  checkedBytes: number;
  readonly totalBytes: number;
  /** Each segment's and then each snapshot file's size, in the listing's order. */
  readonly sizes: readonly number[];
}

async function verify(
  dir: string,
  json: boolean,
  out: WalOutput,
  progress: Progress,
): Promise<number> {
  const listing = await listDataDir(dir);
  // Bytes to check: every segment and snapshot file, read once each.
  const sizes = await Promise.all(
    [...listing.segments, ...listing.snapshots].map((f) =>
      stat(join(dir, f.name)).then(
        (st) => st.size,
        () => 0,
      ),
    ),
  );
  const tally: VerifyTally = {
    findings: [],
    records: 0,
    batches: 0,
    checkedBytes: 0,
    totalBytes: sizes.reduce((a, b) => a + b, 0),
    sizes,
  };
  await verifySegments(dir, listing, tally, progress);
  await verifySnapshots(dir, listing, tally, progress);
  const { findings } = tally;
  notes(dir, listing, findings);
  const summary = await recoverySummary(dir, listing, tally);
  const errors = findings.filter((f) => f.severity === "error");
  progress.done(errors.length === 0 ? "ok" : `${errors.length} damaged`);
  for (const f of findings) {
    const line = `${f.severity === "error" ? "CORRUPT" : "warning"}: ${f.file} at byte ${f.offset}: ${f.message}\n`;
    if (f.severity === "error") out.stderr(line);
    else out.stdout(line);
  }
  if (errors.length === 0) out.stdout(`ok: ${dir}: ${summary}\n`);
  else
    out.stderr(
      `${errors.length} damaged ${errors.length === 1 ? "place" : "places"} in ${dir}; the store will refuse to open it\n`,
    );
  if (json) {
    const { batches, records } = tally;
    out.stdout(
      `${JSON.stringify({ dir, ok: errors.length === 0, segments: listing.segments.length, batches, records, snapshots: listing.snapshots.length, findings })}\n`,
    );
  }
  return errors.length === 0 ? 0 : 1;
}

/** Every segment on its own: the first bad record of each file, even past the first bad file. */
async function verifySegments(
  dir: string,
  listing: DataDirListing,
  tally: VerifyTally,
  progress: Progress,
): Promise<void> {
  for (let i = 0; i < listing.segments.length; i++) {
    const name = listing.segments[i]!.name;
    const bytes = await readFile(join(dir, name));
    const scan = scanSegment(bytes, i === listing.segments.length - 1);
    let next = scan.next();
    for (let n = 0; n <= bytes.length && next.done !== true; n++) {
      tally.batches++;
      tally.records += next.value.records.length;
      if ((n & 1023) === 0)
        progress.update(
          tally.checkedBytes + next.value.end,
          tally.totalBytes,
          `segment ${i + 1}/${listing.segments.length}`,
        );
      next = scan.next();
    }
    tally.checkedBytes += bytes.length;
    progress.update(
      tally.checkedBytes,
      tally.totalBytes,
      `segment ${i + 1}/${listing.segments.length}`,
    );
    if (next.done === true) {
      const end = next.value;
      if (end.kind === "corrupt")
        tally.findings.push({
          severity: "error",
          file: join(dir, name),
          offset: end.offset,
          message: end.reason,
        });
      if (end.kind === "torn") {
        const message = `torn last write (${bytes.length - end.offset} bytes; cut when the store opens): ${end.reason}`;
        tally.findings.push({
          severity: "warning",
          file: join(dir, name),
          offset: end.offset,
          message,
        });
      }
    }
  }
}

async function verifySnapshots(
  dir: string,
  listing: DataDirListing,
  tally: VerifyTally,
  progress: Progress,
): Promise<void> {
  for (const [k, s] of listing.snapshots.entries()) {
    try {
      await readSnapshotFile(dir, s.name);
    } catch (e) {
      if (!(e instanceof CorruptionError)) throw e;
      tally.findings.push({ severity: "error", file: e.file, offset: e.offset, message: e.reason });
    }
    tally.checkedBytes += tally.sizes[listing.segments.length + k] ?? 0;
    progress.update(
      tally.checkedBytes,
      tally.totalBytes,
      `snapshot ${k + 1}/${listing.snapshots.length}`,
    );
  }
}

/**
 * Then the whole directory as the store would open it: gaps, missing segments, cross-checks.
 * The summary line of what it holds, or "" with the damage found added to the findings.
 */
async function recoverySummary(
  dir: string,
  listing: DataDirListing,
  tally: VerifyTally,
): Promise<string> {
  try {
    const r = await recoverDataDir(dir, { repair: false });
    const snapshotIndex = r.state.snapshot?.meta.index ?? 0;
    const last = snapshotIndex + r.state.entries.length;
    const hs = r.state.hardState;
    return (
      `${listing.segments.length} segments, ${tally.batches} batches, ${tally.records} records, ${listing.snapshots.length} snapshots; ` +
      `snapshot ${snapshotIndex}, log ${r.state.entries.length === 0 ? "empty" : `${snapshotIndex + 1}..${last}`}; ` +
      `hard state term=${hs.term} vote=${hs.vote === "" ? "-" : hs.vote} commit=${hs.commit}`
    );
  } catch (e) {
    if (!(e instanceof CorruptionError)) throw e;
    const { findings } = tally;
    if (
      !findings.some((f) => f.severity === "error" && f.file === e.file && f.offset === e.offset)
    ) {
      findings.push({ severity: "error", file: e.file, offset: e.offset, message: e.reason });
    }
    return "";
  }
}

function notes(dir: string, listing: DataDirListing, findings: Finding[]): void {
  for (const name of listing.tempFiles) {
    findings.push({
      severity: "warning",
      file: join(dir, name),
      offset: 0,
      message: "unfinished file left by a crash; removed when the store opens",
    });
  }
  for (const name of listing.brokenFiles) {
    findings.push({
      severity: "warning",
      file: join(dir, name),
      offset: 0,
      message: "a damaged snapshot set aside earlier",
    });
  }
  for (const name of listing.otherFiles) {
    findings.push({
      severity: "warning",
      file: join(dir, name),
      offset: 0,
      message: "not a file of the store; ignored",
    });
  }
}

async function dump(dir: string, data: DataMode, out: WalOutput): Promise<number> {
  const listing = await listDataDir(dir);
  let damaged = 0;
  out.stdout(
    `data directory ${dir}: ${listing.segments.length} segments, ${listing.snapshots.length} snapshots\n`,
  );
  for (const s of listing.snapshots) {
    try {
      const snap = await readSnapshotFile(dir, s.name);
      const c = snap.meta.confState;
      out.stdout(
        `snapshot ${s.name}: index=${snap.meta.index} term=${snap.meta.term} voters=[${c.voters.join(",")}] ` +
          `votersOutgoing=[${c.votersOutgoing.join(",")}] learners=[${c.learners.join(",")}]${c.autoLeave ? " autoLeave" : ""} data=${snap.data.byteLength} bytes\n`,
      );
    } catch (e) {
      if (!(e instanceof CorruptionError)) throw e;
      damaged++;
      out.stdout(`snapshot ${s.name}: DAMAGED at byte ${e.offset}: ${e.reason}\n`);
    }
  }
  for (let i = 0; i < listing.segments.length; i++) {
    const name = listing.segments[i]!.name;
    const bytes = await readFile(join(dir, name));
    out.stdout(
      `\nsegment ${name} (${bytes.length} bytes)\n${"offset".padStart(10)}  ${"record".padEnd(14)}  fields\n`,
    );
    const scan = scanSegment(bytes, i === listing.segments.length - 1);
    let next = scan.next();
    for (let n = 0; n <= bytes.length && next.done !== true; n++) {
      const batch = next.value;
      out.stdout(
        `${String(batch.offset).padStart(10)}  ${"batch".padEnd(14)}  records=${batch.records.length} bytes=${batch.end - batch.offset}\n`,
      );
      for (const r of batch.records) out.stdout(formatRecord(r, data));
      next = scan.next();
    }
    if (next.done === true) {
      const end = next.value;
      out.stdout(formatEnd(end, bytes.length));
      if (end.kind === "corrupt") damaged++;
    }
  }
  return damaged === 0 ? 0 : 1;
}

function formatEnd(end: ScanEnd, size: number): string {
  switch (end.kind) {
    case "clean":
      return `${String(size).padStart(10)}  end\n`;
    case "torn":
      return `${String(end.offset).padStart(10)}  TORN            ${size - end.offset} bytes of an unfinished write: ${end.reason}\n`;
    case "corrupt":
      return `${String(end.offset).padStart(10)}  CORRUPT         ${end.reason} (in the batch at ${end.batchOffset}); nothing after it is shown\n`;
  }
}

/** A ConfChange entry in words ("AddLearner n4, transition Auto"), or why it does not decode. */
function describeConfChange(bytes: Uint8Array): string {
  try {
    const cc = decodeConfChange(bytes);
    const changes = cc.changes.map((c) => `${c.type} ${c.node}`).join(", ");
    return `[${changes === "" ? "leave joint" : changes}; ${cc.transition}]`;
  } catch (e) {
    return `[undecodable configuration change: ${(e as Error).message}]`;
  }
}

function formatRecord({ offset, record }: ScannedRecord, data: DataMode): string {
  const line = `${String(offset).padStart(10)}  ${recordName(record).padEnd(14)}  ${recordFields(record)}\n`;
  if (record.type !== "Entries") return line;
  // One line per entry under its record, like etcd-dump-logs.
  const entries = record.entries.map((e) => {
    const shown =
      e.type === "ConfChange"
        ? ` ${describeConfChange(e.data)}`
        : data === "none"
          ? ""
          : ` ${formatData(e.data, data === "full")}`;
    return `${"".padStart(10)}    entry  index=${e.index} term=${e.term} type=${e.type} data=${e.data.byteLength}B${shown}\n`;
  });
  return line + entries.join("");
}

function recordName(record: WalRecord): string {
  switch (record.type) {
    case "SegmentHeader":
      return "segment-header";
    case "Entries":
      return "entries";
    case "HardState":
      return "hard-state";
    case "SnapshotMark":
      return "snapshot-mark";
  }
}

function recordFields(record: WalRecord): string {
  switch (record.type) {
    case "SegmentHeader":
      return `seq=${record.seq} firstIndex=${record.firstIndex}`;
    case "Entries": {
      const first = record.entries[0]!;
      const last = record.entries[record.entries.length - 1]!;
      return `count=${record.entries.length} indexes=${first.index}..${last.index}`;
    }
    case "HardState": {
      const hs = record.hardState;
      return `term=${hs.term} vote=${hs.vote === "" ? "-" : hs.vote} commit=${hs.commit}`;
    }
    case "SnapshotMark":
      return `${record.install ? "install" : "save"} index=${record.index} term=${record.term}`;
  }
}

const PREVIEW_BYTES = 48;

/** Printable UTF-8 as a quoted string, anything else as hex; cut to a preview unless `full`. */
function formatData(bytes: Uint8Array, full: boolean): string {
  if (bytes.byteLength === 0) return '""';
  const shown = full ? bytes : bytes.subarray(0, PREVIEW_BYTES);
  const more = shown.byteLength < bytes.byteLength ? "…" : "";
  const text = Buffer.from(shown).toString("utf8");
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we look for
  const printable = !text.includes("\uFFFD") && !/[\u0000-\u0008\u000e-\u001f\u007f]/.test(text);
  return printable
    ? `${JSON.stringify(text)}${more}`
    : `0x${Buffer.from(shown).toString("hex")}${more}`;
}
