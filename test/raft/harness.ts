// A deterministic test bench for the pure Raft core: N nodes ("n1".."nN", all voters), a
// Network that takes each node's Ready, persists it synchronously to an in-memory per-node
// disk (snapshot, entries with truncation, hard state), queues its messages, applies committed
// entries to a tiny state machine (the list of applied entries) and calls advance(). Tests
// decide which queued messages arrive and when: deliver all or some, drop, partition, tick,
// crash and restart a node from its disk, propose.
//
// While it runs, the bench watches Raft's safety properties (paper Figure 3) and the Ready
// contract, and records every breach in `violations` instead of throwing, so a test can show
// that a deliberately broken core (TestingFaults) is caught.
import {
  asIndex,
  asNodeId,
  asTerm,
  type ConfState,
  decodeConfChange,
  type Entry,
  type HardState,
  type Index,
  type Message,
  type MessageType,
  NO_NODE,
  type NodeId,
  Raft,
  RaftError,
  type RaftOptions,
  type ReadState,
  type Ready,
  type Snapshot,
  type Term,
  type TestingFaults,
  Xoshiro128,
} from "../../src/raft/index.js";

// ───────────────────────────── small builders ─────────────────────────────

export const nid = (s: string): NodeId => asNodeId(s);
export const term = (n: number): Term => asTerm(n);
export const index = (n: number): Index => asIndex(n);

const encoder = new TextEncoder();
const decoder = new TextDecoder();
export const bytes = (s: string): Uint8Array => encoder.encode(s);
export const text = (b: Uint8Array): string => decoder.decode(b);

/** A Normal entry; `data` is a string for readability. */
export function entry(i: number, t: number, data = ""): Entry {
  return { index: asIndex(i), term: asTerm(t), type: "Normal", data: bytes(data) };
}

/** Entries [from, to] all of term `t`. */
export function entries(from: number, to: number, t: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, t, `e${i}t${t}`));
  return out;
}

export function hardState(t: number, vote = "", commit = 0): HardState {
  return { term: asTerm(t), vote: asNodeId(vote), commit: asIndex(commit) };
}

export function voters(...names: string[]): ConfState {
  return { voters: names.map(asNodeId), votersOutgoing: [], learners: [] };
}

export function nodeIds(size: number): NodeId[] {
  return Array.from({ length: size }, (_, i) => asNodeId(`n${i + 1}`));
}

// ───────────────────────────── message builders ─────────────────────────────

export function voteRequest(
  fromId: string,
  toId: string,
  t: number,
  last: readonly [number, number],
  flags: { preVote?: boolean; transfer?: boolean } = {},
): Message {
  return {
    type: "VoteRequest",
    from: asNodeId(fromId),
    to: asNodeId(toId),
    term: asTerm(t),
    preVote: flags.preVote ?? false,
    lastLogIndex: asIndex(last[0]),
    lastLogTerm: asTerm(last[1]),
    transfer: flags.transfer ?? false,
  };
}

export function voteResponse(
  fromId: string,
  toId: string,
  t: number,
  granted: boolean,
  preVote = false,
): Message {
  return {
    type: "VoteResponse",
    from: asNodeId(fromId),
    to: asNodeId(toId),
    term: asTerm(t),
    preVote,
    granted,
    commit: asIndex(0),
    commitTerm: asTerm(0),
  };
}

export function appendRequest(
  fromId: string,
  toId: string,
  t: number,
  prev: readonly [number, number],
  list: readonly Entry[],
  commit = 0,
): Message {
  return {
    type: "AppendRequest",
    from: asNodeId(fromId),
    to: asNodeId(toId),
    term: asTerm(t),
    prevLogIndex: asIndex(prev[0]),
    prevLogTerm: asTerm(prev[1]),
    entries: list,
    commit: asIndex(commit),
  };
}

export function appendResponse(
  fromId: string,
  toId: string,
  t: number,
  success: boolean,
  i: number,
): Message {
  return {
    type: "AppendResponse",
    from: asNodeId(fromId),
    to: asNodeId(toId),
    term: asTerm(t),
    success,
    index: asIndex(i),
    hintIndex: asIndex(0),
    hintTerm: asTerm(0),
  };
}

export function heartbeat(
  fromId: string,
  toId: string,
  t: number,
  commit = 0,
  context = "",
): Message {
  return {
    type: "Heartbeat",
    from: asNodeId(fromId),
    to: asNodeId(toId),
    term: asTerm(t),
    commit: asIndex(commit),
    context,
  };
}

// ───────────────────────────── message filters ─────────────────────────────

export type MessageFilter = (m: Message) => boolean;

export const all: MessageFilter = () => true;
export const to =
  (...ids: string[]): MessageFilter =>
  (m) =>
    ids.includes(m.to);
export const from =
  (...ids: string[]): MessageFilter =>
  (m) =>
    ids.includes(m.from);
export const ofType =
  (...types: MessageType[]): MessageFilter =>
  (m) =>
    types.includes(m.type);
export const and =
  (...fs: MessageFilter[]): MessageFilter =>
  (m) =>
    fs.every((f) => f(m));
export const not =
  (f: MessageFilter): MessageFilter =>
  (m) =>
    !f(m);
/** Messages between a and b, either direction. */
export const between =
  (a: string, b: string): MessageFilter =>
  (m) =>
    (m.from === a && m.to === b) || (m.from === b && m.to === a);

/** One line per message, for readable assertion failures and scripted traces. */
export function show(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} t${m.term}`;
  switch (m.type) {
    case "VoteRequest":
      return `${head}${m.preVote ? " pre" : ""} last=${m.lastLogIndex}:${m.lastLogTerm}${m.transfer ? " transfer" : ""}`;
    case "VoteResponse":
      return `${head}${m.preVote ? " pre" : ""} ${m.granted ? "granted" : "rejected"}`;
    case "AppendRequest":
      return `${head} prev=${m.prevLogIndex}:${m.prevLogTerm} entries=[${m.entries.map((e) => `${e.index}:${e.term}`).join(",")}] commit=${m.commit}`;
    case "AppendResponse":
      return `${head} ${m.success ? "ok" : "reject"} index=${m.index}${m.success ? "" : ` hint=${m.hintIndex}:${m.hintTerm}`}`;
    case "Heartbeat":
      return `${head} commit=${m.commit}${m.context ? ` ctx=${m.context}` : ""}`;
    case "HeartbeatResponse":
      return `${head}${m.context ? ` ctx=${m.context}` : ""}`;
    case "InstallSnapshot":
      return `${head} snap=${m.snapshot.meta.index}:${m.snapshot.meta.term}`;
    case "ReadIndexRequest":
      return `${head} ctx=${m.context}`;
    case "ReadIndexResponse":
      return `${head} ctx=${m.context} index=${m.index}`;
    case "ProposalForward":
      return `${head} proposals=${m.proposals.length}`;
    default:
      return head;
  }
}

// ───────────────────────────── disk and state machine ─────────────────────────────

/** What a node has made durable. */
export interface Disk {
  hardState: HardState;
  snapshot: Snapshot | undefined;
  /** Entries after the snapshot, contiguous. */
  entries: Entry[];
}

export function emptyDisk(): Disk {
  return { hardState: hardState(0), snapshot: undefined, entries: [] };
}

export function diskLastIndex(disk: Disk): number {
  const last = disk.entries[disk.entries.length - 1];
  return last?.index ?? disk.snapshot?.meta.index ?? 0;
}

export function diskTerm(disk: Disk, i: number): number | undefined {
  const snapIndex = disk.snapshot?.meta.index ?? 0;
  if (i === snapIndex) return disk.snapshot?.meta.term ?? 0;
  return disk.entries[i - snapIndex - 1]?.term;
}

/** Ready contract step 2: snapshot replaces the log, entries truncate a stored suffix, then hard state. */
export function persist(disk: Disk, rd: Ready): void {
  if (rd.snapshot !== undefined) {
    disk.snapshot = rd.snapshot;
    disk.entries = [];
  }
  const first = rd.entries[0];
  if (first !== undefined) {
    const base = disk.snapshot?.meta.index ?? 0;
    const keep = first.index - base - 1;
    if (keep < 0 || keep > disk.entries.length) {
      throw new Error(
        `disk: entries from ${first.index} leave a hole after ${diskLastIndex(disk)}`,
      );
    }
    disk.entries = [...disk.entries.slice(0, keep), ...rd.entries];
  }
  if (rd.hardState !== undefined) disk.hardState = rd.hardState;
}

/** The state machine: the list of entries applied, as (index, term, data) records. */
export interface Applied {
  readonly index: number;
  readonly term: number;
  readonly data: string;
}

const encodeApplied = (records: readonly Applied[]): Uint8Array => bytes(JSON.stringify(records));
const decodeApplied = (data: Uint8Array): Applied[] => JSON.parse(text(data)) as Applied[];

// ───────────────────────────── the network ─────────────────────────────

export interface NetworkOptions {
  /** Voters n1..n{size}. */
  readonly size: number;
  /** Learners after the voters: n{size+1}..n{size+learners}. */
  readonly learners?: number;
  readonly seed?: number;
  readonly electionTicks?: number;
  readonly heartbeatTicks?: number;
  readonly preVote?: boolean;
  readonly checkQuorum?: boolean;
  readonly inflightMessagesMax?: number;
  readonly forwardedProposalsMax?: number;
  readonly messageBytesMax?: number;
  readonly testingFaults?: TestingFaults;
  readonly readMode?: "index" | "lease";
  readonly leaseClockDrift?: number;
  /**
   * Nodes after the learners, n{size+learners+1}.., that start outside the configuration (an
   * empty ConfState): they take part once a configuration change adds them.
   */
  readonly spares?: number;
  /** Committed ConfChange entries are applied (raft.applyConfChange), as a runtime would. */
  readonly applyConfChanges?: boolean;
  /** Initial disks (hard state, entries, snapshot) by node name, for building divergent logs. */
  readonly disks?: Readonly<Record<string, Partial<Disk>>>;
}

export class Network {
  readonly ids: readonly NodeId[];
  readonly confState: ConfState;
  readonly disks = new Map<NodeId, Disk>();
  /** Each node's state machine: the entries applied, in order. */
  readonly applied = new Map<NodeId, Applied[]>();
  readonly readStates = new Map<NodeId, ReadState[]>();
  readonly droppedReads = new Map<NodeId, string[]>();
  /** Messages sent and not yet delivered or dropped. */
  queue: Message[] = [];
  /** Every message ever sent, in order. */
  readonly history: Message[] = [];
  /** Messages that hit a partition or a crashed node. */
  lost = 0;
  /** Forwarded proposals the leader refused (transfer in progress, not leader any more). */
  droppedProposals = 0;
  /** Breaches of Raft's safety properties or of the Ready contract. Should stay empty. */
  readonly violations: string[] = [];
  /** Called with every Ready before it is carried out. */
  onReady: ((id: NodeId, rd: Ready) => void) | undefined;

  private readonly rafts = new Map<NodeId, Raft>();
  private readonly blocked = new Set<string>();
  private readonly restarts = new Map<NodeId, number>();
  /** term → the node seen leading it. */
  readonly leaderOfTerm = new Map<number, NodeId>();
  private readonly leaderLogs = new Map<string, { first: number; terms: number[] }>();
  /** index → term of every entry some node reported committed, and the term it was seen in. */
  private readonly committed = new Map<number, { term: number; seenInTerm: number }>();
  private readonly commitSeen = new Map<NodeId, number>();
  /** index → the entry some node applied there (State Machine Safety). */
  private readonly appliedAt = new Map<number, Applied>();

  constructor(readonly options: NetworkOptions) {
    const members = options.size + (options.learners ?? 0);
    this.ids = nodeIds(members + (options.spares ?? 0));
    this.confState = {
      voters: this.ids.slice(0, options.size),
      votersOutgoing: [],
      learners: this.ids.slice(options.size, members),
    };
    for (const id of this.ids) {
      const d = options.disks?.[id];
      this.disks.set(id, {
        hardState: d?.hardState ?? hardState(0),
        snapshot: d?.snapshot,
        entries: [...(d?.entries ?? [])],
      });
      this.start(id);
    }
  }

  /** The live node `id` (throws if crashed). */
  node(id: string): Raft {
    const r = this.rafts.get(asNodeId(id));
    if (r === undefined) throw new Error(`${id} is down`);
    return r;
  }

  isUp(id: string): boolean {
    return this.rafts.has(asNodeId(id));
  }

  liveIds(): NodeId[] {
    return this.ids.filter((id) => this.rafts.has(id));
  }

  /** The live leaders, highest term first (a stale leader may linger in a partition). */
  leaders(): Raft[] {
    return this.liveIds()
      .map((id) => this.node(id))
      .filter((r) => r.role === "Leader")
      .sort((a, b) => b.term - a.term);
  }

  disk(id: string): Disk {
    const d = this.disks.get(asNodeId(id));
    if (d === undefined) throw new Error(`no disk ${id}`);
    return d;
  }

  appliedOf(id: string): Applied[] {
    return this.applied.get(asNodeId(id)) ?? [];
  }

  /** Data strings of the non-empty entries `id` applied (no-ops left out). */
  appliedData(id: string): string[] {
    return this.appliedOf(id)
      .filter((a) => a.data !== "")
      .map((a) => a.data);
  }

  /** The in-memory log of `id` as "index:term" strings from its first index. */
  logOf(id: string): string[] {
    const r = this.node(id);
    const out: string[] = [];
    for (let i = r.log.firstIndex(); i <= r.log.lastIndex(); i++)
      out.push(`${i}:${r.log.term(asIndex(i))}`);
    return out;
  }

  // ───── time, proposals, reads ─────

  tick(id: string, times = 1): void {
    for (let i = 0; i < times; i++) {
      this.node(id).tick();
      this.process(asNodeId(id));
    }
  }

  /** Ticks every live node once per round, delivering all messages after each round. */
  run(rounds: number, filter: MessageFilter = all): void {
    for (let i = 0; i < rounds; i++) {
      for (const id of this.liveIds()) this.tick(id);
      this.stabilize(filter);
    }
  }

  /** Ticks `id` alone until it starts campaigning (its role or term changes). Returns ticks used. */
  campaign(id: string): number {
    const r = this.node(id);
    const role = r.role;
    const t = r.term;
    const bound = 2 * (this.options.electionTicks ?? 10) + 1;
    for (let i = 1; i <= bound; i++) {
      this.tick(id);
      if (r.role !== role || r.term !== t) return i;
    }
    throw new Error(`${id} did not campaign within ${bound} ticks`);
  }

  /** `id` campaigns and every message is delivered; it must end up leader. */
  elect(id: string): Raft {
    this.campaign(id);
    this.stabilize();
    const r = this.node(id);
    if (r.role !== "Leader") throw new Error(`${id} is ${r.role} in term ${r.term}, not leader`);
    return r;
  }

  propose(id: string, data: string): { index: Index; term: Term } {
    const result = this.node(id).propose(bytes(data));
    this.process(asNodeId(id));
    return result;
  }

  readIndex(id: string, context: string): void {
    this.node(id).readIndex(context);
    this.process(asNodeId(id));
  }

  /** The node took a snapshot of its state machine at `at` (default: applied) and compacted. */
  compact(id: string, at?: number): Snapshot {
    const r = this.node(id);
    const i = at ?? r.log.applied;
    const t = r.log.term(asIndex(i));
    if (t === undefined) throw new Error(`${id} has no term at ${i}`);
    const snapshot: Snapshot = {
      meta: { index: asIndex(i), term: t, confState: r.tracker.confState },
      data: encodeApplied(this.appliedOf(id).filter((a) => a.index <= i)),
    };
    r.compact(snapshot);
    const disk = this.disk(id);
    disk.snapshot = snapshot;
    disk.entries = disk.entries.filter((e) => e.index > i);
    this.process(asNodeId(id));
    return snapshot;
  }

  // ───── messages ─────

  /** Puts a hand-made message on the wire. */
  send(m: Message): void {
    this.queue.push(m);
    this.history.push(m);
  }

  /** Steps `m` into its addressee now (bypassing queue and partitions) and processes the Ready. */
  stepNow(m: Message): void {
    this.node(m.to).step(m);
    this.process(m.to);
  }

  /** Queued messages matching `filter`, without removing them. */
  pending(filter: MessageFilter = all): Message[] {
    return this.queue.filter(filter);
  }

  /** Delivers the queued messages matching `filter` once (not what they cause). Returns how many. */
  deliver(filter: MessageFilter = all): number {
    const batch = this.take(filter);
    for (const m of batch) this.deliverOne(m);
    return batch.length;
  }

  /** Delivers matching messages, and the matching ones they cause, until none is queued. */
  stabilize(filter: MessageFilter = all, roundsMax = 10_000): void {
    for (let round = 0; round < roundsMax; round++) {
      if (this.deliver(filter) === 0) return;
    }
    throw new Error(`network did not stabilize within ${roundsMax} rounds`);
  }

  /** Delivers the oldest queued message matching `filter`, if any. Returns it. */
  deliverFirst(filter: MessageFilter = all): Message | undefined {
    const at = this.queue.findIndex(filter);
    if (at < 0) return undefined;
    const [m] = this.queue.splice(at, 1);
    if (m !== undefined) this.deliverOne(m);
    return m;
  }

  /** Removes the queued messages matching `filter`; returns them. */
  drop(filter: MessageFilter = all): Message[] {
    return this.take(filter);
  }

  /** Delivers `m` (a message taken from the queue, or a copy, for duplicates). */
  deliverOne(m: Message): void {
    if (!this.rafts.has(m.to) || this.blocked.has(`${m.from}>${m.to}`)) {
      this.lost++;
      return;
    }
    this.stepNow(m);
  }

  private take(filter: MessageFilter): Message[] {
    const taken: Message[] = [];
    const kept: Message[] = [];
    for (const m of this.queue) (filter(m) ? taken : kept).push(m);
    this.queue = kept;
    return taken;
  }

  // ───── faults ─────

  /** Messages from a to b are lost (one direction). */
  cut(a: string, b: string): void {
    this.blocked.add(`${a}>${b}`);
  }

  /** Cuts every link to and from `id`. */
  isolate(id: string): void {
    for (const other of this.ids) {
      if (other === id) continue;
      this.cut(id, other);
      this.cut(other, id);
    }
  }

  heal(): void {
    this.blocked.clear();
  }

  /** The node stops; what it had not persisted is gone (nothing: persisting is synchronous), and
   * so are the messages in flight to or from it. */
  crash(id: string): void {
    const nodeId = asNodeId(id);
    if (!this.rafts.delete(nodeId)) throw new Error(`${id} is already down`);
    this.lost += this.take((m) => m.to === id || m.from === id).length;
  }

  /** A new Raft for `id` from what its disk holds; its state machine restarts from the snapshot. */
  restart(id: string): Raft {
    const nodeId = asNodeId(id);
    if (this.rafts.has(nodeId)) throw new Error(`${id} is up`);
    this.restarts.set(nodeId, (this.restarts.get(nodeId) ?? 0) + 1);
    return this.start(nodeId);
  }

  private start(id: NodeId): Raft {
    const disk = this.disk(id);
    const n = this.ids.indexOf(id) + 1;
    const raft = new Raft({
      ...this.raftOptions(),
      id,
      prng: new Xoshiro128(
        (this.options.seed ?? 1) * 1_000_003 + n * 101 + (this.restarts.get(id) ?? 0),
      ),
      confState:
        this.confState.voters.includes(id) || this.confState.learners.includes(id)
          ? this.confState
          : { voters: [], votersOutgoing: [], learners: [] },
      hardState: disk.hardState,
      snapshot: disk.snapshot,
      entries: [...disk.entries],
    });
    this.rafts.set(id, raft);
    this.applied.set(id, disk.snapshot === undefined ? [] : decodeApplied(disk.snapshot.data));
    this.commitSeen.set(id, 0);
    this.process(id);
    return raft;
  }

  private raftOptions(): Omit<RaftOptions, "id" | "prng" | "confState"> {
    const o = this.options;
    return {
      electionTicks: o.electionTicks ?? 10,
      heartbeatTicks: o.heartbeatTicks ?? 1,
      ...(o.preVote === undefined ? {} : { preVote: o.preVote }),
      ...(o.checkQuorum === undefined ? {} : { checkQuorum: o.checkQuorum }),
      ...(o.forwardedProposalsMax === undefined
        ? {}
        : { forwardedProposalsMax: o.forwardedProposalsMax }),
      ...(o.inflightMessagesMax === undefined
        ? {}
        : { inflightMessagesMax: o.inflightMessagesMax }),
      ...(o.messageBytesMax === undefined ? {} : { messageBytesMax: o.messageBytesMax }),
      ...(o.testingFaults === undefined ? {} : { testingFaults: o.testingFaults }),
      ...(o.readMode === undefined ? {} : { readMode: o.readMode }),
      ...(o.leaseClockDrift === undefined ? {} : { leaseClockDrift: o.leaseClockDrift }),
    };
  }

  // ───── the Ready loop ─────

  /** Runs `id`'s Ready loop to quiescence, following the Ready contract. */
  process(id: NodeId): void {
    const r = this.rafts.get(id);
    if (r === undefined) return;
    for (let round = 0; r.hasReady(); round++) {
      if (round >= 1000) throw new Error(`${id}: Ready loop does not quiesce`);
      const rd = r.ready();
      this.onReady?.(id, rd);
      const disk = this.disk(id);
      persist(disk, rd);
      this.checkPersistedBeforeSend(id, rd, disk);
      for (const m of rd.messages) this.send(m);
      if (rd.snapshot !== undefined) this.applied.set(id, decodeApplied(rd.snapshot.data));
      for (const e of rd.committedEntries) {
        this.apply(id, e, disk);
        if (e.type === "ConfChange" && this.options.applyConfChanges === true)
          r.applyConfChange(decodeConfChange(e.data));
      }
      this.pushAll(this.readStates, id, rd.readStates);
      this.pushAll(this.droppedReads, id, rd.droppedReads);
      r.advance(rd);
      try {
        r.checkInvariants();
      } catch (e) {
        this.violate(`Invariant: ${id}: ${(e as Error).message}`);
      }
      // Proposals forwarded by followers: propose them as our own, or drop them (the proposer
      // learns the outcome by applying).
      for (const p of rd.forwardedProposals) {
        try {
          r.propose(p.data, p.type);
        } catch (e) {
          if (!(e instanceof RaftError)) throw e;
          this.droppedProposals++;
        }
      }
    }
    this.observe(id, r);
  }

  private pushAll<T>(map: Map<NodeId, T[]>, id: NodeId, items: readonly T[]): void {
    if (items.length === 0) return;
    const list = map.get(id) ?? [];
    list.push(...items);
    map.set(id, list);
  }

  private apply(id: NodeId, e: Entry, disk: Disk): void {
    const list = this.applied.get(id) ?? [];
    const prev = list[list.length - 1]?.index ?? 0;
    if (e.index !== prev + 1)
      this.violate(`Apply order: ${id} applied ${e.index} after ${prev} (in order, exactly once)`);
    if (diskTerm(disk, e.index) !== e.term)
      this.violate(`Ready contract: ${id} applied ${e.index}:${e.term} before persisting it`);
    const record: Applied = { index: e.index, term: e.term, data: text(e.data) };
    list.push(record);
    this.applied.set(id, list);
    const other = this.appliedAt.get(e.index);
    if (other === undefined) this.appliedAt.set(e.index, record);
    else if (other.term !== record.term || other.data !== record.data) {
      this.violate(
        `State Machine Safety: ${id} applied ${e.index}:${e.term} "${record.data}" where ${other.index}:${other.term} "${other.data}" was applied`,
      );
    }
  }

  /** Messages that wait for the write must be backed by what is now on disk. */
  private checkPersistedBeforeSend(id: NodeId, rd: Ready, disk: Disk): void {
    for (const m of rd.messages) {
      if (m.type === "VoteResponse" && m.granted && !m.preVote) {
        if (disk.hardState.term !== m.term || disk.hardState.vote !== m.to) {
          this.violate(
            `Ready contract: ${id} granted a vote to ${m.to} in t${m.term} that its disk does not record`,
          );
        }
      }
      if (m.type === "AppendResponse" && m.success && diskLastIndex(disk) < m.index) {
        this.violate(
          `Ready contract: ${id} acknowledged ${m.index} with only ${diskLastIndex(disk)} on disk`,
        );
      }
    }
  }

  // ───── safety properties (Raft Figure 3) ─────

  private observe(id: NodeId, r: Raft): void {
    // Committed entries: learned from the commit index.
    const seen = this.commitSeen.get(id) ?? 0;
    for (let i = Math.max(seen, r.log.snapIndex) + 1; i <= r.log.committed; i++) {
      const t = r.log.term(asIndex(i)) as number;
      const known = this.committed.get(i);
      if (known === undefined) this.committed.set(i, { term: t, seenInTerm: r.term });
      else if (known.term !== t)
        this.violate(
          `State Machine Safety: ${id} committed ${i}:${t} where ${i}:${known.term} was committed`,
        );
    }
    this.commitSeen.set(id, Math.max(seen, r.log.committed));
    if (r.role !== "Leader") return;

    // Election Safety: at most one leader per term.
    const holder = this.leaderOfTerm.get(r.term);
    if (holder === undefined) this.leaderOfTerm.set(r.term, id);
    else if (holder !== id)
      this.violate(`Election Safety: ${holder} and ${id} both lead term ${r.term}`);

    // Leader Append-Only: a leader never overwrites or deletes entries in its log.
    const key = `${id}@${r.term}`;
    const before = this.leaderLogs.get(key);
    const first = r.log.firstIndex();
    if (before !== undefined) {
      const last = before.first + before.terms.length - 1;
      if (r.log.lastIndex() < last)
        this.violate(`Leader Append-Only: ${key} log shrank below ${last}`);
      for (let i = Math.max(first, before.first); i <= last; i++) {
        if (r.log.term(asIndex(i)) !== before.terms[i - before.first]) {
          this.violate(`Leader Append-Only: ${key} changed entry ${i}`);
          break;
        }
      }
    }
    const terms: number[] = [];
    for (let i = first; i <= r.log.lastIndex(); i++) terms.push(r.log.term(asIndex(i)) as number);
    this.leaderLogs.set(key, { first, terms });

    // Leader Completeness: a leader holds every entry committed in its term or earlier.
    for (const [i, c] of this.committed) {
      if (c.seenInTerm > r.term || i <= r.log.snapIndex) continue;
      if (r.log.term(asIndex(i)) !== c.term) {
        this.violate(`Leader Completeness: ${id} (t${r.term}) lacks committed ${i}:${c.term}`);
      }
    }
  }

  /** Records a breach once. */
  private violate(what: string): void {
    if (!this.violations.includes(what)) this.violations.push(what);
  }

  /** Log Matching across every pair of live nodes; recorded in `violations`. */
  checkLogMatching(): void {
    const live = this.liveIds();
    for (let a = 0; a < live.length; a++) {
      for (let b = a + 1; b < live.length; b++) {
        const x = this.node(live[a] as string);
        const y = this.node(live[b] as string);
        const lo = Math.max(x.log.snapIndex, y.log.snapIndex) + 1;
        const hi = Math.min(x.log.lastIndex(), y.log.lastIndex());
        // Scanning down: once two entries agree, every earlier pair must agree too.
        let agreed = false;
        for (let i = hi; i >= lo; i--) {
          const same = x.log.term(asIndex(i)) === y.log.term(asIndex(i));
          if (same) agreed = true;
          else if (agreed) {
            this.violate(`Log Matching: ${x.id} and ${y.id} agree above ${i} but differ at ${i}`);
            break;
          }
        }
      }
    }
  }

  /** Every committed entry's term as the bench saw it (index → term). */
  committedTerms(): Map<number, number> {
    return new Map([...this.committed].map(([i, c]) => [i, c.term]));
  }
}

/** A lone Raft with storage state given directly, for receiver-side unit tests. */
export function lonelyRaft(
  id: string,
  peers: readonly string[],
  state: Partial<Disk> = {},
  extra: Partial<Omit<RaftOptions, "id" | "confState">> = {},
): Raft {
  return new Raft({
    id: asNodeId(id),
    electionTicks: 10,
    heartbeatTicks: 1,
    prng: new Xoshiro128(7),
    confState: voters(...peers),
    ...(state.hardState === undefined ? {} : { hardState: state.hardState }),
    snapshot: state.snapshot,
    entries: state.entries ?? [],
    ...extra,
  });
}

/** Takes and advances every pending Ready (persisting nowhere); returns them. */
export function drain(r: Raft): Ready[] {
  const out: Ready[] = [];
  for (let i = 0; r.hasReady() && i < 100; i++) {
    const rd = r.ready();
    out.push(rd);
    r.advance(rd);
  }
  return out;
}

/** All messages in a list of Readies. */
export function messagesOf(readies: readonly Ready[]): Message[] {
  return readies.flatMap((rd) => [...rd.messages]);
}

export { NO_NODE };
