// Medians, ranges and the Markdown table of the etcd benchmark.
import type { SystemName } from "./clusters.js";
import type { Workload } from "./workloads.js";

/** One run of one workload against one system. */
export interface Run {
  readonly workload: string;
  readonly system: SystemName;
  readonly rep: number;
  readonly total: number;
  readonly ok: boolean;
  readonly error?: string;
  readonly rps?: number;
  /** Milliseconds. */
  readonly p50Ms?: number;
  readonly p99Ms?: number;
  readonly seconds?: number;
  /** utime + stime of the three members during the run, per 1000 requests. */
  readonly cpuSecondsPer1000?: number;
  /** The leader's WAL fsyncs during the run per request (writes only). */
  readonly leaderFsyncsPerOp?: number;
  readonly leader?: string;
  readonly toolErrors?: string[];
}

export interface Summary {
  readonly workload: string;
  readonly system: SystemName;
  readonly runs: number;
  readonly failed: number;
  readonly rps?: { median: number; min: number; max: number };
  readonly p50Ms?: number;
  readonly p99Ms?: number;
  readonly cpuSecondsPer1000?: number;
  readonly leaderFsyncsPerOp?: number;
  readonly errors: string[];
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function medianOf(runs: readonly Run[], pick: (r: Run) => number | undefined): number | undefined {
  const xs = runs.map(pick).filter((x): x is number => x !== undefined && Number.isFinite(x));
  return xs.length === 0 ? undefined : median(xs);
}

export function summarize(workload: string, system: SystemName, runs: readonly Run[]): Summary {
  const mine = runs.filter((r) => r.workload === workload && r.system === system);
  const ok = mine.filter((r) => r.ok);
  const rpss = ok.map((r) => r.rps!);
  const errors = [
    ...new Set(
      mine.flatMap((r) => [...(r.error === undefined ? [] : [r.error]), ...(r.toolErrors ?? [])]),
    ),
  ];
  const s: Summary = {
    workload,
    system,
    runs: mine.length,
    failed: mine.length - ok.length,
    errors,
  };
  if (ok.length === 0) return s;
  return {
    ...s,
    rps: { median: median(rpss), min: Math.min(...rpss), max: Math.max(...rpss) },
    ...opt(
      "p50Ms",
      medianOf(ok, (r) => r.p50Ms),
    ),
    ...opt(
      "p99Ms",
      medianOf(ok, (r) => r.p99Ms),
    ),
    ...opt(
      "cpuSecondsPer1000",
      medianOf(ok, (r) => r.cpuSecondsPer1000),
    ),
    ...opt(
      "leaderFsyncsPerOp",
      medianOf(ok, (r) => r.leaderFsyncsPerOp),
    ),
  };
}

/** {key: value} when value is defined, else {} (for exactOptionalPropertyTypes). */
export function opt<K extends string, V>(key: K, value: V | undefined): { [k in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [k in K]?: V };
}

const fmt = (x: number | undefined, digits = 2): string =>
  x === undefined ? "–" : x >= 100 ? x.toFixed(0) : x.toFixed(digits);

export function ratio(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined || b === 0
    ? undefined
    : Math.round((a / b) * 100) / 100;
}

export function markdownTable(
  workloads: readonly Workload[],
  summaries: readonly Summary[],
): string {
  const lines = [
    "| workload | system | QPS median [min–max] | p50 ms | p99 ms | CPU s/1000 ops | leader fsyncs/op | Ordo/etcd QPS |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const w of workloads) {
    const ordo = summaries.find((s) => s.workload === w.id && s.system === "ordo");
    const etcd = summaries.find((s) => s.workload === w.id && s.system === "etcd");
    if (ordo === undefined || etcd === undefined) continue;
    for (const s of [ordo, etcd]) {
      const qps =
        s.rps === undefined
          ? `failed (${s.failed}/${s.runs})`
          : `${fmt(s.rps.median, 1)} [${fmt(s.rps.min, 1)}–${fmt(s.rps.max, 1)}]${s.failed > 0 ? ` (${s.failed} failed)` : ""}`;
      const r = s.system === "ordo" ? ratio(ordo.rps?.median, etcd.rps?.median) : undefined;
      lines.push(
        `| ${s.system === "ordo" ? `${w.id}: ${w.label}` : ""} | ${s.system} | ${qps} | ${fmt(s.p50Ms)} | ${fmt(s.p99Ms)} | ${fmt(s.cpuSecondsPer1000, 3)} | ${w.writes ? fmt(s.leaderFsyncsPerOp, 3) : ""} | ${r === undefined ? "" : r.toFixed(2)} |`,
      );
    }
  }
  return lines.join("\n");
}
