// `ordo wal verify` and `ordo wal dump`: exit codes, file and offset of damage, readable records.
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { runWal } from "../../src/cli/wal.js";
import { encodeConfChange } from "../../src/raft/index.js";
import { asIndex, asNodeId, asTerm } from "../../src/raft/types.js";
import {
  entryRange,
  hardState,
  openAndLoad,
  removeDir,
  segmentNames,
  snapshot,
  tempDir,
} from "./wal-helpers.js";

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await runWal(args, {
    stdout: (s) => {
      stdout += s;
    },
    stderr: (s) => {
      stderr += s;
    },
  });
  return { code, stdout, stderr };
}

async function sampleDir(): Promise<string> {
  const dir = await tempDir("wal-cli");
  const { wal } = await openAndLoad(dir, { segmentBytesMax: 2048 });
  await wal.append(entryRange(1, 20, 1), hardState(1, 10));
  await wal.append(
    [{ index: asIndex(21), term: asTerm(1), type: "Normal", data: Buffer.from("put k v") }],
    hardState(1, 21, "n2"),
  );
  await wal.saveSnapshot(snapshot(15, 1));
  await wal.append(entryRange(22, 30, 2), hardState(2, 25));
  const cc = encodeConfChange({
    transition: "Auto",
    changes: [{ type: "AddLearner", node: asNodeId("n4") }],
  });
  await wal.append(
    [{ index: asIndex(31), term: asTerm(2), type: "ConfChange", data: cc }],
    undefined,
  );
  await wal.close();
  return dir;
}

test("verify: a healthy directory exits 0 with a summary; --json ends with one JSON line", async () => {
  const dir = await sampleDir();
  try {
    const ok = await run(["verify", dir]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^ok: /m);
    assert.match(ok.stdout, /hard state term=2 vote=n1 commit=25/);
    const json = await run(["verify", dir, "--json"]);
    const last = json.stdout.trim().split("\n").at(-1)!;
    const report = JSON.parse(last) as { ok: boolean; snapshots: number };
    assert.equal(report.ok, true);
    assert.equal(report.snapshots, 1);
  } finally {
    await removeDir(dir);
  }
});

test("verify: damage exits 1 naming the file and byte offset; a torn tail is only a warning", async () => {
  const dir = await sampleDir();
  try {
    const segments = await segmentNames(dir);
    const first = join(dir, segments[0]!);
    const bytes = await readFile(first);
    bytes[bytes.length - 10]! ^= 4;
    await writeFile(first, bytes);
    const bad = await run(["verify", dir]);
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      new RegExp(`CORRUPT: ${first.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} at byte \\d+: `),
    );
    bytes[bytes.length - 10]! ^= 4;
    await writeFile(first, bytes);
    const last = join(dir, segments.at(-1)!);
    const tail = await readFile(last);
    await writeFile(last, tail.subarray(0, tail.length - 7));
    const torn = await run(["verify", dir]);
    assert.equal(torn.code, 0, torn.stderr);
    assert.match(torn.stdout, /warning: .* torn last write/);
  } finally {
    await removeDir(dir);
  }
});

test("dump: prints segments, batches, entries, hard states, snapshot marks and snapshots", async () => {
  const dir = await sampleDir();
  try {
    const out = await run(["dump", dir]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(
      out.stdout,
      /snapshot 0000000000000015-0000000000000001\.snap: index=15 term=1 voters=\[n1,n2,n3\]/,
    );
    assert.match(out.stdout, /segment-header\s+seq=\d+ firstIndex=\d+/);
    assert.match(out.stdout, /entry {2}index=21 term=1 type=Normal data=7B "put k v"/);
    assert.match(out.stdout, /hard-state\s+term=2 vote=n1 commit=25/);
    assert.match(
      out.stdout,
      /entry {2}index=31 term=2 type=ConfChange data=\d+B \[AddLearner n4; Auto\]/,
    );
    assert.match(out.stdout, /snapshot-mark\s+save index=15 term=1/);
    const none = await run(["dump", dir, "--data", "none"]);
    assert.doesNotMatch(none.stdout, /"put k v"/);
  } finally {
    await removeDir(dir);
  }
});

test("bad arguments exit 2 with usage", async () => {
  assert.equal((await run([])).code, 2);
  assert.equal((await run(["frobnicate", "x"])).code, 2);
  assert.equal((await run(["verify"])).code, 2);
  assert.equal((await run(["verify", "/nonexistent/ordo-dir"])).code, 2);
  assert.equal((await run(["dump", "/tmp", "--data", "loud"])).code, 2);
  const help = await run(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /usage: ordo wal verify DIR/);
});

test("verify --progress: progress lines on stderr, none on stdout; none without the flag", async () => {
  const dir = await sampleDir();
  try {
    const quiet = await run(["verify", dir, "--json"]);
    assert.equal(quiet.stderr, "", "no progress when stderr is not a terminal");
    const shown = await run(["verify", dir, "--json", "--progress"]);
    assert.equal(shown.code, 0, shown.stderr);
    const lines = shown.stderr.trim().split("\n");
    const last = lines.at(-1) as string;
    assert.match(last, /^wal verify .*: [\d.]+ (B|KiB) \/ [\d.]+ (B|KiB) \(100%\).* — done: ok$/);
    assert.ok(
      lines.every((l) => l.startsWith("wal verify ")),
      shown.stderr,
    );
    // stdout is what it was without --progress: the JSON report still parses.
    assert.equal(shown.stdout, quiet.stdout);
    JSON.parse(shown.stdout.trim().split("\n").at(-1) as string);
    const dumpRefused = await run(["dump", dir, "--progress"]);
    assert.equal(dumpRefused.code, 2);
  } finally {
    await removeDir(dir);
  }
});
