// Membership changes during the faults (`ordo sim --reconfig`, runtime stack): members added
// from empty logs (learners and voters), learners promoted, members removed (the leader too),
// up to a majority of the voters replaced through a joint configuration, leadership
// transferred. Removed members keep running (stale); the final checks cover the members of the
// final configuration, which this file also names for the clients and the verdict.
import {
  asNodeId,
  type ConfChange,
  type ConfState,
  type NodeId,
  type Xoshiro128,
} from "../raft/index.js";
import type { SimMember } from "./member.js";
import { RuntimeMember } from "./runtime-member.js";
import type { SimWorld } from "./world.js";

/** Members added in one run at most (each from an empty log, under a fresh id). */
const SPAWNED_MAX = 6;

type Change = ConfChange["changes"][number];

export class Reconfiguration {
  /** The membership changes applied and leadership transfers completed, in order. */
  readonly log: string[] = [];
  /** Members ever added or tried (never reused: a removed id does not come back). */
  private readonly spawned = new Set<string>();
  private nextMemberNumber: number;

  constructor(
    private readonly world: SimWorld,
    /** Only with options.reconfig (forked last, so runs without it are unchanged). */
    private readonly prng: Xoshiro128 | undefined,
    nodeCount: number,
    /** Makes a runtime member (on the run's template) with this id and configuration. */
    private readonly newMember: (id: NodeId, confState: ConfState) => RuntimeMember,
  ) {
    this.nextMemberNumber = nodeCount + 1;
  }

  /** Members added so far (for the trace hash). */
  get spawnedCount(): number {
    return this.spawned.size;
  }

  /** Schedules the first change, with --reconfig. */
  start(): void {
    if (this.prng === undefined) return;
    this.world.queue.push(200 + this.prng.int(400), { kind: "reconfig" });
  }

  /** The "reconfig" event: one change, and the next one scheduled, until the heal. */
  onReconfig(): void {
    const w = this.world;
    if (w.healed || this.prng === undefined) return;
    this.injectReconfig(this.prng);
    w.queue.push(w.now + 150 + this.prng.int(600), { kind: "reconfig" });
  }

  /**
   * Where a client tries next when it has no leader hint. With --reconfig, the members of the
   * current configuration, as an etcd client that syncs its endpoints from MemberList would;
   * removed members (which keep running here, stale or not) are reached through stale hints.
   */
  clientEndpoints(): SimMember[] {
    const members = this.configurationMembers();
    return members.length > 0 ? members : this.world.nodes;
  }

  /** The members of the current leader's configuration (every node without --reconfig). */
  configurationMembers(): SimMember[] {
    // A fenced member stopped for good (it would be removed and added back as a new one).
    const running = this.world.nodes.filter((n) => !n.fenced);
    if (this.prng === undefined) return running;
    const leader = this.world.currentLeader();
    const conf = leader instanceof RuntimeMember ? leader.membership()?.confState : undefined;
    if (conf === undefined) return running;
    const ids = new Set<string>([...conf.voters, ...conf.votersOutgoing, ...conf.learners]);
    return running.filter((n) => ids.has(n.id));
  }

  /** A new member: empty disk, empty configuration; it waits for the leader's snapshot. */
  private spawnMember(): RuntimeMember {
    const id = asNodeId(`n${this.nextMemberNumber++}`);
    this.spawned.add(id);
    const node = this.newMember(id, { voters: [], votersOutgoing: [], learners: [] });
    this.world.addMember(node);
    return node;
  }

  /** One random membership change or leadership transfer, proposed through a live member. */
  private injectReconfig(p: Xoshiro128): void {
    const leader = this.world.currentLeader();
    if (!(leader instanceof RuntimeMember)) return;
    const conf = leader.membership()?.confState;
    if (conf === undefined || conf.votersOutgoing.length > 0) return; // joint: leaves by itself
    const members = [...conf.voters, ...conf.learners];
    const via = p.chance(0.7) ? leader : this.world.nodesById.get(p.pick(members) as string);
    if (!(via instanceof RuntimeMember) || via.crashed) return;
    const contexts = new Map<NodeId, Uint8Array>();
    const cc = this.chooseChange(p, conf, members, contexts);
    if (cc === undefined) this.transferLeadership(p, leader, conf);
    else this.propose(via, cc, contexts);
  }

  /** A change drawn at random, or undefined for a leadership transfer instead. */
  private chooseChange(
    p: Xoshiro128,
    conf: ConfState,
    members: readonly NodeId[],
    contexts: Map<NodeId, Uint8Array>,
  ): ConfChange | undefined {
    const canSpawn = this.spawned.size < SPAWNED_MAX;
    const roll = p.int(100);
    const single = (type: Change["type"], node: NodeId): ConfChange => ({
      transition: "Auto",
      changes: [{ type, node }],
    });
    const spawn = (): NodeId => {
      const node = this.spawnMember().id;
      contexts.set(node, new TextEncoder().encode(`sim://${node}`));
      return node;
    };
    if (roll < 22 && canSpawn) return single("AddLearner", spawn());
    if (roll < 32 && canSpawn && conf.voters.length < 7) return single("AddVoter", spawn());
    if (roll < 52 && conf.learners.length > 0 && conf.voters.length < 7)
      return single("AddVoter", p.pick(conf.learners));
    if (roll < 72 && members.length > 3) {
      const removable = conf.voters.length > 3 ? members : [...conf.learners];
      return removable.length > 0 ? single("RemoveNode", p.pick(removable)) : undefined;
    }
    if (roll < 82 && canSpawn && conf.voters.length >= 2) return this.replaceVoters(p, conf, spawn);
    return undefined;
  }

  /**
   * Replaces voters (up to a majority of them, with new members from empty logs): several
   * voters change, so this must go through a joint configuration.
   */
  private replaceVoters(p: Xoshiro128, conf: ConfState, spawn: () => NodeId): ConfChange {
    const count =
      1 + p.int(Math.min(Math.ceil(conf.voters.length / 2), SPAWNED_MAX - this.spawned.size));
    const out = [...conf.voters];
    const removed: NodeId[] = [];
    for (let i = 0; i < count; i++) removed.push(out.splice(p.int(out.length), 1)[0] as NodeId);
    const changes: Change[] = [];
    for (let i = 0; i < count; i++) changes.push({ type: "AddVoter", node: spawn() });
    for (const node of removed) changes.push({ type: "RemoveNode", node });
    return { transition: p.chance(0.5) ? "Auto" : "JointImplicit", changes };
  }

  private transferLeadership(p: Xoshiro128, leader: RuntimeMember, conf: ConfState): void {
    const targets = conf.voters.filter((v) => v !== leader.id);
    if (targets.length === 0) return;
    const to = p.pick(targets);
    this.world.trace(`reconfig transfer leadership ${leader.id} -> ${to}`);
    leader.transferLeadership(to, 500).then(
      () => {
        this.log.push(`transfer ${leader.id} -> ${to}`);
        this.world.trace(`reconfig transfer to ${to} done`);
      },
      (e: unknown) => this.world.trace(`reconfig transfer to ${to} failed: ${String(e)}`),
    );
  }

  private propose(via: RuntimeMember, cc: ConfChange, contexts: Map<NodeId, Uint8Array>): void {
    const what = cc.changes.map((c) => `${c.type} ${c.node}`).join(", ");
    this.world.trace(`reconfig via ${via.id}: ${cc.transition} ${what}`);
    via.changeMembership(cc, contexts, 1000).then(
      (m) => {
        const line = `${what} applied at ${m.index}`;
        this.log.push(line);
        this.world.trace(`reconfig ${line}`);
      },
      (e: unknown) => this.world.trace(`reconfig ${what} failed: ${String(e)}`),
    );
  }
}
