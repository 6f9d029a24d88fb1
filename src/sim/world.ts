// What every job of a simulated run shares: the virtual clock, the agenda of events, the two
// simulated networks (peers, clients), the members, the invariant checkers and the trace. Each
// job (faults.ts, wiped-disks.ts, reconfiguration.ts, workload.ts, verdict.ts) reads the run
// and schedules its events through it; simulation.ts builds it and dispatches the events.
import { RaftInvariants } from "../check/index.js";
import type { Message, Xoshiro128 } from "../raft/index.js";
import { EventQueue } from "./event-queue.js";
import type { ClientReply, ClientRequest, SimMember } from "./member.js";
import type { SimNetwork } from "./network.js";
import type { SimOptions } from "./sim-options.js";
import type { SimObserver } from "./story.js";
import { TraceLog } from "./trace.js";
import type { OpInFlight, SimClient } from "./workload.js";

export const TICK_MS = 10;
export const ELECTION_TICKS = 10;
export const HEARTBEAT_TICKS = 2;
export const EVENTS_MAX = 20_000_000;

export type SimEvent =
  | { readonly kind: "tick"; readonly node: SimMember }
  | {
      readonly kind: "deliver";
      readonly message: Message;
      /** The sender's disk incarnation when it sent the message (the handshake's). */
      readonly stamp: number;
      /** When it was sent (for the observer). */
      readonly sent: number;
    }
  | {
      readonly kind: "later";
      readonly node: SimMember;
      readonly incarnation: number;
      readonly run: () => void;
    }
  | { readonly kind: "request"; readonly node: SimMember; readonly request: ClientRequest }
  | { readonly kind: "reply"; readonly client: SimClient; readonly reply: ClientReply }
  | { readonly kind: "attemptTimeout"; readonly client: SimClient; readonly requestId: number }
  | { readonly kind: "clientStep"; readonly client: SimClient }
  | { readonly kind: "retry"; readonly client: SimClient; readonly op: OpInFlight }
  | { readonly kind: "fault" }
  | { readonly kind: "flap"; readonly a: string; readonly b: string; readonly left: number }
  | { readonly kind: "heal" }
  | { readonly kind: "strike"; readonly node: SimMember; readonly crash: boolean }
  | { readonly kind: "reconfig" }
  | { readonly kind: "wipe" }
  | { readonly kind: "restartWiped"; readonly node: SimMember; readonly incarnation: number };

export class SimWorld {
  /** Virtual milliseconds: the time of the event being handled. */
  now = 0;
  /** Events handled so far (bounded by EVENTS_MAX). */
  events = 0;
  /** Set by the heal at the end of the fault phase; faults stop then. */
  healed = false;
  healTime = Number.POSITIVE_INFINITY;
  readonly queue = new EventQueue<SimEvent>();
  readonly nodes: SimMember[] = [];
  readonly nodesById = new Map<string, SimMember>();
  readonly invariants = new RaftInvariants();
  readonly livenessFailures: string[] = [];
  readonly log: TraceLog;
  readonly observer: SimObserver | undefined;
  private nextIncarnation = 1;

  constructor(
    readonly options: SimOptions,
    /** The run's main PRNG: members, their clocks, disk latencies. */
    readonly prng: Xoshiro128,
    readonly network: SimNetwork,
    readonly clientLinks: SimNetwork,
  ) {
    this.observer = options.observer;
    this.log = new TraceLog(options.traceLines ?? 80);
  }

  /** A trace line; faults, heals and membership changes are told to the observer as well. */
  trace(line: string): void {
    if (this.observer !== undefined && /^(fault|churn|heal|reconfig)|^\S+ fenced/.test(line))
      this.observer.fault(this.now, line);
    this.log.add(this.now, line);
  }

  /** A disk incarnation never given before (transport/incarnations.ts' random id). */
  freshIncarnation(): number {
    return this.nextIncarnation++;
  }

  /** Puts a new member on a fresh disk incarnation and starts its ticks at its own phase. */
  addMember(node: SimMember): void {
    node.disk.incarnation = this.freshIncarnation();
    this.nodes.push(node);
    this.nodesById.set(node.id, node);
    // Each node ticks with its own phase, as real clocks do.
    this.queue.push(this.now + this.prng.float() * TICK_MS, { kind: "tick", node });
  }

  /** The live leader of the highest term, if any. */
  currentLeader(): SimMember | undefined {
    let best: SimMember | undefined;
    for (const n of this.nodes) {
      if (n.crashed || n.role !== "Leader") continue;
      if (best === undefined || n.term > best.term) best = n;
    }
    return best;
  }
}
