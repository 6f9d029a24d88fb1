// A seeded stream of appends like a Raft follower's: mostly extending the log, sometimes
// overwriting a suffix with a newer term (never below the commit index), each with a hard state.
// The crash tests replay the same stream in a model to know what any prefix of it must recover to.

import { Xoshiro128 } from "../../src/raft/prng.js";
import type { Entry, HardState } from "../../src/raft/types.js";
import { entry, hardState } from "./wal-helpers.js";

export interface AppendOp {
  readonly entries: readonly Entry[];
  readonly hardState: HardState;
}

/** The log and hard state after some prefix of the ops; entries[i] has index i + 1. */
export class LogModel {
  readonly terms: number[] = [];
  hardState: HardState = hardState(0, 0, "");

  lastIndex(): number {
    return this.terms.length;
  }

  termAt(index: number): number {
    return this.terms[index - 1] ?? 0;
  }

  apply(op: AppendOp): void {
    const first = op.entries[0];
    if (first !== undefined) {
      this.terms.length = first.index - 1;
      for (const e of op.entries) this.terms.push(e.term);
    }
    this.hardState = op.hardState;
  }
}

/** Generates ops and keeps its own model current; `next()` returns the op after applying it. */
export class Workload {
  private readonly rng: Xoshiro128;
  readonly model = new LogModel();
  private term = 1;

  constructor(seed: number) {
    this.rng = new Xoshiro128(seed);
  }

  next(): AppendOp {
    const last = this.model.lastIndex();
    const commit = this.model.hardState.commit;
    let from = last + 1;
    if (last > commit + 3 && this.rng.chance(0.12)) {
      // A new leader overwrites the uncommitted tail.
      this.term++;
      from = this.rng.range(commit + 1, last);
    }
    const count = this.rng.chance(0.1) ? 0 : this.rng.range(1, this.rng.chance(0.2) ? 40 : 6);
    const entries: Entry[] = [];
    for (let i = 0; i < count; i++) entries.push(entry(from + i, this.term));
    const newLast = count === 0 ? last : from + count - 1;
    const newCommit = Math.max(commit, Math.min(newLast - 4, commit + this.rng.range(0, 6)));
    const op: AppendOp = {
      entries,
      hardState: hardState(this.term, Math.max(0, newCommit), `n${1 + (this.term % 3)}`),
    };
    this.model.apply(op);
    return op;
  }
}
