// Quorum arithmetic for a majority configuration and a joint one (Raft thesis §4.3): a joint
// decision needs a majority of the incoming voters AND a majority of the outgoing voters.
import type { Index, NodeId } from "./types.js";

export type VoteResult = "Won" | "Lost" | "Pending";

/** The highest index that a majority of `voters` has matched. An empty set never blocks (+∞). */
export function majorityCommitted(voters: readonly NodeId[], match: (id: NodeId) => Index): number {
  if (voters.length === 0) return Number.POSITIVE_INFINITY;
  const matched = voters.map((id) => match(id) as number).sort((a, b) => b - a);
  const quorum = Math.floor(voters.length / 2) + 1;
  return matched[quorum - 1] as number;
}

export function jointCommitted(
  incoming: readonly NodeId[],
  outgoing: readonly NodeId[],
  match: (id: NodeId) => Index,
): number {
  return Math.min(majorityCommitted(incoming, match), majorityCommitted(outgoing, match));
}

/** Tally of one majority config: granted / rejected / missing. An empty set always wins. */
export function majorityVoteResult(
  voters: readonly NodeId[],
  votes: ReadonlyMap<NodeId, boolean>,
): VoteResult {
  if (voters.length === 0) return "Won";
  let granted = 0;
  let missing = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === undefined) missing++;
    else if (v) granted++;
  }
  const quorum = Math.floor(voters.length / 2) + 1;
  if (granted >= quorum) return "Won";
  if (granted + missing >= quorum) return "Pending";
  return "Lost";
}

export function jointVoteResult(
  incoming: readonly NodeId[],
  outgoing: readonly NodeId[],
  votes: ReadonlyMap<NodeId, boolean>,
): VoteResult {
  const a = majorityVoteResult(incoming, votes);
  const b = majorityVoteResult(outgoing, votes);
  if (a === b) return a;
  if (a === "Lost" || b === "Lost") return "Lost";
  return "Pending";
}
