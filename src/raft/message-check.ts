// Well-formedness of messages from peers. A peer's bytes must never crash a node: anything
// that fails these checks is dropped before step() looks at it.
import type { Entry, Message, NodeId } from "./types.js";

const isCount = (n: unknown): boolean => typeof n === "number" && Number.isSafeInteger(n) && n >= 0;

function entriesWellFormed(
  entries: readonly Entry[],
  prevIndex: number,
  prevTerm: number,
  term: number,
): boolean {
  if (!Array.isArray(entries)) return false;
  let lastTerm = prevTerm;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as Entry;
    if (e === null || typeof e !== "object") return false;
    if (e.index !== prevIndex + 1 + i || !isCount(e.term)) return false;
    if (e.term < lastTerm || e.term > term) return false;
    if (e.type !== "Normal" && e.type !== "ConfChange") return false;
    if (!(e.data instanceof Uint8Array)) return false;
    lastTerm = e.term;
  }
  return true;
}

function isIdList(ids: unknown): boolean {
  if (!Array.isArray(ids)) return false;
  const seen = new Set<unknown>();
  for (const id of ids) {
    if (typeof id !== "string" || id === "" || seen.has(id)) return false;
    seen.add(id);
  }
  return true;
}

/** A configuration a snapshot may carry: id lists without duplicates, learners not voters. */
export function isValidConfState(conf: unknown): boolean {
  if (conf === null || typeof conf !== "object") return false;
  const c = conf as Record<string, unknown>;
  if (!isIdList(c.voters) || !isIdList(c.votersOutgoing) || !isIdList(c.learners)) return false;
  if (c.autoLeave !== undefined && c.autoLeave !== true) return false;
  const voters = new Set([...(c.voters as string[]), ...(c.votersOutgoing as string[])]);
  return (c.learners as string[]).every((l) => !voters.has(l));
}

/** Whether `m` is a structurally valid message addressed to `self`. */
export function isWellFormed(m: Message, self: NodeId): boolean {
  if (m === null || typeof m !== "object") return false;
  if (m.to !== self || typeof m.from !== "string" || m.from === "" || m.from === self) return false;
  if (!isCount(m.term)) return false;
  switch (m.type) {
    case "VoteRequest":
      return (
        isCount(m.lastLogIndex) &&
        isCount(m.lastLogTerm) &&
        typeof m.preVote === "boolean" &&
        typeof m.transfer === "boolean"
      );
    case "VoteResponse":
      return (
        typeof m.granted === "boolean" &&
        typeof m.preVote === "boolean" &&
        isCount(m.commit) &&
        isCount(m.commitTerm)
      );
    case "AppendRequest":
      return (
        isCount(m.prevLogIndex) &&
        isCount(m.prevLogTerm) &&
        isCount(m.commit) &&
        m.prevLogTerm <= m.term &&
        entriesWellFormed(m.entries, m.prevLogIndex, m.prevLogTerm, m.term)
      );
    case "AppendResponse":
      return isCount(m.index) && isCount(m.hintIndex) && isCount(m.hintTerm);
    case "Heartbeat":
      return isCount(m.commit) && typeof m.context === "string";
    case "HeartbeatResponse":
    case "ReadIndexRequest":
      return typeof m.context === "string";
    case "ReadIndexResponse":
      return typeof m.context === "string" && isCount(m.index);
    case "InstallSnapshot": {
      const meta = m.snapshot?.meta;
      return (
        meta !== undefined &&
        isCount(meta.index) &&
        isCount(meta.term) &&
        meta.term <= m.term &&
        isValidConfState(meta.confState) &&
        m.snapshot.data instanceof Uint8Array
      );
    }
    case "TimeoutNow":
      return true;
    case "ProposalForward":
      return (
        Array.isArray(m.proposals) &&
        m.proposals.every(
          (p) =>
            p !== null &&
            typeof p === "object" &&
            (p.type === "Normal" || p.type === "ConfChange") &&
            p.data instanceof Uint8Array,
        )
      );
    default:
      return false;
  }
}
