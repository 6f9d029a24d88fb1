// etcd v3's Lease service over the replicated store. Grants, revokes and keep-alives are
// commands proposed through the log (a keep-alive restarts the lease's clock from the leader's
// timestamp in the entry); TimeToLive and Leases are linearizable reads, TimeToLive measured
// against this member's clock (kv/ has none).
//
// As etcd: a keep-alive for a missing (or already expired) lease answers TTL 0 instead of
// failing; TimeToLive of a missing lease answers TTL -1; other failures carry etcd's rpctypes
// status and message (statusOf). LeaseKeepAlive handles one request at a time, in order, so a
// client that floods the stream is slowed by gRPC flow control rather than queued without
// bound. Nothing a client sends can throw out of a handler.
import * as grpc from "@grpc/grpc-js";
import {
  type AuthInfo,
  encodeCommand,
  encodeQuery,
  KvError,
  type KvQuery,
  type PlainKvCommand,
} from "../kv/index.js";
import type { AuthGate } from "./auth-gate.js";
import {
  boolFromEtcd,
  headerToEtcd,
  int64FromEtcd,
  int64ToEtcd,
  messageFromEtcd,
} from "./etcd-mapping.js";
import {
  callerOf,
  type KvBackend,
  type ResponseOf,
  responseOf,
  statusOf,
  unaryCall,
} from "./kv-service.js";
import type { SpaceQuota } from "./space-quota.js";

export interface LeaseServiceOptions {
  /** The member's clock (Unix ms) for TimeToLive's remaining TTL. Default Date.now. */
  readonly now?: () => number;
  /** Hears every call that ended INTERNAL, for logging. */
  readonly onInternalError?: (method: string, error: unknown) => void;
  /**
   * Authentication (auth-gate.ts): LeaseGrant and LeaseRevoke carry who sent them into the
   * log, where a revoke needs write permission on every key of the lease (as etcd 3.4).
   * Keep-alives, TimeToLive and Leases are not checked (nor are they in etcd 3.4).
   */
  readonly auth?: AuthGate;
  /** The space quota (space-quota.ts, etcd's quotaLeaseServer): LeaseGrant is checked first. */
  readonly quota?: Pick<SpaceQuota, "check">;
}

/** Keep-alive requests a stream may have waiting before it stops reading more. */
const KEEPALIVE_QUEUE_MAX = 16;

type Message = Readonly<Record<string, unknown>>;

const messageOf = (value: unknown): Message => messageFromEtcd(value, "request");

const idOf = (message: unknown): number => int64FromEtcd(messageOf(message).ID, "ID");

/** How Lease calls reach the backend, with etcd's response header. */
interface LeaseAccess {
  readonly now: () => number;
  header(revision: number): object;
  propose<T extends PlainKvCommand["type"]>(
    command: PlainKvCommand & { type: T },
    auth?: AuthInfo,
  ): Promise<ResponseOf<T>>;
  read<T extends KvQuery["type"]>(query: KvQuery & { type: T }): Promise<ResponseOf<T>>;
}

function leaseAccess(backend: KvBackend, options: LeaseServiceOptions): LeaseAccess {
  return {
    now: options.now ?? Date.now,
    header: (revision) => headerToEtcd({ revision }, backend.header()),
    propose: async (command, auth) => {
      const gate = options.auth;
      const wrapped = gate === undefined ? command : gate.withAuth(command, auth);
      const encoded = encodeCommand(wrapped);
      await options.quota?.check(command);
      return responseOf(await backend.propose(encoded), command.type);
    },
    read: async (query) =>
      responseOf(await backend.read(encodeQuery(query), "linearizable"), query.type),
  };
}

async function grant(lease: LeaseAccess, message: unknown, auth?: AuthInfo): Promise<object> {
  const m = messageOf(message);
  const ttl = int64FromEtcd(m.TTL, "TTL");
  const id = int64FromEtcd(m.ID, "ID");
  const r = await lease.propose({ type: "LeaseGrant", request: { ttl, id } }, auth);
  return {
    header: lease.header(r.header.revision),
    ID: int64ToEtcd(r.id, "ID"),
    TTL: int64ToEtcd(r.ttl, "TTL"),
    error: "",
  };
}

async function revoke(lease: LeaseAccess, message: unknown, auth?: AuthInfo): Promise<object> {
  const r = await lease.propose({ type: "LeaseRevoke", request: { id: idOf(message) } }, auth);
  return { header: lease.header(r.header.revision) };
}

async function timeToLive(lease: LeaseAccess, message: unknown): Promise<object> {
  const m = messageOf(message);
  const id = int64FromEtcd(m.ID, "ID");
  const request = { id, keys: boolFromEtcd(m.keys, "keys"), nowMs: lease.now() };
  const r = await lease.read({ type: "LeaseTimeToLive", request });
  return {
    header: lease.header(r.header.revision),
    ID: int64ToEtcd(r.id, "ID"),
    TTL: int64ToEtcd(r.ttl, "TTL"),
    grantedTTL: int64ToEtcd(r.grantedTtl, "grantedTTL"),
    keys: r.keys.map((k) => Buffer.from(k.buffer, k.byteOffset, k.byteLength)),
  };
}

async function leases(lease: LeaseAccess): Promise<object> {
  const r = await lease.read({ type: "LeaseLeases" });
  return {
    header: lease.header(r.header.revision),
    leases: r.leases.map((l) => ({ ID: int64ToEtcd(l.id, "ID") })),
  };
}

/** One keep-alive: TTL 0 for a missing lease, as etcd. */
async function keepAliveOnce(lease: LeaseAccess, message: unknown): Promise<object> {
  const id = idOf(message);
  try {
    const r = await lease.propose({ type: "LeaseKeepAlive", request: { id } });
    return {
      header: lease.header(r.header.revision),
      ID: int64ToEtcd(r.id, "ID"),
      TTL: int64ToEtcd(r.ttl, "TTL"),
    };
  } catch (e) {
    if (!(e instanceof KvError && e.code === "LEASE_NOT_FOUND")) throw e;
    return { header: lease.header(0), ID: int64ToEtcd(id, "ID"), TTL: "0" };
  }
}

/**
 * One LeaseKeepAlive stream. Requests are answered one at a time, in order. While one is in
 * flight the call is paused, so at most KEEPALIVE_QUEUE_MAX requests wait here; gRPC flow
 * control holds the rest.
 */
class KeepAliveStream {
  private readonly queue: unknown[] = [];
  private busy = false;
  private clientDone = false;
  private done = false;

  constructor(
    private readonly call: grpc.ServerDuplexStream<unknown, object>,
    private readonly answer: (message: unknown) => Promise<object>,
    private readonly reportInternal: (error: unknown) => void,
  ) {
    call.on("data", (message: unknown) => {
      if (this.done) return;
      this.queue.push(message);
      if (this.queue.length >= KEEPALIVE_QUEUE_MAX) call.pause();
      this.next();
    });
    call.on("end", () => {
      this.clientDone = true;
      this.next();
    });
    call.on("cancelled", () => this.drop());
    call.on("error", () => this.drop());
  }

  /** The call is gone: nothing more is answered. */
  private drop(): void {
    this.done = true;
    this.queue.length = 0;
  }

  private finish(error?: unknown): void {
    if (this.done) return;
    this.drop();
    try {
      if (error === undefined) {
        this.call.end();
      } else {
        this.reportInternal(error);
        const status = statusOf(error);
        this.call.emit("error", { code: status.code, details: status.details });
      }
    } catch {
      // The call is already gone.
    }
  }

  private readonly next = (): void => {
    if (this.done || this.busy) return;
    const message = this.queue.shift();
    if (message === undefined) {
      if (this.clientDone) this.finish();
      else this.call.resume();
      return;
    }
    this.busy = true;
    this.answer(message).then(
      (response) => {
        this.busy = false;
        if (!this.done) this.send(response);
      },
      (error: unknown) => {
        this.busy = false;
        this.finish(error);
      },
    );
  };

  private send(response: object): void {
    let more: boolean;
    try {
      more = this.call.write(response);
    } catch (e) {
      this.finish(e);
      return;
    }
    if (more) this.next();
    else this.call.once("drain", this.next); // a client that does not read stops being read
  }
}

/**
 * The Lease service's handlers, for `server.addService(serviceDefinition("Lease"), ...)`.
 * LeaseKeepAlive streams end when the client half-closes, or with the status of the first
 * failure other than a missing lease.
 */
export function leaseServiceHandlers(
  backend: KvBackend,
  options: LeaseServiceOptions = {},
): grpc.UntypedServiceImplementation {
  const lease = leaseAccess(backend, options);
  const unary = (
    method: string,
    handle: (message: unknown, auth?: AuthInfo) => Promise<object>,
  ): grpc.handleUnaryCall<unknown, object> =>
    unaryCall(method, async (call) => handle(call.request, callerOf(call, options.auth)), options);
  const reportInternal = (error: unknown): void => {
    if (statusOf(error).code !== grpc.status.INTERNAL) return;
    try {
      options.onInternalError?.("LeaseKeepAlive", error);
    } catch {
      // A logger's failure must not become the caller's.
    }
  };
  return {
    LeaseGrant: unary("LeaseGrant", (m, auth) => grant(lease, m, auth)),
    LeaseRevoke: unary("LeaseRevoke", (m, auth) => revoke(lease, m, auth)),
    LeaseTimeToLive: unary("LeaseTimeToLive", (m) => timeToLive(lease, m)),
    LeaseLeases: unary("LeaseLeases", () => leases(lease)),
    LeaseKeepAlive: ((call) => {
      new KeepAliveStream(call, (m) => keepAliveOnce(lease, m), reportInternal);
    }) satisfies grpc.handleBidiStreamingCall<unknown, object>,
  };
}
