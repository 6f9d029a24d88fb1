// `ordo sim`: run the deterministic simulator over a range of seeds, or one seed with its history.
//
//   ordo sim --seeds 1-500 [--nodes 5] [--faults all|wipe|none] [--json] [--workers N]
//   ordo sim --seed 42 [--history out.json] [--trace] [--html run.html]
//
// With --json the last line printed is one JSON object:
//   {"seeds":500,"failed":[],"violations":0,"linearizable":500,"ops":N,"elapsed_ms":M, ...}
// The exit code is 0 only when every seed passed.
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { TestingFaults } from "../raft/index.js";
import {
  type FaultMode,
  renderSimReport,
  runSeedAsync,
  runSeeds,
  type SeedSummary,
  type SimOptions,
  type SimStack,
  StoryRecorder,
} from "../sim/index.js";
import type { Output } from "./output.js";

export const SIM_USAGE = `usage: ordo sim --seeds A-B [--nodes N] [--faults all|wipe|none] [--stack runtime|core] [--reconfig] [LEASE] [--json] [--workers N]
       ordo sim --seed S [--nodes N] [--faults all|wipe|none] [--stack runtime|core] [--reconfig] [LEASE] [--history FILE] [--trace] [--html FILE] [--json]
       LEASE: --read-mode lease [--lease-clock-drift F] [--clock-skew S]

Runs simulated clusters in virtual time: network faults (delays, drops, duplicates, reordering,
partitions, flapping links), crashes that lose unsynced writes, restarts and pauses, with a KV
workload whose history is checked for linearizability and Raft's safety invariants checked at
every step. Same seed, same run. --nodes defaults to 3, 5 or 7 chosen by the seed.
--faults all (default) also wipes a member's disk now and then (it restarts empty under its old
id: its peers must refuse it by its data directory's incarnation); --faults wipe does that often,
to a member that just voted. --bug accept-wiped lets the wiped member in: the Vote Safety and
Election Safety checks must catch its double vote.
--stack runtime (default) runs the full runtime with the MVCC key-value store on every member;
--stack core runs the bare Raft core with a minimal driver and a small KV map.
--reconfig (runtime stack) also changes membership during the faults: adds members from empty
logs (learners and voters), promotes learners, removes members (the leader too), replaces voters
through joint configurations and transfers leadership; final checks cover the final members.
--read-mode lease (runtime stack) serves linearizable reads by the leader's lease, configured to
tolerate clock-rate differences up to --lease-clock-drift (default 0.1); --clock-skew S makes
the leader's clock run slower than every other member's by the factor 1 + S (default 0), the
worst case for a lease. Lease Safety (no lease read once a newer leader was elected) is checked
with the rest: a skew beyond the drift bound is caught.
--html FILE (one seed) writes the run as one self-contained page: a timeline per member (role,
term, crashes, pauses, cut links), the messages, the client operations, and for a failing seed
the violation with the operations that prove it.`;

/** --read-mode, --lease-clock-drift and --clock-skew as SimOptions, checked. */
function leaseOptions(values: {
  "read-mode"?: string;
  "lease-clock-drift"?: string;
  "clock-skew"?: string;
}): Pick<SimOptions, "readMode" | "leaseClockDrift" | "clockRateSkew"> {
  const mode = values["read-mode"] ?? "index";
  if (mode !== "index" && mode !== "lease")
    throw new Error(`--read-mode must be index or lease, not "${mode}"`);
  const fraction = (text: string | undefined, flag: string, hi: number): number | undefined => {
    if (text === undefined) return undefined;
    const v = Number(text);
    if (!(v >= 0 && v < hi))
      throw new Error(`${flag} must be a number in [0, ${hi}), not "${text}"`);
    return v;
  };
  const drift = fraction(values["lease-clock-drift"], "--lease-clock-drift", 1);
  const skew = fraction(values["clock-skew"], "--clock-skew", 10);
  if (mode !== "lease" && (drift !== undefined || skew !== undefined))
    throw new Error("--lease-clock-drift and --clock-skew need --read-mode lease");
  return {
    ...(mode === "lease" ? { readMode: "lease" as const } : {}),
    ...(drift !== undefined ? { leaseClockDrift: drift } : {}),
    ...(skew !== undefined ? { clockRateSkew: skew } : {}),
  };
}

/** The lease flags given, for a replay line. */
function leaseFlags(values: Record<string, unknown>): string {
  if (values["read-mode"] !== "lease") return "";
  let flags = " --read-mode lease";
  if (values["lease-clock-drift"] !== undefined)
    flags += ` --lease-clock-drift ${String(values["lease-clock-drift"])}`;
  if (values["clock-skew"] !== undefined) flags += ` --clock-skew ${String(values["clock-skew"])}`;
  return flags;
}

/** Parses "1-500", "7", or "1,5,9-12" into a list of seeds. */
export function parseSeeds(text: string): number[] {
  const seeds: number[] = [];
  for (const part of text.split(",")) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (m === null) throw new Error(`bad seed range "${part}": expected N or A-B`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || b < a)
      throw new Error(`bad seed range "${part}"`);
    if (b - a + 1 + seeds.length > 10_000_000) throw new Error("too many seeds");
    for (let s = a; s <= b; s++) seeds.push(s);
  }
  return seeds;
}

function parseBug(name: string | undefined): TestingFaults | undefined {
  if (name === undefined) return undefined;
  if (name === "commit-prior-term") return { commitPriorTermByCounting: true };
  if (name === "skip-vote-check") return { skipVoteUpToDateCheck: true };
  if (name === "skip-joint") return { skipJointConsensus: true };
  if (name === "accept-wiped") return { acceptWipedMember: true };
  throw new Error(
    `unknown --bug "${name}": commit-prior-term, skip-vote-check, skip-joint or accept-wiped`,
  );
}

function describeFailure(r: SeedSummary): string {
  const reasons: string[] = [];
  for (const v of r.violations.slice(0, 5))
    reasons.push(`${v.invariant} on ${v.node}: ${v.detail}`);
  if (r.linearizable !== true)
    reasons.push(
      `history ${r.linearizable === false ? "not linearizable" : "could not be checked"} ${r.linearizabilityDetail}`,
    );
  for (const l of r.livenessFailures.slice(0, 5)) reasons.push(`liveness: ${l}`);
  return reasons.join("\n  ");
}

const SIM_FLAGS = {
  seeds: { type: "string" },
  seed: { type: "string" },
  nodes: { type: "string" },
  faults: { type: "string", default: "all" },
  stack: { type: "string", default: "runtime" },
  json: { type: "boolean", default: false },
  history: { type: "string" },
  html: { type: "string" },
  trace: { type: "boolean", default: false },
  workers: { type: "string" },
  bug: { type: "string" },
  reconfig: { type: "boolean", default: false },
  "read-mode": { type: "string", default: "index" },
  "lease-clock-drift": { type: "string" },
  "clock-skew": { type: "string" },
  help: { type: "boolean", short: "h", default: false },
} as const;

type SimValues = ReturnType<
  typeof parseArgs<{ options: typeof SIM_FLAGS; strict: true }>
>["values"];

type BaseOptions = Omit<SimOptions, "seed"> & {
  readonly faults: FaultMode;
  readonly stack: SimStack;
};

export async function runSimCommand(args: string[], out: Output): Promise<number> {
  const { values } = parseArgs({ args, options: SIM_FLAGS, strict: true });
  if (values.help) {
    out.stdout(`${SIM_USAGE}\n`);
    return 0;
  }
  const base = baseOptions(values);
  if (values.seed !== undefined) return runOneSeed(values.seed, values, base, out);
  if (values.html !== undefined) throw new Error("--html needs --seed S (one seed)");
  return runManySeeds(values, base, out);
}

/** The options every seed of the command runs with, checked. */
function baseOptions(values: SimValues): BaseOptions {
  const faults = values.faults as FaultMode;
  if (faults !== "all" && faults !== "none" && faults !== "wipe")
    throw new Error(`--faults must be all, wipe or none, not "${values.faults}"`);
  const nodes = values.nodes === undefined ? undefined : Number(values.nodes);
  if (nodes !== undefined && (!Number.isInteger(nodes) || nodes < 1 || nodes > 9)) {
    throw new Error("--nodes must be an integer from 1 to 9");
  }
  const testingFaults = parseBug(values.bug);
  const stack = values.stack as SimStack;
  if (stack !== "runtime" && stack !== "core")
    throw new Error(`--stack must be runtime or core, not "${values.stack}"`);
  const base: BaseOptions = {
    faults,
    stack,
    ...(nodes !== undefined ? { nodes } : {}),
    ...(testingFaults !== undefined ? { testingFaults } : {}),
    ...(values.reconfig ? { reconfig: true } : {}),
    ...leaseOptions(values),
  };
  if (values.reconfig && stack !== "runtime") throw new Error("--reconfig needs --stack runtime");
  return base;
}

/** `--seed S`: one seed, with its history, trace and page if asked. */
async function runOneSeed(
  seedText: string,
  values: SimValues,
  base: BaseOptions,
  out: Output,
): Promise<number> {
  const seed = parseSeeds(seedText);
  if (seed.length !== 1) throw new Error("--seed takes one seed; use --seeds for a range");
  const started = Date.now();
  const recorder =
    values.html !== undefined ? new StoryRecorder(seed[0] as number, base.stack) : undefined;
  const r = await runSeedAsync({
    ...base,
    seed: seed[0] as number,
    keepHistory: true,
    traceLines: values.trace ? 400 : 80,
    ...(recorder !== undefined ? { observer: recorder } : {}),
  });
  if (values.html !== undefined && recorder !== undefined)
    writeFileSync(values.html, renderSimReport(recorder.story()));
  if (values.history !== undefined)
    writeFileSync(values.history, `${JSON.stringify(r.history, null, 1)}\n`);
  if (!r.ok || values.trace) out.stderr(`${r.trace.join("\n")}\n`);
  if (!r.ok) out.stderr(`seed=${r.seed} FAILED\n  ${describeFailure(r)}\n`);
  const summary = {
    seed: r.seed,
    nodes: r.nodes,
    ok: r.ok,
    violations: r.violations.length,
    linearizable: r.linearizable,
    ops: r.ops,
    ops_ok: r.opsOk,
    virtual_ms: Math.round(r.virtualMs),
    events: r.events,
    trace_hash: r.traceHash,
    ...(values.reconfig ? { reconfigs: r.reconfigs.length } : {}),
    wipes: r.wipes,
    incarnation_refusals: r.incarnationRefusals,
    fenced: r.fenced.length,
    elapsed_ms: Date.now() - started,
  };
  if (values.trace && r.reconfigs.length > 0)
    out.stderr(`membership changes and transfers:\n  ${r.reconfigs.join("\n  ")}\n`);
  out.stdout(values.json ? `${JSON.stringify(summary)}\n` : `${formatSingle(summary)}\n`);
  return r.ok ? 0 : 1;
}

/** `--seeds A-B`: many seeds on worker threads, failures reported as they come. */
async function runManySeeds(values: SimValues, base: BaseOptions, out: Output): Promise<number> {
  const seeds = parseSeeds(values.seeds ?? "1-100");
  const workers = values.workers === undefined ? undefined : Number(values.workers);
  const started = Date.now();
  const progress = out.isTty && !values.json;
  let failedSoFar = 0;
  const results = await runSeeds({
    seeds,
    base,
    ...(workers !== undefined ? { workers } : {}),
    onResult: (r, done) => {
      if (!r.ok) {
        failedSoFar++;
        reportFailure(r, values, base, progress, out);
      }
      if (progress && (done % 10 === 0 || done === seeds.length)) {
        const secs = (Date.now() - started) / 1000;
        out.stderr(
          `\r\x1b[K${done}/${seeds.length} seeds, ${failedSoFar} failed, ${(done / Math.max(secs, 0.001)).toFixed(1)} seeds/s`,
        );
      }
    },
  });
  if (progress) out.stderr("\n");
  const summary = manySummary(results, values, Date.now() - started);
  if (values.json) out.stdout(`${JSON.stringify(summary)}\n`);
  else {
    out.stdout(
      `${summary.seeds} seeds, ${summary.failed.length} failed${summary.failed.length ? ` (${summary.failed.slice(0, 20).join(", ")})` : ""}, ` +
        `${summary.violations} invariant violations, ${summary.linearizable} linearizable histories, ${summary.ops} client ops\n` +
        `${(summary.elapsed_ms / 1000).toFixed(1)} s wall, ${summary.seeds_per_minute} seeds/min, ${summary.virtual_seconds_per_second} virtual s per wall s\n`,
    );
  }
  return summary.failed.length === 0 ? 0 : 1;
}

/** A failed seed of a range: why, its last events, and the command that replays it. */
function reportFailure(
  r: SeedSummary,
  values: SimValues,
  base: BaseOptions,
  progress: boolean,
  out: Output,
): void {
  out.stderr(
    `${progress ? "\r\x1b[K" : ""}seed=${r.seed} FAILED (nodes=${r.nodes})\n  ${describeFailure(r)}\n`,
  );
  out.stderr(`  last events:\n    ${r.trace.slice(-25).join("\n    ")}\n`);
  out.stderr(
    `  replay: npx ordo sim --seed ${r.seed} --stack ${base.stack} --faults ${base.faults}${base.nodes ? ` --nodes ${base.nodes}` : ""}${values.bug ? ` --bug ${values.bug}` : ""}${values.reconfig ? " --reconfig" : ""}${leaseFlags(values)} --trace\n`,
  );
}

/** The totals of a range of seeds (the --json line). */
function manySummary(results: readonly SeedSummary[], values: SimValues, elapsedMs: number) {
  const virtualMs = results.reduce((a, r) => a + r.virtualMs, 0);
  return {
    seeds: results.length,
    failed: results.filter((r) => !r.ok).map((r) => r.seed),
    violations: results.reduce((a, r) => a + r.violations.length, 0),
    linearizable: results.filter((r) => r.linearizable === true).length,
    ops: results.reduce((a, r) => a + r.ops, 0),
    ...(values.reconfig ? { reconfigs: results.reduce((a, r) => a + r.reconfigs.length, 0) } : {}),
    wipes: results.reduce((a, r) => a + r.wipes, 0),
    fenced: results.reduce((a, r) => a + r.fenced.length, 0),
    incarnation_refusals: results.reduce((a, r) => a + r.incarnationRefusals, 0),
    elapsed_ms: elapsedMs,
    seeds_per_minute: Math.round((results.length * 60_000) / Math.max(elapsedMs, 1)),
    virtual_seconds_per_second: Math.round(virtualMs / Math.max(elapsedMs, 1)),
  };
}

function formatSingle(s: Record<string, unknown>): string {
  return Object.entries(s)
    .map(([k, v]) => `${k}: ${String(v)}`)
    .join("\n");
}
