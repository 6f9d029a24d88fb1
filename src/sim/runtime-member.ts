// A simulated member running the whole stack: the runtime (RsmNode) with the MVCC key-value
// state machine, on simulated storage (fsync latency, crashes that lose or tear the write in
// flight), the simulated network and a simulated clock. Every promise the runtime awaits is
// resolved by a simulation event, and the simulation drains microtasks between events, so a
// run stays a pure function of its seed.

import type { AuthRequest, PlainKvCommand as KvCommand } from "../kv/index.js";
import { decodeResult, encodeCommand, encodeQuery, KvStateMachine } from "../kv/index.js";
import { prefixEnd } from "../lib/index.js";
import {
  asIndex,
  type ConfChange,
  type ConfState,
  type DurableState,
  type Entry,
  type HardState,
  type LogStorage,
  type Message,
  type NodeId,
  type Raft,
  type Ready,
  type Snapshot,
  type TestingFaults,
  type Xoshiro128,
} from "../raft/index.js";
import {
  type Clock,
  type Membership,
  type RsmError,
  RsmNode,
  type RsmNodeOptions,
} from "../rsm/index.js";
import { digestOf } from "./digest.js";
import type { ClientReply, ClientRequest, SimCommand, SimMember } from "./member.js";
import type { NodeEnvironment } from "./node.js";
import { SimProcess } from "./process.js";

export interface RuntimeMemberOptions {
  readonly id: NodeId;
  readonly confState: ConfState;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly tickMs: number;
  readonly snapshotEntries: number;
  readonly clockSkewMs: number;
  readonly testingFaults: TestingFaults | undefined;
  readonly readMode?: "index" | "lease";
  readonly leaseClockDrift?: number;
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** A client request being served: the runtime, and where its outcome goes. */
interface ClientCall {
  readonly node: RsmNode;
  readonly reply: (r: ClientReply) => void;
  readonly failed: (e: unknown) => void;
}

type ReadRequest = Extract<ClientRequest, { kind: "read" }>;
type WriteRequest = Extract<ClientRequest, { kind: "write" }>;

/** Maps a workload write to a KV command. */
function kvCommandOf(c: SimCommand): KvCommand {
  const key = utf8.encode(c.key);
  switch (c.op) {
    case "put":
      return { type: "Put", request: { key, value: utf8.encode(c.value ?? "") } };
    case "delete":
      return { type: "DeleteRange", request: { key } };
    case "cas": {
      const expected = c.expected ?? null;
      const compare =
        expected === null
          ? { key, target: "VERSION" as const, result: "EQUAL" as const, version: 0 }
          : {
              key,
              target: "VALUE" as const,
              result: "EQUAL" as const,
              value: utf8.encode(expected),
            };
      return {
        type: "Txn",
        request: {
          compare: [compare],
          success: [{ type: "put", request: { key, value: utf8.encode(c.value ?? "") } }],
          failure: [],
        },
      };
    }
  }
}

/**
 * The auth side of the workload: every 3rd write of a session first proposes one auth command,
 * cycling through setting up root, a user and a role with a permission, enabling auth, taking
 * it all apart again and disabling auth. Some are sent as the user u1, who is not root: apply
 * must refuse those alike on every replica (the auth commands carry the auth revision this
 * member has applied, so some are refused as "old" too). Workload writes carry AuthInfo
 * {root, a revision no auth change reaches}: with auth on they are checked at apply, but are
 * never refused as "old". (A refused write would be kept by its session under its seq, and the
 * simulated client, which retries the same seq, could never complete it; a real client
 * authenticates again and sends a new request.) The hashes replicas compare, and the snapshots
 * they install, include the auth state.
 */
const FRESH_AUTH_REVISION = Number.MAX_SAFE_INTEGER;
const AUTH_EVERY_WRITES = 3;
const SIM_HASH = "$2a$04$sim.not.a.real.bcrypt.hash.made.by.the.simulator"; // no hashing in apply

function authRequestOf(n: number, key: Uint8Array): AuthRequest {
  const perm = { permType: "READ" as const, key, rangeEnd: prefixEnd(key) };
  const ops: AuthRequest[] = [
    { op: "UserAdd", name: "root", passwordHash: SIM_HASH, noPassword: false },
    { op: "RoleAdd", name: "root" },
    { op: "UserGrantRole", user: "root", role: "root" },
    { op: "AuthEnable" },
    { op: "UserAdd", name: "u1", passwordHash: SIM_HASH, noPassword: false },
    { op: "RoleAdd", name: "r1" },
    { op: "RoleGrantPermission", name: "r1", perm },
    { op: "UserGrantRole", user: "u1", role: "r1" },
    { op: "UserList" },
    { op: "RoleRevokePermission", role: "r1", key, rangeEnd: perm.rangeEnd },
    { op: "UserRevokeRole", name: "u1", role: "r1" },
    { op: "RoleDelete", role: "r1" },
    { op: "UserDelete", name: "u1" },
    { op: "AuthDisable" },
  ];
  return ops[n % ops.length] as AuthRequest;
}

export class RuntimeMember extends SimProcess implements SimMember {
  private node!: RsmNode;
  private kv!: KvStateMachine;
  private tickers: (() => void)[] = [];
  /** The write in flight (for torn writes on crash). */
  private inflight: readonly Entry[] | undefined;
  private wasLeaderTerm = -1;
  /** Lease reads the core had served when last looked at (this life). */
  private leaseReadsSeen = 0;
  /** Tick events this member's clock has seen (its monotonic time, in ticks). */
  private localTicks = 0;
  private observedCommit = 0;
  /** The core's term when the Ready being handled was taken. */
  private readyTerm = 0;

  constructor(
    readonly options: RuntimeMemberOptions,
    prng: Xoshiro128,
    env: NodeEnvironment,
  ) {
    super(prng, env);
    this.boot();
  }

  get id(): NodeId {
    return this.options.id;
  }

  get role() {
    return this.node?.status().role ?? "Follower";
  }

  get term(): number {
    return this.node?.status().term ?? 0;
  }

  get appliedIndex(): number {
    return this.node?.status().applied ?? 0;
  }

  localGet(key: string): string | null {
    const res = this.kv.queryDecoded(
      encodeQuery({ type: "Range", request: { key: utf8.encode(key) } }),
    );
    if (!res.ok || res.response.type !== "Range") return null;
    const kv = res.response.response.kvs[0];
    return kv === undefined ? null : fromUtf8.decode(kv.value);
  }

  stateDigest(): string {
    return `${this.kv.hash()}`;
  }

  /** The configuration as applied here (undefined while the node is still opening). */
  membership(): Membership | undefined {
    return this.node?.membership();
  }

  /** Proposes a membership change through this member (forwarded when it follows). */
  changeMembership(
    cc: ConfChange,
    contexts: ReadonlyMap<NodeId, Uint8Array>,
    timeoutMs: number,
  ): Promise<Membership> {
    if (this.crashed || this.paused || this.node === undefined)
      return Promise.reject(new Error(`${this.id} is down`));
    return this.node.changeMembership(cc, contexts, timeoutMs);
  }

  transferLeadership(to: NodeId, timeoutMs: number): Promise<void> {
    if (this.crashed || this.paused || this.node === undefined)
      return Promise.reject(new Error(`${this.id} is down`));
    return this.node.transferLeadership(to, timeoutMs);
  }

  protected boot(): void {
    const life = this.incarnation;
    this.kv = new KvStateMachine();
    this.tickers = [];
    this.inflight = undefined;
    this.wasLeaderTerm = -1;
    this.leaseReadsSeen = 0;
    this.observedCommit = this.disk.hardState.commit;
    void RsmNode.open({
      id: this.options.id,
      confState: this.options.confState,
      storage: this.storage(life),
      transport: { send: (m) => this.env.sendMessage(m) },
      stateMachine: this.kv,
      clock: this.clock(),
      tickMs: this.options.tickMs,
      electionTicks: this.options.electionTicks,
      heartbeatTicks: this.options.heartbeatTicks,
      snapshotEntries: this.options.snapshotEntries,
      hashCheckEntries: 50,
      trapNondeterminism: true,
      seed: this.prng.next32() * 2 ** 16 + this.prng.int(2 ** 16),
      ...(this.options.testingFaults ? { testingFaults: this.options.testingFaults } : {}),
      ...(this.options.readMode !== undefined ? { readMode: this.options.readMode } : {}),
      ...(this.options.leaseClockDrift !== undefined
        ? { leaseClockDrift: this.options.leaseClockDrift }
        : {}),
      hooks: this.hooks(),
    }).then((node) => {
      if (this.incarnation !== life) return;
      this.node = node;
      node.start();
    });
  }

  /** The runtime's clock: the simulation's time with this member's skew, its ticks, its timers. */
  private clock(): Clock {
    return {
      nowMs: () => this.env.now() + this.options.clockSkewMs,
      // This member's own clock: one tickMs per tick event, paused or not (the sim's tick events
      // come at the member's clock rate), so a pause is seen as time gone by.
      monotonicMs: () => this.localTicks * this.options.tickMs,
      every: (_intervalMs, callback) => {
        this.tickers.push(callback);
        return () => {
          this.tickers = this.tickers.filter((t) => t !== callback);
        };
      },
      after: (delayMs, callback) => {
        let cancelled = false;
        this.env.later(this, delayMs, () => {
          if (!cancelled) callback();
        });
        return () => {
          cancelled = true;
        };
      },
    };
  }

  /** The runtime's test hooks: what the checkers see of each step, Ready and apply. */
  private hooks(): NonNullable<RsmNodeOptions["hooks"]> {
    return {
      afterStep: (raft) => {
        this.observeRole(raft);
        this.observeLeaseReads(raft);
        this.env.observeCore(this.id, () => raft.checkInvariants());
      },
      afterReady: (rd, raft) => {
        this.observeReady(rd, raft);
        this.observeLeaseReads(raft);
      },
      beforeApply: (rd) => {
        for (const e of rd.committedEntries)
          this.env.observeApply(this.id, digestOf(e), this.readyTerm);
      },
      // The runtime's own invariants (and the core's) after every Ready round.
      afterRound: () => {
        const node = this.node;
        if (node === undefined) return;
        this.env.observeCore(this.id, () => {
          node.checkInvariants();
          // Every state machine here is deterministic: a divergence alarm is a false one (a
          // digest or hash that replicas with equal states compute differently).
          const alarm = node.divergenceAlarms[0];
          if (alarm !== undefined)
            throw new Error(`divergence alarm at ${alarm.index}: ${alarm.ours} ≠ ${alarm.leaders}`);
        });
      },
    };
  }

  /** LogStorage on the simulated disk: each write becomes durable after a simulated fsync. */
  private storage(life: number): LogStorage {
    const durable = (run: () => void): Promise<void> =>
      new Promise<void>((resolve) => {
        // A crash before the fsync completes leaves this promise pending forever: that life is over.
        this.env.later(this, this.env.fsyncDelayMs(), () => {
          if (this.incarnation !== life) return;
          run();
          resolve();
        });
      });
    return {
      load: async (): Promise<DurableState> => ({
        hardState: this.disk.hardState,
        snapshot: this.disk.snapshot,
        entries: [...this.disk.entries],
      }),
      append: (entries: readonly Entry[], hardState: HardState | undefined, sync = true) => {
        if (!sync && entries.length === 0) {
          // Deferred as the WAL does: durable with the next write, lost by a crash before it.
          if (hardState !== undefined) this.disk.defer(hardState);
          return Promise.resolve();
        }
        this.inflight = entries;
        return durable(() => {
          this.inflight = undefined;
          this.disk.write(undefined, entries, hardState);
          if (entries.length > 0) this.env.observeDurable(this.id, entries.map(digestOf));
        });
      },
      saveSnapshot: (snapshot: Snapshot) =>
        durable(() => {
          this.disk.compact(snapshot);
          this.env.observeCompaction(this.id, snapshot.meta.index);
        }),
      installSnapshot: (snapshot: Snapshot) =>
        durable(() => {
          this.disk.write(snapshot, [], undefined);
          this.env.observeSnapshotInstall(this.id, snapshot.meta.index, snapshot.meta.term);
        }),
      close: async () => {},
    };
  }

  /** Lease reads are checked against every newer leader elected so far (Lease Safety). */
  private observeLeaseReads(raft: Raft): void {
    if (raft.leaseReadsServed === this.leaseReadsSeen) return;
    this.leaseReadsSeen = raft.leaseReadsServed;
    this.env.observeLeaseRead(this.id, raft.term);
  }

  /** Leadership is checked (election safety, leader completeness) the moment it is won. */
  private observeRole(raft: Raft): void {
    if (raft.role === "Leader" && this.wasLeaderTerm !== raft.term) {
      this.wasLeaderTerm = raft.term;
      this.env.trace(this.id, `leader term=${raft.term} last=${raft.log.lastIndex()}`);
      this.env.observeLeader(this.id, raft.term, raft.log.firstIndex(), (i) =>
        raft.log.term(asIndex(i)),
      );
    }
  }

  private observeReady(rd: Ready, raft: Raft): void {
    this.readyTerm = raft.term;
    this.observeRole(raft);
    const commit = rd.hardState?.commit;
    if (commit !== undefined && commit > this.observedCommit) {
      for (let i = Math.max(this.observedCommit + 1, raft.log.firstIndex()); i <= commit; i++) {
        const e = raft.log.entry(asIndex(i));
        if (e !== undefined) this.env.observeApply(this.id, digestOf(e), raft.term);
      }
      this.observedCommit = commit;
    }
  }

  protected inflightEntries(): readonly Entry[] | undefined {
    return this.inflight;
  }

  protected restartTrace(): string {
    return `restart term=${this.disk.hardState.term} last=${this.disk.lastIndex()}`;
  }

  protected override accepting(): boolean {
    return this.node !== undefined;
  }

  protected deliver(messages: readonly Message[]): void {
    for (const m of messages) this.node?.receive(m);
  }

  tick(): void {
    this.localTicks++;
    if (this.crashed || this.paused) return;
    for (const t of this.tickers) t();
  }

  handleClient(request: ClientRequest): void {
    if (this.crashed || this.paused || this.node === undefined) return;
    const node = this.node;
    const life = this.incarnation;
    const reply = (r: ClientReply): void => {
      if (this.incarnation === life && !this.crashed) this.env.reply(request.client, r);
    };
    const failed = (e: unknown): void => this.replyFailure(request.requestId, e, reply);
    const call: ClientCall = { node, reply, failed };
    switch (request.kind) {
      case "register":
        node
          .registerSession()
          .then((id) => reply({ kind: "ok", requestId: request.requestId, output: id }), failed);
        return;
      case "read":
        this.read(call, request);
        return;
      case "write":
        this.write(call, request);
        return;
    }
  }

  /** A refusal (with the leader hint), a lost attempt, or an unexpected failure of the run. */
  private replyFailure(requestId: number, e: unknown, reply: (r: ClientReply) => void): void {
    const code = (e as RsmError).code;
    if (
      code === "NOT_LEADER" ||
      code === "NO_LEADER" ||
      code === "REMOVED" ||
      code === "LEADER_CHANGING"
    ) {
      reply({
        kind: "refused",
        requestId,
        leaderHint: (e as { leaderHint?: string }).leaderHint ?? "",
      });
    } else if (code !== undefined) {
      // TIMEOUT, STOPPED, PROPOSAL_DROPPED; or a late duplicate of a request whose session
      // already moved on (INVALID_ARGUMENT: an older seq), which no client waits for.
      reply({ kind: "lost", requestId });
    } else {
      this.env.fail(`${this.id}: client request failed unexpectedly: ${String(e)}`);
    }
  }

  /** A linearizable Range of one key. */
  private read({ node, reply, failed }: ClientCall, request: ReadRequest): void {
    node
      .read(
        encodeQuery({ type: "Range", request: { key: utf8.encode(request.key) } }),
        "linearizable",
      )
      .then((bytes) => {
        const res = decodeResult(bytes);
        if (!res.ok || res.response.type !== "Range") {
          this.env.fail(`${this.id}: read failed: ${JSON.stringify(res)}`);
          return;
        }
        const kv = res.response.response.kvs[0];
        reply({
          kind: "ok",
          requestId: request.requestId,
          output: kv === undefined ? null : fromUtf8.decode(kv.value),
        });
      }, failed);
  }

  /** The workload's write, as root, in the client's session; now and then an auth change first. */
  private write({ node, reply, failed }: ClientCall, request: WriteRequest): void {
    const c = request.command;
    const session = c.session === undefined ? undefined : { clientId: c.session, seq: c.seq };
    if (c.seq % AUTH_EVERY_WRITES === 0) this.proposeAuthChange(node, c);
    const write = encodeCommand({
      type: "WithAuth",
      auth: { username: "root", revision: FRESH_AUTH_REVISION },
      command: kvCommandOf(c),
    });
    node.propose(write, session).then((bytes) => {
      const res = decodeResult(bytes);
      if (!res.ok) {
        this.env.fail(`${this.id}: write failed: ${JSON.stringify(res.error)}`);
        return;
      }
      const output = res.response.type === "Txn" ? res.response.response.succeeded : null;
      reply({ kind: "ok", requestId: request.requestId, output });
    }, failed);
  }

  /**
   * One auth store change, checked at the store's revision now. Its outcome (often a refusal:
   * no such user, not root, ...) is the replicas' to agree on, which the hash comparison
   * checks; no client waits for it.
   */
  private proposeAuthChange(node: RsmNode, c: SimCommand): void {
    const revision = this.kv.store.auth.revision;
    const n = c.seq / AUTH_EVERY_WRITES - 1;
    const request = authRequestOf(n, utf8.encode(c.key));
    const username = n % 3 === 2 ? "u1" : "root";
    const command = encodeCommand({
      type: "WithAuth",
      auth: { username, revision },
      command: { type: "Auth", request },
    });
    node.propose(command).then(
      () => {},
      () => {},
    );
  }
}
