// kill -9 while appending: a child process appends in a loop (several appends in flight, with
// snapshots and compaction along the way) and is killed with SIGKILL after some appends were
// acknowledged. Reopened, the store must hold exactly the first k appends for some k at least
// the number acknowledged: nothing acknowledged is lost, nothing torn is replayed.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { runWal } from "../../src/cli/wal.js";
import { Xoshiro128 } from "../../src/raft/prng.js";
import type { DurableState } from "../../src/raft/storage.js";
import { type LogModel, Workload } from "./crash-workload.js";
import { assertGenuine, entry, openAndLoad, removeDir, snapshot, tempDir } from "./wal-helpers.js";

const CHILD = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "append-child.js");
const OPS_MAX = 4000;

interface ChildRun {
  readonly acked: number;
  readonly finished: boolean;
  readonly signal: NodeJS.Signals | null;
}

/** Runs the child until it has acknowledged `killAfter` appends, then SIGKILLs it. */
function runChild(dir: string, seed: number, killAfter: number): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dir, String(seed), String(OPS_MAX)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let acked = 0;
    let finished = false;
    let pending = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout.on("data", (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        const m = /^ack (\d+)$/.exec(line);
        if (m !== null) {
          const n = Number(m[1]);
          assert.equal(n, acked + 1, "acknowledgements come in order");
          acked = n;
          if (acked === killAfter && child.pid !== undefined) process.kill(child.pid, "SIGKILL");
        }
        if (line === "done") finished = true;
      }
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (signal === null && code !== 0) reject(new Error(`child exited ${code}: ${stderr}`));
      else resolve({ acked, finished, signal });
    });
  });
}

/** The k ≥ acked for which the recovered state is the workload after k appends, or -1. */
function matchingPrefix(state: DurableState, seed: number, acked: number): number {
  const workload = new Workload(seed);
  const snapIndex = state.snapshot?.meta.index ?? 0;
  const lastIndex = snapIndex + state.entries.length;
  let model: LogModel = workload.model;
  for (let k = 0; k <= OPS_MAX; k++) {
    if (k > 0) workload.next();
    model = workload.model;
    if (k < acked || model.lastIndex() !== lastIndex) continue;
    const hs = model.hardState;
    if (
      hs.term !== state.hardState.term ||
      hs.commit !== state.hardState.commit ||
      hs.vote !== state.hardState.vote
    )
      continue;
    if (state.entries.every((e) => e.term === model.termAt(e.index))) return k;
  }
  return -1;
}

test("appends acknowledged before a kill -9 survive it; nothing past a torn record is replayed", async () => {
  const rng = new Xoshiro128(2024);
  let killedMidway = 0;
  for (let run = 0; run < 6; run++) {
    const dir = await tempDir(`kill-${run}`);
    try {
      const seed = 100 + run;
      const killAfter = rng.range(20, 400);
      const result = await runChild(dir, seed, killAfter);
      assert.ok(
        result.acked >= Math.min(killAfter, OPS_MAX),
        `run ${run}: child acknowledged ${result.acked}`,
      );
      if (!result.finished) killedMidway++;
      const { wal, state } = await openAndLoad(dir);
      for (const e of state.entries) assertGenuine(e);
      const snapIndex = state.snapshot?.meta.index ?? 0;
      for (const [i, e] of state.entries.entries()) {
        assert.equal(e.index, snapIndex + 1 + i, "entries are contiguous after the snapshot");
      }
      const k = matchingPrefix(state, seed, result.acked);
      assert.ok(
        k >= result.acked,
        `run ${run} (seed ${seed}): the recovered state is no prefix holding all ${result.acked} acknowledged appends`,
      );
      if (state.snapshot !== undefined) {
        assert.deepEqual(
          state.snapshot,
          snapshot(snapIndex, state.snapshot.meta.term),
          "snapshot bytes",
        );
      }
      // The store carries on from there, and the directory verifies clean.
      const next = snapIndex + state.entries.length + 1;
      await wal.append([entry(next, state.hardState.term)], undefined);
      await wal.close();
      const again = await openAndLoad(dir);
      assert.equal((again.state.snapshot?.meta.index ?? 0) + again.state.entries.length, next);
      await again.wal.close();
      let output = "";
      const code = await runWal(["verify", dir], {
        stdout: (s) => (output += s),
        stderr: (s) => (output += s),
      });
      assert.equal(code, 0, output);
    } finally {
      await removeDir(dir);
    }
  }
  assert.ok(killedMidway >= 4, `the child was killed mid-way in ${killedMidway} of 6 runs`);
});
