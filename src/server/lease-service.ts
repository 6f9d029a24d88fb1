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
import { type AuthGate, credentialsOfCall } from "./auth-gate.js";
import { headerToEtcd, int64FromEtcd, int64ToEtcd } from "./etcd-mapping.js";
import { type KvBackend, type ResponseOf, responseOf, statusOf } from "./kv-service.js";
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

function messageOf(value: unknown): Message {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value) || value instanceof Uint8Array) {
    throw new KvError("INVALID_ARGUMENT", "etcdserver: request must be a message");
  }
  return value as Message;
}

function boolOf(value: unknown, name: string): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value !== "boolean") {
    throw new KvError("INVALID_ARGUMENT", `etcdserver: ${name} must be a boolean`);
  }
  return value;
}

const idOf = (message: unknown): number => int64FromEtcd(messageOf(message).ID, "ID");

/**
 * The Lease service's handlers, for `server.addService(serviceDefinition("Lease"), ...)`.
 * LeaseKeepAlive streams end when the client half-closes, or with the status of the first
 * failure other than a missing lease.
 */
export function leaseServiceHandlers(
  backend: KvBackend,
  options: LeaseServiceOptions = {},
): grpc.UntypedServiceImplementation {
  const now = options.now ?? Date.now;
  const reportInternal = (method: string, error: unknown): void => {
    if (statusOf(error).code !== grpc.status.INTERNAL) return;
    try {
      options.onInternalError?.(method, error);
    } catch {
      // A logger's failure must not become the caller's.
    }
  };
  const header = (revision: number) => headerToEtcd({ revision }, backend.header());
  const propose = async <T extends PlainKvCommand["type"]>(
    command: PlainKvCommand & { type: T },
    auth?: AuthInfo,
  ): Promise<ResponseOf<T>> => {
    const gate = options.auth;
    const wrapped = gate === undefined ? command : gate.withAuth(command, auth);
    const encoded = encodeCommand(wrapped);
    await options.quota?.check(command);
    return responseOf(await backend.propose(encoded), command.type);
  };
  const read = async <T extends KvQuery["type"]>(
    query: KvQuery & { type: T },
  ): Promise<ResponseOf<T>> =>
    responseOf(await backend.read(encodeQuery(query), "linearizable"), query.type);

  const grant = async (message: unknown, auth?: AuthInfo): Promise<object> => {
    const m = messageOf(message);
    const ttl = int64FromEtcd(m.TTL, "TTL");
    const id = int64FromEtcd(m.ID, "ID");
    const r = await propose({ type: "LeaseGrant", request: { ttl, id } }, auth);
    return {
      header: header(r.header.revision),
      ID: int64ToEtcd(r.id, "ID"),
      TTL: int64ToEtcd(r.ttl, "TTL"),
      error: "",
    };
  };
  const revoke = async (message: unknown, auth?: AuthInfo): Promise<object> => {
    const r = await propose({ type: "LeaseRevoke", request: { id: idOf(message) } }, auth);
    return { header: header(r.header.revision) };
  };
  const timeToLive = async (message: unknown): Promise<object> => {
    const m = messageOf(message);
    const request = { id: int64FromEtcd(m.ID, "ID"), keys: boolOf(m.keys, "keys"), nowMs: now() };
    const r = await read({ type: "LeaseTimeToLive", request });
    return {
      header: header(r.header.revision),
      ID: int64ToEtcd(r.id, "ID"),
      TTL: int64ToEtcd(r.ttl, "TTL"),
      grantedTTL: int64ToEtcd(r.grantedTtl, "grantedTTL"),
      keys: r.keys.map((k) => Buffer.from(k.buffer, k.byteOffset, k.byteLength)),
    };
  };
  const leases = async (): Promise<object> => {
    const r = await read({ type: "LeaseLeases" });
    return {
      header: header(r.header.revision),
      leases: r.leases.map((l) => ({ ID: int64ToEtcd(l.id, "ID") })),
    };
  };
  /** One keep-alive: TTL 0 for a missing lease, as etcd. */
  const keepAliveOnce = async (message: unknown): Promise<object> => {
    const id = idOf(message);
    try {
      const r = await propose({ type: "LeaseKeepAlive", request: { id } });
      return {
        header: header(r.header.revision),
        ID: int64ToEtcd(r.id, "ID"),
        TTL: int64ToEtcd(r.ttl, "TTL"),
      };
    } catch (e) {
      if (!(e instanceof KvError && e.code === "LEASE_NOT_FOUND")) throw e;
      return { header: header(0), ID: int64ToEtcd(id, "ID"), TTL: "0" };
    }
  };

  const unary =
    (method: string, handle: (message: unknown, auth?: AuthInfo) => Promise<object>) =>
    (call: grpc.ServerUnaryCall<unknown, object>, callback: grpc.sendUnaryData<object>): void => {
      const gate = options.auth;
      const run = async (): Promise<object> =>
        handle(call.request, gate?.authInfo(credentialsOfCall(call)));
      run().then(
        (response) => {
          try {
            callback(null, response);
          } catch {
            // The call is already lost.
          }
        },
        (error: unknown) => {
          reportInternal(method, error);
          const status = statusOf(error);
          try {
            callback({ code: status.code, details: status.details });
          } catch {
            // The call is already lost.
          }
        },
      );
    };

  const keepAlive: grpc.handleBidiStreamingCall<unknown, object> = (call) => {
    // Requests are answered one at a time, in order. While one is in flight the call is
    // paused, so at most KEEPALIVE_QUEUE_MAX requests wait here; gRPC flow control holds the rest.
    const queue: unknown[] = [];
    let busy = false;
    let clientDone = false;
    let done = false;
    const finish = (error?: unknown): void => {
      if (done) return;
      done = true;
      queue.length = 0;
      try {
        if (error === undefined) {
          call.end();
        } else {
          reportInternal("LeaseKeepAlive", error);
          const status = statusOf(error);
          call.emit("error", { code: status.code, details: status.details });
        }
      } catch {
        // The call is already gone.
      }
    };
    const next = (): void => {
      if (done || busy) return;
      const message = queue.shift();
      if (message === undefined) {
        if (clientDone) finish();
        else call.resume();
        return;
      }
      busy = true;
      keepAliveOnce(message).then(
        (response) => {
          busy = false;
          if (done) return;
          let more: boolean;
          try {
            more = call.write(response);
          } catch (e) {
            finish(e);
            return;
          }
          if (more) next();
          else call.once("drain", next); // a client that does not read stops being read
        },
        (error: unknown) => {
          busy = false;
          finish(error);
        },
      );
    };
    call.on("data", (message: unknown) => {
      if (done) return;
      queue.push(message);
      if (queue.length >= KEEPALIVE_QUEUE_MAX) call.pause();
      next();
    });
    call.on("end", () => {
      clientDone = true;
      next();
    });
    call.on("cancelled", () => {
      done = true;
      queue.length = 0;
    });
    call.on("error", () => {
      done = true;
      queue.length = 0;
    });
  };

  return {
    LeaseGrant: unary("LeaseGrant", grant),
    LeaseRevoke: unary("LeaseRevoke", revoke),
    LeaseTimeToLive: unary("LeaseTimeToLive", timeToLive),
    LeaseLeases: unary("LeaseLeases", leases),
    LeaseKeepAlive: keepAlive,
  };
}
