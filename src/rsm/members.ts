// Membership as the runtime keeps it beside the core's configuration (thesis §4.3): each
// member's opaque context (addresses, names: the server's business) set through the log, the
// index of the last change, and every id ever removed (ids are never reused). ConfChange
// entries carry a ConfContext: who proposed the change, and the contexts it sets.
import { ByteReader, ByteWriter } from "../lib/index.js";
import type { ConfState, NodeId } from "../raft/index.js";

/** The cluster's configuration as applied on this node, with each member's replicated context. */
export interface Membership {
  readonly confState: ConfState;
  /** Opaque per-member data set through the log (changeMembership, updateMemberContext). */
  readonly contexts: ReadonlyMap<NodeId, Uint8Array>;
  /** Log index of the last membership change applied (0: the bootstrap configuration). */
  readonly index: number;
  /** Every node id ever removed: ids are never reused (a stale process may still run). */
  readonly removed: ReadonlySet<NodeId>;
}

export const membersOf = (conf: ConfState): NodeId[] => [
  ...conf.voters,
  ...conf.votersOutgoing,
  ...conf.learners,
];

export const isMemberOf = (conf: ConfState, id: NodeId): boolean =>
  conf.voters.includes(id) || conf.votersOutgoing.includes(id) || conf.learners.includes(id);

const CONF_CONTEXT_VERSION = 1;

/** What the runtime carries in a ConfChange's context: who proposed it, and member contexts. */
export interface ConfContext {
  readonly proposer: string;
  readonly requestId: number;
  readonly members: readonly { readonly node: NodeId; readonly context: Uint8Array }[];
}

export function encodeConfContext(c: ConfContext): Uint8Array {
  const w = new ByteWriter().u8(CONF_CONTEXT_VERSION).stringU32(c.proposer).u64(c.requestId);
  w.u32(c.members.length);
  for (const m of c.members) w.stringU32(m.node).bytesU32(m.context);
  return w.finishExact(); // kept: it is part of a log entry
}

export function decodeConfContext(data: Uint8Array): ConfContext {
  const r = new ByteReader(data);
  const version = r.u8();
  if (version !== CONF_CONTEXT_VERSION)
    throw new Error(`unknown configuration context version ${version}`);
  const proposer = r.stringU32("proposer");
  const requestId = r.u64("requestId");
  const count = r.u32("member count");
  const members: { node: NodeId; context: Uint8Array }[] = [];
  // Contexts are copied: the runtime keeps them for as long as the member is in the cluster.
  for (let i = 0; i < count; i++)
    members.push({ node: r.stringU32("node") as NodeId, context: r.bytesU32("context") });
  r.end();
  return { proposer, requestId, members };
}

/** The runtime's side of membership: contexts, removed ids, the last change's index. */
export class MemberRegistry {
  private readonly contexts = new Map<NodeId, Uint8Array>();
  private readonly removedIds = new Set<NodeId>();
  private index = 0;

  /** The membership with `confState` (the core's), as a snapshot callers may keep. */
  view(confState: ConfState): Membership {
    return {
      confState,
      contexts: new Map(this.contexts),
      index: this.index,
      removed: new Set(this.removedIds),
    };
  }

  wasRemoved(id: NodeId): boolean {
    return this.removedIds.has(id);
  }

  /** A MemberContext entry at `index` replaced `node`'s context. */
  setContext(node: NodeId, context: Uint8Array, index: number): void {
    this.contexts.set(node, context);
    this.index = index;
  }

  /**
   * A configuration change at `index` took the configuration from `before` to `after`, setting
   * `contexts`: members that left are removed for good and lose their context. Returns whether
   * a member was added.
   */
  applyChange(
    before: ConfState,
    after: ConfState,
    contexts: ConfContext["members"],
    index: number,
  ): { readonly added: boolean } {
    // Removed: members before and not after (RemoveNode, or outgoing voters leaving a joint
    // configuration). Added: the other way round.
    for (const id of membersOf(before)) if (!isMemberOf(after, id)) this.removedIds.add(id);
    const added = membersOf(after).some((id) => !isMemberOf(before, id));
    for (const id of [...this.contexts.keys()])
      if (!isMemberOf(after, id)) this.contexts.delete(id);
    for (const m of contexts) if (isMemberOf(after, m.node)) this.contexts.set(m.node, m.context);
    this.index = index;
    return { added };
  }

  /** Writes contexts and removed ids in id order (the snapshot and the state hash need one). */
  encode(w: ByteWriter): void {
    w.u64(this.index).u32(this.contexts.size);
    for (const id of [...this.contexts.keys()].sort())
      w.stringU32(id).bytesU32(this.contexts.get(id) as Uint8Array);
    w.u32(this.removedIds.size);
    for (const id of [...this.removedIds].sort()) w.stringU32(id);
  }

  /** Replaces the registry with what encode() wrote; `undefined` empties it (old snapshots). */
  restore(r: ByteReader | undefined): void {
    this.contexts.clear();
    this.removedIds.clear();
    this.index = 0;
    if (r === undefined) return;
    this.index = r.u64("membershipIndex");
    const members = r.u32("member count");
    for (let i = 0; i < members; i++)
      this.contexts.set(r.stringU32("node") as NodeId, r.bytesU32("context")); // kept: a copy
    const removed = r.u32("removed count");
    for (let i = 0; i < removed; i++) this.removedIds.add(r.stringU32("node") as NodeId);
  }

  /** What must always hold against the core's configuration (checkInvariants). */
  check(conf: ConfState, fail: (message: string) => void): void {
    for (const id of this.contexts.keys())
      if (!isMemberOf(conf, id)) fail(`context kept for ${id}, not a member`);
    for (const id of membersOf(conf))
      if (this.removedIds.has(id)) fail(`${id} is a member and also removed`);
  }
}
