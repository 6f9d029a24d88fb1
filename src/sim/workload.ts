// The clients of a run: each runs one KV operation at a time (get, put, delete, compare-and-set
// on a few keys), with attempts that time out and retries under the same session seq until a
// deadline, and records the history the linearizability check judges (invoke, complete or
// unknown). On the runtime stack a client first registers a session (not part of the history).
import type { Xoshiro128 } from "../raft/index.js";
import type { ClientReply, ClientRequest, SimMember } from "./member.js";
import type { KvOp, KvOutput } from "./sim-kv.js";
import type { SimStack } from "./sim-options.js";
import type { SimWorld } from "./world.js";

const ATTEMPT_TIMEOUT_MS = 300;
const OP_DEADLINE_MS = 2500;

export interface OpInFlight {
  /** -1 for a session registration, which is not part of the history. */
  readonly historyIndex: number;
  readonly op: KvOp | "register";
  readonly key: string;
  readonly seq: number;
  readonly value: string | undefined;
  readonly expected: string | null | undefined;
  readonly deadline: number;
  readonly requestIds: Set<number>;
  mayHaveApplied: boolean;
}

export interface SimClient {
  readonly id: string;
  seq: number;
  current: OpInFlight | undefined;
  leaderGuess: string;
  lastSeen: Map<string, string | null>;
  /** The registered session (runtime stack), once there is one. */
  session: string | undefined;
}

/** The history entry as recorded (mutable while the operation runs). */
export interface MutableHistoryOp {
  client: string;
  op: KvOp;
  key: string;
  value?: string;
  expected?: string | null;
  invoke: number;
  complete: number | null;
  status: "ok" | "fail" | "unknown";
  output: KvOutput;
}

export class Workload {
  readonly clients: SimClient[] = [];
  readonly history: MutableHistoryOp[] = [];
  private requestSeq = 0;
  private valueSeq = 0;

  constructor(
    private readonly world: SimWorld,
    /** The clients' own PRNG. */
    private readonly prng: Xoshiro128,
    private readonly stack: SimStack,
    readonly keys: readonly string[],
    /** No operation starts at or after this virtual time. */
    private readonly workloadEndMs: number,
    /** Where a client tries when it has no leader hint (reconfiguration.ts). */
    private readonly endpoints: () => SimMember[],
  ) {}

  /** `count` clients, each with a first guess at the leader among `ids`, starting soon. */
  addClients(count: number, ids: readonly string[]): void {
    for (let i = 0; i < count; i++) {
      const client: SimClient = {
        id: `c${i + 1}`,
        seq: 0,
        current: undefined,
        leaderGuess: this.prng.pick(ids),
        lastSeen: new Map(),
        session: undefined,
      };
      this.clients.push(client);
      this.world.queue.push(this.prng.float() * 50, { kind: "clientStep", client });
    }
  }

  /** A member's reply on its way to the client (over the client links). */
  replyTo(clientId: string, reply: ClientReply): void {
    const w = this.world;
    const client = this.clients.find((c) => c.id === clientId);
    if (client === undefined) return;
    for (const delay of w.clientLinks.deliveries("node", clientId)) {
      w.queue.push(w.now + delay, { kind: "reply", client, reply });
    }
  }

  /** The "clientStep" event: the client's next operation (a session first, runtime stack). */
  startOp(client: SimClient): void {
    const now = this.world.now;
    if (client.current !== undefined || now >= this.workloadEndMs) return;
    if (this.stack === "runtime" && client.session === undefined) {
      client.current = {
        historyIndex: -1,
        op: "register",
        key: "",
        seq: 0,
        value: undefined,
        expected: undefined,
        deadline: now + OP_DEADLINE_MS,
        requestIds: new Set(),
        mayHaveApplied: false,
      };
      this.sendAttempt(client);
      return;
    }
    this.startKvOp(client);
  }

  private startKvOp(client: SimClient): void {
    const now = this.world.now;
    const p = this.prng;
    const key = p.pick(this.keys);
    const roll = p.int(100);
    const op: KvOp = roll < 35 ? "get" : roll < 65 ? "put" : roll < 75 ? "delete" : "cas";
    let value: string | undefined;
    let expected: string | null | undefined;
    if (op === "put" || op === "cas") value = `v${++this.valueSeq}`;
    if (op === "cas") expected = p.chance(0.8) ? (client.lastSeen.get(key) ?? null) : null;
    const entry: MutableHistoryOp = {
      client: client.id,
      op,
      key,
      invoke: now,
      complete: null,
      status: "unknown",
      output: null,
    };
    if (value !== undefined) entry.value = value;
    if (op === "cas") entry.expected = expected ?? null;
    this.history.push(entry);
    client.current = {
      historyIndex: this.history.length - 1,
      op,
      key,
      seq: op === "get" ? client.seq : ++client.seq,
      value,
      expected,
      deadline: now + OP_DEADLINE_MS,
      requestIds: new Set(),
      mayHaveApplied: false,
    };
    this.sendAttempt(client);
  }

  /** One attempt of the client's operation, to the member it guesses leads. */
  sendAttempt(client: SimClient): void {
    const w = this.world;
    const cur = client.current;
    if (cur === undefined) return;
    const requestId = ++this.requestSeq;
    cur.requestIds.add(requestId);
    const node = w.nodesById.get(client.leaderGuess) ?? (w.nodes[0] as SimMember);
    const request: ClientRequest =
      cur.op === "register"
        ? { kind: "register", requestId, client: client.id }
        : cur.op === "get"
          ? { kind: "read", requestId, client: client.id, key: cur.key }
          : {
              kind: "write",
              requestId,
              client: client.id,
              command: {
                client: client.id,
                ...(client.session !== undefined ? { session: client.session } : {}),
                seq: cur.seq,
                op: cur.op,
                key: cur.key,
                ...(cur.value !== undefined ? { value: cur.value } : {}),
                ...(cur.op === "cas" ? { expected: cur.expected ?? null } : {}),
              },
            };
    for (const delay of w.clientLinks.deliveries(client.id, "node")) {
      w.queue.push(w.now + delay, { kind: "request", node, request });
    }
    w.queue.push(w.now + ATTEMPT_TIMEOUT_MS, { kind: "attemptTimeout", client, requestId });
  }

  /** The "retry" event: the operation's next attempt, if it is still the one running. */
  onRetry(client: SimClient, op: OpInFlight): void {
    if (client.current === op) this.sendAttempt(client);
  }

  onReply(client: SimClient, reply: ClientReply): void {
    const cur = client.current;
    if (cur === undefined || !cur.requestIds.has(reply.requestId)) return;
    if (reply.kind === "ok" && cur.op === "register") {
      client.session = String(reply.output);
      this.endOp(client);
      return;
    }
    if (reply.kind === "ok") {
      this.complete(client, cur, reply.output);
      return;
    }
    if (reply.kind === "lost") cur.mayHaveApplied = true;
    if (reply.kind === "refused") {
      client.leaderGuess =
        reply.leaderHint !== "" && reply.leaderHint !== client.leaderGuess
          ? reply.leaderHint
          : (this.prng.pick(this.endpoints()).id as string);
    }
    cur.requestIds.delete(reply.requestId);
    this.retry(client, 5 + this.prng.int(25));
  }

  onAttemptTimeout(client: SimClient, requestId: number): void {
    const cur = client.current;
    if (cur === undefined || !cur.requestIds.has(requestId)) return;
    // No answer: the attempt may have been proposed, so the operation may have been applied.
    cur.mayHaveApplied = true;
    client.leaderGuess = this.prng.pick(this.endpoints()).id as string;
    this.retry(client, 0);
  }

  /** An operation answered ok: its history entry completes, the client learns the value. */
  private complete(client: SimClient, cur: OpInFlight, output: string | boolean | null): void {
    const h = this.history[cur.historyIndex] as MutableHistoryOp;
    h.status = "ok";
    h.complete = this.world.now;
    h.output = cur.op === "get" || cur.op === "cas" ? output : null;
    if (cur.op === "get") client.lastSeen.set(cur.key, output as string | null);
    if (cur.op === "put") client.lastSeen.set(cur.key, cur.value ?? null);
    if (cur.op === "delete") client.lastSeen.set(cur.key, null);
    if (cur.op === "cas" && output === true) client.lastSeen.set(cur.key, cur.value ?? null);
    this.endOp(client);
  }

  private retry(client: SimClient, backoffMs: number): void {
    const w = this.world;
    const cur = client.current;
    if (cur === undefined) return;
    if (w.now + backoffMs >= cur.deadline) {
      this.giveUp(client, cur);
      return;
    }
    if (backoffMs === 0) this.sendAttempt(client);
    else w.queue.push(w.now + backoffMs, { kind: "retry", client, op: cur });
  }

  /** The deadline passed: the operation failed, or its outcome is unknown. */
  private giveUp(client: SimClient, cur: OpInFlight): void {
    const w = this.world;
    if (cur.op === "register") {
      this.endOp(client);
      return;
    }
    const h = this.history[cur.historyIndex] as MutableHistoryOp;
    // A write whose attempts were all refused certainly did not apply; otherwise we cannot know.
    const maybe = cur.mayHaveApplied || cur.requestIds.size > 0;
    h.status = cur.op !== "get" && maybe ? "unknown" : "fail";
    if (h.status === "fail") h.complete = w.now;
    if (h.invoke >= w.healTime) {
      w.livenessFailures.push(
        `${client.id} ${h.op} ${h.key} invoked at ${h.invoke.toFixed(1)}ms, after healing, did not complete`,
      );
    }
    this.endOp(client);
  }

  private endOp(client: SimClient): void {
    const w = this.world;
    client.current = undefined;
    w.queue.push(w.now + this.prng.int(40), { kind: "clientStep", client });
  }
}
