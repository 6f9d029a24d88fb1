// The verdict on a run, once it has ended: the members of the final configuration must have
// converged (same state at the same applied index, a leader, every client served after the
// heal), the history (with each member's final state read into it) must be linearizable, and
// Raft's invariants, checked at every step, must have held. The outcome is a SimResult.
import { checkLinearizable, type HistoryOp, type InvariantViolation } from "../check/index.js";
import type { SimMember } from "./member.js";
import type { Workload } from "./workload.js";
import { EVENTS_MAX, type SimWorld } from "./world.js";

export interface SimResult {
  readonly seed: number;
  readonly nodes: number;
  readonly ok: boolean;
  readonly violations: readonly InvariantViolation[];
  readonly linearizable: boolean | "unknown";
  readonly linearizabilityDetail: string;
  readonly livenessFailures: readonly string[];
  readonly ops: number;
  readonly opsOk: number;
  readonly virtualMs: number;
  readonly events: number;
  readonly traceHash: string;
  readonly trace: readonly string[];
  readonly history: readonly HistoryOp[] | undefined;
  /** With --reconfig: the membership changes applied and leadership transfers completed. */
  readonly reconfigs: readonly string[];
  /** Members restarted with a wiped disk under their old id. */
  readonly wipes: number;
  /** Messages refused for a stale incarnation (from or to a wiped member). */
  readonly incarnationRefusals: number;
  /** Members that stopped for good because a peer refused their incarnation. */
  readonly fenced: readonly string[];
}

/** What the verdict reads besides the world: the run's jobs' tallies. */
export interface VerdictInputs {
  readonly world: SimWorld;
  readonly workload: Workload;
  readonly nodeCount: number;
  /** The members of the final configuration (reconfiguration.ts). */
  readonly configurationMembers: () => SimMember[];
  readonly reconfigs: readonly string[];
  readonly wipes: number;
  readonly incarnationRefusals: number;
}

export function judge(inputs: VerdictInputs): SimResult {
  const { world, workload } = inputs;
  if (world.invariants.ok && world.events <= EVENTS_MAX) checkConvergence(inputs);
  const history = workload.history as HistoryOp[];
  let linearizable: boolean | "unknown" = true;
  let linearizabilityDetail = "";
  let linearizability: ReturnType<typeof checkLinearizable> | undefined;
  if (world.invariants.ok) {
    const res = checkLinearizable(history);
    linearizability = res;
    linearizable = res.ok;
    if (res.ok === false) linearizabilityDetail = JSON.stringify(res).slice(0, 4000);
  }
  const ok = world.invariants.ok && linearizable === true && world.livenessFailures.length === 0;
  world.observer?.finished({
    now: world.now,
    healMs: world.healTime,
    history,
    linearizability,
    livenessFailures: [...world.livenessFailures],
    traceTail: world.log.tail(),
    ok,
  });
  return {
    seed: world.options.seed,
    nodes: inputs.nodeCount,
    ok,
    violations: world.invariants.violations,
    linearizable,
    linearizabilityDetail,
    livenessFailures: world.livenessFailures,
    ops: history.length,
    opsOk: history.filter((h) => h.status === "ok").length,
    virtualMs: world.now,
    events: world.events,
    traceHash: world.log.hashHex(),
    trace: ok ? [] : world.log.tail(),
    history: world.options.keepHistory ? history : undefined,
    reconfigs: [...inputs.reconfigs],
    wipes: inputs.wipes,
    incarnationRefusals: inputs.incarnationRefusals,
    fenced: world.nodes.filter((n) => n.fenced).map((n) => n.id as string),
  };
}

/** Convergence: after recovery every node holds the same state at the same applied index. */
function checkConvergence(inputs: VerdictInputs): void {
  const { world, workload } = inputs;
  const failures = world.livenessFailures;
  if (world.currentLeader() === undefined)
    failures.push("no leader at the end of the recovery phase");
  const members = inputs.configurationMembers();
  const applied = new Map<string, number>();
  for (const n of members) applied.set(n.id, n.appliedIndex);
  world.invariants.checkFinal(applied);
  const digests = new Set(members.map((n) => `${n.appliedIndex}:${n.stateDigest()}`));
  if (digests.size > 1) {
    failures.push(
      `replicas did not converge: ${members.map((n) => `${n.id}@${n.appliedIndex}`).join(" ")}`,
    );
  }
  if (digests.size === 1) {
    // Final reads: every member's state, read locally at the end, joins the history, so an
    // acknowledged write missing from the converged state fails the linearizability check.
    for (const n of members) {
      for (const key of workload.keys) {
        workload.history.push({
          client: `final-${n.id}`,
          op: "get",
          key,
          invoke: world.now + 1,
          complete: world.now + 1,
          status: "ok",
          output: n.localGet(key),
        });
      }
    }
  }
  for (const c of workload.clients) {
    const okAfterHeal = workload.history.some(
      (h) => h.client === c.id && h.status === "ok" && h.invoke >= world.healTime,
    );
    if (!okAfterHeal) failures.push(`client ${c.id} completed no operation after healing`);
  }
}
