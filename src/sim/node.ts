// A simulated member: the Raft core driven by a minimal runtime that follows the Ready contract
// against a simulated disk, network and clock, applies committed entries to the sim KV state
// machine, answers clients and serves ReadIndex reads. It can crash (losing everything not
// durable), restart from its disk, and pause.
import type { EntryDigest } from "../check/index.js";
import {
  asIndex,
  type ConfState,
  canSendBeforePersist,
  type Entry,
  type Index,
  type Message,
  type NodeId,
  NotLeaderError,
  Raft,
  RaftError,
  type Ready,
  type Snapshot,
  type TestingFaults,
  type Xoshiro128,
} from "../raft/index.js";
import type { ClientReply, ClientRequest, SimMember } from "./member.js";
import { SimProcess } from "./process.js";
import { decodeCommand, encodeCommand, type KvCommand, type KvOutput, SimKv } from "./sim-kv.js";

/** What a node asks of the simulation around it. */
export interface NodeEnvironment {
  readonly now: () => number;
  sendMessage(m: Message): void;
  reply(client: string, reply: ClientReply): void;
  /** Schedules `callback` after `delayMs`, unless this node crashed (incarnation changed) meanwhile. */
  later(node: SimMember, delayMs: number, callback: () => void): void;
  fsyncDelayMs(): number;
  observeLeader(
    node: NodeId,
    term: number,
    firstIndex: number,
    termAt: (i: number) => number | undefined,
  ): void;
  observeDurable(node: NodeId, entries: readonly EntryDigest[]): void;
  /** `node`, leading `term`, answered a read by its lease. */
  observeLeaseRead(node: NodeId, term: number): void;
  /** Runs `node`'s core consistency check (Raft.checkInvariants) and records a breach. */
  observeCore(node: NodeId, check: () => void): void;
  observeSnapshotInstall(node: NodeId, index: number, term: number): void;
  observeCompaction(node: NodeId, index: number): void;
  /** `node`, in `term`, holds `entry` committed. */
  observeApply(node: NodeId, entry: EntryDigest, term: number): void;
  observeAck(entry: EntryDigest, term: number): void;
  trace(node: NodeId, what: string): void;
  /** Something happened that no correct member should do: the run fails with this reason. */
  fail(reason: string): void;
}

export interface SimNodeOptions {
  readonly id: NodeId;
  readonly confState: ConfState;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly snapshotEntries: number;
  readonly messageBytesMax: number;
  readonly inflightMessagesMax: number;
  readonly testingFaults: TestingFaults | undefined;
}

import { digestOf } from "./digest.js";

interface PendingWrite {
  readonly index: Index;
  readonly term: number;
  readonly requestId: number;
  readonly client: string;
}

interface PendingRead {
  readonly requestId: number;
  readonly client: string;
  readonly key: string;
}

export class SimNode extends SimProcess implements SimMember {
  raft!: Raft;
  kv = new SimKv();
  private writing: Ready | undefined;
  private applied = 0;
  private lastSnapshotIndex = 0;
  private pendingWrites = new Map<number, PendingWrite>();
  /** ReadIndex contexts waiting for the leader's answer. */
  private readsByContext = new Map<string, PendingRead>();
  /** Reads whose index is known, waiting for the state machine to apply it. */
  private readsWaiting: { index: number; read: PendingRead }[] = [];
  private readSeq = 0;
  private wasLeaderTerm = -1;
  private observedCommit = 0;

  constructor(
    readonly options: SimNodeOptions,
    prng: Xoshiro128,
    env: NodeEnvironment,
  ) {
    super(prng, env);
    this.boot();
  }

  get id(): NodeId {
    return this.options.id;
  }

  get appliedIndex(): number {
    return this.applied;
  }

  get role() {
    return this.raft.role;
  }

  get term(): number {
    return this.raft.term;
  }

  localGet(key: string): string | null {
    return this.kv.get(key);
  }

  /** Builds the volatile state from the disk (first start and every restart). */
  protected boot(): void {
    const d = this.disk;
    this.raft = new Raft({
      id: this.options.id,
      electionTicks: this.options.electionTicks,
      heartbeatTicks: this.options.heartbeatTicks,
      prng: this.prng.fork(),
      confState: this.options.confState,
      hardState: d.hardState,
      snapshot: d.snapshot,
      entries: d.entries,
      messageBytesMax: this.options.messageBytesMax,
      inflightMessagesMax: this.options.inflightMessagesMax,
      ...(this.options.testingFaults ? { testingFaults: this.options.testingFaults } : {}),
    });
    this.kv = d.snapshot ? SimKv.restore(d.snapshot.data) : new SimKv();
    this.applied = d.snapshot?.meta.index ?? 0;
    this.lastSnapshotIndex = this.applied;
    this.writing = undefined;
    this.pendingWrites = new Map();
    this.readsByContext = new Map();
    this.readsWaiting = [];
    this.wasLeaderTerm = -1;
    this.observedCommit = d.hardState.commit;
  }

  protected inflightEntries(): readonly Entry[] | undefined {
    // A write that installs a snapshot is not torn: the snapshot file is renamed into place.
    const w = this.writing;
    return w?.snapshot === undefined ? w?.entries : undefined;
  }

  protected restartTrace(): string {
    return `restart term=${this.raft.term} last=${this.raft.log.lastIndex()}`;
  }

  protected override afterRestart(): void {
    this.pump();
  }

  protected deliver(messages: readonly Message[]): void {
    for (const m of messages) this.raft.step(m);
    this.pump();
  }

  tick(): void {
    if (this.crashed || this.paused) return;
    this.raft.tick();
    this.pump();
  }

  handleClient(request: ClientRequest): void {
    if (this.crashed || this.paused) return; // lost; the client times out
    if (request.kind === "register") {
      this.env.reply(request.client, {
        kind: "ok",
        requestId: request.requestId,
        output: request.client,
      });
      return;
    }
    if (request.kind === "write") {
      const { session: _session, ...command } = request.command;
      try {
        const { index, term } = this.raft.propose(encodeCommand(command as KvCommand));
        this.pendingWrites.set(index, {
          index,
          term,
          requestId: request.requestId,
          client: request.client,
        });
      } catch (e) {
        if (!(e instanceof RaftError)) throw e;
        const hint = e instanceof NotLeaderError ? e.leaderHint : "";
        this.env.reply(request.client, {
          kind: "refused",
          requestId: request.requestId,
          leaderHint: hint,
        });
      }
    } else {
      const context = `${this.id}/${this.incarnation}/${this.readSeq++}`;
      try {
        this.raft.readIndex(context);
        this.readsByContext.set(context, {
          requestId: request.requestId,
          client: request.client,
          key: request.key,
        });
      } catch (e) {
        if (!(e instanceof RaftError)) throw e;
        this.env.reply(request.client, {
          kind: "refused",
          requestId: request.requestId,
          leaderHint: this.raft.lead,
        });
      }
    }
    this.pump();
  }

  /** Runs the Ready loop until the core has nothing more or a disk write is in flight. */
  pump(): void {
    for (let round = 0; round < 1000; round++) {
      if (this.crashed || this.paused || this.writing !== undefined || !this.raft.hasReady())
        return;
      const rd = this.raft.ready();
      this.observeRole();
      this.observeCommit(rd);
      for (const m of rd.messages) if (canSendBeforePersist(rd, m)) this.env.sendMessage(m);
      if (!rd.mustSync) {
        // Only the commit index moved (or nothing): deferred as the WAL does, no fsync.
        if (rd.hardState !== undefined) this.disk.defer(rd.hardState);
        this.finish(rd);
        continue;
      }
      this.writing = rd;
      this.env.later(this, this.env.fsyncDelayMs(), () => {
        this.writing = undefined;
        this.finish(rd);
        this.pump();
      });
      return;
    }
  }

  /** Whatever a node declares committed is committed: feed it to the safety checker at once. */
  private observeCommit(rd: Ready): void {
    const commit = rd.hardState?.commit;
    if (commit === undefined || commit <= this.observedCommit) return;
    for (let i = Math.max(this.observedCommit + 1, this.raft.log.firstIndex()); i <= commit; i++) {
      const e = this.raft.log.entry(asIndex(i));
      if (e !== undefined) this.env.observeApply(this.id, digestOf(e), this.raft.term);
    }
    this.observedCommit = commit;
  }

  private observeRole(): void {
    const r = this.raft;
    if (r.role === "Leader" && this.wasLeaderTerm !== r.term) {
      this.wasLeaderTerm = r.term;
      this.env.trace(this.id, `leader term=${r.term} last=${r.log.lastIndex()}`);
      this.env.observeLeader(this.id, r.term, r.log.firstIndex(), (i) => r.log.term(asIndex(i)));
    }
  }

  /** Contract steps 2–6 once the write is durable. */
  private finish(rd: Ready): void {
    if (rd.mustSync) {
      this.disk.write(rd.snapshot, rd.entries, rd.hardState);
      if (rd.snapshot !== undefined) {
        this.env.observeSnapshotInstall(this.id, rd.snapshot.meta.index, rd.snapshot.meta.term);
      }
      if (rd.entries.length > 0) this.env.observeDurable(this.id, rd.entries.map(digestOf));
    }
    for (const m of rd.messages) if (!canSendBeforePersist(rd, m)) this.env.sendMessage(m);
    if (rd.snapshot !== undefined) this.restoreSnapshot(rd.snapshot);
    for (const e of rd.committedEntries) this.applyEntry(e);
    for (const rs of rd.readStates) {
      const read = this.readsByContext.get(rs.context);
      if (read === undefined) continue;
      this.readsByContext.delete(rs.context);
      this.readsWaiting.push({ index: rs.index, read });
    }
    for (const context of rd.droppedReads) {
      const read = this.readsByContext.get(context);
      if (read === undefined) continue;
      this.readsByContext.delete(context);
      this.env.reply(read.client, { kind: "refused", requestId: read.requestId, leaderHint: "" });
    }
    this.serveReads();
    this.raft.advance(rd);
    this.env.observeCore(this.id, () => this.raft.checkInvariants());
    this.maybeSnapshot();
  }

  private restoreSnapshot(snapshot: Snapshot): void {
    this.kv = SimKv.restore(snapshot.data);
    this.applied = snapshot.meta.index;
    this.lastSnapshotIndex = snapshot.meta.index;
    // Proposals at or below the snapshot can no longer be matched to their entries: the
    // clients will retry, and sessions make the retry safe.
    for (const [index, p] of this.pendingWrites) {
      if (index <= snapshot.meta.index) {
        this.pendingWrites.delete(index);
        this.env.reply(p.client, { kind: "lost", requestId: p.requestId });
      }
    }
    this.env.trace(this.id, `restore snapshot index=${snapshot.meta.index}`);
  }

  private applyEntry(e: Entry): void {
    if (e.index <= this.applied) return;
    const digest = digestOf(e);
    this.env.observeApply(this.id, digest, this.raft.term);
    let output: KvOutput = null;
    if (e.type === "Normal" && e.data.length > 0) output = this.kv.apply(decodeCommand(e.data));
    this.applied = e.index;
    const pending = this.pendingWrites.get(e.index);
    if (pending === undefined) return;
    this.pendingWrites.delete(e.index);
    if (pending.term === e.term) {
      this.env.observeAck(digest, this.raft.term);
      this.env.reply(pending.client, { kind: "ok", requestId: pending.requestId, output });
    } else {
      this.env.reply(pending.client, { kind: "lost", requestId: pending.requestId });
    }
  }

  private serveReads(): void {
    if (this.readsWaiting.length === 0) return;
    const still: { index: number; read: PendingRead }[] = [];
    for (const w of this.readsWaiting) {
      if (w.index <= this.applied) {
        this.env.reply(w.read.client, {
          kind: "ok",
          requestId: w.read.requestId,
          output: this.kv.get(w.read.key),
        });
      } else still.push(w);
    }
    this.readsWaiting = still;
  }

  private maybeSnapshot(): void {
    if (this.applied - this.lastSnapshotIndex < this.options.snapshotEntries) return;
    const index = asIndex(this.raft.log.applied);
    const term = this.raft.log.term(index);
    if (term === undefined || index <= this.lastSnapshotIndex) return;
    const snapshot: Snapshot = {
      meta: { index, term, confState: this.raft.tracker.confState },
      data: this.kv.snapshot(),
    };
    this.disk.compact(snapshot);
    this.raft.compact(snapshot);
    this.env.observeCompaction(this.id, index);
    this.lastSnapshotIndex = index;
  }

  /** A digest of the state machine, for the final convergence check. */
  stateDigest(): string {
    return this.kv.digest();
  }
}
