// A simulated run's story, for a picture of it (html-report.ts, `ordo sim --seed N --html FILE`):
// what each member was (role, term, up / crashed / paused / fenced) over virtual time, which
// links were cut, the messages delivered (with their send time), the faults injected, the
// client operations, and the violations found. Recorded through SimObserver, which the
// simulation calls only when given one; recording reads the run and never changes it (no
// randomness drawn, no event scheduled), so a seed's run is the same with or without it.
import type { HistoryOp, InvariantViolation, LinearizabilityResult } from "../check/index.js";
import type { Message, Role } from "../raft/index.js";
import type { SimMember } from "./member.js";

export type MemberStatus = "up" | "crashed" | "paused" | "fenced";

/** A member's state from `t` on (until its next entry). */
export interface StateChange {
  readonly t: number;
  readonly node: string;
  readonly role: Role;
  readonly term: number;
  readonly status: MemberStatus;
}

/** The directed links cut ("from>to") from `t` on. */
export interface LinkChange {
  readonly t: number;
  readonly blocked: readonly string[];
}

export interface StoryMessage {
  readonly sent: number;
  readonly delivered: number;
  readonly from: string;
  readonly to: string;
  readonly type: Message["type"];
  readonly term: number;
  /** A short description (describeMessage). */
  readonly text: string;
}

export interface StoryFault {
  readonly t: number;
  readonly text: string;
}

export interface StoryViolation extends InvariantViolation {
  readonly t: number;
}

export interface SimStory {
  readonly seed: number;
  readonly stack: string;
  readonly nodes: readonly string[];
  readonly endMs: number;
  /** When the faults stopped and the cluster was healed (Infinity: never, the run stopped). */
  readonly healMs: number;
  readonly states: readonly StateChange[];
  readonly links: readonly LinkChange[];
  readonly messages: readonly StoryMessage[];
  /** Messages delivered but not kept (over MESSAGES_KEPT_MAX). */
  readonly messagesDropped: number;
  readonly faults: readonly StoryFault[];
  readonly history: readonly HistoryOp[];
  readonly violations: readonly StoryViolation[];
  readonly linearizability: LinearizabilityResult | undefined;
  readonly livenessFailures: readonly string[];
  /** The last trace lines (the events that led to a failure). */
  readonly traceTail: readonly string[];
  readonly ok: boolean;
}

/** What the simulation tells an observer. Every call is read-only for the run. */
export interface SimObserver {
  /** After every event: the members as they are now, and the cut links if they changed. */
  afterEvent(now: number, nodes: readonly SimMember[], blocked: (() => string[]) | undefined): void;
  /** A message delivered to a live member (the simulator checked the incarnations first). */
  delivered(sent: number, now: number, m: Message, text: string): void;
  /** A fault or heal, as the trace line says it. */
  fault(now: number, text: string): void;
  violation(now: number, v: InvariantViolation): void;
  finished(end: {
    readonly now: number;
    readonly healMs: number;
    readonly history: readonly HistoryOp[];
    readonly linearizability: LinearizabilityResult | undefined;
    readonly livenessFailures: readonly string[];
    readonly traceTail: readonly string[];
    readonly ok: boolean;
  }): void;
}

/** At most this many messages are kept (a long run delivers hundreds of thousands). */
export const MESSAGES_KEPT_MAX = 200_000;

/** Records a SimStory; story() once the run finished. */
export class StoryRecorder implements SimObserver {
  private readonly last = new Map<string, StateChange>();
  private readonly order: string[] = [];
  private readonly states: StateChange[] = [];
  private readonly links: LinkChange[] = [];
  private readonly messages: StoryMessage[] = [];
  private messagesDropped = 0;
  private readonly faults: StoryFault[] = [];
  private readonly violations: StoryViolation[] = [];
  private end: Parameters<SimObserver["finished"]>[0] | undefined;

  constructor(
    private readonly seed: number,
    private readonly stack: string,
  ) {}

  afterEvent(
    now: number,
    nodes: readonly SimMember[],
    blocked: (() => string[]) | undefined,
  ): void {
    for (const n of nodes) {
      const status: MemberStatus = n.fenced
        ? "fenced"
        : n.crashed
          ? "crashed"
          : (n as { paused?: boolean }).paused === true
            ? "paused"
            : "up";
      const prev = this.last.get(n.id);
      if (prev === undefined) this.order.push(n.id);
      if (
        prev !== undefined &&
        prev.role === n.role &&
        prev.term === n.term &&
        prev.status === status
      )
        continue;
      const change: StateChange = { t: now, node: n.id, role: n.role, term: n.term, status };
      this.last.set(n.id, change);
      this.states.push(change);
    }
    if (blocked !== undefined) this.links.push({ t: now, blocked: blocked() });
  }

  delivered(sent: number, now: number, m: Message, text: string): void {
    if (this.messages.length >= MESSAGES_KEPT_MAX) {
      this.messagesDropped++;
      return;
    }
    this.messages.push({
      sent,
      delivered: now,
      from: m.from,
      to: m.to,
      type: m.type,
      term: m.term,
      text,
    });
  }

  fault(now: number, text: string): void {
    this.faults.push({ t: now, text });
  }

  violation(now: number, v: InvariantViolation): void {
    this.violations.push({ ...v, t: now });
  }

  finished(end: Parameters<SimObserver["finished"]>[0]): void {
    this.end = end;
  }

  story(): SimStory {
    const end = this.end;
    if (end === undefined) throw new Error("the run has not finished");
    return {
      seed: this.seed,
      stack: this.stack,
      nodes: [...this.order],
      endMs: end.now,
      healMs: end.healMs,
      states: this.states,
      links: this.links,
      messages: this.messages,
      messagesDropped: this.messagesDropped,
      faults: this.faults,
      history: end.history,
      violations: this.violations,
      linearizability: end.linearizability,
      livenessFailures: end.livenessFailures,
      traceTail: end.traceTail,
      ok: end.ok,
    };
  }
}
