// One simulated run: a cluster of members, clients running a KV workload, and a fault schedule,
// all in virtual time and all drawn from one seed. Same seed, same run, byte for byte: the
// trace hash at the end proves it. After the fault phase the cluster is healed and must
// recover (liveness); then the history is checked for linearizability and Raft's invariants
// (checked at every step) are summed up.
//
// This file builds the run and dispatches its events; each job has a file of its own: the
// shared state (world.ts), faults (faults.ts), wiped disks and the incarnation check
// (wiped-disks.ts), membership changes (reconfiguration.ts), the clients (workload.ts), the
// verdict (verdict.ts), the trace and its hash (trace.ts).
import type { InvariantViolation } from "../check/index.js";
import { asNodeId, type ConfState, type NodeId, Xoshiro128 } from "../raft/index.js";
import { FaultInjector } from "./faults.js";
import type { SimMember } from "./member.js";
import { SimNetwork } from "./network.js";
import { type NodeEnvironment, SimNode } from "./node.js";
import { Reconfiguration } from "./reconfiguration.js";
import { RuntimeMember, type RuntimeMemberOptions } from "./runtime-member.js";
import type { SimOptions, SimStack } from "./sim-options.js";
import type { SimObserver } from "./story.js";
import { describeMessage, idNum, messageCode } from "./trace.js";
import { judge, type SimResult } from "./verdict.js";
import { WipedDisks } from "./wiped-disks.js";
import { Workload } from "./workload.js";
import {
  ELECTION_TICKS,
  EVENTS_MAX,
  HEARTBEAT_TICKS,
  type SimEvent,
  SimWorld,
  TICK_MS,
} from "./world.js";

/** What the core stack's members draw from the seed besides the runtime's template. */
interface CoreDraws {
  readonly snapshotEntries: number;
  readonly messageBytesMax: number;
  readonly inflightMessagesMax: number;
}

export class Simulation {
  readonly seed: number;
  readonly nodeCount: number;
  readonly stack: SimStack;
  private readonly world: SimWorld;
  private readonly faults: FaultInjector;
  private readonly wipes: WipedDisks;
  private readonly reconfig: Reconfiguration;
  private readonly workload: Workload;
  private readonly faultPhaseMs: number;
  private readonly recoveryMs: number;
  /** options.clockRateSkew, checked. */
  private readonly clockRateSkew: number;
  private readonly memberTemplate: Omit<RuntimeMemberOptions, "id" | "confState" | "clockSkewMs">;
  /** Violations already told to the observer; the links it last saw. */
  private violationsObserved = 0;
  private linksObserved = -1;

  constructor(private readonly options: SimOptions) {
    checkOptions(options);
    this.seed = options.seed;
    // Every draw below comes in the order it always came: a seed's run depends on it.
    const prng = new Xoshiro128(options.seed);
    const faultPrng = prng.fork();
    const clientPrng = prng.fork();
    const network = new SimNetwork(prng.fork());
    const clientLinks = new SimNetwork(prng.fork());
    const w = new SimWorld(options, prng, network, clientLinks);
    this.world = w;
    this.nodeCount = options.nodes ?? ([3, 5, 7][options.seed % 3] as number);
    this.stack = options.stack ?? "core";
    this.faultPhaseMs = options.faultPhaseMs ?? 6000 + prng.int(4000);
    this.recoveryMs = options.recoveryMs ?? 6000;
    this.clockRateSkew = options.clockRateSkew ?? 0;
    const profile = prng.chance(0.3) ? "churn" : "mixed";
    this.faults = new FaultInjector(w, faultPrng, profile, this.nodeCount);
    const keys = Array.from({ length: 2 + prng.int(4) }, (_, i) => `k${i + 1}`);
    const workloadEndMs = this.faultPhaseMs + this.recoveryMs / 2;
    this.workload = new Workload(w, clientPrng, this.stack, keys, workloadEndMs, () =>
      this.reconfig.clientEndpoints(),
    );
    const ids = Array.from({ length: this.nodeCount }, (_, i) => asNodeId(`n${i + 1}`));
    const snapshotEntries = 20 + prng.int(200);
    // Small messages and windows make the leader replicate old entries apart from new ones.
    const messageBytesMax = prng.pick([1, 150, 4096, 1 << 20]);
    const inflightMessagesMax = prng.pick([1, 4, 64, 256]);
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
    this.createMembers(ids, { snapshotEntries, messageBytesMax, inflightMessagesMax });
    this.workload.addClients(2 + prng.int(4), ids);
    const mode = options.faults ?? "all";
    if (mode === "all" || mode === "wipe") this.faults.start();
    this.wipes = new WipedDisks(w, this.nodeCount);
    this.wipes.start();
    w.queue.push(this.faultPhaseMs, { kind: "heal" });
    const reconfigPrng = options.reconfig === true ? prng.fork() : undefined;
    this.reconfig = new Reconfiguration(w, reconfigPrng, this.nodeCount, (id, confState) =>
      this.runtimeMember(id, confState),
    );
    this.reconfig.start();
  }

  get nodes(): readonly SimMember[] {
    return this.world.nodes;
  }

  get invariants(): SimWorld["invariants"] {
    return this.world.invariants;
  }

  /** Runs to the end and judges the run (core stack: synchronous). */
  run(): SimResult {
    if (this.stack === "runtime")
      throw new Error("the runtime stack runs asynchronously: use runAsync()");
    while (this.step());
    return this.finish();
  }

  /**
   * Runs to the end and judges the run. Between events `drainMicrotasks` lets every microtask
   * run, so the runtime's promise chains settle at the virtual time of the event that started
   * them. (It is the caller's: sim/ names no timer; runner.ts passes setImmediate.)
   */
  async runAsync(drainMicrotasks: () => Promise<void>): Promise<SimResult> {
    if (this.stack === "core") return this.run();
    await drainMicrotasks();
    while (this.step()) await drainMicrotasks();
    return this.finish();
  }

  /** The bootstrap members, each on a fresh disk, voters of one configuration. */
  private createMembers(ids: readonly NodeId[], core: CoreDraws): void {
    const confState: ConfState = { voters: ids, votersOutgoing: [], learners: [] };
    for (const id of ids) {
      const node: SimMember =
        this.stack === "runtime"
          ? this.runtimeMember(id, confState)
          : new SimNode(
              {
                id,
                confState,
                electionTicks: ELECTION_TICKS,
                heartbeatTicks: HEARTBEAT_TICKS,
                ...core,
                testingFaults: this.options.testingFaults,
              },
              this.world.prng.fork(),
              this.environment(),
            );
      this.world.addMember(node);
    }
  }

  /** A runtime member on the run's template, with a clock skew of its own. */
  private runtimeMember(id: NodeId, confState: ConfState): RuntimeMember {
    const prng = this.world.prng;
    return new RuntimeMember(
      { id, confState, ...this.memberTemplate, clockSkewMs: prng.int(200) },
      prng.fork(),
      this.environment(),
    );
  }

  /** What a member sees of the simulation: the clock, the networks, the disk, the checkers. */
  private environment(): NodeEnvironment {
    const w = this.world;
    const inv = w.invariants;
    return {
      now: () => w.now,
      sendMessage: (m) => {
        const stamp = w.nodesById.get(m.from)?.disk.incarnation ?? 0;
        for (const delay of w.network.deliveries(m.from, m.to)) {
          w.queue.push(w.now + delay, { kind: "deliver", message: m, stamp, sent: w.now });
        }
      },
      reply: (clientId, reply) => this.workload.replyTo(clientId, reply),
      later: (node, delayMs, run) => {
        w.queue.push(w.now + delayMs, {
          kind: "later",
          node,
          incarnation: node.incarnation,
          run,
        });
      },
      fsyncDelayMs: () => this.faults.fsyncDelayMs(),
      observeLeaseRead: (node, term) => inv.observeLeaseRead(node, term),
      observeCore: (node, check) => inv.observeCore(node, check),
      observeLeader: (node, term, firstIndex, termAt) => {
        inv.observeLeader(node, term);
        inv.observeLeaderLog(node, term, firstIndex, termAt);
        this.faults.onNewLeader(node);
      },
      observeDurable: (node, entries) => inv.observeDurableAppend(node, entries),
      observeSnapshotInstall: (node, index, term) => inv.observeSnapshotInstall(node, index, term),
      observeCompaction: (node, index) => inv.observeCompaction(node, index),
      observeApply: (node, entry, term) => inv.observeApply(node, entry, term),
      observeAck: (entry, term) => inv.observeAcknowledged(entry, term),
      trace: (node, what) => w.trace(`${node} ${what}`),
      fail: (reason) => {
        if (w.livenessFailures.length < 20) w.livenessFailures.push(`unexpected: ${reason}`);
      },
    };
  }

  /** The time to `node`'s next tick: see SimOptions.clockRateSkew. */
  private tickIntervalOf(node: SimMember): number {
    if (this.clockRateSkew === 0 || node.role === "Leader") return TICK_MS;
    return TICK_MS / (1 + this.clockRateSkew);
  }

  /** Processes the next event; false at the end of the run. */
  private step(): boolean {
    const w = this.world;
    const endMs = this.faultPhaseMs + this.recoveryMs;
    const t = w.queue.peekTime();
    if (t === undefined || t > endMs) return false;
    if (++w.events > EVENTS_MAX) {
      w.livenessFailures.push(`event budget of ${EVENTS_MAX} exhausted at ${w.now}ms`);
      return false;
    }
    const ev = w.queue.pop();
    if (ev === undefined) return false;
    w.now = ev.time;
    this.dispatch(ev.payload);
    if (w.observer !== undefined) this.observe(w.observer);
    return w.invariants.ok;
  }

  private observe(o: SimObserver): void {
    const w = this.world;
    const violations = w.invariants.violations;
    for (; this.violationsObserved < violations.length; this.violationsObserved++)
      o.violation(w.now, violations[this.violationsObserved] as InvariantViolation);
    const links = w.network.version;
    const changed = links !== this.linksObserved;
    this.linksObserved = links;
    o.afterEvent(w.now, w.nodes, changed ? () => w.network.blockedLinks() : undefined);
  }

  /** Each event folds into the trace hash (its code and numbers are the run's fingerprint). */
  private dispatch(ev: SimEvent): void {
    const hash = (kind: number, a: number, b: number): void =>
      this.world.log.hashEvent(this.world.now, kind, a, b);
    switch (ev.kind) {
      case "tick":
        hash(1, idNum(ev.node.id), 0);
        this.tick(ev);
        return;
      case "deliver":
        hash(2, idNum(ev.message.from) * 64 + idNum(ev.message.to), messageNumber(ev));
        this.deliver(ev);
        return;
      case "later":
        if (ev.node.incarnation !== ev.incarnation || ev.node.crashed) return;
        hash(3, idNum(ev.node.id), ev.incarnation);
        ev.run();
        return;
      case "request":
        hash(4, idNum(ev.node.id), ev.request.requestId);
        ev.node.handleClient(ev.request);
        return;
      case "reply":
        hash(5, idNum(ev.client.id), ev.reply.requestId);
        this.workload.onReply(ev.client, ev.reply);
        return;
      case "attemptTimeout":
        hash(6, idNum(ev.client.id), ev.requestId);
        this.workload.onAttemptTimeout(ev.client, ev.requestId);
        return;
      case "clientStep":
        hash(7, idNum(ev.client.id), 0);
        this.workload.startOp(ev.client);
        return;
      case "retry":
        hash(11, idNum(ev.client.id), 0);
        this.workload.onRetry(ev.client, ev.op);
        return;
      case "fault":
        hash(8, 0, 0);
        this.faults.onFault();
        return;
      case "flap":
        hash(9, ev.left, 0);
        this.faults.onFlap(ev);
        return;
      case "heal":
        hash(10, 0, 0);
        this.faults.heal();
        return;
      case "strike":
        hash(12, idNum(ev.node.id), ev.crash ? 1 : 0);
        this.faults.onStrike(ev);
        return;
      case "wipe":
        hash(14, this.wipes.wipes, 0);
        this.wipes.onWipe();
        return;
      case "restartWiped":
        hash(15, idNum(ev.node.id), ev.incarnation);
        this.wipes.onRestartWiped(ev);
        return;
      case "reconfig":
        hash(13, this.reconfig.spawnedCount, 0);
        this.reconfig.onReconfig();
        return;
    }
  }

  private tick(ev: Extract<SimEvent, { kind: "tick" }>): void {
    this.wipes.handshakes(ev.node);
    ev.node.tick();
    this.world.queue.push(this.world.now + this.tickIntervalOf(ev.node), ev);
  }

  private deliver(ev: Extract<SimEvent, { kind: "deliver" }>): void {
    const w = this.world;
    const m = ev.message;
    // Cutting a link also loses what was in flight on it.
    if (w.network.isBlocked(m.from, m.to)) return;
    const receiver = w.nodesById.get(m.to);
    if (receiver === undefined || receiver.crashed) return;
    if (!this.wipes.admit(m, ev.stamp, receiver)) return;
    if (this.options.traceLines !== 0) w.trace(describeMessage(m));
    w.observer?.delivered(ev.sent, w.now, m, describeMessage(m));
    if (m.type === "VoteResponse" && m.granted && !m.preVote)
      w.invariants.observeVote(m.from, m.term, m.to);
    // A candidate asks only once its vote for itself is durable: that is a vote too.
    if (m.type === "VoteRequest" && !m.preVote) w.invariants.observeVote(m.from, m.term, m.from);
    receiver.receive(m);
  }

  private finish(): SimResult {
    return judge({
      world: this.world,
      workload: this.workload,
      nodeCount: this.nodeCount,
      configurationMembers: () => this.reconfig.configurationMembers(),
      reconfigs: this.reconfig.log,
      wipes: this.wipes.wipes,
      incarnationRefusals: this.wipes.incarnationRefusals,
    });
  }
}

/** The options' combinations a run refuses, before it draws anything. */
function checkOptions(options: SimOptions): void {
  const runtime = (options.stack ?? "core") === "runtime";
  if (options.reconfig === true && !runtime) throw new Error("--reconfig needs the runtime stack");
  if (options.readMode === "lease" && !runtime)
    throw new Error("--read-mode lease needs the runtime stack");
  const skew = options.clockRateSkew ?? 0;
  if (!(skew >= 0 && skew < 10)) throw new Error("--clock-skew must be in [0, 10)");
}

/** A delivered message as a number for the trace hash: its type and term. */
function messageNumber(ev: Extract<SimEvent, { kind: "deliver" }>): number {
  return messageCode(ev.message) * 1_000_003 + ev.message.term;
}

/** Convenience: run one seed (core stack). */
export function runSeed(options: SimOptions): SimResult {
  return new Simulation(options).run();
}
