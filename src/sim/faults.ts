// The fault schedule of a run: partitions (symmetric, asymmetric, the leader cut off, flapping
// links), crashes that lose unsynced writes, restarts, pauses, lossy and slow links, slow disks;
// in "churn" seeds leaders are crashed or cut off every few dozen milliseconds, often just after
// their election (Raft's Figure 8 territory). At the end of the fault phase, the heal: the
// network calm, every member up. Wiped disks have their own file (wiped-disks.ts).
import type { Xoshiro128 } from "../raft/index.js";
import type { SimMember } from "./member.js";
import { calmLinks, type LinkConditions } from "./network.js";
import type { SimEvent, SimWorld } from "./world.js";

/** "churn" seeds kill and cut off leaders every few dozen milliseconds (Figure 8 territory). */
export type FaultProfile = "mixed" | "churn";

type FlapEvent = Extract<SimEvent, { kind: "flap" }>;
type StrikeEvent = Extract<SimEvent, { kind: "strike" }>;

export class FaultInjector {
  private fsyncSlowUntil = 0;

  constructor(
    private readonly world: SimWorld,
    /** The fault schedule's own PRNG. */
    private readonly prng: Xoshiro128,
    readonly profile: FaultProfile,
    /** The initial cluster size: at least one member of that many stays up. */
    private readonly nodeCount: number,
  ) {}

  /** Schedules the first fault (fault modes "all" and "wipe"). */
  start(): void {
    this.world.queue.push(100 + this.prng.int(300), { kind: "fault" });
  }

  /** How long the next fsync takes: long while a slow-disk fault lasts. */
  fsyncDelayMs(): number {
    const w = this.world;
    const slow = w.now < this.fsyncSlowUntil;
    return slow ? 5 + w.prng.float() * 40 : 0.3 + w.prng.float() * 2;
  }

  /** The "fault" event: one fault, and the next one scheduled, until the heal. */
  onFault(): void {
    const w = this.world;
    if (w.healed) return;
    if (this.profile === "churn") this.injectChurn();
    else this.injectFault();
    const gap = this.profile === "churn" ? 20 + this.prng.int(120) : 100 + this.prng.int(500);
    w.queue.push(w.now + gap, { kind: "fault" });
  }

  /** A flapping link: cut if up, up if cut, `left` more times. */
  onFlap(ev: FlapEvent): void {
    const w = this.world;
    if (w.healed) return;
    if (w.network.isBlocked(ev.a, ev.b)) {
      w.network.unblock(ev.a, ev.b);
      w.network.unblock(ev.b, ev.a);
    } else {
      w.network.block(ev.a, ev.b);
      w.network.block(ev.b, ev.a);
    }
    if (ev.left > 0) {
      w.queue.push(w.now + 20 + this.prng.int(80), { ...ev, left: ev.left - 1 });
    }
  }

  /** A churn seed's strike on a new leader (see onNewLeader). */
  onStrike(ev: StrikeEvent): void {
    if (this.world.healed || ev.node.crashed) return;
    if (ev.crash) ev.node.crash();
    else this.isolate(ev.node);
    this.world.trace(`churn strike new leader ${ev.node.id} ${ev.crash ? "crash" : "isolate"}`);
  }

  /**
   * In churn seeds, a new leader is often struck down within milliseconds of its election, before
   * its first entries spread: the interleavings of Raft's Figure 8 need exactly that.
   */
  onNewLeader(id: string): void {
    const w = this.world;
    if (this.profile !== "churn" || w.healed || !this.prng.chance(0.4)) return;
    const node = w.nodesById.get(id);
    if (node === undefined) return;
    const crash =
      this.prng.chance(0.5) && w.nodes.filter((n) => n.crashed).length < this.nodeCount - 1;
    w.queue.push(w.now + this.prng.float() * 6, { kind: "strike", node, crash });
  }

  /** The end of the fault phase: the network calm, every member up. */
  heal(): void {
    const w = this.world;
    w.healed = true;
    w.healTime = w.now;
    w.network.healAll();
    w.network.conditions = calmLinks();
    w.clientLinks.conditions = calmLinks();
    this.fsyncSlowUntil = 0;
    for (const n of w.nodes) {
      n.restart();
      n.resume();
    }
    w.trace("heal: network calm, every node up");
  }

  /** A mixed seed's fault: links (roll < 45), members (< 85) or conditions (the rest). */
  private injectFault(): void {
    const roll = this.prng.int(100);
    if (roll < 45) this.cutLinks(roll);
    else if (roll < 85) this.strikeMembers(roll);
    else this.degrade(roll);
  }

  private cutLinks(roll: number): void {
    const { network, nodes } = this.world;
    const p = this.prng;
    const ids = nodes.map((n) => n.id as string);
    if (roll < 12) {
      // Symmetric partition into two random groups.
      const shuffled = ids.map((id) => ({ id, side: p.int(2) }));
      network.healAll();
      for (const a of shuffled)
        for (const b of shuffled) if (a.side !== b.side) network.block(a.id, b.id);
      this.world.trace(`fault partition ${shuffled.map((s) => `${s.id}:${s.side}`).join(" ")}`);
    } else if (roll < 22) {
      const leader = this.world.currentLeader();
      if (leader !== undefined) {
        this.isolate(leader);
        this.world.trace(`fault isolate leader ${leader.id}`);
      }
    } else if (roll < 30) {
      // Asymmetric: some directed links only.
      const count = 1 + p.int(ids.length);
      for (let i = 0; i < count; i++) {
        const a = p.pick(ids);
        const b = p.pick(ids);
        if (a !== b) network.block(a, b);
      }
      this.world.trace(`fault asymmetric ${count} links`);
    } else {
      network.healAll();
      this.world.trace("fault heal partitions");
    }
  }

  private strikeMembers(roll: number): void {
    const w = this.world;
    const live = w.nodes.filter((n) => !n.crashed);
    const crashed = w.nodes.filter((n) => n.crashed);
    if (roll < 55) {
      if (live.length > 1) {
        const victim = this.prng.pick(live);
        victim.crash();
        w.trace(`fault crash ${victim.id}`);
      }
    } else if (roll < 60) {
      const leader = w.currentLeader();
      if (leader !== undefined && live.length > 1) {
        leader.crash();
        w.trace(`fault crash leader ${leader.id}`);
      }
    } else if (roll < 75) {
      if (crashed.length > 0) this.prng.pick(crashed).restart();
    } else if (roll < 80) {
      const node = this.prng.pick(live);
      if (node !== undefined) {
        node.pause();
        w.trace(`fault pause ${node.id}`);
      }
    } else {
      for (const n of w.nodes) n.resume();
      w.trace("fault resume all");
    }
  }

  /** Lossy, duplicating, slow links; a flapping link; a slow disk. */
  private degrade(roll: number): void {
    const w = this.world;
    const p = this.prng;
    if (roll < 93) {
      const c: LinkConditions = {
        dropRate: p.chance(0.5) ? p.float() * 0.2 : 0,
        duplicateRate: p.chance(0.3) ? p.float() * 0.05 : 0,
        delayMinMs: 0.2 + p.float(),
        delayMaxMs: 2 + p.float() * 8,
        tailRate: p.float() * 0.2,
        tailMaxMs: 5 + p.float() * 120,
      };
      w.network.conditions = c;
      w.clientLinks.conditions = { ...c, dropRate: c.dropRate / 2 };
      w.trace(
        `fault links drop=${c.dropRate.toFixed(3)} dup=${c.duplicateRate.toFixed(3)} tail=${c.tailRate.toFixed(2)}`,
      );
    } else if (roll < 97) {
      const ids = w.nodes.map((n) => n.id as string);
      const a = p.pick(ids);
      const b = p.pick(ids);
      if (a !== b) {
        w.queue.push(w.now, { kind: "flap", a, b, left: 4 + p.int(10) });
        w.trace(`fault flapping ${a}<->${b}`);
      }
    } else {
      this.fsyncSlowUntil = w.now + 200 + p.int(1000);
      w.trace("fault slow disk");
    }
  }

  /** Leader churn: crash or isolate whoever leads, restart and reconnect the others, drop messages. */
  private injectChurn(): void {
    const w = this.world;
    const p = this.prng;
    const crashed = w.nodes.filter((n) => n.crashed);
    const leader = w.currentLeader();
    const roll = p.int(100);
    if (roll < 30 && leader !== undefined && crashed.length < this.nodeCount - 1) {
      leader.crash();
      w.trace(`churn crash leader ${leader.id}`);
    } else if (roll < 45 && leader !== undefined) {
      this.isolate(leader);
      w.trace(`churn isolate leader ${leader.id}`);
    } else if (roll < 75 && crashed.length > 0) {
      p.pick(crashed).restart();
    } else if (roll < 90) {
      w.network.healAll();
      w.trace("churn heal partitions");
    } else {
      w.network.conditions = { ...calmLinks(), dropRate: p.float() * 0.3 };
      w.trace(`churn drop=${w.network.conditions.dropRate.toFixed(2)}`);
    }
  }

  /** Cuts `node` off from every other member, both ways. */
  private isolate(node: SimMember): void {
    for (const n of this.world.nodes) {
      if (n === node) continue;
      this.world.network.block(node.id, n.id);
      this.world.network.block(n.id, node.id);
    }
  }
}
