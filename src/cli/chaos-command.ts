// `ordo chaos`: real faults on real processes. Starts 3 or 5 `ordo serve` members (data on
// disk in a temp dir, loopback ports, fault-injecting TCP proxies between them), runs real
// clients against them, injects the faults a seed chooses for --duration seconds, heals,
// waits for recovery and judges the run (src/chaos/). Exit 0 when every check passed, 1 when
// one failed (the seed and a command to rerun the same schedule are printed), 2 on bad flags.
import { parseArgs } from "node:util";
import {
  type ChaosPhaseProgress,
  type ChaosReport,
  FAULT_KINDS,
  parseFaultKinds,
  runChaos,
} from "../chaos/index.js";
import { positiveInt } from "./int-flags.js";
import type { Output } from "./output.js";
import { commandProgress } from "./progress.js";

export const CHAOS_USAGE = `usage: ordo chaos [--nodes 3|5] [--duration S] [--seed N] [--faults LIST] [--json] [--progress]

  --nodes N        members to start: 3 (default) or 5
  --duration S     seconds of faults (default 60); then heal, recover and check
  --seed N         chooses the fault schedule (default: random, printed); same seed, same schedule
  --faults LIST    comma-separated kinds (default all): ${FAULT_KINDS.join(", ")}
  --clients N      KV clients (default nodes + 1; half plain etcd semantics, half exactly-once)
  --tick-ms N      members' Raft tick (default 50; elections time out after 10 ticks)
  --out DIR        where history.json, report.json, logs/ and data/ go (default a new temp dir)
  --keep-data      keep the members' data dirs after a passing run (a failed run keeps them)
  --json           print the report as JSON on the last line
  --progress       a progress line for the fault phase on stderr also when it is not a
                   terminal (on a terminal it is shown unless --json)`;

export function formatSummary(r: ChaosReport): string {
  const lines: string[] = [];
  lines.push(
    `ordo chaos: ${r.passed ? "PASSED" : "FAILED"} (seed ${r.seed}, ${r.nodes} members, ${Math.round(r.durationMs / 1000)} s of faults, ${Math.round(r.elapsedMs / 1000)} s in all)`,
  );
  const faults = Object.entries(r.faults)
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
  lines.push(
    `faults: ${faults || "none"}${r.faultsFailed.length > 0 ? ` (${r.faultsFailed.length} not injected)` : ""}`,
  );
  const o = r.operations;
  lines.push(
    `operations: ${o.total} (ok ${o.ok}, unknown ${o.unknown}, fail ${o.fail}); lease operations ok ${r.leaseOperations.ok}, unknown ${r.leaseOperations.unknown}`,
  );
  lines.push("checks:");
  for (const c of r.checks) lines.push(`  ${c.passed ? "pass" : "FAIL"}  ${c.name}: ${c.detail}`);
  lines.push(`history: ${r.historyFile}`);
  lines.push(`report: ${r.outDir}/report.json, member logs: ${r.outDir}/logs`);
  if (!r.passed)
    lines.push(`seed ${r.seed} failed; rerun the same fault schedule with:\n  ${r.rerun}`);
  return `${lines.join("\n")}\n`;
}

const chaosOptions = {
  nodes: { type: "string" },
  duration: { type: "string" },
  seed: { type: "string" },
  faults: { type: "string", default: "all" },
  clients: { type: "string" },
  "tick-ms": { type: "string" },
  out: { type: "string" },
  "keep-data": { type: "boolean", default: false },
  json: { type: "boolean", default: false },
  progress: { type: "boolean", default: false },
  "unsafe-testing-fault": { type: "string" },
  help: { type: "boolean", short: "h", default: false },
} as const;

export async function runChaosCommand(args: string[], out: Output): Promise<number> {
  const { values } = parseArgs({
    args,
    options: chaosOptions,
    strict: true,
  });
  if (values.help) {
    out.stdout(`${CHAOS_USAGE}\n`);
    return 0;
  }
  const nodes = positiveInt(values.nodes, "--nodes", 3);
  if (nodes !== 3 && nodes !== 5) throw new Error(`--nodes must be 3 or 5, not ${nodes}`);
  const durationS = positiveInt(values.duration, "--duration", 60);
  if (durationS > 24 * 3600) throw new Error("--duration is at most 86400 seconds");
  const seedText = values.seed;
  const seed = seedText === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(seedText);
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new Error(`--seed must be a non-negative integer, not "${seedText}"`);
  const kinds = parseFaultKinds(values.faults as string);
  const clients =
    values.clients === undefined ? undefined : positiveInt(values.clients, "--clients", 1);
  if (clients !== undefined && clients > 64) throw new Error("--clients is at most 64");
  const tickMs =
    values["tick-ms"] === undefined ? undefined : positiveInt(values["tick-ms"], "--tick-ms", 50);
  const json = values.json === true;
  out.stderr(`ordo chaos: seed ${seed}\n`);
  const bar = commandProgress(out, values, "chaos faults", "seconds");
  const barShown = values.progress === true || (out.isTty && !json);
  const report = await runChaos({
    seed,
    nodes,
    durationMs: durationS * 1000,
    kinds,
    ...(values.out !== undefined ? { outDir: values.out } : {}),
    keepData: values["keep-data"] === true,
    ...(clients !== undefined ? { clients } : {}),
    ...(tickMs !== undefined ? { tickMs } : {}),
    ...(values["unsafe-testing-fault"] !== undefined
      ? { unsafeTestingFault: values["unsafe-testing-fault"] }
      : {}),
    progress: (line) => bar.log(`[chaos] ${line}`),
    ...(barShown
      ? {
          onPhase: (p: ChaosPhaseProgress) => showPhase(bar, p),
        }
      : {}),
  });
  out.stdout(formatSummary(report));
  if (json) out.stdout(`${JSON.stringify(report)}\n`);
  return report.passed ? 0 : 1;
}

/** The fault phase on the progress line: seconds done of all, faults, operations. */
function showPhase(bar: ReturnType<typeof commandProgress>, p: ChaosPhaseProgress): void {
  bar.update(
    p.elapsedMs / 1000,
    p.durationMs / 1000,
    `fault ${p.faultsDone}/${p.faultsTotal}, ops ${p.ops.total} (ok ${p.ops.ok}, unknown ${p.ops.unknown}, fail ${p.ops.fail})`,
  );
  if (p.done) bar.done(`${p.faultsDone} faults in ${Math.round(p.elapsedMs / 1000)}s`);
}
