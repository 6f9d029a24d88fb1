// `ordo chaos` end to end, as a user runs it: real member processes, real clients, real
// faults. A bounded run with every fault kind passes every check and leaves no process
// behind; a member built unsafe on purpose (reads served locally as if linearizable) is
// caught; the unsafe testing fault is refused without explicit consent.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { FAULT_KINDS } from "../../src/chaos/schedule.js";
import { checkLinearizable, parseHistory } from "../../src/check/index.js";

const ordo = fileURLToPath(new URL("../../../bin/ordo.js", import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runOrdo(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [ordo, ...args], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface Report {
  passed: boolean;
  seed: number;
  faults: Record<string, number>;
  faultsFailed: string[];
  checks: { name: string; passed: boolean; detail: string }[];
  operations: { ok: number; unknown: number; fail: number; total: number };
  pids: number[];
  rerun: string;
}

function lastJson(stdout: string): Report {
  const last = stdout.trim().split("\n").at(-1) ?? "";
  return JSON.parse(last) as Report;
}

test("a bounded chaos run with every fault kind passes and leaves nothing behind", {
  timeout: 180_000,
}, async () => {
  const out = mkdtempSync(join(tmpdir(), "ordo-chaos-test-"));
  try {
    // 48 s of faults holds one round of every kind for any seed (schedule.test.ts).
    const r = await runOrdo([
      "chaos",
      "--nodes",
      "3",
      "--duration",
      "48",
      "--seed",
      "11",
      "--out",
      out,
      "--json",
      "--progress",
    ]);
    const report = lastJson(r.stdout);
    const failed = report.checks.filter((c) => !c.passed);
    assert.equal(r.code, 0, `chaos failed:\n${r.stdout}\n${r.stderr.slice(-3000)}`);
    assert.deepEqual(failed, []);
    assert.equal(report.passed, true);
    for (const kind of FAULT_KINDS)
      assert.ok((report.faults[kind] ?? 0) >= 1, `no ${kind} fault injected`);
    assert.deepEqual(report.faultsFailed, []);
    assert.ok(report.operations.ok > 500, `few operations: ${JSON.stringify(report.operations)}`);
    const names = report.checks.map((c) => c.name);
    for (const name of [
      "linearizable",
      "no acknowledged write lost",
      "same HashKV on every member",
      "watch streams complete and in order",
      "no lease expired before its TTL",
      "/status verdicts right during faults",
    ])
      assert.ok(names.includes(name), `check ${name} missing`);
    assert.match(r.stdout, /ordo chaos: PASSED \(seed 11/);
    assert.match(r.stderr, /\[chaos\] fault 1\//, "progress lines while it runs");
    // --progress: the fault phase's progress lines (stderr is not a terminal here), to the end.
    assert.match(r.stderr, /^chaos faults: \d+s \/ 48s \(\d+%\), fault \d+\/\d+, ops \d+/m);
    assert.match(r.stderr, /^chaos faults: \d+s \/ 48s \(100%\) — done: 10 faults in \d+s$/m);
    // The history file is in check/'s documented format, with wall-clock times, and judges alike.
    const history = parseHistory(JSON.parse(readFileSync(join(out, "history.json"), "utf8")));
    assert.equal(history.length, report.operations.total);
    assert.ok(
      history.every((op) => op.invoke > 1.6e12),
      "times are Unix milliseconds",
    );
    assert.equal(checkLinearizable(history).ok, true);
    assert.ok(report.pids.length >= 3);
    for (const pid of report.pids)
      assert.equal(alive(pid), false, `member pid ${pid} left running`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("an unsafe member (local reads as linearizable) is caught on real processes", {
  timeout: 120_000,
}, async () => {
  const out = mkdtempSync(join(tmpdir(), "ordo-chaos-unsafe-"));
  try {
    const r = await runOrdo([
      "chaos",
      "--nodes",
      "3",
      "--duration",
      "10",
      "--seed",
      "2",
      "--faults",
      "partition",
      "--unsafe-testing-fault",
      "serializable-as-linearizable",
      "--out",
      out,
      "--json",
    ]);
    assert.equal(r.code, 1, `expected a failed check:\n${r.stdout}`);
    const report = lastJson(r.stdout);
    assert.equal(report.passed, false);
    const lin = report.checks.find((c) => c.name === "linearizable");
    assert.equal(
      lin?.passed,
      false,
      `linearizability not caught: ${JSON.stringify(report.checks)}`,
    );
    assert.match(
      r.stdout,
      /seed 2 failed; rerun the same fault schedule with:\n {2}ordo chaos --seed 2 --nodes 3 --duration 10 --faults partition/,
    );
    for (const pid of report.pids)
      assert.equal(alive(pid), false, `member pid ${pid} left running`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("ordo serve refuses an unsafe testing fault without consent, and an unknown one", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ordo-unsafe-refused-"));
  try {
    const args = [
      "serve",
      "--name",
      "n1",
      "--data-dir",
      join(dir, "n1"),
      "--initial-cluster",
      "n1=http://127.0.0.1:1",
    ];
    const env = { ...process.env };
    delete env.ORDO_UNSAFE_TESTING_FAULTS;
    const refused = await runOrdo(
      [...args, "--unsafe-testing-fault", "serializable-as-linearizable"],
      env,
    );
    assert.equal(refused.code, 2);
    assert.match(
      refused.stderr,
      /unsafe on purpose; it is refused unless the environment sets ORDO_UNSAFE_TESTING_FAULTS=/,
    );
    const unknown = await runOrdo([...args, "--unsafe-testing-fault", "fast-and-loose"], env);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /must be one of serializable-as-linearizable/);
    const badFlag = await runOrdo(["chaos", "--nodes", "4"]);
    assert.equal(badFlag.code, 2);
    assert.match(badFlag.stderr, /--nodes must be 3 or 5/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
