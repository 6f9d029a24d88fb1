// SimProcess: the life of a simulated member process, whichever stack runs inside it (SimNode:
// the bare core; RuntimeMember: the full runtime). It crashes (losing the write in flight, which
// may be torn), is wiped (a new, empty disk with a new incarnation), is fenced (a peer refused
// its data directory: it stops for good, as the real member exits), restarts from its disk, and
// pauses (messages queue, in order, and are delivered on resume). What runs inside is the
// subclass's: boot() builds it from the disk, deliver() hands it messages.
import type { Entry, Message, NodeId, Xoshiro128 } from "../raft/index.js";
import { digestOf } from "./digest.js";
import { SimDisk } from "./disk.js";
import type { NodeEnvironment } from "./node.js";

/** Messages a paused process queues at most; later ones are lost, as a full socket buffer. */
const PAUSED_INBOX_MAX = 10_000;

export abstract class SimProcess {
  /** What survives a crash; replaced by a wipe. */
  disk = new SimDisk();
  /** Refused by a peer for a stale incarnation: stopped for good (as the real member exits). */
  fenced = false;
  /** Bumped on every crash so events scheduled by an earlier life are ignored. */
  incarnation = 0;
  crashed = false;
  paused = false;
  /** Messages that arrived while paused; delivered on resume, in order. */
  private pausedInbox: Message[] = [];

  constructor(
    protected readonly prng: Xoshiro128,
    protected readonly env: NodeEnvironment,
  ) {}

  abstract get id(): NodeId;

  /** Builds the volatile state from the disk (first start and every restart). */
  protected abstract boot(): void;
  /** The entries of the write in flight, which a crash may tear. */
  protected abstract inflightEntries(): readonly Entry[] | undefined;
  /** Hands messages to what runs inside (neither crashed nor paused). */
  protected abstract deliver(messages: readonly Message[]): void;
  /** The trace line of a restart. */
  protected abstract restartTrace(): string;
  /** After a restart's boot (SimNode lets its first Ready out). */
  protected afterRestart(): void {}
  /** False while what runs inside is not built yet: messages are then lost. */
  protected accepting(): boolean {
    return true;
  }

  crash(): void {
    if (this.crashed) return;
    const torn = this.disk.crashDuring(this.inflightEntries(), this.prng);
    if (torn.length > 0) this.env.observeDurable(this.id, torn.map(digestOf));
    this.crashed = true;
    this.paused = false;
    this.incarnation++;
    this.env.trace(this.id, "crash");
  }

  /** Crashed, and the data directory wiped: it restarts (restart()) from an empty disk. */
  wipe(incarnation: number): void {
    this.crash();
    this.disk = new SimDisk();
    this.disk.incarnation = incarnation;
    this.env.trace(this.id, `wiped, incarnation ${incarnation}`);
  }

  /** A peer refused its incarnation: it stops and never restarts. */
  fence(): void {
    if (this.fenced) return;
    this.crash();
    this.fenced = true;
    this.env.trace(this.id, "fenced: a peer refused its data directory; stopped for good");
  }

  restart(): void {
    if (!this.crashed || this.fenced) return;
    this.crashed = false;
    this.pausedInbox = [];
    this.boot();
    this.env.trace(this.id, this.restartTrace());
    this.afterRestart();
  }

  pause(): void {
    if (!this.crashed) this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    const inbox = this.pausedInbox;
    this.pausedInbox = [];
    this.deliver(inbox);
  }

  receive(m: Message): void {
    if (this.crashed || !this.accepting()) return;
    if (this.paused) {
      if (this.pausedInbox.length < PAUSED_INBOX_MAX) this.pausedInbox.push(m);
      return;
    }
    this.deliver([m]);
  }
}
