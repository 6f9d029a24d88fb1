// A chaos run, start to end: start the members, start the clients, run the fault schedule,
// heal, wait for recovery, let the clients stop, then judge what they saw (checks.ts) and
// write the history and the report to the output directory.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HistoryOp } from "../check/index.js";
import { KvClient } from "../client/index.js";
import {
  type CheckResult,
  checkAckedWrites,
  checkHashes,
  checkHistory,
  checkLeases,
  checkReplays,
  checkVerdicts,
  checkWatches,
  type VerdictSample,
} from "./checks.js";
import { ChaosCluster } from "./cluster.js";
import type { MemberProcess } from "./member-process.js";
import type { LinkFault } from "./proxy.js";
import {
  buildSchedule,
  describeStep,
  type FaultKind,
  type FaultStep,
  type ScheduledStep,
  type Target,
} from "./schedule.js";
import {
  type AckedWrite,
  KEY_PREFIX,
  KvWorker,
  LeaseWorker,
  type SeenEvent,
  Watcher,
  wallMs,
} from "./workload.js";

export interface ChaosOptions {
  readonly seed: number;
  readonly nodes: number;
  readonly durationMs: number;
  readonly kinds: readonly FaultKind[];
  /** Where the history, report, logs and member data go; default a new temp dir. */
  readonly outDir?: string;
  /** Keep member data dirs of a passing run (a failing run always keeps them). */
  readonly keepData?: boolean;
  readonly tickMs?: number;
  readonly clients?: number;
  /** Passed to every member: `--unsafe-testing-fault NAME` (testing the checks only). */
  readonly unsafeTestingFault?: string;
  /** Progress lines. */
  readonly progress?: (line: string) => void;
  /**
   * Where the fault phase stands, every second (then the 5-second progress lines about the
   * operations are left out: this says it).
   */
  readonly onPhase?: (p: ChaosPhaseProgress) => void;
}

export interface ChaosPhaseProgress {
  readonly elapsedMs: number;
  readonly durationMs: number;
  readonly faultsDone: number;
  readonly faultsTotal: number;
  /** The last call: the whole schedule ran (which may take a little longer than durationMs). */
  readonly done: boolean;
  readonly ops: {
    readonly total: number;
    readonly ok: number;
    readonly unknown: number;
    readonly fail: number;
  };
}

export interface ChaosReport {
  readonly passed: boolean;
  readonly seed: number;
  readonly nodes: number;
  readonly durationMs: number;
  readonly faultKinds: readonly FaultKind[];
  readonly faults: Record<string, number>;
  readonly faultsFailed: readonly string[];
  readonly steps: readonly { atMs: number; description: string; applied: string }[];
  readonly operations: { ok: number; fail: number; unknown: number; total: number };
  readonly leaseOperations: { ok: number; fail: number; unknown: number };
  readonly checks: readonly CheckResult[];
  readonly outDir: string;
  readonly historyFile: string;
  readonly rerun: string;
  readonly elapsedMs: number;
  /** Every member process the run started (all ended when the run returns). */
  readonly pids: readonly number[];
}

const STARTUP_TIMEOUT_MS = 60_000;
const RECOVERY_TIMEOUT_MS = 60_000;
const CONVERGE_TIMEOUT_MS = 30_000;
/** After a fault starts, /status verdicts are judged once this has passed (elections, windows). */
const VERDICT_SETTLE_MS = 2_500;
const LEASE_TOLERANCE_MS = 2;
const READ_BACK_MAX = 20_000;

/** The command that reruns the same schedule. */
export function rerunCommand(o: ChaosOptions): string {
  const parts = [
    "ordo chaos",
    `--seed ${o.seed}`,
    `--nodes ${o.nodes}`,
    `--duration ${Math.round(o.durationMs / 1000)}`,
    `--faults ${o.kinds.join(",")}`,
  ];
  if (o.clients !== undefined) parts.push(`--clients ${o.clients}`);
  if (o.tickMs !== undefined) parts.push(`--tick-ms ${o.tickMs}`);
  if (o.unsafeTestingFault !== undefined)
    parts.push(`--unsafe-testing-fault ${o.unsafeTestingFault}`);
  return parts.join(" ");
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** The directed links a partition step cuts, whether its effect on quorum is judged, and its name. */
function partitionPairs(
  step: FaultStep & { kind: "partition" },
  names: readonly string[],
  target: string,
  minority: number,
): { pairs: [string, string][]; judged: boolean; text: string } {
  const others = names.filter((n) => n !== target);
  const both = (as: readonly string[], bs: readonly string[]): [string, string][] =>
    as.flatMap((a) =>
      bs.flatMap((b): [string, string][] => [
        [a, b],
        [b, a],
      ]),
    );
  switch (step.shape) {
    case "isolate":
      return { pairs: both([target], others), judged: true, text: `isolate ${target}` };
    case "split": {
      const side = [target];
      for (const i of step.others) {
        const n = names[i % names.length] as string;
        if (side.length < minority && !side.includes(n)) side.push(n);
      }
      const rest = names.filter((n) => !side.includes(n));
      return {
        pairs: both(side, rest),
        judged: true,
        text: `split ${side.join(",")} | ${rest.join(",")}`,
      };
    }
    case "one-way-out":
      return {
        pairs: others.map((o): [string, string] => [target, o]),
        judged: false,
        text: `${target} cannot send`,
      };
    case "one-way-in":
      return {
        pairs: others.map((o): [string, string] => [o, target]),
        judged: false,
        text: `${target} cannot hear`,
      };
    default: {
      const halfA = others.slice(0, others.length / 2);
      const halfB = others.slice(others.length / 2);
      return {
        pairs: both(halfA, halfB),
        judged: false,
        text: `bridge ${target} between ${halfA.join(",")} | ${halfB.join(",")}`,
      };
    }
  }
}

/** What an injected fault did, and what the judge then expects of each member (if anything). */
type Injected = { applied: string; judge?: { expect: (m: MemberProcess) => boolean } };

class FaultRunner {
  readonly samples: VerdictSample[] = [];
  readonly applied: { atMs: number; description: string; applied: string }[] = [];
  readonly counts: Record<string, number> = {};
  readonly failed: string[] = [];

  constructor(
    private readonly cluster: ChaosCluster,
    private readonly progress: (line: string) => void,
  ) {}

  private async resolve(targets: readonly Target[], count: number): Promise<MemberProcess[]> {
    const names = this.cluster.names;
    const chosen: string[] = [];
    for (const t of targets) {
      let name: string | undefined;
      if ("role" in t) name = (await this.cluster.leader())?.leader || undefined;
      else name = names[t.member % names.length];
      if (name !== undefined && !chosen.includes(name)) chosen.push(name);
    }
    for (const n of names) if (chosen.length < count && !chosen.includes(n)) chosen.push(n);
    return chosen.slice(0, count).map((n) => this.cluster.member(n));
  }

  async run(s: ScheduledStep, index: number, total: number): Promise<void> {
    const step = s.step;
    const started = performance.now();
    const description = describeStep(step);
    let applied = "";
    const judge: { expect: (m: MemberProcess) => boolean } | undefined = await (async () => {
      try {
        const r = await this.inject(step);
        applied = r.applied;
        return r.judge;
      } catch (e) {
        applied = `not injected: ${String((e as Error).message ?? e)}`;
        this.failed.push(`${description}: ${applied}`);
        return undefined;
      }
    })();
    this.counts[step.kind] = (this.counts[step.kind] ?? 0) + 1;
    this.applied.push({ atMs: Math.round(s.atMs), description, applied });
    this.progress(`fault ${index + 1}/${total}: ${applied || description}`);
    // Verdicts are judged once the fault has held long enough for elections and the /status
    // window to settle, and again just before it heals.
    const sampleAt = [VERDICT_SETTLE_MS, step.holdMs - 500].filter(
      (t, i) => t <= step.holdMs - 400 && (i === 0 || t - VERDICT_SETTLE_MS > 700),
    );
    for (const at of sampleAt) {
      await sleep(started + at - performance.now());
      if (judge !== undefined) await this.sample(judge.expect, description);
    }
    await sleep(started + step.holdMs - performance.now());
    await this.heal(step);
  }

  private async sample(expect: (m: MemberProcess) => boolean, step: string): Promise<void> {
    const members = this.cluster.members.filter((m) => m.state === "running");
    const statuses = await Promise.all(members.map((m) => this.cluster.status(m)));
    for (const [i, m] of members.entries()) {
      const s = statuses[i];
      if (s === undefined) continue;
      this.samples.push({
        atMs: wallMs(),
        step,
        member: m.name,
        expectQuorum: expect(m),
        verdict: s.verdict,
      });
    }
  }

  /** Who is in a component of at least a majority of running members, given cut pairs. */
  private quorumOf(cut: (a: string, b: string) => boolean): (m: MemberProcess) => boolean {
    return (m) => {
      const running = this.cluster.members.filter((x) => x.state === "running");
      const reach = running.filter(
        (x) => x === m || (!cut(m.name, x.name) && !cut(x.name, m.name)),
      );
      return m.state === "running" && reach.length >= this.cluster.majority;
    };
  }

  private setLinks(pairs: readonly (readonly [string, string])[], fault: LinkFault): void {
    for (const [a, b] of pairs) this.cluster.network.setLink(a, b, fault);
  }

  private async inject(step: FaultStep): Promise<Injected> {
    const c = this.cluster;
    const minority = Math.floor((c.members.length - 1) / 2);
    const noCut = this.quorumOf(() => false);
    switch (step.kind) {
      case "kill": {
        const ms = await this.resolve(step.targets, Math.min(step.targets.length, minority));
        await Promise.all(ms.map((m) => m.kill9()));
        this.down = ms;
        return { applied: `kill -9 ${ms.map((m) => m.name).join(" ")}`, judge: { expect: noCut } };
      }
      case "pause": {
        const ms = await this.resolve(step.targets, Math.min(step.targets.length, minority));
        for (const m of ms) m.pause();
        this.down = ms;
        return { applied: `SIGSTOP ${ms.map((m) => m.name).join(" ")}`, judge: { expect: noCut } };
      }
      case "quorum-loss": {
        const ms = await this.resolve(
          step.members.map((member) => ({ member })),
          c.majority,
        );
        if (step.how === "kill") await Promise.all(ms.map((m) => m.kill9()));
        else for (const m of ms) m.pause();
        this.down = ms;
        return {
          applied: `quorum loss: ${step.how === "kill" ? "kill -9" : "SIGSTOP"} ${ms.map((m) => m.name).join(" ")}`,
          judge: { expect: noCut },
        };
      }
      case "partition":
        return this.partition(step, minority);
      case "slow":
      case "lossy":
        return this.degradeLinks(step, noCut);
      case "transfer":
        return { applied: await this.transfer(step.to) };
      case "restart": {
        const [m] = await this.resolve([step.target], 1);
        const member = m as MemberProcess;
        await member.stop();
        await member.start();
        return { applied: `restart ${member.name} (SIGTERM, start)` };
      }
    }
  }

  private async partition(
    step: Extract<FaultStep, { kind: "partition" }>,
    minority: number,
  ): Promise<Injected> {
    const [t] = await this.resolve([step.target], 1);
    const target = (t as MemberProcess).name;
    const { pairs, judged, text } = partitionPairs(step, this.cluster.names, target, minority);
    this.setLinks(pairs, { cut: step.mode });
    const cutSet = new Set(pairs.map(([a, b]) => `${a}>${b}`));
    return {
      applied: `partition ${text} (${step.mode})`,
      ...(judged ? { judge: { expect: this.quorumOf((a, b) => cutSet.has(`${a}>${b}`)) } } : {}),
    };
  }

  /** Slow or lossy links, both ways, between one member and every other. */
  private async degradeLinks(
    step: Extract<FaultStep, { kind: "slow" | "lossy" }>,
    noCut: (m: MemberProcess) => boolean,
  ): Promise<Injected> {
    const [t] = await this.resolve([step.target], 1);
    const target = (t as MemberProcess).name;
    const pairs = this.cluster.names
      .filter((n) => n !== target)
      .flatMap((o): [string, string][] => [
        [target, o],
        [o, target],
      ]);
    const fault: LinkFault =
      step.kind === "slow"
        ? { delayMs: step.delayMs, jitterMs: step.jitterMs }
        : { cutChance: step.cutChance, delayMs: step.delayMs };
    this.setLinks(pairs, fault);
    return step.kind === "slow"
      ? {
          applied: `slow links of ${target} (${step.delayMs}±${step.jitterMs} ms)`,
          judge: { expect: noCut },
        }
      : {
          applied: `lossy links of ${target} (reset ${Math.round(step.cutChance * 100)}% of chunks)`,
        };
  }

  /** Moves leadership to the member at `toIndex` (the next one if it leads already). */
  private async transfer(toIndex: number): Promise<string> {
    const c = this.cluster;
    // Right after a heal the cluster may still be electing, or a target just back from a
    // fault still catching up: look for a leader (bounded) and try the transfer up to three
    // times; each try asks afresh who leads. Only three failures in a row count as not
    // injected.
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      if (attempt > 0) await sleep(500);
      let statuses = await c.statuses();
      let leader = [...statuses.values()].find((s) => s.role === "Leader");
      for (let i = 0; i < 50 && leader === undefined; i++) {
        await sleep(100);
        statuses = await c.statuses();
        leader = [...statuses.values()].find((s) => s.role === "Leader");
      }
      if (leader === undefined) {
        lastError = new Error("no leader to transfer from");
        continue;
      }
      let to = c.names[toIndex % c.names.length] as string;
      if (to === leader.name) to = c.names[(toIndex + 1) % c.names.length] as string;
      const targetId = statuses.get(to)?.memberId;
      if (targetId === undefined || targetId === "") {
        lastError = new Error(`no member id for ${to}`);
        continue;
      }
      const client = new KvClient(c.endpoints, { timeoutMs: 6000 });
      try {
        await client.moveLeader(targetId);
        const tries = attempt === 0 ? "" : ` (try ${attempt + 1})`;
        return `leader transfer ${leader.name} → ${to}${tries}`;
      } catch (e) {
        lastError = e;
      } finally {
        client.close();
      }
    }
    throw lastError instanceof Error ? lastError : new Error(String(lastError));
  }

  private down: MemberProcess[] = [];

  private async heal(step: FaultStep): Promise<void> {
    this.cluster.network.heal();
    const down = this.down;
    this.down = [];
    for (const m of down) m.resume();
    if (step.kind === "kill" || step.kind === "quorum-loss")
      await Promise.all(down.filter((m) => m.state === "down").map((m) => m.start()));
  }
}

function sum(counts: readonly { ok: number; fail: number; unknown: number }[]) {
  const total = { ok: 0, fail: 0, unknown: 0, total: 0 };
  for (const c of counts) {
    total.ok += c.ok;
    total.fail += c.fail;
    total.unknown += c.unknown;
  }
  total.total = total.ok + total.fail + total.unknown;
  return total;
}

/** Replays the run's revisions from one member: a single-endpoint watch from `from` to `to`. */
async function replay(
  endpoint: string,
  from: number,
  to: number,
  timeoutMs: number,
): Promise<SeenEvent[] | string> {
  if (to < from) return [];
  const w = new Watcher(`replay ${endpoint}`, [endpoint], from);
  try {
    const ok = await w.reached(to, timeoutMs);
    if (!ok) return `replay from ${endpoint} stopped at revision ${w.lastRevision} of ${to}`;
    return w.events.filter((e) => e.revision <= to);
  } finally {
    await w.close();
  }
}

/** The run's clients: KV workers (writers and per-member readers), one watcher per member, leases. */
interface Load {
  readonly workers: KvWorker[];
  readonly watchers: Watcher[];
  readonly leaseWorker: LeaseWorker;
}

/** Starts the clients against the cluster; watchers from `startRevision`. */
function startLoad(cluster: ChaosCluster, o: ChaosOptions, startRevision: number): Load {
  const watchers: Watcher[] = [];
  for (let i = 0; i < o.nodes; i++)
    watchers.push(new Watcher(`watch@n${i + 1}`, cluster.endpointsFrom(i), startRevision));
  const workers: KvWorker[] = [];
  const clients = o.clients ?? o.nodes + 1;
  // More keys for longer runs: each key's sub-history stays small enough to search.
  const keys = Math.min(256, Math.max(12, Math.round(o.durationMs / 10_000)));
  for (let i = 0; i < clients; i++) {
    workers.push(
      new KvWorker({
        id: `c${i + 1}`,
        endpoints: cluster.endpointsFrom(i % o.nodes),
        exactlyOnce: i % 2 === 1,
        keys,
        seed: o.seed * 31 + i,
        timeoutMs: 1000,
        thinkMs: 10,
        opsMax: 1_000_000,
      }),
    );
  }
  for (const [i, m] of cluster.members.entries()) {
    workers.push(
      new KvWorker({
        id: `r${i + 1}`,
        endpoints: [m.endpoint],
        exactlyOnce: false,
        keys,
        seed: o.seed * 37 + i,
        timeoutMs: 1000,
        thinkMs: 20,
        opsMax: 1_000_000,
        readOnly: true,
      }),
    );
  }
  for (const w of workers) w.start();
  const leaseWorker = new LeaseWorker(cluster.endpoints, o.seed * 17 + 5, 20_000);
  leaseWorker.start();
  return { workers, watchers, leaseWorker };
}

/** Injects the schedule's faults at their times, reporting progress every 5 s. */
async function runSchedule(
  o: ChaosOptions,
  schedule: ReturnType<typeof buildSchedule>,
  faults: FaultRunner,
  load: Load,
  progress: (line: string) => void,
): Promise<void> {
  progress(
    `running ${schedule.length} faults over ${Math.round(o.durationMs / 1000)} s (seed ${o.seed})`,
  );
  const phaseStart = performance.now();
  let faultsDone = 0;
  const onPhase = o.onPhase;
  const phase = (done: boolean): ChaosPhaseProgress => ({
    elapsedMs: performance.now() - phaseStart,
    durationMs: o.durationMs,
    faultsDone,
    faultsTotal: schedule.length,
    done,
    ops: sum(load.workers.map((w) => w.counts)),
  });
  const ticker = setInterval(
    () => {
      if (onPhase !== undefined) {
        onPhase(phase(false));
        return;
      }
      const ops = sum(load.workers.map((w) => w.counts));
      const t = Math.round((performance.now() - phaseStart) / 1000);
      progress(
        `${t}s/${Math.round(o.durationMs / 1000)}s ops ${ops.total} (ok ${ops.ok}, unknown ${ops.unknown}, fail ${ops.fail}) leases ${load.leaseWorker.leases.length}`,
      );
    },
    onPhase !== undefined ? 1000 : 5000,
  );
  try {
    for (const [i, s] of schedule.entries()) {
      await sleep(phaseStart + s.atMs - performance.now());
      await faults.run(s, i, schedule.length);
      faultsDone = i + 1;
    }
    await sleep(phaseStart + o.durationMs - performance.now());
    onPhase?.(phase(true));
  } finally {
    clearInterval(ticker);
  }
}

/** Heals every fault, restarts what is down, and checks the cluster recovers. */
async function heal(cluster: ChaosCluster): Promise<CheckResult> {
  cluster.network.heal();
  for (const m of cluster.members) m.resume();
  await cluster.startAll();
  const healed = await cluster.waitHealthy(RECOVERY_TIMEOUT_MS);
  return {
    name: "recovered after healing",
    passed: healed.ok,
    detail: healed.ok
      ? `every member healthy, leader ${[...healed.statuses.values()][0]?.leader}`
      : [...healed.statuses.values()]
          .map((s) => `${s.name}: ${s.verdict} ${s.reasons.join(",")}`)
          .join("; ") || "no member answered",
  };
}

/** Waits until every member is at one revision; else a failed check and the lowest revision. */
async function converge(
  cluster: ChaosCluster,
  nodes: number,
): Promise<{ readonly revision: number; readonly failed?: CheckResult }> {
  const deadline = performance.now() + CONVERGE_TIMEOUT_MS;
  for (let i = 0; i < 10_000 && performance.now() < deadline; i++) {
    const st = [...(await cluster.statuses()).values()];
    const revs = new Set(st.map((s) => s.revision));
    if (st.length === nodes && revs.size === 1) return { revision: st[0]?.revision ?? 0 };
    await sleep(200);
  }
  const st = [...(await cluster.statuses()).values()];
  return {
    revision: Math.min(...st.map((s) => s.revision)),
    failed: {
      name: "members converged",
      passed: false,
      detail: st.map((s) => `${s.name}@${s.revision}`).join(" "),
    },
  };
}

/**
 * The checks at the end, at `finalRevision`: members' hashes, their replayed histories, every
 * acknowledged write, every watch stream, lease expiry, the verdicts seen during faults, member
 * crashes and the clients' history's linearizability.
 */
async function judge(
  cluster: ChaosCluster,
  o: ChaosOptions,
  load: Load,
  faults: FaultRunner,
  history: readonly HistoryOp[],
  revisions: { readonly start: number; readonly final: number },
  progress: (line: string) => void,
): Promise<CheckResult[]> {
  const checks: CheckResult[] = [];
  const finalRevision = revisions.final;
  const hashClient = new KvClient(cluster.endpoints, { timeoutMs: 5000 });
  try {
    const hashes = new Map<string, { hash: number; revision: number } | string>();
    for (const [i, m] of cluster.members.entries()) {
      try {
        hashes.set(m.name, await hashClient.hashKv(i, finalRevision));
      } catch (e) {
        hashes.set(m.name, `error ${String((e as Error).message)}`);
      }
    }
    checks.push(checkHashes(hashes, finalRevision));

    // Replays of every member, from the run's first revision to the final one.
    const replays = new Map<string, SeenEvent[]>();
    for (const m of cluster.members) {
      const r = await replay(m.endpoint, revisions.start, finalRevision, 20_000);
      if (typeof r === "string")
        checks.push({ name: "members' histories agree", passed: false, detail: r });
      else replays.set(m.name, r);
    }
    if (replays.size === o.nodes) checks.push(checkReplays(replays));
    const truth = [...replays.values()][0] ?? [];

    // Acknowledged writes: in the history, and read back at their revision.
    const acked: AckedWrite[] = load.workers.flatMap((w) => w.acked);
    checks.push(checkAckedWrites(acked, truth, await readBack(hashClient, acked)));
    checks.push(await judgeWatches(load.watchers, truth, finalRevision));
    checks.push(judgeLeases(load));
    checks.push(checkVerdicts(faults.samples));
    checks.push(judgeExits(cluster));
  } finally {
    hashClient.close();
  }
  progress(`checking linearizability of ${history.length} operations`);
  checks.push(checkHistory([...history]));
  return checks;
}

/** What a sample of acknowledged writes reads back at their revisions (16 at a time). */
async function readBack(
  client: KvClient,
  acked: readonly AckedWrite[],
): Promise<Map<string, string | null>> {
  const read = new Map<string, string | null>();
  const sample = acked.slice(0, READ_BACK_MAX);
  for (let i = 0; i < sample.length; i += 16) {
    await Promise.all(
      sample.slice(i, i + 16).map(async (w) => {
        try {
          const r = await client.get(w.key, { revision: w.revision });
          read.set(`${w.key}@${w.revision}`, r.kvs[0]?.value ?? null);
        } catch {
          // Not read back: the history check still covers it.
        }
      }),
    );
  }
  return read;
}

/** Watches: each long-running stream delivered exactly the history. */
async function judgeWatches(
  watchers: readonly Watcher[],
  truth: readonly SeenEvent[],
  finalRevision: number,
): Promise<CheckResult> {
  const lastInTruth = truth.at(-1)?.revision ?? 0;
  await Promise.all(watchers.map((w) => w.reached(lastInTruth, 20_000)));
  return checkWatches(
    new Map(
      watchers.map((w) => [
        w.id,
        {
          events: w.events,
          reconnects: w.reconnects,
          ...(w.error !== undefined ? { error: w.error } : {}),
        },
      ]),
    ),
    [...truth],
    finalRevision,
  );
}

/** Leases: each lease key's delete, as first seen by any watcher, within the tolerance. */
function judgeLeases(load: Load): CheckResult {
  const deletedAt = new Map<string, number>();
  for (const w of load.watchers)
    for (const e of w.events)
      if (e.type === "delete")
        deletedAt.set(e.key, Math.min(deletedAt.get(e.key) ?? Infinity, e.atMs));
  return checkLeases(load.leaseWorker.leases, deletedAt, LEASE_TOLERANCE_MS);
}

/** Every member exit was one the chaos caused. */
function judgeExits(cluster: ChaosCluster): CheckResult {
  const crashed = cluster.members.filter((m) => m.unexpectedExits.length > 0);
  return {
    name: "no member crashed",
    passed: crashed.length === 0,
    detail:
      crashed.length === 0
        ? `${cluster.members.reduce((n, m) => n + m.starts, 0)} starts, every exit caused by chaos`
        : crashed
            .map((m) => `${m.name} exited by itself: ${m.unexpectedExits.join(", ")}`)
            .join("; "),
  };
}

/** Whatever ends this process, the members it started end with it (SIGKILL by their PIDs). */
function killMembersOnExit(cluster: ChaosCluster): () => void {
  const killOnExit = (): void => cluster.killAll();
  const onSignal = (signal: NodeJS.Signals): void => {
    cluster.killAll();
    process.kill(process.pid, signal);
  };
  process.once("exit", killOnExit);
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  process.once("SIGHUP", onSignal);
  return () => {
    process.off("exit", killOnExit);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    process.off("SIGHUP", onSignal);
  };
}

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const began = performance.now();
  const progress = o.progress ?? (() => {});
  const outDir = o.outDir ?? (await mkdtemp(join(tmpdir(), `ordo-chaos-${o.seed}-`)));
  await mkdir(outDir, { recursive: true });
  const schedule = buildSchedule({
    seed: o.seed,
    nodes: o.nodes,
    durationMs: o.durationMs,
    kinds: o.kinds,
  });
  const unsafe = o.unsafeTestingFault;
  const cluster = await ChaosCluster.create({
    nodes: o.nodes,
    root: outDir,
    tickMs: o.tickMs ?? 50,
    ...(unsafe !== undefined
      ? {
          extraArgs: ["--unsafe-testing-fault", unsafe],
          env: { ORDO_UNSAFE_TESTING_FAULTS: "i-know-this-breaks-safety" },
        }
      : {}),
  });
  const forgetExitHandlers = killMembersOnExit(cluster);
  const state: RunState = { checks: [], load: undefined, history: [] };
  const faults = new FaultRunner(cluster, progress);
  try {
    progress(`starting ${o.nodes} members in ${outDir}`);
    await runPhases(cluster, o, schedule, faults, state, progress);
  } catch (e) {
    const detail = String((e as Error).stack ?? e);
    state.checks.push({ name: "run completed", passed: false, detail });
  } finally {
    const load = state.load;
    for (const w of load?.workers ?? []) await w.stop().catch(() => {});
    await load?.leaseWorker.stop().catch(() => {});
    await Promise.all((load?.watchers ?? []).map((w) => w.close().catch(() => {})));
    await cluster.close().catch(() => cluster.killAll());
    forgetExitHandlers();
  }
  return writeReport(o, outDir, cluster, faults, state, began);
}

/** What a run gathers as it goes, kept when it is cut short. */
interface RunState {
  readonly checks: CheckResult[];
  load: Load | undefined;
  history: HistoryOp[];
}

/** Start, load, faults, heal, converge, judge: the checks go into `state`. */
async function runPhases(
  cluster: ChaosCluster,
  o: ChaosOptions,
  schedule: ReturnType<typeof buildSchedule>,
  faults: FaultRunner,
  state: RunState,
  progress: (line: string) => void,
): Promise<void> {
  const { checks } = state;
  await cluster.startAll();
  const up = await cluster.waitHealthy(STARTUP_TIMEOUT_MS);
  if (!up.ok) throw new Error("the cluster did not become healthy at the start");
  const probe = new KvClient(cluster.endpoints, { timeoutMs: 3000 });
  const startRevision =
    (await probe.get(KEY_PREFIX, { prefix: true, countOnly: true })).revision + 1;
  probe.close();
  const load = startLoad(cluster, o, startRevision);
  state.load = load;
  await runSchedule(o, schedule, faults, load, progress);

  progress("healing; waiting for recovery");
  checks.push(await heal(cluster));
  // The clients run on a little against the healed cluster, then stop (in-flight ops end).
  await sleep(1000);
  await Promise.all(load.workers.map((w) => w.stop()));
  await load.leaseWorker.stop();
  state.history = load.workers.flatMap((w) => w.history);

  // Converge: every member at the same revision; then judge at that revision.
  const converged = await converge(cluster, o.nodes);
  if (converged.failed !== undefined) checks.push(converged.failed);
  const revisions = { start: startRevision, final: converged.revision };
  checks.push(...(await judge(cluster, o, load, faults, state.history, revisions, progress)));
}

/** history.json, report.json and verdicts.json; the data removed after a passing run. */
async function writeReport(
  o: ChaosOptions,
  outDir: string,
  cluster: ChaosCluster,
  faults: FaultRunner,
  state: RunState,
  began: number,
): Promise<ChaosReport> {
  const { checks } = state;
  const workers = state.load?.workers ?? [];
  const leaseWorker = state.load?.leaseWorker;
  // Written whatever happened: a run cut short still leaves what the clients saw.
  const history = state.history.length === 0 ? workers.flatMap((w) => w.history) : state.history;
  const historyFile = join(outDir, "history.json");
  await writeFile(historyFile, `${JSON.stringify(history)}\n`);
  const passed = checks.length > 0 && checks.every((c) => c.passed);
  const report: ChaosReport = {
    passed,
    seed: o.seed,
    nodes: o.nodes,
    durationMs: o.durationMs,
    faultKinds: o.kinds,
    faults: faults.counts,
    faultsFailed: faults.failed,
    steps: faults.applied,
    operations: sum(workers.map((w) => w.counts)),
    leaseOperations: leaseWorker?.counts ?? { ok: 0, fail: 0, unknown: 0 },
    checks,
    outDir,
    historyFile,
    rerun: rerunCommand(o),
    elapsedMs: Math.round(performance.now() - began),
    pids: cluster.members.flatMap((m) => m.pids),
  };
  await writeFile(join(outDir, "report.json"), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(outDir, "verdicts.json"), `${JSON.stringify(faults.samples)}\n`);
  if (passed && o.keepData !== true)
    await rm(join(outDir, "data"), { recursive: true, force: true });
  return report;
}
