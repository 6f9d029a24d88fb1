// One simulated run: a cluster of SimNodes, clients running a KV workload, and a fault schedule,
// all in virtual time and all drawn from one seed. Same seed, same run, byte for byte: the
// trace hash at the end proves it. After the fault phase the cluster is healed and must
// recover (liveness); then the history is checked for linearizability and Raft's invariants
// (checked at every step) are summed up.
//
// Wiped disks (fault mode "all" now and then, "wipe" often): a member is crashed, its disk
// replaced by an empty one with a new incarnation, and restarted under its old id and options,
// as an operator who deletes a data directory and starts the member again would. The network
// models the peer handshake's incarnation check (transport/incarnations.ts): every message is
// stamped with its sender's disk incarnation; a receiver learns each peer's incarnation at first
// contact, durably (on its disk), and drops messages from, or would not send to, the same id
// under another one; the sender of a refused message hears it and stops for good (fenced), as
// the real member exits. The testing fault acceptWipedMember skips the check: the wiped member
// is let in, and Vote Safety / Election Safety catch its double vote.
import {
  checkLinearizable,
  fnv1a,
  type HistoryOp,
  type InvariantViolation,
  RaftInvariants,
} from "../check/index.js";
import {
  asNodeId,
  type ConfChange,
  type ConfState,
  MESSAGE_TYPE_CODES,
  type Message,
  type NodeId,
  type TestingFaults,
  Xoshiro128,
} from "../raft/index.js";
import { EventQueue } from "./event-queue.js";
import type { ClientReply, ClientRequest, SimMember } from "./member.js";
import { calmLinks, type LinkConditions, SimNetwork } from "./network.js";
import { type NodeEnvironment, SimNode } from "./node.js";
import { RuntimeMember, type RuntimeMemberOptions } from "./runtime-member.js";
import type { KvOp, KvOutput } from "./sim-kv.js";
import type { SimObserver } from "./story.js";

/**
 * "all": every fault, a wiped disk now and then; "wipe": every fault, and wiped disks often
 * (a member that just voted, restarted at once); "none": no faults.
 */
export type FaultMode = "all" | "none" | "wipe";
/** "core": the Raft core with a minimal driver; "runtime": the full runtime with the MVCC store. */
export type SimStack = "core" | "runtime";

export interface SimOptions {
  readonly seed: number;
  /** Cluster size; by default 3, 5 or 7 chosen by the seed. */
  readonly nodes?: number;
  readonly faults?: FaultMode;
  readonly stack?: SimStack;
  /** Virtual milliseconds of faults before the cluster is healed. */
  readonly faultPhaseMs?: number;
  /** Virtual milliseconds after healing within which everything must recover. */
  readonly recoveryMs?: number;
  readonly testingFaults?: TestingFaults;
  /** Keep the full history in the result (for --history). */
  readonly keepHistory?: boolean;
  /** Trace lines kept for a failure report. */
  readonly traceLines?: number;
  /**
   * Change membership during the faults (runtime stack): add members (as learners or voters,
   * from empty logs), promote learners, remove members (the leader too), replace voters through
   * joint configurations, transfer leadership. Final checks cover the final configuration.
   */
  readonly reconfig?: boolean;
  /** Linearizable reads by ReadIndex (default) or the leader's lease (runtime stack). */
  readonly readMode?: "index" | "lease";
  /** The clock-rate difference lease mode is configured to tolerate (RaftOptions). Default 0.1. */
  readonly leaseClockDrift?: number;
  /**
   * Clock-rate skew to simulate, adversarially: a leader ticks at rate 1 (every TICK_MS) and
   * every other member at rate 1 + skew, so the leader's lease outlasts the followers' election
   * timeouts as much as the skew allows. Beyond leaseClockDrift, lease reads can be stale: the
   * checkers must catch it. Default 0 (every member ticks every TICK_MS).
   */
  readonly clockRateSkew?: number;
  /**
   * Told what happens, for a picture of the run (story.ts: StoryRecorder). It only reads: the
   * run is the same with or without it.
   */
  readonly observer?: SimObserver;
}

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

const TICK_MS = 10;
const ELECTION_TICKS = 10;
const HEARTBEAT_TICKS = 2;
const ATTEMPT_TIMEOUT_MS = 300;
const OP_DEADLINE_MS = 2500;
const EVENTS_MAX = 20_000_000;
/** --reconfig: members added in one run at most (each from an empty log, under a fresh id). */
const SPAWNED_MAX = 6;

type SimEvent =
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

interface OpInFlight {
  /** -1 for a session registration, which is not part of the history. */
  readonly historyIndex: number;
  readonly op: KvOp | "register";
  readonly key: string;
  readonly seq: number;
  readonly value: string | undefined;
  readonly expected: string | null | undefined;
  readonly deadline: number;
  readonly requestIds: Set<number>;
  mayHaveApplied: boolean;
}

interface SimClient {
  readonly id: string;
  seq: number;
  current: OpInFlight | undefined;
  leaderGuess: string;
  lastSeen: Map<string, string | null>;
  /** The registered session (runtime stack), once there is one. */
  session: string | undefined;
}

/** The history entry as recorded (mutable while the operation runs). */
interface MutableHistoryOp {
  client: string;
  op: KvOp;
  key: string;
  value?: string;
  expected?: string | null;
  invoke: number;
  complete: number | null;
  status: "ok" | "fail" | "unknown";
  output: KvOutput;
}

export class Simulation {
  readonly seed: number;
  readonly nodeCount: number;
  private readonly prng: Xoshiro128;
  private readonly faultPrng: Xoshiro128;
  private readonly clientPrng: Xoshiro128;
  private readonly queue = new EventQueue<SimEvent>();
  private readonly network: SimNetwork;
  private readonly clientLinks: SimNetwork;
  readonly nodes: SimMember[] = [];
  private readonly nodesById = new Map<string, SimMember>();
  private readonly clients: SimClient[] = [];
  private readonly keys: string[];
  private readonly history: MutableHistoryOp[] = [];
  readonly invariants = new RaftInvariants();
  private readonly faults: FaultMode;
  readonly stack: SimStack;
  private readonly faultPhaseMs: number;
  private readonly recoveryMs: number;
  private now = 0;
  private events = 0;
  private traceHash = 0x811c9dc5;
  private readonly traceRing: string[] = [];
  private readonly traceLines: number;
  private requestSeq = 0;
  private valueSeq = 0;
  private healed = false;
  private healTime = Number.POSITIVE_INFINITY;
  private fsyncSlowUntil = 0;
  /** "churn" seeds kill and cut off leaders every few dozen milliseconds (Figure 8 territory). */
  private readonly faultProfile: "mixed" | "churn";
  private readonly livenessFailures: string[] = [];
  /** Only with options.reconfig (forked last, so runs without it are unchanged). */
  private readonly reconfigPrng: Xoshiro128 | undefined;
  private readonly memberTemplate: Omit<RuntimeMemberOptions, "id" | "confState" | "clockSkewMs">;
  /** options.clockRateSkew, checked. */
  private readonly clockRateSkew: number;
  private nextMemberNumber: number;
  /** Members ever added or tried (never reused: a removed id does not come back). */
  private readonly spawned = new Set<string>();
  private readonly reconfigLog: string[] = [];
  /** Wiped disks: their own PRNG, not forked from the run's, so other faults stay as they were. */
  private readonly wipePrng: Xoshiro128;
  private readonly wipesMax: number;
  private wipes = 0;
  private nextIncarnation = 1;
  private incarnationRefusals = 0;
  private readonly observer: SimObserver | undefined;
  /** Violations already told to the observer; the links it last saw. */
  private violationsObserved = 0;
  private linksObserved = -1;

  constructor(private readonly options: SimOptions) {
    this.seed = options.seed;
    this.observer = options.observer;
    this.prng = new Xoshiro128(options.seed);
    this.faultPrng = this.prng.fork();
    this.clientPrng = this.prng.fork();
    this.network = new SimNetwork(this.prng.fork());
    this.clientLinks = new SimNetwork(this.prng.fork());
    this.nodeCount = options.nodes ?? ([3, 5, 7][options.seed % 3] as number);
    this.faults = options.faults ?? "all";
    this.stack = options.stack ?? "core";
    this.faultPhaseMs = options.faultPhaseMs ?? 6000 + this.prng.int(4000);
    this.recoveryMs = options.recoveryMs ?? 6000;
    this.traceLines = options.traceLines ?? 80;
    this.faultProfile = this.prng.chance(0.3) ? "churn" : "mixed";
    const keyCount = 2 + this.prng.int(4);
    this.keys = Array.from({ length: keyCount }, (_, i) => `k${i + 1}`);

    const ids = Array.from({ length: this.nodeCount }, (_, i) => asNodeId(`n${i + 1}`));
    const confState: ConfState = { voters: ids, votersOutgoing: [], learners: [] };
    const snapshotEntries = 20 + this.prng.int(200);
    // Small messages and windows make the leader replicate old entries apart from new ones.
    const messageBytesMax = this.prng.pick([1, 150, 4096, 1 << 20]);
    const inflightMessagesMax = this.prng.pick([1, 4, 64, 256]);
    const env = this.environment();
    this.memberTemplate = {
      electionTicks: ELECTION_TICKS,
      heartbeatTicks: HEARTBEAT_TICKS,
      tickMs: TICK_MS,
      snapshotEntries: snapshotEntries,
      testingFaults: options.testingFaults,
      ...(options.readMode !== undefined ? { readMode: options.readMode } : {}),
      ...(options.leaseClockDrift !== undefined
        ? { leaseClockDrift: options.leaseClockDrift }
        : {}),
    };
    this.nextMemberNumber = this.nodeCount + 1;
    for (const id of ids) {
      const node: SimMember =
        this.stack === "runtime"
          ? new RuntimeMember(
              {
                id,
                confState,
                ...this.memberTemplate,
                clockSkewMs: this.prng.int(200),
              },
              this.prng.fork(),
              env,
            )
          : new SimNode(
              {
                id,
                confState,
                electionTicks: ELECTION_TICKS,
                heartbeatTicks: HEARTBEAT_TICKS,
                snapshotEntries,
                messageBytesMax,
                inflightMessagesMax,
                testingFaults: options.testingFaults,
              },
              this.prng.fork(),
              env,
            );
      node.disk.incarnation = this.nextIncarnation++;
      this.nodes.push(node);
      this.nodesById.set(id, node);
      // Each node ticks with its own phase, as real clocks do.
      this.queue.push(this.prng.float() * TICK_MS, { kind: "tick", node });
    }
    const clientCount = 2 + this.prng.int(4);
    for (let i = 0; i < clientCount; i++) {
      const client: SimClient = {
        id: `c${i + 1}`,
        seq: 0,
        current: undefined,
        leaderGuess: this.clientPrng.pick(ids),
        lastSeen: new Map(),
        session: undefined,
      };
      this.clients.push(client);
      this.queue.push(this.clientPrng.float() * 50, { kind: "clientStep", client });
    }
    if (this.faults === "all" || this.faults === "wipe")
      this.queue.push(100 + this.faultPrng.int(300), { kind: "fault" });
    this.wipePrng = new Xoshiro128((Math.imul(options.seed, 0x9e3779b1) ^ 0x77195eed) >>> 0);
    // Fenced members never come back: a minority of them at most, so a quorum stays. With the
    // testing fault nobody is fenced, and a member may be wiped again and again.
    const minority = Math.floor((this.nodeCount - 1) / 2);
    this.wipesMax =
      this.faults === "none"
        ? 0
        : options.testingFaults?.acceptWipedMember === true && this.faults === "wipe"
          ? 8
          : this.faults === "wipe"
            ? // With membership changes the configuration may shrink around a fenced member.
              options.reconfig === true
              ? Math.min(minority, 1)
              : minority
            : this.wipePrng.chance(0.5)
              ? Math.min(minority, 1)
              : 0;
    if (this.wipesMax > 0)
      this.queue.push(
        this.faults === "wipe" ? 150 + this.wipePrng.int(400) : 500 + this.wipePrng.int(4000),
        { kind: "wipe" },
      );
    this.queue.push(this.faultPhaseMs, { kind: "heal" });
    if (options.reconfig === true) {
      if (this.stack !== "runtime") throw new Error("--reconfig needs the runtime stack");
      this.reconfigPrng = this.prng.fork();
      this.queue.push(200 + this.reconfigPrng.int(400), { kind: "reconfig" });
    } else {
      this.reconfigPrng = undefined;
    }
    if (options.readMode === "lease" && this.stack !== "runtime")
      throw new Error("--read-mode lease needs the runtime stack");
    this.clockRateSkew = options.clockRateSkew ?? 0;
    if (!(this.clockRateSkew >= 0 && this.clockRateSkew < 10))
      throw new Error("--clock-skew must be in [0, 10)");
  }

  /** The time to `node`'s next tick: see SimOptions.clockRateSkew. */
  private tickIntervalOf(node: SimMember): number {
    if (this.clockRateSkew === 0 || node.role === "Leader") return TICK_MS;
    return TICK_MS / (1 + this.clockRateSkew);
  }

  private environment(): NodeEnvironment {
    return {
      now: () => this.now,
      sendMessage: (m) => {
        const stamp = this.nodesById.get(m.from)?.disk.incarnation ?? 0;
        for (const delay of this.network.deliveries(m.from, m.to)) {
          this.queue.push(this.now + delay, { kind: "deliver", message: m, stamp, sent: this.now });
        }
      },
      reply: (clientId, reply) => {
        const client = this.clients.find((c) => c.id === clientId);
        if (client === undefined) return;
        for (const delay of this.clientLinks.deliveries("node", clientId)) {
          this.queue.push(this.now + delay, { kind: "reply", client, reply });
        }
      },
      later: (node, delayMs, run) => {
        this.queue.push(this.now + delayMs, {
          kind: "later",
          node,
          incarnation: node.incarnation,
          run,
        });
      },
      fsyncDelayMs: () => {
        const slow = this.now < this.fsyncSlowUntil;
        return slow ? 5 + this.prng.float() * 40 : 0.3 + this.prng.float() * 2;
      },
      observeLeaseRead: (node, term) => this.invariants.observeLeaseRead(node, term),
      observeCore: (node, check) => this.invariants.observeCore(node, check),
      observeLeader: (node, term, firstIndex, termAt) => {
        this.invariants.observeLeader(node, term);
        this.invariants.observeLeaderLog(node, term, firstIndex, termAt);
        this.onNewLeader(node);
      },
      observeDurable: (node, entries) => this.invariants.observeDurableAppend(node, entries),
      observeSnapshotInstall: (node, index, term) =>
        this.invariants.observeSnapshotInstall(node, index, term),
      observeCompaction: (node, index) => this.invariants.observeCompaction(node, index),
      observeApply: (node, entry, term) => this.invariants.observeApply(node, entry, term),
      observeAck: (entry, term) => this.invariants.observeAcknowledged(entry, term),
      trace: (node, what) => this.trace(`${node} ${what}`),
      fail: (reason) => {
        if (this.livenessFailures.length < 20) this.livenessFailures.push(`unexpected: ${reason}`);
      },
    };
  }

  private trace(line: string): void {
    if (this.observer !== undefined && /^(fault|churn|heal|reconfig)|^\S+ fenced/.test(line))
      this.observer.fault(this.now, line);
    this.traceRing.push(`${this.now.toFixed(3).padStart(10)}ms ${line}`);
    if (this.traceRing.length > this.traceLines) this.traceRing.shift();
  }

  private hashEvent(kind: number, a: number, b: number): void {
    let h = this.traceHash ^ kind;
    h = Math.imul(h, 0x01000193) ^ Math.floor(this.now * 1000);
    h = Math.imul(h, 0x01000193) ^ a;
    h = Math.imul(h, 0x01000193) ^ b;
    this.traceHash = h >>> 0;
  }

  /** Runs to the end and judges the run (core stack: synchronous). */
  run(): SimResult {
    if (this.stack === "runtime")
      throw new Error("the runtime stack runs asynchronously: use runAsync()");
    while (this.step());
    return this.finish();
  }

  /**
   * Runs to the end and judges the run. Between events every microtask is drained, so the
   * runtime's promise chains settle at the virtual time of the event that started them.
   */
  async runAsync(): Promise<SimResult> {
    if (this.stack === "core") return this.run();
    await drainMicrotasks();
    while (this.step()) await drainMicrotasks();
    return this.finish();
  }

  /** Processes the next event; false at the end of the run. */
  private step(): boolean {
    const endMs = this.faultPhaseMs + this.recoveryMs;
    const t = this.queue.peekTime();
    if (t === undefined || t > endMs) return false;
    if (++this.events > EVENTS_MAX) {
      this.livenessFailures.push(`event budget of ${EVENTS_MAX} exhausted at ${this.now}ms`);
      return false;
    }
    const ev = this.queue.pop();
    if (ev === undefined) return false;
    this.now = ev.time;
    this.dispatch(ev.payload);
    if (this.observer !== undefined) this.observe(this.observer);
    return this.invariants.ok;
  }

  private observe(o: SimObserver): void {
    const violations = this.invariants.violations;
    for (; this.violationsObserved < violations.length; this.violationsObserved++)
      o.violation(this.now, violations[this.violationsObserved] as InvariantViolation);
    const links = this.network.version;
    const changed = links !== this.linksObserved;
    this.linksObserved = links;
    o.afterEvent(this.now, this.nodes, changed ? () => this.network.blockedLinks() : undefined);
  }

  private dispatch(ev: SimEvent): void {
    switch (ev.kind) {
      case "tick":
        this.hashEvent(1, idNum(ev.node.id), 0);
        this.handshakes(ev.node);
        ev.node.tick();
        this.queue.push(this.now + this.tickIntervalOf(ev.node), ev);
        return;
      case "deliver": {
        const m = ev.message;
        this.hashEvent(2, idNum(m.from) * 64 + idNum(m.to), messageCode(m) * 1_000_003 + m.term);
        // Cutting a link also loses what was in flight on it.
        if (this.network.isBlocked(m.from, m.to)) return;
        const receiver = this.nodesById.get(m.to);
        if (receiver === undefined || receiver.crashed) return;
        if (!this.admit(m, ev.stamp, receiver)) return;
        if (this.options.traceLines !== 0) this.trace(describeMessage(m));
        this.observer?.delivered(ev.sent, this.now, m, describeMessage(m));
        if (m.type === "VoteResponse" && m.granted && !m.preVote)
          this.invariants.observeVote(m.from, m.term, m.to);
        // A candidate asks only once its vote for itself is durable: that is a vote too.
        if (m.type === "VoteRequest" && !m.preVote)
          this.invariants.observeVote(m.from, m.term, m.from);
        receiver.receive(m);
        return;
      }
      case "later":
        if (ev.node.incarnation !== ev.incarnation || ev.node.crashed) return;
        this.hashEvent(3, idNum(ev.node.id), ev.incarnation);
        ev.run();
        return;
      case "request":
        this.hashEvent(4, idNum(ev.node.id), ev.request.requestId);
        ev.node.handleClient(ev.request);
        return;
      case "reply":
        this.hashEvent(5, idNum(ev.client.id), ev.reply.requestId);
        this.onReply(ev.client, ev.reply);
        return;
      case "attemptTimeout":
        this.hashEvent(6, idNum(ev.client.id), ev.requestId);
        this.onAttemptTimeout(ev.client, ev.requestId);
        return;
      case "clientStep":
        this.hashEvent(7, idNum(ev.client.id), 0);
        this.startOp(ev.client);
        return;
      case "retry":
        this.hashEvent(11, idNum(ev.client.id), 0);
        if (ev.client.current === ev.op) this.sendAttempt(ev.client);
        return;
      case "fault":
        this.hashEvent(8, 0, 0);
        if (!this.healed) {
          if (this.faultProfile === "churn") this.injectChurn();
          else this.injectFault();
          const gap =
            this.faultProfile === "churn"
              ? 20 + this.faultPrng.int(120)
              : 100 + this.faultPrng.int(500);
          this.queue.push(this.now + gap, { kind: "fault" });
        }
        return;
      case "flap":
        this.hashEvent(9, ev.left, 0);
        if (this.healed) return;
        if (this.network.isBlocked(ev.a, ev.b)) {
          this.network.unblock(ev.a, ev.b);
          this.network.unblock(ev.b, ev.a);
        } else {
          this.network.block(ev.a, ev.b);
          this.network.block(ev.b, ev.a);
        }
        if (ev.left > 0) {
          this.queue.push(this.now + 20 + this.faultPrng.int(80), { ...ev, left: ev.left - 1 });
        }
        return;
      case "heal":
        this.hashEvent(10, 0, 0);
        this.heal();
        return;
      case "strike":
        this.hashEvent(12, idNum(ev.node.id), ev.crash ? 1 : 0);
        if (this.healed || ev.node.crashed) return;
        if (ev.crash) ev.node.crash();
        else this.isolate(ev.node);
        this.trace(`churn strike new leader ${ev.node.id} ${ev.crash ? "crash" : "isolate"}`);
        return;
      case "wipe":
        this.hashEvent(14, this.wipes, 0);
        if (this.healed || this.wipes >= this.wipesMax) return;
        this.injectWipe();
        if (this.wipes < this.wipesMax)
          this.queue.push(
            this.now +
              (this.faults === "wipe"
                ? 100 + this.wipePrng.int(400)
                : 1000 + this.wipePrng.int(3000)),
            ev,
          );
        return;
      case "restartWiped":
        this.hashEvent(15, idNum(ev.node.id), ev.incarnation);
        if (ev.node.incarnation !== ev.incarnation) return;
        ev.node.restart();
        return;
      case "reconfig": {
        this.hashEvent(13, this.spawned.size, 0);
        if (this.healed || this.reconfigPrng === undefined) return;
        this.injectReconfig(this.reconfigPrng);
        this.queue.push(this.now + 150 + this.reconfigPrng.int(600), ev);
        return;
      }
    }
  }

  // ───────────────────────────── membership changes ─────────────────────────────

  /** A new member: empty disk, empty configuration; it waits for the leader's snapshot. */
  private spawnMember(): RuntimeMember {
    const id = asNodeId(`n${this.nextMemberNumber++}`);
    this.spawned.add(id);
    const node = new RuntimeMember(
      {
        ...this.memberTemplate,
        id,
        confState: { voters: [], votersOutgoing: [], learners: [] },
        clockSkewMs: this.prng.int(200),
      },
      this.prng.fork(),
      this.environment(),
    );
    node.disk.incarnation = this.nextIncarnation++;
    this.nodes.push(node);
    this.nodesById.set(id, node);
    this.queue.push(this.now + this.prng.float() * TICK_MS, { kind: "tick", node });
    return node;
  }

  /** One random membership change or leadership transfer, proposed through a live member. */
  private injectReconfig(p: Xoshiro128): void {
    const leader = this.currentLeader();
    if (!(leader instanceof RuntimeMember)) return;
    const conf = leader.membership()?.confState;
    if (conf === undefined || conf.votersOutgoing.length > 0) return; // joint: leaves by itself
    const members = [...conf.voters, ...conf.learners];
    const via = p.chance(0.7) ? leader : this.nodesById.get(p.pick(members) as string);
    if (!(via instanceof RuntimeMember) || via.crashed) return;
    const canSpawn = this.spawned.size < SPAWNED_MAX;
    const roll = p.int(100);
    const contexts = new Map<NodeId, Uint8Array>();
    let cc: ConfChange | undefined;
    const single = (type: ConfChange["changes"][number]["type"], node: NodeId): ConfChange => ({
      transition: "Auto",
      changes: [{ type, node }],
    });
    const spawn = (): NodeId => {
      const node = this.spawnMember().id;
      contexts.set(node, new TextEncoder().encode(`sim://${node}`));
      return node;
    };
    if (roll < 22 && canSpawn) {
      cc = single("AddLearner", spawn());
    } else if (roll < 32 && canSpawn && conf.voters.length < 7) {
      cc = single("AddVoter", spawn());
    } else if (roll < 52 && conf.learners.length > 0 && conf.voters.length < 7) {
      cc = single("AddVoter", p.pick(conf.learners));
    } else if (roll < 72 && members.length > 3) {
      const removable = conf.voters.length > 3 ? members : [...conf.learners];
      if (removable.length > 0) cc = single("RemoveNode", p.pick(removable));
    } else if (roll < 82 && canSpawn && conf.voters.length >= 2) {
      // Replace voters (up to a majority of them, with new members from empty logs): several
      // voters change, so this must go through a joint configuration.
      const count =
        1 + p.int(Math.min(Math.ceil(conf.voters.length / 2), SPAWNED_MAX - this.spawned.size));
      const out = [...conf.voters];
      const removed: NodeId[] = [];
      for (let i = 0; i < count; i++) removed.push(out.splice(p.int(out.length), 1)[0] as NodeId);
      const changes: ConfChange["changes"][number][] = [];
      for (let i = 0; i < count; i++) changes.push({ type: "AddVoter", node: spawn() });
      for (const node of removed) changes.push({ type: "RemoveNode", node });
      cc = { transition: p.chance(0.5) ? "Auto" : "JointImplicit", changes };
    }
    if (cc === undefined) {
      const targets = conf.voters.filter((v) => v !== leader.id);
      if (targets.length === 0) return;
      const to = p.pick(targets);
      this.trace(`reconfig transfer leadership ${leader.id} -> ${to}`);
      leader.transferLeadership(to, 500).then(
        () => {
          this.reconfigLog.push(`transfer ${leader.id} -> ${to}`);
          this.trace(`reconfig transfer to ${to} done`);
        },
        (e: unknown) => this.trace(`reconfig transfer to ${to} failed: ${String(e)}`),
      );
      return;
    }
    const what = cc.changes.map((c) => `${c.type} ${c.node}`).join(", ");
    this.trace(`reconfig via ${via.id}: ${cc.transition} ${what}`);
    via.changeMembership(cc, contexts, 1000).then(
      (m) => {
        const line = `${what} applied at ${m.index}`;
        this.reconfigLog.push(line);
        this.trace(`reconfig ${line}`);
      },
      (e: unknown) => this.trace(`reconfig ${what} failed: ${String(e)}`),
    );
  }

  /**
   * Where a client tries next when it has no leader hint. With --reconfig, the members of the
   * current configuration, as an etcd client that syncs its endpoints from MemberList would;
   * removed members (which keep running here, stale or not) are reached through stale hints.
   */
  private clientEndpoints(): SimMember[] {
    const members = this.configurationMembers();
    return members.length > 0 ? members : this.nodes;
  }

  /** The members of the current leader's configuration (every node without --reconfig). */
  private configurationMembers(): SimMember[] {
    // A fenced member stopped for good (it would be removed and added back as a new one).
    const running = this.nodes.filter((n) => !n.fenced);
    if (this.reconfigPrng === undefined) return running;
    const leader = this.currentLeader();
    const conf = leader instanceof RuntimeMember ? leader.membership()?.confState : undefined;
    if (conf === undefined) return running;
    const ids = new Set<string>([...conf.voters, ...conf.votersOutgoing, ...conf.learners]);
    return running.filter((n) => ids.has(n.id));
  }

  // ───────────────────────────── wiped disks ─────────────────────────────

  /**
   * The connections a live member keeps to every peer (transport/peer-sender.ts dials each one
   * at start and redials whenever a connection breaks), modelled as a handshake with every
   * reachable live peer at each tick: the acceptor learns the dialer's incarnation at first
   * contact or refuses a stale one (the dialer is fenced), the dialer learns the acceptor's or
   * refuses to send to a stale one. So members learn each other's incarnations whatever Raft
   * sends (followers send each other nothing in a steady state).
   */
  private handshakes(dialer: SimMember): void {
    if (dialer.crashed || dialer.fenced) return;
    const check = this.options.testingFaults?.acceptWipedMember !== true;
    const own = dialer.disk.incarnation;
    for (const acceptor of this.nodes) {
      if (acceptor === dialer || acceptor.crashed || this.network.isBlocked(dialer.id, acceptor.id))
        continue;
      const known = acceptor.disk.peerIncarnations.get(dialer.id);
      if (known === undefined) acceptor.disk.peerIncarnations.set(dialer.id, own);
      else if (known !== own && check) {
        this.incarnationRefusals++;
        this.trace(
          `${acceptor.id} refuses ${dialer.id}'s hello: incarnation ${own}, remembered ${known}`,
        );
        dialer.fence();
        return;
      }
      if (!dialer.disk.peerIncarnations.has(acceptor.id))
        dialer.disk.peerIncarnations.set(acceptor.id, acceptor.disk.incarnation);
    }
  }

  /**
   * The peer handshake's incarnation check for one message (see the top of this file): the
   * receiver must know the sender by the incarnation it was sent with (learning it at first
   * contact), and the sender the receiver by its current one. A sender refused by the receiver
   * hears so and stops for good; a receiver the sender does not know by its disk is not sent to.
   */
  private admit(m: Message, stamp: number, receiver: SimMember): boolean {
    // The testing fault: incarnations are learned as usual, but a stale one is let in.
    const check = this.options.testingFaults?.acceptWipedMember !== true;
    const sender = this.nodesById.get(m.from);
    const knownSender = receiver.disk.peerIncarnations.get(m.from);
    if (knownSender === undefined) receiver.disk.peerIncarnations.set(m.from, stamp);
    else if (knownSender !== stamp && check) {
      this.incarnationRefusals++;
      this.trace(`${m.to} refuses ${m.from}: incarnation ${stamp}, remembered ${knownSender}`);
      if (sender !== undefined && sender.disk.incarnation === stamp && !sender.fenced)
        sender.fence();
      return false;
    }
    // The sender's side: it dialed, and the receiver's Accepted reply showed its incarnation.
    if (sender === undefined || sender.disk.incarnation !== stamp) return true;
    const current = receiver.disk.incarnation;
    const knownReceiver = sender.disk.peerIncarnations.get(m.to);
    if (knownReceiver === undefined) sender.disk.peerIncarnations.set(m.to, current);
    else if (knownReceiver !== current && check) {
      this.incarnationRefusals++;
      this.trace(
        `${m.from} will not send to ${m.to}: incarnation ${current}, remembered ${knownReceiver}`,
      );
      return false;
    }
    return true;
  }

  /**
   * A member's disk is wiped while it is down and it restarts under its old id and options.
   * The victim is a member every other member has heard from (each remembers its incarnation):
   * one that has been running in the cluster, as an operator's wiped member has. (A member
   * wiped before some peer ever heard from it cannot be told from a first start by that peer:
   * the boot check, member-identity.ts, covers that side; README, "A wiped data directory".)
   * Among those, one that voted in its current term, the vote it forgets; "wipe" mode restarts
   * it at once, while the election goes on.
   */
  private injectWipe(): void {
    const p = this.wipePrng;
    const running = this.nodes.filter((n) => !n.fenced);
    const knownByAll = (v: SimMember): boolean =>
      running.every((o) => o === v || o.disk.peerIncarnations.get(v.id) === v.disk.incarnation);
    const live = running.filter((n) => !n.crashed && knownByAll(n));
    if (live.length === 0) return;
    const voted = live.filter((n) => n.disk.hardState.vote !== "" && n.role !== "Leader");
    const victim = p.pick(voted.length > 0 ? voted : live);
    this.wipes++;
    const before = `term=${victim.disk.hardState.term} vote=${victim.disk.hardState.vote || "-"} last=${victim.disk.lastIndex()}`;
    victim.wipe(this.nextIncarnation++);
    this.trace(`fault wipe ${victim.id} (${before})`);
    const delay = this.faults === "wipe" ? p.float() * 5 : 1 + p.int(50);
    this.queue.push(this.now + delay, {
      kind: "restartWiped",
      node: victim,
      incarnation: victim.incarnation,
    });
  }

  // ───────────────────────────── faults ─────────────────────────────

  private injectFault(): void {
    const p = this.faultPrng;
    const ids = this.nodes.map((n) => n.id as string);
    const live = this.nodes.filter((n) => !n.crashed);
    const crashed = this.nodes.filter((n) => n.crashed);
    const roll = p.int(100);
    if (roll < 12) {
      // Symmetric partition into two random groups.
      const shuffled = ids.map((id) => ({ id, side: p.int(2) }));
      this.network.healAll();
      for (const a of shuffled)
        for (const b of shuffled) if (a.side !== b.side) this.network.block(a.id, b.id);
      this.trace(`fault partition ${shuffled.map((s) => `${s.id}:${s.side}`).join(" ")}`);
    } else if (roll < 22) {
      const leader = this.currentLeader();
      if (leader !== undefined) {
        for (const id of ids) {
          if (id === leader.id) continue;
          this.network.block(leader.id, id);
          this.network.block(id, leader.id);
        }
        this.trace(`fault isolate leader ${leader.id}`);
      }
    } else if (roll < 30) {
      // Asymmetric: some directed links only.
      const count = 1 + p.int(ids.length);
      for (let i = 0; i < count; i++) {
        const a = p.pick(ids);
        const b = p.pick(ids);
        if (a !== b) this.network.block(a, b);
      }
      this.trace(`fault asymmetric ${count} links`);
    } else if (roll < 45) {
      this.network.healAll();
      this.trace("fault heal partitions");
    } else if (roll < 55) {
      if (live.length > 1) {
        const victim = p.pick(live);
        victim.crash();
        this.trace(`fault crash ${victim.id}`);
      }
    } else if (roll < 60) {
      const leader = this.currentLeader();
      if (leader !== undefined && live.length > 1) {
        leader.crash();
        this.trace(`fault crash leader ${leader.id}`);
      }
    } else if (roll < 75) {
      if (crashed.length > 0) {
        const node = p.pick(crashed);
        node.restart();
      }
    } else if (roll < 80) {
      const node = p.pick(live);
      if (node !== undefined) {
        node.pause();
        this.trace(`fault pause ${node.id}`);
      }
    } else if (roll < 85) {
      for (const n of this.nodes) n.resume();
      this.trace("fault resume all");
    } else if (roll < 93) {
      const c: LinkConditions = {
        dropRate: p.chance(0.5) ? p.float() * 0.2 : 0,
        duplicateRate: p.chance(0.3) ? p.float() * 0.05 : 0,
        delayMinMs: 0.2 + p.float(),
        delayMaxMs: 2 + p.float() * 8,
        tailRate: p.float() * 0.2,
        tailMaxMs: 5 + p.float() * 120,
      };
      this.network.conditions = c;
      this.clientLinks.conditions = { ...c, dropRate: c.dropRate / 2 };
      this.trace(
        `fault links drop=${c.dropRate.toFixed(3)} dup=${c.duplicateRate.toFixed(3)} tail=${c.tailRate.toFixed(2)}`,
      );
    } else if (roll < 97) {
      const a = p.pick(ids);
      const b = p.pick(ids);
      if (a !== b) {
        this.queue.push(this.now, { kind: "flap", a, b, left: 4 + p.int(10) });
        this.trace(`fault flapping ${a}<->${b}`);
      }
    } else {
      this.fsyncSlowUntil = this.now + 200 + p.int(1000);
      this.trace("fault slow disk");
    }
  }

  /** Leader churn: crash or isolate whoever leads, restart and reconnect the others, drop messages. */
  private injectChurn(): void {
    const p = this.faultPrng;
    const crashed = this.nodes.filter((n) => n.crashed);
    const leader = this.currentLeader();
    const roll = p.int(100);
    if (roll < 30 && leader !== undefined && crashed.length < this.nodeCount - 1) {
      leader.crash();
      this.trace(`churn crash leader ${leader.id}`);
    } else if (roll < 45 && leader !== undefined) {
      this.isolate(leader);
      this.trace(`churn isolate leader ${leader.id}`);
    } else if (roll < 75 && crashed.length > 0) {
      p.pick(crashed).restart();
    } else if (roll < 90) {
      this.network.healAll();
      this.trace("churn heal partitions");
    } else {
      this.network.conditions = { ...calmLinks(), dropRate: p.float() * 0.3 };
      this.trace(`churn drop=${this.network.conditions.dropRate.toFixed(2)}`);
    }
  }

  /**
   * In churn seeds, a new leader is often struck down within milliseconds of its election, before
   * its first entries spread: the interleavings of Raft's Figure 8 need exactly that.
   */
  private onNewLeader(id: string): void {
    if (this.faultProfile !== "churn" || this.healed || !this.faultPrng.chance(0.4)) return;
    const node = this.nodesById.get(id);
    if (node === undefined) return;
    const crash =
      this.faultPrng.chance(0.5) && this.nodes.filter((n) => n.crashed).length < this.nodeCount - 1;
    this.queue.push(this.now + this.faultPrng.float() * 6, { kind: "strike", node, crash });
  }

  private isolate(node: SimMember): void {
    for (const n of this.nodes) {
      if (n === node) continue;
      this.network.block(node.id, n.id);
      this.network.block(n.id, node.id);
    }
  }

  private heal(): void {
    this.healed = true;
    this.healTime = this.now;
    this.network.healAll();
    this.network.conditions = calmLinks();
    this.clientLinks.conditions = calmLinks();
    this.fsyncSlowUntil = 0;
    for (const n of this.nodes) {
      n.restart();
      n.resume();
    }
    this.trace("heal: network calm, every node up");
  }

  private currentLeader(): SimMember | undefined {
    let best: SimMember | undefined;
    for (const n of this.nodes) {
      if (n.crashed || n.role !== "Leader") continue;
      if (best === undefined || n.term > best.term) best = n;
    }
    return best;
  }

  // ───────────────────────────── clients ─────────────────────────────

  private startOp(client: SimClient): void {
    const workloadEnd = this.faultPhaseMs + this.recoveryMs / 2;
    if (client.current !== undefined || this.now >= workloadEnd) return;
    if (this.stack === "runtime" && client.session === undefined) {
      client.current = {
        historyIndex: -1,
        op: "register",
        key: "",
        seq: 0,
        value: undefined,
        expected: undefined,
        deadline: this.now + OP_DEADLINE_MS,
        requestIds: new Set(),
        mayHaveApplied: false,
      };
      this.sendAttempt(client);
      return;
    }
    const p = this.clientPrng;
    const key = p.pick(this.keys);
    const roll = p.int(100);
    const op: KvOp = roll < 35 ? "get" : roll < 65 ? "put" : roll < 75 ? "delete" : "cas";
    let value: string | undefined;
    let expected: string | null | undefined;
    if (op === "put" || op === "cas") value = `v${++this.valueSeq}`;
    if (op === "cas") expected = p.chance(0.8) ? (client.lastSeen.get(key) ?? null) : null;
    const entry: MutableHistoryOp = {
      client: client.id,
      op,
      key,
      invoke: this.now,
      complete: null,
      status: "unknown",
      output: null,
    };
    if (value !== undefined) entry.value = value;
    if (op === "cas") entry.expected = expected ?? null;
    this.history.push(entry);
    client.current = {
      historyIndex: this.history.length - 1,
      op,
      key,
      seq: op === "get" ? client.seq : ++client.seq,
      value,
      expected,
      deadline: this.now + OP_DEADLINE_MS,
      requestIds: new Set(),
      mayHaveApplied: false,
    };
    this.sendAttempt(client);
  }

  private sendAttempt(client: SimClient): void {
    const cur = client.current;
    if (cur === undefined) return;
    const requestId = ++this.requestSeq;
    cur.requestIds.add(requestId);
    const node = this.nodesById.get(client.leaderGuess) ?? (this.nodes[0] as SimMember);
    const request: ClientRequest =
      cur.op === "register"
        ? { kind: "register", requestId, client: client.id }
        : cur.op === "get"
          ? { kind: "read", requestId, client: client.id, key: cur.key }
          : {
              kind: "write",
              requestId,
              client: client.id,
              command: {
                client: client.id,
                ...(client.session !== undefined ? { session: client.session } : {}),
                seq: cur.seq,
                op: cur.op,
                key: cur.key,
                ...(cur.value !== undefined ? { value: cur.value } : {}),
                ...(cur.op === "cas" ? { expected: cur.expected ?? null } : {}),
              },
            };
    for (const delay of this.clientLinks.deliveries(client.id, "node")) {
      this.queue.push(this.now + delay, { kind: "request", node, request });
    }
    this.queue.push(this.now + ATTEMPT_TIMEOUT_MS, { kind: "attemptTimeout", client, requestId });
  }

  private onReply(client: SimClient, reply: ClientReply): void {
    const cur = client.current;
    if (cur === undefined || !cur.requestIds.has(reply.requestId)) return;
    if (reply.kind === "ok" && cur.op === "register") {
      client.session = String(reply.output);
      this.endOp(client);
      return;
    }
    if (reply.kind === "ok") {
      const h = this.history[cur.historyIndex] as MutableHistoryOp;
      h.status = "ok";
      h.complete = this.now;
      h.output = cur.op === "get" || cur.op === "cas" ? reply.output : null;
      if (cur.op === "get") client.lastSeen.set(cur.key, reply.output as string | null);
      if (cur.op === "put") client.lastSeen.set(cur.key, cur.value ?? null);
      if (cur.op === "delete") client.lastSeen.set(cur.key, null);
      if (cur.op === "cas" && reply.output === true)
        client.lastSeen.set(cur.key, cur.value ?? null);
      this.endOp(client);
      return;
    }
    if (reply.kind === "lost") cur.mayHaveApplied = true;
    if (reply.kind === "refused") {
      client.leaderGuess =
        reply.leaderHint !== "" && reply.leaderHint !== client.leaderGuess
          ? reply.leaderHint
          : (this.clientPrng.pick(this.clientEndpoints()).id as string);
    }
    cur.requestIds.delete(reply.requestId);
    this.retry(client, 5 + this.clientPrng.int(25));
  }

  private onAttemptTimeout(client: SimClient, requestId: number): void {
    const cur = client.current;
    if (cur === undefined || !cur.requestIds.has(requestId)) return;
    // No answer: the attempt may have been proposed, so the operation may have been applied.
    cur.mayHaveApplied = true;
    client.leaderGuess = this.clientPrng.pick(this.clientEndpoints()).id as string;
    this.retry(client, 0);
  }

  private retry(client: SimClient, backoffMs: number): void {
    const cur = client.current;
    if (cur === undefined) return;
    if (this.now + backoffMs >= cur.deadline) {
      if (cur.op === "register") {
        this.endOp(client);
        return;
      }
      const h = this.history[cur.historyIndex] as MutableHistoryOp;
      // A write whose attempts were all refused certainly did not apply; otherwise we cannot know.
      const maybe = cur.mayHaveApplied || cur.requestIds.size > 0;
      h.status = cur.op !== "get" && maybe ? "unknown" : "fail";
      if (h.status === "fail") h.complete = this.now;
      if (h.invoke >= this.healTime) {
        this.livenessFailures.push(
          `${client.id} ${h.op} ${h.key} invoked at ${h.invoke.toFixed(1)}ms, after healing, did not complete`,
        );
      }
      this.endOp(client);
      return;
    }
    if (backoffMs === 0) this.sendAttempt(client);
    else this.queue.push(this.now + backoffMs, { kind: "retry", client, op: cur });
  }

  private endOp(client: SimClient): void {
    client.current = undefined;
    this.queue.push(this.now + this.clientPrng.int(40), { kind: "clientStep", client });
  }

  // ───────────────────────────── judgement ─────────────────────────────

  private finish(): SimResult {
    // Convergence: after recovery every node holds the same state at the same applied index.
    if (this.invariants.ok && this.events <= EVENTS_MAX) {
      const leader = this.currentLeader();
      if (leader === undefined)
        this.livenessFailures.push("no leader at the end of the recovery phase");
      const members = this.configurationMembers();
      const applied = new Map<string, number>();
      for (const n of members) applied.set(n.id, n.appliedIndex);
      this.invariants.checkFinal(applied);
      const digests = new Set(members.map((n) => `${n.appliedIndex}:${n.stateDigest()}`));
      if (digests.size > 1) {
        this.livenessFailures.push(
          `replicas did not converge: ${members.map((n) => `${n.id}@${n.appliedIndex}`).join(" ")}`,
        );
      }
      if (digests.size === 1) {
        // Final reads: every member's state, read locally at the end, joins the history, so an
        // acknowledged write missing from the converged state fails the linearizability check.
        for (const n of members) {
          for (const key of this.keys) {
            this.history.push({
              client: `final-${n.id}`,
              op: "get",
              key,
              invoke: this.now + 1,
              complete: this.now + 1,
              status: "ok",
              output: n.localGet(key),
            });
          }
        }
      }
      for (const c of this.clients) {
        const okAfterHeal = this.history.some(
          (h) => h.client === c.id && h.status === "ok" && h.invoke >= this.healTime,
        );
        if (!okAfterHeal)
          this.livenessFailures.push(`client ${c.id} completed no operation after healing`);
      }
    }
    const history = this.history as HistoryOp[];
    let linearizable: boolean | "unknown" = true;
    let linearizabilityDetail = "";
    let linearizability: ReturnType<typeof checkLinearizable> | undefined;
    if (this.invariants.ok) {
      const res = checkLinearizable(history);
      linearizability = res;
      linearizable = res.ok;
      if (res.ok === false) linearizabilityDetail = JSON.stringify(res).slice(0, 4000);
    }
    const ok = this.invariants.ok && linearizable === true && this.livenessFailures.length === 0;
    this.observer?.finished({
      now: this.now,
      healMs: this.healTime,
      history,
      linearizability,
      livenessFailures: [...this.livenessFailures],
      traceTail: [...this.traceRing],
      ok,
    });
    return {
      seed: this.seed,
      nodes: this.nodeCount,
      ok,
      violations: this.invariants.violations,
      linearizable,
      linearizabilityDetail,
      livenessFailures: this.livenessFailures,
      ops: history.length,
      opsOk: history.filter((h) => h.status === "ok").length,
      virtualMs: this.now,
      events: this.events,
      traceHash: (this.traceHash >>> 0).toString(16).padStart(8, "0"),
      trace: ok ? [] : [...this.traceRing],
      history: this.options.keepHistory ? history : undefined,
      reconfigs: [...this.reconfigLog],
      wipes: this.wipes,
      incarnationRefusals: this.incarnationRefusals,
      fenced: this.nodes.filter((n) => n.fenced).map((n) => n.id as string),
    };
  }
}

/** Lets every pending promise callback run (they are all microtasks; setImmediate comes after). */
function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function idNum(id: string): number {
  return fnv1a(new TextEncoder().encode(id)) & 0xffff;
}

function messageCode(m: Message): number {
  return MESSAGE_TYPE_CODES[m.type];
}

export function describeMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} t${m.term}`;
  switch (m.type) {
    case "VoteRequest":
      return `${head}${m.preVote ? " pre" : ""} last=${m.lastLogIndex}/${m.lastLogTerm}`;
    case "VoteResponse":
      return `${head}${m.preVote ? " pre" : ""} ${m.granted ? "granted" : "rejected"}`;
    case "AppendRequest":
      return `${head} prev=${m.prevLogIndex}/${m.prevLogTerm} n=${m.entries.length} commit=${m.commit}`;
    case "AppendResponse":
      return `${head} ${m.success ? "ok" : "reject"} index=${m.index} hint=${m.hintIndex}/${m.hintTerm}`;
    case "Heartbeat":
      return `${head} commit=${m.commit}${m.context ? ` ctx=${m.context}` : ""}`;
    case "InstallSnapshot":
      return `${head} snapshot=${m.snapshot.meta.index}/${m.snapshot.meta.term}`;
    case "ReadIndexResponse":
      return `${head} index=${m.index}`;
    default:
      return head;
  }
}

/** Convenience: run one seed (core stack). */
export function runSeed(options: SimOptions): SimResult {
  return new Simulation(options).run();
}

/** Runs one seed on either stack. */
export function runSeedAsync(options: SimOptions): Promise<SimResult> {
  return new Simulation(options).runAsync();
}

export type { NodeId };
