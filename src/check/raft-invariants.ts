// Raft's safety invariants (Raft paper Figure 3), checked incrementally while a run goes on.
// The observer (the simulator) reports what each node does; every report is checked at once,
// so a violation is caught at the step that caused it:
//  - Election Safety: at most one leader per term.
//  - Vote Safety: each voter grants at most one candidate per term (Raft §5.2: the vote is
//    durable). A voter whose durable state went backwards (a wiped data directory under its
//    old id) is how it breaks, and how Election Safety breaks in turn.
//  - Log Matching: two logs with an entry of the same index and term are identical up to it
//    (checked with a running hash of each durable log's prefix).
//  - Leader Completeness: a new leader's log holds every entry committed so far.
//  - State Machine Safety: no two nodes apply different entries at the same index.
//  - No acknowledged write lost: every entry a client was told is committed stays committed
//    and is applied on every node in the end.
// Types are its own (plain numbers and strings) so it depends on nothing else.

export interface EntryDigest {
  readonly index: number;
  readonly term: number;
  /** A hash of the entry's type and payload. */
  readonly hash: number;
}

export interface InvariantViolation {
  readonly invariant:
    | "ElectionSafety"
    | "VoteSafety"
    | "LogMatching"
    | "LeaderCompleteness"
    | "StateMachineSafety"
    | "AcknowledgedWriteLost"
    | "LeaseSafety"
    | "CoreInvariant";
  readonly node: string;
  readonly detail: string;
}

/** FNV-1a over bytes, continuing from `seed`. */
export function fnv1a(bytes: Uint8Array, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i] as number;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

function mix(h: number, x: number): number {
  h ^= x >>> 0;
  h = Math.imul(h, 0x01000193) >>> 0;
  h ^= h >>> 15;
  return Math.imul(h, 0x2c1b3c6d) >>> 0;
}

/** Hash of the log prefix ending at `entry`, given the hash of the prefix before it. */
function chain(prev: number, entry: EntryDigest): number {
  return mix(mix(mix(prev, entry.index), entry.term), entry.hash);
}

/** One node's durable log as prefix hashes. prefix[i - base] is the hash through index i. */
class ShadowLog {
  base = 0;
  baseTerm = 0;
  baseHash = 0;
  terms: number[] = [];
  prefix: number[] = [];

  lastIndex(): number {
    return this.base + this.terms.length;
  }

  hashAt(index: number): number | undefined {
    if (index === this.base) return this.baseHash;
    if (index < this.base || index > this.lastIndex()) return undefined;
    return this.prefix[index - this.base - 1];
  }

  termAt(index: number): number | undefined {
    if (index === this.base) return this.baseTerm;
    if (index < this.base || index > this.lastIndex()) return undefined;
    return this.terms[index - this.base - 1];
  }
}

export class RaftInvariants {
  readonly violations: InvariantViolation[] = [];
  private readonly leaders = new Map<number, string>();
  /** "voter/term" → the candidate it granted its vote to (votes that reached a candidate). */
  private readonly votes = new Map<string, string>();
  private votesSeen = 0;
  /** (index:term) → prefix hash, over every durable log ever seen. */
  private readonly prefixByIndexTerm = new Map<string, number>();
  /** The committed log as first seen: index → digest. */
  private readonly committed = new Map<number, EntryDigest>();
  /**
   * index → the lowest term in which anyone was seen to hold the entry committed: an upper
   * bound on the term it was committed in. Leader Completeness binds leaders of later terms
   * only (a delayed leader of an older term need not hold it).
   */
  private readonly committedInTerm = new Map<number, number>();
  private committedMax = 0;
  private readonly shadows = new Map<string, ShadowLog>();
  private readonly acknowledged = new Map<number, EntryDigest>();
  private readonly violationsMax: number;

  constructor(violationsMax = 100) {
    this.violationsMax = violationsMax;
  }

  get ok(): boolean {
    return this.violations.length === 0;
  }

  private fail(v: InvariantViolation): void {
    if (this.violations.length < this.violationsMax) this.violations.push(v);
  }

  private shadow(node: string): ShadowLog {
    let s = this.shadows.get(node);
    if (s === undefined) {
      s = new ShadowLog();
      this.shadows.set(node, s);
    }
    return s;
  }

  /**
   * Runs `check`, a node's own consistency check (Raft.checkInvariants: log watermarks, role,
   * progress), and records what it throws as a CoreInvariant violation.
   */
  observeCore(node: string, check: () => void): void {
    try {
      check();
    } catch (e) {
      this.fail({ invariant: "CoreInvariant", node, detail: (e as Error).message });
    }
  }

  /**
   * `node`, leader of `term`, answered a read by its lease (no heartbeat round). Lease Safety:
   * no leader of a newer term may have been elected by then, or the read may be stale.
   */
  observeLeaseRead(node: string, term: number): void {
    let newest = 0;
    for (const t of this.leaders.keys()) if (t > newest) newest = t;
    if (newest > term) {
      this.fail({
        invariant: "LeaseSafety",
        node,
        detail: `a lease read in term ${term} after ${this.leaders.get(newest)} was elected in term ${newest}`,
      });
    }
  }

  /**
   * `voter` granted its vote in `term` to `candidate`, and the candidate got it (it could count
   * it). Vote Safety: one candidate per voter per term.
   */
  observeVote(voter: string, term: number, candidate: string): void {
    this.votesSeen++;
    const key = `${voter}/${term}`;
    const existing = this.votes.get(key);
    if (existing !== undefined && existing !== candidate) {
      this.fail({
        invariant: "VoteSafety",
        node: voter,
        detail: `voted for ${existing} and for ${candidate} in term ${term}`,
      });
      return;
    }
    if (existing === undefined) this.votes.set(key, candidate);
  }

  /** Votes observed so far (granted votes delivered to their candidate). */
  get votesObserved(): number {
    return this.votesSeen;
  }

  /** `node` became leader of `term`. */
  observeLeader(node: string, term: number): void {
    const existing = this.leaders.get(term);
    if (existing !== undefined && existing !== node) {
      this.fail({
        invariant: "ElectionSafety",
        node,
        detail: `term ${term} already had leader ${existing}`,
      });
    }
    this.leaders.set(term, node);
  }

  /**
   * Leader Completeness: called when `node` becomes leader, with its log's term lookup
   * (undefined for compacted or missing indexes) and the first index it still holds.
   */
  observeLeaderLog(
    node: string,
    term: number,
    firstIndex: number,
    termAt: (index: number) => number | undefined,
  ): void {
    for (let i = Math.max(firstIndex, 1); i <= this.committedMax; i++) {
      const c = this.committed.get(i);
      if (c === undefined || (this.committedInTerm.get(i) as number) >= term) continue;
      const t = termAt(i);
      if (t !== c.term) {
        this.fail({
          invariant: "LeaderCompleteness",
          node,
          detail: `leader of term ${term} has term ${t} at committed index ${i} (committed term ${c.term})`,
        });
        return;
      }
    }
  }

  /**
   * `entries` became durable on `node`; if the first one is at or below its last durable index,
   * the durable log was truncated there first.
   */
  observeDurableAppend(node: string, entries: readonly EntryDigest[]): void {
    const s = this.shadow(node);
    const first = entries[0];
    if (first === undefined) return;
    if (first.index <= s.base) return; // covered by a snapshot: nothing new
    if (first.index > s.lastIndex() + 1) {
      this.fail({
        invariant: "LogMatching",
        node,
        detail: `gap: append at ${first.index} after ${s.lastIndex()}`,
      });
      return;
    }
    const keep = first.index - s.base - 1;
    s.terms.length = keep;
    s.prefix.length = keep;
    let prev = s.hashAt(first.index - 1) as number;
    for (const e of entries) {
      const h = chain(prev, e);
      s.terms.push(e.term);
      s.prefix.push(h);
      const key = `${e.index}:${e.term}`;
      const seen = this.prefixByIndexTerm.get(key);
      if (seen === undefined) this.prefixByIndexTerm.set(key, h);
      else if (seen !== h) {
        this.fail({
          invariant: "LogMatching",
          node,
          detail: `entry ${e.index} of term ${e.term} follows a different log prefix than on another node`,
        });
      }
      prev = h;
    }
  }

  /** `node` durably installed a snapshot at (index, term): its log now starts there. */
  observeSnapshotInstall(node: string, index: number, term: number): void {
    const s = this.shadow(node);
    const h = this.prefixByIndexTerm.get(`${index}:${term}`);
    s.base = index;
    s.baseTerm = term;
    s.baseHash = h ?? mix(index, term);
    s.terms = [];
    s.prefix = [];
    const c = this.committed.get(index);
    if (c !== undefined && c.term !== term) {
      this.fail({
        invariant: "StateMachineSafety",
        node,
        detail: `snapshot at ${index} has term ${term}, committed ${c.term}`,
      });
    }
  }

  /** `node` compacted its durable log up to `index` (its own snapshot). */
  observeCompaction(node: string, index: number): void {
    const s = this.shadow(node);
    if (index <= s.base || index > s.lastIndex()) return;
    const term = s.termAt(index) as number;
    const hash = s.hashAt(index) as number;
    const drop = index - s.base;
    s.terms = s.terms.slice(drop);
    s.prefix = s.prefix.slice(drop);
    s.base = index;
    s.baseTerm = term;
    s.baseHash = hash;
  }

  /**
   * `node`, in `term`, holds `entry` committed (it applied it, or its commit index passed it):
   * State Machine Safety.
   */
  observeApply(node: string, entry: EntryDigest, term: number): void {
    const seenTerm = this.committedInTerm.get(entry.index);
    if (seenTerm === undefined || term < seenTerm) this.committedInTerm.set(entry.index, term);
    const c = this.committed.get(entry.index);
    if (c === undefined) {
      this.committed.set(entry.index, entry);
      if (entry.index > this.committedMax) this.committedMax = entry.index;
      return;
    }
    if (c.term !== entry.term || c.hash !== entry.hash) {
      this.fail({
        invariant: "StateMachineSafety",
        node,
        detail: `applied (term ${entry.term}, hash ${entry.hash}) at ${entry.index}; another node applied (term ${c.term}, hash ${c.hash})`,
      });
    }
  }

  /** A client was told the entry is committed and applied. */
  observeAcknowledged(entry: EntryDigest, term: number): void {
    this.acknowledged.set(entry.index, entry);
    this.observeApply("client-ack", entry, term);
  }

  /**
   * End of run: every acknowledged entry must be in the committed log and applied on every node.
   * `appliedIndexOf` gives each surviving node's applied index.
   */
  checkFinal(appliedIndexOf: ReadonlyMap<string, number>): void {
    for (const [index, entry] of this.acknowledged) {
      const c = this.committed.get(index);
      if (c === undefined || c.term !== entry.term || c.hash !== entry.hash) {
        this.fail({
          invariant: "AcknowledgedWriteLost",
          node: "cluster",
          detail: `acknowledged entry ${index} not in the committed log`,
        });
      }
      for (const [node, applied] of appliedIndexOf) {
        if (applied < index) {
          this.fail({
            invariant: "AcknowledgedWriteLost",
            node,
            detail: `applied ${applied} < acknowledged entry ${index}`,
          });
        }
      }
    }
  }
}
