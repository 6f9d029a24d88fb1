// Wiped disks (fault mode "all" now and then, "wipe" often): a member is crashed, its disk
// replaced by an empty one with a new incarnation, and restarted under its old id and options,
// as an operator who deletes a data directory and starts the member again would. The network
// models the peer handshake's incarnation check (transport/incarnations.ts): every message is
// stamped with its sender's disk incarnation; a receiver learns each peer's incarnation at first
// contact, durably (on its disk), and drops messages from, or would not send to, the same id
// under another one; the sender of a refused message hears it and stops for good (fenced), as
// the real member exits. The testing fault acceptWipedMember skips the check: the wiped member
// is let in, and Vote Safety / Election Safety catch its double vote.
import { type Message, Xoshiro128 } from "../raft/index.js";
import type { SimMember } from "./member.js";
import type { SimEvent, SimWorld } from "./world.js";

type RestartWipedEvent = Extract<SimEvent, { kind: "restartWiped" }>;

export class WipedDisks {
  /** Members restarted with a wiped disk under their old id. */
  wipes = 0;
  /** Messages and hellos refused for a stale incarnation. */
  incarnationRefusals = 0;
  /** Wiped disks: their own PRNG, not forked from the run's, so other faults stay as they were. */
  private readonly prng: Xoshiro128;
  private readonly wipesMax: number;
  private readonly mode: "all" | "none" | "wipe";
  /** The testing fault acceptWipedMember turns the check off. */
  private readonly check: boolean;

  constructor(
    private readonly world: SimWorld,
    nodeCount: number,
  ) {
    const options = world.options;
    this.mode = options.faults ?? "all";
    this.check = options.testingFaults?.acceptWipedMember !== true;
    this.prng = new Xoshiro128((Math.imul(options.seed, 0x9e3779b1) ^ 0x77195eed) >>> 0);
    // Fenced members never come back: a minority of them at most, so a quorum stays. With the
    // testing fault nobody is fenced, and a member may be wiped again and again.
    const minority = Math.floor((nodeCount - 1) / 2);
    this.wipesMax =
      this.mode === "none"
        ? 0
        : !this.check && this.mode === "wipe"
          ? 8
          : this.mode === "wipe"
            ? // With membership changes the configuration may shrink around a fenced member.
              options.reconfig === true
              ? Math.min(minority, 1)
              : minority
            : this.prng.chance(0.5)
              ? Math.min(minority, 1)
              : 0;
  }

  /** Schedules the first wipe, if this run has any. */
  start(): void {
    if (this.wipesMax === 0) return;
    this.world.queue.push(
      this.mode === "wipe" ? 150 + this.prng.int(400) : 500 + this.prng.int(4000),
      { kind: "wipe" },
    );
  }

  /** The "wipe" event: one wipe, and the next one scheduled while wipes are left. */
  onWipe(): void {
    const w = this.world;
    if (w.healed || this.wipes >= this.wipesMax) return;
    this.injectWipe();
    if (this.wipes < this.wipesMax)
      w.queue.push(
        w.now + (this.mode === "wipe" ? 100 + this.prng.int(400) : 1000 + this.prng.int(3000)),
        { kind: "wipe" },
      );
  }

  /** A wiped member boots empty, unless it was crashed again meanwhile. */
  onRestartWiped(ev: RestartWipedEvent): void {
    if (ev.node.incarnation !== ev.incarnation) return;
    ev.node.restart();
  }

  /**
   * The connections a live member keeps to every peer (transport/peer-sender.ts dials each one
   * at start and redials whenever a connection breaks), modelled as a handshake with every
   * reachable live peer at each tick: the acceptor learns the dialer's incarnation at first
   * contact or refuses a stale one (the dialer is fenced), the dialer learns the acceptor's or
   * refuses to send to a stale one. So members learn each other's incarnations whatever Raft
   * sends (followers send each other nothing in a steady state).
   */
  handshakes(dialer: SimMember): void {
    if (dialer.crashed || dialer.fenced) return;
    const own = dialer.disk.incarnation;
    for (const acceptor of this.world.nodes) {
      if (
        acceptor === dialer ||
        acceptor.crashed ||
        this.world.network.isBlocked(dialer.id, acceptor.id)
      )
        continue;
      const known = acceptor.disk.peerIncarnations.get(dialer.id);
      if (known === undefined) acceptor.disk.peerIncarnations.set(dialer.id, own);
      else if (known !== own && this.check) {
        this.incarnationRefusals++;
        this.world.trace(
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
   * With the testing fault incarnations are learned as usual, but a stale one is let in.
   */
  admit(m: Message, stamp: number, receiver: SimMember): boolean {
    const sender = this.world.nodesById.get(m.from);
    const knownSender = receiver.disk.peerIncarnations.get(m.from);
    if (knownSender === undefined) receiver.disk.peerIncarnations.set(m.from, stamp);
    else if (knownSender !== stamp && this.check) {
      this.incarnationRefusals++;
      this.world.trace(
        `${m.to} refuses ${m.from}: incarnation ${stamp}, remembered ${knownSender}`,
      );
      if (sender !== undefined && sender.disk.incarnation === stamp && !sender.fenced)
        sender.fence();
      return false;
    }
    // The sender's side: it dialed, and the receiver's Accepted reply showed its incarnation.
    if (sender === undefined || sender.disk.incarnation !== stamp) return true;
    const current = receiver.disk.incarnation;
    const knownReceiver = sender.disk.peerIncarnations.get(m.to);
    if (knownReceiver === undefined) sender.disk.peerIncarnations.set(m.to, current);
    else if (knownReceiver !== current && this.check) {
      this.incarnationRefusals++;
      this.world.trace(
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
    const w = this.world;
    const p = this.prng;
    const running = w.nodes.filter((n) => !n.fenced);
    const knownByAll = (v: SimMember): boolean =>
      running.every((o) => o === v || o.disk.peerIncarnations.get(v.id) === v.disk.incarnation);
    const live = running.filter((n) => !n.crashed && knownByAll(n));
    if (live.length === 0) return;
    const voted = live.filter((n) => n.disk.hardState.vote !== "" && n.role !== "Leader");
    const victim = p.pick(voted.length > 0 ? voted : live);
    this.wipes++;
    const before = `term=${victim.disk.hardState.term} vote=${victim.disk.hardState.vote || "-"} last=${victim.disk.lastIndex()}`;
    victim.wipe(w.freshIncarnation());
    w.trace(`fault wipe ${victim.id} (${before})`);
    const delay = this.mode === "wipe" ? p.float() * 5 : 1 + p.int(50);
    w.queue.push(w.now + delay, {
      kind: "restartWiped",
      node: victim,
      incarnation: victim.incarnation,
    });
  }
}
