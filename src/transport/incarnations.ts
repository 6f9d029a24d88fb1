// Incarnations: which life of a node's data directory is speaking.
//
// Raft's safety rests on every node keeping its promises across restarts: its term, its vote,
// and the entries it acknowledged are durable. A node restarted with a wiped (or replaced)
// data directory under its old id has forgotten them: it may vote twice in one term, and the
// leader's matchIndex for it is a lie. So every data directory gets a random incarnation id
// when it is created (member.json), and the handshake carries it both ways: the dialer's in its
// Hello, the acceptor's in its Accepted reply. Each node remembers, durably, the incarnation it
// has seen for each peer id (PeerIncarnations), learning it at first contact, and refuses any
// connection from or to the same node id with a different incarnation (HandshakeStatus
// StaleIncarnation, which tells the dialer it must stop).
//
// First contact: a fresh cluster learns every member's incarnation at the first connection
// either way; a member added later (MemberAdd, a new node id) is learned at its first contact;
// a removed and re-added member comes back under a new node id, so it is new to everyone. The
// remembered incarnation is made durable before the connection is accepted, so a crash right
// after cannot forget it. What this cannot see: a peer that never heard from a node's earlier
// life cannot tell the new one from a first start; the boot check (server/member-identity.ts,
// which asks the peers at an empty data directory's first start) covers that side.
import type { NodeId } from "../raft/index.js";

export interface PeerIncarnations {
  /** The incarnation remembered for `id`, or undefined when none was seen yet. */
  get(id: NodeId): string | undefined;
  /**
   * Remembers `incarnation` for `id` unless another one is already remembered; resolves once
   * that is durable, with whether `incarnation` is the one remembered (false: another one got
   * there first, and this one is stale).
   */
  learn(id: NodeId, incarnation: string): Promise<boolean>;
}

/** Kept in memory only: a node forgets its peers' incarnations when it restarts. */
export class MemoryIncarnations implements PeerIncarnations {
  private readonly known = new Map<NodeId, string>();

  constructor(initial?: ReadonlyMap<NodeId, string>) {
    if (initial !== undefined) for (const [id, inc] of initial) this.known.set(id, inc);
  }

  get(id: NodeId): string | undefined {
    return this.known.get(id);
  }

  async learn(id: NodeId, incarnation: string): Promise<boolean> {
    const known = this.known.get(id);
    if (known === undefined) this.known.set(id, incarnation);
    return (known ?? incarnation) === incarnation;
  }

  entries(): [NodeId, string][] {
    return [...this.known];
  }
}

export type IncarnationVerdict = "match" | "learn" | "stale";

/**
 * What to make of a peer claiming `claimed` ("" when it sent none: an older peer) when
 * `known` is remembered for its id. A peer that sends none is let in only while none is
 * remembered for it: once one is, a peer that cannot show it is not the node we knew.
 */
export function judgeIncarnation(known: string | undefined, claimed: string): IncarnationVerdict {
  if (known === undefined) return claimed === "" ? "match" : "learn";
  return known === claimed ? "match" : "stale";
}

/** A fresh random incarnation id: 128 bits as 32 hex digits. */
export function newIncarnation(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}
