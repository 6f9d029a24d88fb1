// Ordo against etcd 3.4, side by side, driven by etcd's own load generator (`benchmark` from
// etcd's tools/benchmark): a 3-member cluster of each on loopback, data on disk.
//
//   npm run bench:etcd [-- --reps 3] [-- --quick] [-- --only put_1,range_lin_1] [-- --no-memory]
//                      [-- --tls]
//
// bench/etcd/install.sh (run by the npm script) installs etcd and builds the tool if missing.
// For every workload (bench/etcd/workloads.ts: puts at 1 to 1000 clients, a put to the leader
// only, linearizable and serializable ranges at 1, 100 and 1000 clients, txn-put, watch-latency,
// lease-keepalive) a fresh cluster of each system is started and warmed up by a run that is not
// recorded (--warmup: Node's JIT compiles the hot paths during the first thousands of requests);
// then the runs alternate between the systems (the order flips every repetition) so drift in the
// shared machine hits both alike. Each run records the tool's Requests/sec, 50% and 99%
// latency, the CPU time of the three member processes (utime + stime from /proc/PID/stat) per
// 1000 requests and, for writes, the leader's WAL fsyncs per request (Ordo: ordo_fsyncs_total; etcd:
// etcd_disk_wal_fsync_duration_seconds_count). Then (unless --no-memory) a memory phase: one
// system at a time, put --memory-keys keys of 256 bytes, read every member's VmRSS, compact to
// the current revision (and defragment) and read it again.
//
// --tls runs all of it over TLS: a CA, one certificate per member (SAN 127.0.0.1, server and
// client use, for both ports) and a client certificate are made in the run's temporary folder;
// both systems serve https:// client and peer URLs with --cert-file/--key-file/--trusted-ca-file/
// --client-cert-auth and the --peer-* equivalents (mutual TLS everywhere), the benchmark tool and
// etcdctl get --cacert/--cert/--key, and /health and /metrics are read over https with the
// client certificate. Without --tls everything is plaintext, as before.
//
// Prints a Markdown table (medians, the QPS range, Ordo/etcd ratio of median QPS); the last line
// of stdout is one JSON object of ratios and latencies. The raw runs go to
// bench/results/etcd-<date>.json. Progress goes to stderr. Everything it starts is stopped by PID
// and its data directories (in a temporary folder) removed, on failure and on Ctrl-C too.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { stderrProgress } from "../src/cli/progress.js";
import {
  createCertificateAuthority,
  createSignedCertificate,
  writePemFiles,
} from "../src/server/tls-certs.js";
import {
  Cluster,
  type Ports,
  type SystemName,
  type TlsFiles,
  type Tools,
} from "./etcd/clusters.js";
import {
  cpuSeconds,
  killAll,
  liveChildren,
  rssBytes,
  runCommand,
  tail,
  which,
} from "./etcd/processes.js";
import { markdownTable, opt, type Run, ratio, summarize } from "./etcd/report.js";
import {
  KEY_BYTES,
  parseReport,
  RANGE_KEY,
  VALUE_BYTES,
  WORKLOADS,
  type Workload,
} from "./etcd/workloads.js";

const USAGE = `usage: node dist/bench/etcd-bench.js [options]
  --reps N            repetitions per workload and system (default 3; 1 with --quick)
  --quick             a short smoke run: 1 repetition, a tenth of the requests, no memory phase
  --only IDS          comma-separated workload ids (${WORKLOADS.map((w) => w.id).join(",")})
  --scale F           multiply every workload's --total by F
  --memory            run the memory phase (default, except with --quick or --only)
  --no-memory         skip the memory phase
  --memory-keys N     keys put in the memory phase (default 100000; 20000 with --quick). Ordo's
                      put rate falls as its key count grows (~2000/s empty, ~300/s at 250000
                      keys on 2 cores), so 1000000 takes Ordo most of an hour
  --warmup F          an unrecorded warm-up run of F × --total per system before the measured
                      ones (default 1: as many requests as a measured run, so both systems are
                      measured as the long-running servers they are, not in their first seconds;
                      Node's JIT tiers up over the first thousands of requests, measured here
                      as 142 → 195 → 280 put/s over three back-to-back runs with 0.2; 0 for none)
  --tls               both systems over mutual TLS on client and peer ports (https:// URLs,
                      etcd's --cert-file/--key-file/--trusted-ca-file/--client-cert-auth and
                      --peer-* flags; certificates made in the run's temporary folder; the
                      benchmark tool gets --cacert/--cert/--key). Default: plaintext
  --run-timeout S     seconds one benchmark run may take (default 180)
  --out FILE          raw results JSON (default bench/results/etcd-<date>.json)
  --progress          a progress line on stderr also when it is not a terminal (runs done
                      of all planned; shown anyway on a terminal)
  --benchmark PATH    etcd's benchmark tool (default: $ETCD_BENCHMARK, /opt/etcd-bench/benchmark,
                      ~/.cache/ordo-bench/benchmark)`;

const { values } = parseArgs({
  options: {
    reps: { type: "string" },
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    scale: { type: "string" },
    memory: { type: "boolean" },
    "no-memory": { type: "boolean", default: false },
    "memory-keys": { type: "string" },
    "run-timeout": { type: "string", default: "180" },
    warmup: { type: "string", default: "1" },
    out: { type: "string" },
    benchmark: { type: "string" },
    progress: { type: "boolean", default: false },
    tls: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
  strict: true,
});
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

function boundedNumber(text: string, flag: string, lo: number, hi: number): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < lo || n > hi) throw new Error(`${flag} must be in ${lo}..${hi}`);
  return n;
}

const quick = values.quick;
const reps = Math.round(boundedNumber(values.reps ?? (quick ? "1" : "3"), "--reps", 1, 50));
const scale = boundedNumber(values.scale ?? (quick ? "0.1" : "1"), "--scale", 0.001, 100);
const warmup = boundedNumber(values.warmup, "--warmup", 0, 10);
const runTimeoutMs = boundedNumber(values["run-timeout"], "--run-timeout", 5, 3600) * 1000;
const memoryKeys = Math.round(
  boundedNumber(
    values["memory-keys"] ?? (quick ? "20000" : "100000"),
    "--memory-keys",
    1000,
    10_000_000,
  ),
);
const onlyIds = values.only?.split(",").map((s) => s.trim().replace(/-/g, "_"));
const memoryPhase = values["no-memory"]
  ? false
  : (values.memory ?? (!quick && onlyIds === undefined));
const workloads = WORKLOADS.filter((w) => onlyIds === undefined || onlyIds.includes(w.id));
if (onlyIds !== undefined) {
  const unknown = onlyIds.filter((id) => !WORKLOADS.some((w) => w.id === id));
  if (unknown.length > 0) {
    process.stderr.write(`unknown workload(s) ${unknown.join(", ")}\n${USAGE}\n`);
    process.exit(2);
  }
}

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const PORTS: Record<SystemName, Ports> = {
  ordo: { client: [24791, 24792, 24793], peer: [24801, 24802, 24803] },
  etcd: { client: [25791, 25792, 25793], peer: [25801, 25802, 25803] },
};
/** The leader's WAL fsync counter on /metrics. */
const FSYNC_METRIC: Record<SystemName, string> = {
  ordo: "ordo_fsyncs_total",
  etcd: "etcd_disk_wal_fsync_duration_seconds_count",
};

/** Runs done of all planned (every workload × rep × system, and the memory phase's two). */
const progress = stderrProgress("bench:etcd runs", "count", { progress: values.progress });
const plannedRuns = (): number => workloads.length * reps * 2 + (memoryPhase ? 2 : 0);
let runsDone = 0;
const stepDone = (note: string): void => {
  runsDone++;
  progress.update(runsDone, plannedRuns(), note);
};
const log = (line: string): void => {
  progress.log(`[bench:etcd ${new Date().toISOString().slice(11, 19)}] ${line}`);
};

function findTools(): Tools {
  const candidates = [
    values.benchmark,
    process.env.ETCD_BENCHMARK,
    "/opt/etcd-bench/benchmark",
    join(homedir(), ".cache", "ordo-bench", "benchmark"),
  ];
  const benchmark = candidates.find((c) => c !== undefined && c !== "" && existsSync(c));
  if (benchmark === undefined)
    throw new Error("etcd's benchmark tool not found; run bash bench/etcd/install.sh");
  if (!existsSync(join(ROOT, "dist", "src", "cli", "main.js")))
    throw new Error("Ordo is not built; run npm run build");
  return { etcd: which("etcd"), etcdctl: which("etcdctl"), benchmark };
}

/** The working disk: os.tmpdir() when it is on the same device as the repository. */
function benchParent(): string {
  const tmp = tmpdir();
  return statSync(tmp).dev === statSync(ROOT).dev ? tmp : ROOT;
}

// ---- cleanup: clusters by PID, then the temporary folder, on every way out ----

const clusters = new Set<Cluster>();
let workDir: string | undefined;
/** With --tls: the certificate files, made under workDir by makeTlsFiles(). */
let tlsFiles: TlsFiles | undefined;

/** A CA, a certificate per member (both ports, server and client use) and a client's. */
async function makeTlsFiles(dir: string): Promise<TlsFiles> {
  const ca = await createCertificateAuthority("ordo bench:etcd CA", 2);
  const caFile = join(dir, "ca.pem");
  await writePemFiles(caFile, join(dir, "ca-key.pem"), ca);
  const members: { cert: string; key: string }[] = [];
  for (const name of ["n1", "n2", "n3"]) {
    const pair = await createSignedCertificate(ca, {
      commonName: name,
      hosts: ["127.0.0.1", "localhost"],
      usages: ["server", "client"],
      days: 2,
    });
    const files = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}-key.pem`) };
    await writePemFiles(files.cert, files.key, pair);
    members.push(files);
  }
  const clientPair = await createSignedCertificate(ca, {
    commonName: "root",
    usages: ["client"],
    days: 2,
  });
  const client = { cert: join(dir, "client.pem"), key: join(dir, "client-key.pem") };
  await writePemFiles(client.cert, client.key, clientPair);
  return { ca: caFile, members, client };
}

async function stopCluster(c: Cluster): Promise<void> {
  const t0 = Date.now();
  await c.stop();
  log(`${c.system} cluster stopped in ${Date.now() - t0} ms`);
  clusters.delete(c);
  rmSync(c.dir, { recursive: true, force: true });
}

async function cleanup(): Promise<void> {
  await Promise.all([...clusters].map((c) => stopCluster(c)));
  if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
  workDir = undefined;
}

let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: stopping the clusters and removing the data`);
    const force = setTimeout(() => {
      killAll();
      process.exit(130);
    }, 15_000);
    cleanup().finally(() => {
      clearTimeout(force);
      killAll();
      process.exit(130);
    });
  });
}
process.on("exit", () => {
  // Synchronous last resort (an uncaught error): nothing we started outlives us.
  killAll();
  if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
});

// ---- one run ----

/** The workload's --total at this --scale: at least 200, and one request per client. */
function totalOf(w: Workload): number {
  return Math.max(w.clients, 200, Math.round(w.total * scale));
}

async function benchmarkRun(
  tools: Tools,
  cluster: Cluster,
  w: Workload,
  rep: number,
  total: number,
): Promise<Run> {
  cluster.checkAlive();
  const { endpoints, leader } = await cluster.endpointsLeaderLast();
  const fsyncMetric = FSYNC_METRIC[cluster.system];
  const fsyncsBefore = w.writes ? await cluster.metric(leader, fsyncMetric) : undefined;
  const cpuBefore = cluster.pids.map(cpuSeconds);
  const args = [
    `--endpoints=${endpoints.join(",")}`,
    `--clients=${w.clients}`,
    `--conns=${w.conns}`,
    "--precise",
    "--dial-timeout=10s",
    ...cluster.clientTlsArgs,
    ...(w.targetLeader ? ["--target-leader"] : []),
    w.command,
    ...w.args(total),
  ];
  const base = { workload: w.id, system: cluster.system, rep, total, leader: leader.name };
  const r = await runCommand(tools.benchmark, args, runTimeoutMs).catch((e: unknown) => e as Error);
  const cpuAfter = cluster.pids.map(cpuSeconds);
  if (r instanceof Error) return { ...base, ok: false, error: r.message.split("\n")[0]! };
  if (r.code !== 0) {
    return {
      ...base,
      ok: false,
      error: `benchmark exited ${r.signal ?? r.code}: ${tail(r.stderr || r.stdout, 4).replace(/\s+/g, " ")}`,
    };
  }
  let report: ReturnType<typeof parseReport>;
  try {
    report = parseReport(r.stdout);
  } catch (e) {
    return { ...base, ok: false, error: (e as Error).message.split("\n")[0]! };
  }
  const fsyncsAfter = w.writes ? await cluster.metric(leader, fsyncMetric) : undefined;
  const cpu = cpuAfter.reduce((a, b) => a + b, 0) - cpuBefore.reduce((a, b) => a + b, 0);
  return {
    ...base,
    ok: true,
    rps: report.rps,
    p50Ms: report.p50 * 1000,
    p99Ms: report.p99 * 1000,
    seconds: report.totalSeconds,
    cpuSecondsPer1000: (cpu / total) * 1000,
    ...opt(
      "leaderFsyncsPerOp",
      fsyncsBefore !== undefined && fsyncsAfter !== undefined
        ? (fsyncsAfter - fsyncsBefore) / total
        : undefined,
    ),
    ...(report.errors.length > 0 ? { toolErrors: report.errors } : {}),
  };
}

async function startCluster(tools: Tools, system: SystemName, dir: string): Promise<Cluster> {
  const c = await Cluster.start(system, dir, PORTS[system], tools, tlsFiles);
  clusters.add(c);
  return c;
}

async function runWorkload(tools: Tools, w: Workload, runs: Run[]): Promise<void> {
  const total = totalOf(w);
  const dir = join(workDir!, w.id);
  const started: Cluster[] = [];
  let failedSystem: SystemName | undefined;
  try {
    const t0 = Date.now();
    const starts = await Promise.allSettled(
      (["ordo", "etcd"] as const).map((system) => startCluster(tools, system, join(dir, system))),
    );
    for (const s of starts) if (s.status === "fulfilled") started.push(s.value);
    for (const [i, s] of starts.entries()) {
      if (s.status === "rejected") {
        failedSystem = i === 0 ? "ordo" : "etcd";
        throw s.reason;
      }
    }
    log(`${w.id}: clusters healthy in ${Date.now() - t0} ms`);
    if (w.needsRangeKey) for (const c of started) await c.put(RANGE_KEY, "v".repeat(VALUE_BYTES));
    if (warmup > 0) {
      const warmupTotal = Math.max(w.clients, Math.round(total * warmup));
      for (const c of started) {
        const run = await benchmarkRun(tools, c, w, 0, warmupTotal);
        log(
          `${w.id} ${c.system} warm-up (${warmupTotal} requests, not recorded): ${run.ok ? `${run.rps!.toFixed(1)} req/s` : `FAILED ${run.error}`}`,
        );
      }
    }
    for (let rep = 1; rep <= reps; rep++) {
      const order = rep % 2 === 1 ? started : [...started].reverse();
      for (const c of order) {
        const run = await benchmarkRun(tools, c, w, rep, total);
        runs.push(run);
        stepDone(`${w.id} ${c.system} #${rep}`);
        log(
          run.ok
            ? `${w.id} ${c.system} #${rep}: ${run.rps!.toFixed(1)} req/s, p50 ${run.p50Ms!.toFixed(2)} ms, p99 ${run.p99Ms!.toFixed(2)} ms, ${run.cpuSecondsPer1000!.toFixed(3)} CPU s/1000${run.leaderFsyncsPerOp === undefined ? "" : `, ${run.leaderFsyncsPerOp.toFixed(3)} fsyncs/op`}${run.toolErrors ? ` ERRORS ${run.toolErrors.join("; ")}` : ""}`
            : `${w.id} ${c.system} #${rep}: FAILED ${run.error}`,
        );
      }
    }
  } catch (e) {
    // A cluster that would not start or died: the runs left are failures of that workload.
    const message = (e as Error).message.split("\n")[0]!;
    log(`${w.id}: ${message}`);
    const system = failedSystem ?? started.find((c) => !c.alive())?.system ?? "ordo";
    runs.push({ workload: w.id, system, rep: 0, total, ok: false, error: message });
  } finally {
    await Promise.all(started.map((c) => stopCluster(c)));
  }
}

// ---- memory ----

interface MemoryResult {
  readonly system: SystemName;
  readonly keys: number;
  readonly ok: boolean;
  readonly error?: string;
  readonly putRps?: number;
  readonly revision?: number;
  /** Bytes per member (n1, n2, n3). */
  readonly rssAfterPut?: number[];
  readonly rssAfterCompact?: number[];
}

/** Waits until every member has applied the leader's revision (bounded). */
async function waitConverged(
  tools: Tools,
  c: Cluster,
  revision: number,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const m of c.members) {
    for (;;) {
      const r = await runCommand(
        tools.etcdctl,
        [`--endpoints=${c.url(m)}`, ...c.clientTlsArgs, "endpoint", "status", "--write-out=json"],
        15_000,
      );
      const rev = Number(/"revision":(\d+)/.exec(r.stdout)?.[1] ?? 0);
      if (rev >= revision) break;
      if (Date.now() > deadline) throw new Error(`${c.system} ${m.name} stuck at revision ${rev}`);
      await new Promise((res) => setTimeout(res, 200));
    }
  }
}

async function memoryRun(tools: Tools, system: SystemName): Promise<MemoryResult> {
  let c: Cluster | undefined;
  try {
    c = await startCluster(tools, system, join(workDir!, `memory-${system}`));
    const { endpoints } = await c.endpointsLeaderLast();
    log(`memory ${system}: putting ${memoryKeys} keys`);
    const r = await runCommand(
      tools.benchmark,
      [
        `--endpoints=${endpoints.join(",")}`,
        "--clients=1000",
        "--conns=10",
        "--precise",
        "--dial-timeout=10s",
        ...c.clientTlsArgs,
        "put",
        `--key-size=${KEY_BYTES}`,
        `--val-size=${VALUE_BYTES}`,
        `--total=${memoryKeys}`,
        `--key-space-size=${memoryKeys}`,
        "--sequential-keys",
      ],
      Math.max(runTimeoutMs, memoryKeys * 3), // at least 333 puts/s
    );
    if (r.code !== 0)
      throw new Error(`benchmark exited ${r.code}: ${tail(r.stderr || r.stdout, 4)}`);
    const putRps = parseReport(r.stdout).rps;
    log(`memory ${system}: ${putRps.toFixed(0)} puts/s`);
    const { revision } = await c.leader();
    await waitConverged(tools, c, revision, 120_000);
    const rssAfterPut = c.pids.map(rssBytes);
    log(`memory ${system}: RSS ${rssAfterPut.map(mib).join(", ")}; compacting to ${revision}`);
    await c.compact(revision, true);
    await c.defrag(); // etcd gives the freed pages back; Ordo's Defragment is a no-op

    const rssAfterCompact = c.pids.map(rssBytes);
    log(`memory ${system}: RSS after compaction ${rssAfterCompact.map(mib).join(", ")}`);
    return {
      system,
      keys: memoryKeys,
      ok: true,
      putRps,
      revision,
      rssAfterPut,
      rssAfterCompact,
    };
  } catch (e) {
    const error = (e as Error).message.split("\n")[0]!;
    log(`memory ${system}: FAILED ${error}`);
    return { system, keys: memoryKeys, ok: false, error };
  } finally {
    if (c !== undefined) await stopCluster(c);
  }
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

function memoryTable(results: readonly MemoryResult[]): string {
  const lines = [
    `Memory: ${memoryKeys} keys of ${VALUE_BYTES} B (sequential), RSS per member (n1, n2, n3)`,
    "",
    "| system | put QPS | RSS after put | RSS after compact | max RSS after put, Ordo/etcd | after compact, Ordo/etcd |",
    "| --- | --- | --- | --- | --- | --- |",
  ];
  const ordo = results.find((r) => r.system === "ordo");
  const etcd = results.find((r) => r.system === "etcd");
  for (const r of results) {
    if (!r.ok) {
      lines.push(`| ${r.system} | failed: ${r.error} | | | | |`);
      continue;
    }
    const isOrdo = r.system === "ordo";
    const maxOf = (m: MemoryResult | undefined, k: "rssAfterPut" | "rssAfterCompact") =>
      m?.[k] === undefined ? undefined : Math.max(...m[k]!);
    lines.push(
      `| ${r.system} | ${r.putRps!.toFixed(0)} | ${r.rssAfterPut!.map(mib).join(", ")} | ${r.rssAfterCompact!.map(mib).join(", ")} | ${isOrdo ? (ratio(maxOf(ordo, "rssAfterPut"), maxOf(etcd, "rssAfterPut"))?.toFixed(2) ?? "") : ""} | ${isOrdo ? (ratio(maxOf(ordo, "rssAfterCompact"), maxOf(etcd, "rssAfterCompact"))?.toFixed(2) ?? "") : ""} |`,
    );
  }
  return lines.join("\n");
}

// ---- main ----

async function main(): Promise<number> {
  const tools = findTools();
  workDir = mkdtempSync(join(benchParent(), "ordo-bench-etcd-"));
  if (values.tls) tlsFiles = await makeTlsFiles(join(workDir, "tls"));
  const started = new Date();
  log(
    `${workloads.length} workload(s) × ${reps} rep(s) × 2 systems, scale ${scale}, memory phase ${memoryPhase ? `${memoryKeys} keys` : "off"}${values.tls ? ", mutual TLS on client and peer ports" : ""}; data under ${workDir}; tool ${tools.benchmark}`,
  );
  const runs: Run[] = [];
  for (const w of workloads) {
    if (interrupted) break;
    await runWorkload(tools, w, runs);
  }
  const memory: MemoryResult[] = [];
  if (memoryPhase && !interrupted) {
    for (const system of ["ordo", "etcd"] as const) {
      memory.push(await memoryRun(tools, system));
      stepDone(`memory ${system}`);
    }
  }
  progress.done(`${runs.length} runs`);
  await cleanup();
  if (liveChildren() > 0) log(`warning: ${liveChildren()} child process(es) still running`);

  const summaries = workloads.flatMap((w) =>
    (["ordo", "etcd"] as const).map((s) => summarize(w.id, s, runs)),
  );
  const ratios: Record<string, number> = {};
  for (const w of workloads) {
    const o = summaries.find((s) => s.workload === w.id && s.system === "ordo")!;
    const e = summaries.find((s) => s.workload === w.id && s.system === "etcd")!;
    const q = ratio(o.rps?.median, e.rps?.median);
    if (q !== undefined) ratios[w.id] = q;
  }
  for (const w of workloads) {
    const o = summaries.find((s) => s.workload === w.id && s.system === "ordo")!;
    const e = summaries.find((s) => s.workload === w.id && s.system === "etcd")!;
    const c = ratio(o.cpuSecondsPer1000, e.cpuSecondsPer1000);
    if (c !== undefined) ratios[`cpu_${w.id}`] = c;
  }
  const round = (x: number): number => Math.round(x * 100) / 100;
  for (const id of ["put_leader", "watch_latency"]) {
    for (const system of ["ordo", "etcd"] as const) {
      const s = summaries.find((x) => x.workload === id && x.system === system);
      if (s?.p50Ms !== undefined) ratios[`p50_${id}_${system}_ms`] = round(s.p50Ms);
      if (s?.p99Ms !== undefined) ratios[`p99_${id}_${system}_ms`] = round(s.p99Ms);
    }
  }
  const mo = memory.find((m) => m.system === "ordo" && m.ok);
  const me = memory.find((m) => m.system === "etcd" && m.ok);
  if (mo !== undefined && me !== undefined) {
    ratios.rss_after_put = ratio(Math.max(...mo.rssAfterPut!), Math.max(...me.rssAfterPut!))!;
    ratios.rss_after_compact = ratio(
      Math.max(...mo.rssAfterCompact!),
      Math.max(...me.rssAfterCompact!),
    )!;
  }

  const stamp = started.toISOString().replace(/[:.]/g, "-").slice(0, 19);
  const outFile = values.out ?? join(ROOT, "bench", "results", `etcd-${stamp}.json`);
  mkdirSync(join(outFile, ".."), { recursive: true });
  const etcdVersion = `etcd ${/etcd Version: (\S+)/.exec(execFileSync(tools.etcd, ["--version"]).toString())?.[1] ?? "?"}`;
  writeFileSync(
    outFile,
    `${JSON.stringify(
      {
        started: started.toISOString(),
        finished: new Date().toISOString(),
        machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version },
        etcd: etcdVersion,
        benchmark: tools.benchmark,
        config: {
          reps,
          scale,
          warmup,
          quick,
          memoryPhase,
          memoryKeys,
          ports: PORTS,
          ...(values.tls ? { tls: true } : {}),
        },
        workloads: workloads.map((w) => ({
          id: w.id,
          label: w.label,
          clients: w.clients,
          conns: w.conns,
          targetLeader: w.targetLeader,
          command: w.command,
          args: w.args(totalOf(w)),
        })),
        runs,
        summaries,
        memory,
        ratios,
      },
      null,
      2,
    )}\n`,
  );

  const out: string[] = [
    `## Ordo vs ${etcdVersion} — 3 members each on loopback, data on disk, etcd's benchmark tool${values.tls ? ", mutual TLS on client and peer ports" : ""}`,
    "",
    `${cpus().length} CPUs, ${reps} repetition(s) per system, alternating, after ${warmup > 0 ? `an unrecorded warm-up of ${warmup} × the requests` : "no warm-up"}; keys ${KEY_BYTES} B, values ${VALUE_BYTES} B; medians (QPS with [min–max]). CPU: utime+stime of the 3 members per 1000 requests (watch-latency: per 1000 puts). "1 conn" goes to a follower (endpoints listed leader last). watch-latency's QPS counts watch events received, its latency runs from the put's response to each watcher's event (the tool's definition).`,
    "",
    markdownTable(workloads, summaries),
  ];
  const failures = summaries.filter((s) => s.errors.length > 0);
  if (failures.length > 0) {
    out.push("", "Errors:");
    for (const s of failures)
      for (const e of s.errors) out.push(`- ${s.workload} ${s.system}: ${e}`);
  }
  if (memory.length > 0) out.push("", memoryTable(memory));
  out.push("", `raw results: ${outFile}`, "", JSON.stringify(ratios));
  process.stdout.write(`${out.join("\n")}\n`);
  return runs.some((r) => !r.ok) || memory.some((m) => !m.ok) ? 1 : 0;
}

main().then(
  async (code) => {
    await cleanup();
    process.exitCode = code;
  },
  async (error: unknown) => {
    log(`failed: ${error instanceof Error ? error.message : String(error)}`);
    await cleanup().catch(() => {});
    process.exitCode = 2;
  },
);
