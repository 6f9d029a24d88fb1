// Shared by the server tests: an in-process KvBackend that applies commands straight to a
// KvStateMachine (no Raft: proposals apply at once, in call order), a real GrpcServer (the
// member's node:http2 gRPC server) with the KV handlers on 127.0.0.1 and an ephemeral port, and a promise-returning client built from the
// vendored protos. Every server and client started here is closed by `close()`.
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { KvStateMachine } from "../../src/kv/index.js";
import { asIndex, asTerm } from "../../src/raft/index.js";
import type { MemberHeader } from "../../src/server/etcd-mapping.js";
import { kvServiceDefinition } from "../../src/server/etcd-wire.js";
import { GrpcServer } from "../../src/server/grpc/server.js";
import {
  grpcReceiveBytesMax,
  type KvBackend,
  type KvServiceOptions,
  kvServiceHandlers,
} from "../../src/server/kv-service.js";
import { serviceClient } from "../../src/server/proto.js";

/** Above 2^53 on purpose: headers must carry uint64 ids without losing digits. */
export const CLUSTER_ID = "14841639068965178418";
export const MEMBER_ID = "10276657743932975437";
export const RAFT_TERM = 3;

export const b = (text: string): Buffer => Buffer.from(text, "utf8");
export const s = (bytes: Uint8Array): string => Buffer.from(bytes).toString("utf8");

/** The in-process backend: what a one-member cluster does, minus the log. */
export class StateMachineBackend implements KvBackend {
  readonly sm: KvStateMachine;
  /** The read mode of every read, in order. */
  readonly reads: ("linearizable" | "serializable")[] = [];
  proposals = 0;
  private index = 0;

  constructor(sm: KvStateMachine = new KvStateMachine()) {
    this.sm = sm;
  }

  async propose(command: Uint8Array): Promise<Uint8Array> {
    this.proposals++;
    this.index++;
    const index = this.index;
    return this.sm.apply(command, {
      index: asIndex(index),
      term: asTerm(RAFT_TERM),
      timestampMs: 1_700_000_000_000 + index,
      random: { int: (bound: number) => (index * 7919) % bound },
    });
  }

  async read(query: Uint8Array, mode: "linearizable" | "serializable"): Promise<Uint8Array> {
    this.reads.push(mode);
    return this.sm.query(query);
  }

  header(): MemberHeader {
    return { clusterId: CLUSTER_ID, memberId: MEMBER_ID, raftTerm: RAFT_TERM };
  }
}

type UnaryCallback = (error: grpc.ServiceError | null, response?: unknown) => void;
type UnaryMethod = (request: unknown, options: grpc.CallOptions, callback: UnaryCallback) => void;

const CALL_DEADLINE_MS = 10_000;

export class KvTestClient {
  constructor(readonly client: grpc.Client) {}

  /** One unary call; rejects with the grpc.ServiceError. */
  call(method: string, request: unknown): Promise<unknown> {
    const fn = (this.client as unknown as Record<string, UnaryMethod | undefined>)[method];
    assert.ok(fn !== undefined, `no method ${method}`);
    return new Promise((resolve, reject) => {
      fn.call(this.client, request, { deadline: Date.now() + CALL_DEADLINE_MS }, (error, r) =>
        error === null ? resolve(r) : reject(error),
      );
    });
  }
}

export interface KvTestServer {
  readonly port: number;
  readonly address: string;
  readonly client: KvTestClient;
  close(): Promise<void>;
}

export async function startKvServer(
  backend: KvBackend,
  options: KvServiceOptions = {},
): Promise<KvTestServer> {
  const server = new GrpcServer({
    receiveMessageBytesMax: grpcReceiveBytesMax(options.requestBytesMax),
  });
  server.addService(kvServiceDefinition(), kvServiceHandlers(backend, options));
  const port = await server.listen(0, "127.0.0.1");
  const address = `127.0.0.1:${port}`;
  const Client = serviceClient("KV");
  const client = new Client(address, grpc.credentials.createInsecure());
  return {
    port,
    address,
    client: new KvTestClient(client),
    close: async () => {
      client.close();
      await server.shutdown(2000);
    },
  };
}

/** Asserts that `promise` rejects with gRPC status `code` and exactly `details`. */
export async function rejectsWithStatus(
  promise: Promise<unknown>,
  code: grpc.status,
  details: string | RegExp,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    const e = error as grpc.ServiceError;
    assert.equal(grpc.status[e.code], grpc.status[code], e.details);
    if (typeof details === "string") assert.equal(e.details, details);
    else assert.match(e.details, details);
    return true;
  });
}
