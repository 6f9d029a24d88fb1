// ReadIndexQueue: linearizable reads without writing to the log (Raft thesis §6.4). The leader
// records its commit index when a read arrives, confirms it is still leader with a heartbeat
// round carrying the read's context, and once a quorum has answered, every read queued up to
// that one may be served at its recorded index.
import { assert } from "../lib/index.js";
import type { Index, NodeId } from "./types.js";

export interface ReadRequest {
  readonly context: string;
  /** Who asked: the leader itself, or the follower that forwarded the request. */
  readonly from: NodeId;
  /** The leader's commit index when the request arrived. */
  readonly index: Index;
  readonly acks: Set<NodeId>;
}

export class ReadIndexQueue {
  private readonly queue: ReadRequest[] = [];
  private readonly byContext = new Map<string, ReadRequest>();

  constructor(private readonly pendingMax: number) {}

  get size(): number {
    return this.queue.length;
  }

  /** Queues a read; false if the queue is full or the context is already pending. */
  add(context: string, from: NodeId, index: Index, self: NodeId): boolean {
    if (this.byContext.has(context) || this.queue.length >= this.pendingMax) return false;
    const request: ReadRequest = { context, from, index, acks: new Set([self]) };
    this.queue.push(request);
    this.byContext.set(context, request);
    return true;
  }

  /** Records a heartbeat acknowledgement; returns the acks of that context's request, if pending. */
  ack(context: string, from: NodeId): ReadonlySet<NodeId> | undefined {
    const request = this.byContext.get(context);
    if (request === undefined) return undefined;
    request.acks.add(from);
    return request.acks;
  }

  /**
   * Leadership was confirmed for `context`: it and every request queued before it are released
   * (a later heartbeat round also confirms leadership for earlier reads).
   */
  release(context: string): ReadRequest[] {
    const at = this.queue.findIndex((r) => r.context === context);
    assert(at >= 0, "read-only: release of an unknown context");
    const released = this.queue.splice(0, at + 1);
    for (const r of released) this.byContext.delete(r.context);
    return released;
  }

  /** The newest pending context, for heartbeats that confirm every pending read at once. */
  lastContext(): string {
    return this.queue.length > 0 ? (this.queue[this.queue.length - 1] as ReadRequest).context : "";
  }

  /** Drops every pending read (leadership lost); returns them so callers can be told. */
  clear(): ReadRequest[] {
    const dropped = this.queue.splice(0);
    this.byContext.clear();
    return dropped;
  }
}
