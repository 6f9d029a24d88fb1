// Linearizable reads by ReadIndex (etcd's linearizableReadLoop, Raft thesis §6.4): at most one
// ReadIndex round is in flight; reads arriving meanwhile wait in the batch and share the next
// round. A round's index is taken after every read in it arrived, so sharing it is
// linearizable. A read is answered once this replica has applied up to its round's index.
import { RaftError, type Ready } from "../raft/index.js";
import type { Clock } from "./clock.js";
import { NotLeader, Timeout } from "./errors.js";

interface PendingRead {
  /** Runs against the local state machine once the read may be served. */
  readonly answer: () => unknown;
  readonly resolve: (result: unknown) => void;
  readonly reject: (e: Error) => void;
  readonly cancelTimer: () => void;
  /** The round's read index, once answered; -1 before. */
  index: number;
}

/** What the queue needs of its node. */
export interface ReadHost {
  readonly clock: Clock;
  /** Prefix of round contexts: unique to this process. */
  readonly runId: string;
  /** A round unanswered this long is issued again (a lost request or answer). */
  readonly retryMs: number;
  /** Starts a ReadIndex round in the core; throws a RaftError when it cannot. */
  readIndex(context: string): void;
  /** The leader hint for a refused read. */
  leader(): string;
  /** This replica's applied index. */
  applied(): number;
  /** Lets the core's Ready out (after a round was issued). */
  pump(): void;
  /** Counts a round issued. */
  roundIssued(): void;
  /** True once the node stopped: no more rounds. */
  stopped(): boolean;
}

export class ReadQueue {
  private batch: PendingRead[] = [];
  /** The round in flight: its context and reads, and the timer that reissues it if lost. */
  private round: { context: string; reads: PendingRead[]; cancelRetry: () => void } | undefined;
  private waiting: PendingRead[] = [];
  private seq = 0;

  constructor(private readonly host: ReadHost) {}

  /** Queues a read; resolves with `answer()` once it may be served, or rejects. */
  add<T>(answer: () => T, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const cancelTimer = this.host.clock.after(timeoutMs, () => {
        if (this.forget(read)) reject(new Timeout("linearizable read"));
      });
      const read: PendingRead = {
        answer,
        resolve: resolve as (result: unknown) => void,
        reject,
        cancelTimer,
        index: -1,
      };
      this.batch.push(read);
      this.issue();
    });
  }

  /** Starts a ReadIndex round for the waiting reads, unless one is in flight. */
  issue(): void {
    if (this.round !== undefined || this.batch.length === 0 || this.host.stopped()) return;
    const reads = this.batch;
    this.batch = [];
    const context = `${this.host.runId}/r${++this.seq}`;
    try {
      this.host.readIndex(context);
    } catch (e) {
      if (!(e instanceof RaftError)) throw e;
      for (const r of reads) {
        r.cancelTimer();
        r.reject(new NotLeader(this.host.leader()));
      }
      return;
    }
    // A round whose request or answer was lost is reissued (etcd retries after 500 ms too).
    const cancelRetry = this.host.clock.after(this.host.retryMs, () => {
      if (this.round?.context !== context) return;
      this.round = undefined;
      this.batch = [...reads, ...this.batch];
      this.issue();
      this.host.pump();
    });
    this.round = { context, reads, cancelRetry };
    this.host.roundIssued();
  }

  /** A Ready's read states and dropped reads: the round answered or refused; then serve. */
  onReady(rd: Ready): void {
    const round = this.round;
    if (round !== undefined) {
      const answer = rd.readStates.find((rs) => rs.context === round.context);
      if (answer !== undefined) {
        this.round = undefined;
        round.cancelRetry();
        for (const read of round.reads) {
          read.index = answer.index;
          this.waiting.push(read);
        }
      } else if (rd.droppedReads.includes(round.context)) {
        this.round = undefined;
        round.cancelRetry();
        for (const read of round.reads) {
          read.cancelTimer();
          read.reject(new NotLeader(this.host.leader()));
        }
      }
    }
    this.serve();
    this.issue();
  }

  /** Answers every read whose index this replica has applied. */
  serve(): void {
    if (this.waiting.length === 0) return;
    const applied = this.host.applied();
    const still: PendingRead[] = [];
    for (const r of this.waiting) {
      if (r.index > applied) {
        still.push(r);
        continue;
      }
      r.cancelTimer();
      try {
        r.resolve(r.answer());
      } catch (e) {
        r.reject(e as Error);
      }
    }
    this.waiting = still;
  }

  /** Rejects every read with `e`. */
  failAll(e: Error): void {
    this.round?.cancelRetry();
    for (const r of [...this.batch, ...(this.round?.reads ?? []), ...this.waiting]) {
      r.cancelTimer();
      r.reject(e);
    }
    this.batch = [];
    this.round = undefined;
    this.waiting = [];
  }

  /** What must always hold (checkInvariants). */
  check(fail: (message: string) => void): void {
    for (const r of this.batch) if (r.index !== -1) fail("a batched read already has an index");
    for (const r of this.waiting) if (r.index < 0) fail("a waiting read has no index");
    const seen = new Set<PendingRead>();
    for (const r of [...this.batch, ...(this.round?.reads ?? []), ...this.waiting]) {
      if (seen.has(r)) fail("a read waits in two places");
      seen.add(r);
    }
  }

  /** Removes a read wherever it waits; false if it was already served or failed. */
  private forget(read: PendingRead): boolean {
    for (const list of [this.batch, this.round?.reads ?? [], this.waiting]) {
      const i = list.indexOf(read);
      if (i >= 0) {
        list.splice(i, 1);
        return true;
      }
    }
    return false;
  }
}
