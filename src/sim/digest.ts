// An entry's digest, as the checkers compare entries across members: index, term and a hash of
// its type and data.
import { type EntryDigest, fnv1a } from "../check/index.js";
import type { Entry } from "../raft/index.js";

export function digestOf(e: Entry): EntryDigest {
  return { index: e.index, term: e.term, hash: fnv1a(e.data, e.type === "Normal" ? 1 : 2) };
}
