// The fault schedule of a chaos run: a plain list of steps drawn from one seeded PRNG, so the
// same (seed, nodes, duration, fault kinds) always gives the same schedule, and a failing run
// is rerun by its seed. The schedule names what to do, not to whom it happens at run time:
// "the leader" is resolved when the step starts (who leads then depends on the real processes).
//
// Steps run one after another, each holding its fault for holdMs and then healing it, with a
// gap between steps. Every selected kind appears once per round, in a seeded order, so a run
// long enough for one round injects every kind.
import { Xoshiro128 } from "../raft/index.js";

export const FAULT_KINDS = [
  "kill",
  "pause",
  "partition",
  "slow",
  "lossy",
  "transfer",
  "restart",
  "quorum-loss",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Whom a step hits: the leader at that time, or members chosen by the seed (by index). */
export type Target = { readonly role: "leader" } | { readonly member: number };

/** How a partitioned link behaves: its connections stall (TCP flow control) or are reset. */
export type CutMode = "stall" | "reset";

export type PartitionShape =
  /** One member (the target) cut off from all others, both ways. */
  | "isolate"
  /** A minority set against the rest, both ways. */
  | "split"
  /** The target cannot send to anyone, but still hears everyone (one-way). */
  | "one-way-out"
  /** The target hears no one, but its messages still arrive (one-way). */
  | "one-way-in"
  /** Two halves that only one member (the bridge) connects (5 members). */
  | "bridge";

export type FaultStep =
  | {
      readonly kind: "kill";
      /** Killed with SIGKILL together; always a minority. */
      readonly targets: readonly Target[];
      readonly holdMs: number;
    }
  | { readonly kind: "pause"; readonly targets: readonly Target[]; readonly holdMs: number }
  | {
      readonly kind: "partition";
      readonly shape: PartitionShape;
      readonly target: Target;
      /** For "split": the other members of the minority, by index (never the target). */
      readonly others: readonly number[];
      readonly mode: CutMode;
      readonly holdMs: number;
    }
  | {
      readonly kind: "slow";
      readonly target: Target;
      readonly delayMs: number;
      readonly jitterMs: number;
      readonly holdMs: number;
    }
  | {
      readonly kind: "lossy";
      readonly target: Target;
      /** Chance that a forwarded chunk of bytes resets its connection instead. */
      readonly cutChance: number;
      readonly delayMs: number;
      readonly holdMs: number;
    }
  | { readonly kind: "transfer"; readonly to: number; readonly holdMs: number }
  | { readonly kind: "restart"; readonly target: Target; readonly holdMs: number }
  | {
      readonly kind: "quorum-loss";
      /** Members stopped at once: a majority. */
      readonly members: readonly number[];
      readonly how: "kill" | "pause";
      readonly holdMs: number;
    };

export interface ScheduledStep {
  /** Offset from the start of the fault phase at which the step begins. */
  readonly atMs: number;
  readonly step: FaultStep;
}

export interface ScheduleOptions {
  readonly seed: number;
  readonly nodes: number;
  readonly durationMs: number;
  readonly kinds: readonly FaultKind[];
}

/** Pause between one step's heal and the next step. */
const GAP_MS: readonly [number, number] = [800, 1600];
/** Steps per schedule, whatever the duration. */
const STEPS_MAX = 10_000;

/** The schedule for these options: same options, same schedule. */
export function buildSchedule(o: ScheduleOptions): ScheduledStep[] {
  if (!Number.isSafeInteger(o.seed)) throw new Error(`seed must be a safe integer, not ${o.seed}`);
  if (o.nodes !== 3 && o.nodes !== 5) throw new Error(`nodes must be 3 or 5, not ${o.nodes}`);
  if (o.kinds.length === 0) throw new Error("no fault kinds selected");
  const prng = new Xoshiro128(o.seed);
  const steps: ScheduledStep[] = [];
  let at = 0;
  let round: FaultKind[] = [];
  while (steps.length < STEPS_MAX) {
    if (round.length === 0) round = shuffled(o.kinds, prng);
    const kind = round.shift() as FaultKind;
    const step = drawStep(kind, o.nodes, prng);
    if (at + step.holdMs > o.durationMs) break;
    steps.push({ atMs: at, step });
    at += step.holdMs + prng.range(GAP_MS[0], GAP_MS[1]);
  }
  return steps;
}

/** Parses --faults: a comma-separated list of kinds, or "all". */
export function parseFaultKinds(text: string): FaultKind[] {
  if (text.trim() === "all") return [...FAULT_KINDS];
  const kinds: FaultKind[] = [];
  for (const part of text.split(",").map((p) => p.trim())) {
    if (part === "") continue;
    if (!(FAULT_KINDS as readonly string[]).includes(part))
      throw new Error(`--faults: unknown fault kind "${part}" (known: ${FAULT_KINDS.join(", ")})`);
    if (!kinds.includes(part as FaultKind)) kinds.push(part as FaultKind);
  }
  if (kinds.length === 0) throw new Error("--faults names no fault kind");
  return kinds;
}

function shuffled<T>(items: readonly T[], prng: Xoshiro128): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = prng.int(i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

function target(nodes: number, prng: Xoshiro128, leaderChance: number): Target {
  return prng.chance(leaderChance) ? { role: "leader" } : { member: prng.int(nodes) };
}

/** `count` distinct member indexes. */
function distinct(nodes: number, count: number, prng: Xoshiro128): number[] {
  return shuffled(
    Array.from({ length: nodes }, (_, i) => i),
    prng,
  ).slice(0, count);
}

/** The members to kill or pause: a minority, the first of them the leader at times. */
function drawTargets(nodes: number, minority: number, prng: Xoshiro128): Target[] {
  const count = prng.range(1, minority);
  const first = target(nodes, prng, 0.4);
  // Further targets by index; one that turns out the same member as another (the leader
  // may be one of them) is replaced at run time by the next member not chosen yet.
  const rest = distinct(nodes, count, prng).map((member) => ({ member }));
  return [first, ...rest].slice(0, count);
}

function drawPartition(nodes: number, minority: number, prng: Xoshiro128): FaultStep {
  const shapes: PartitionShape[] = ["isolate", "split", "one-way-out", "one-way-in"];
  if (nodes >= 5) shapes.push("bridge");
  const shape = prng.pick(shapes);
  const t = target(nodes, prng, 0.5);
  const others = shape === "split" ? distinct(nodes, minority, prng) : [];
  return {
    kind: "partition",
    shape,
    target: t,
    others,
    mode: prng.chance(0.5) ? "stall" : "reset",
    holdMs: prng.range(4500, 6500),
  };
}

function drawStep(kind: FaultKind, nodes: number, prng: Xoshiro128): FaultStep {
  const minority = Math.floor((nodes - 1) / 2);
  switch (kind) {
    case "kill": {
      const targets = drawTargets(nodes, minority, prng);
      return { kind, targets, holdMs: prng.range(3000, 5000) };
    }
    case "pause": {
      const targets = drawTargets(nodes, minority, prng);
      return { kind, targets, holdMs: prng.range(3000, 4500) };
    }
    case "partition":
      return drawPartition(nodes, minority, prng);
    case "slow":
      return {
        kind,
        target: target(nodes, prng, 0.5),
        delayMs: prng.range(20, 150),
        jitterMs: prng.range(0, 50),
        holdMs: prng.range(3000, 5000),
      };
    case "lossy":
      return {
        kind,
        target: target(nodes, prng, 0.5),
        cutChance: prng.range(2, 10) / 100,
        delayMs: prng.range(0, 30),
        holdMs: prng.range(3000, 5000),
      };
    case "transfer":
      return { kind, to: prng.int(nodes), holdMs: 1500 };
    case "restart":
      return { kind, target: target(nodes, prng, 0.4), holdMs: 2000 };
    case "quorum-loss":
      return {
        kind,
        members: distinct(nodes, minority + 1, prng),
        how: prng.chance(0.5) ? "kill" : "pause",
        holdMs: prng.range(3200, 4500),
      };
  }
}

/** One line describing a step (progress lines and the report). */
export function describeStep(step: FaultStep): string {
  const t = (x: Target): string => ("role" in x ? "leader" : `#${x.member}`);
  switch (step.kind) {
    case "kill":
    case "pause":
      return `${step.kind} ${step.targets.map(t).join("+")} for ${step.holdMs} ms`;
    case "partition":
      return `partition ${step.shape} ${t(step.target)}${step.others.length > 0 ? `+${step.others.map((o) => `#${o}`).join("+")}` : ""} (${step.mode}) for ${step.holdMs} ms`;
    case "slow":
      return `slow links of ${t(step.target)} ${step.delayMs}±${step.jitterMs} ms for ${step.holdMs} ms`;
    case "lossy":
      return `lossy links of ${t(step.target)} (cut ${Math.round(step.cutChance * 100)}%) for ${step.holdMs} ms`;
    case "transfer":
      return `leader transfer to #${step.to}`;
    case "restart":
      return `restart ${t(step.target)}`;
    case "quorum-loss":
      return `quorum loss: ${step.how} ${step.members.map((m) => `#${m}`).join("+")} for ${step.holdMs} ms`;
  }
}
