// Shared by the Watch and Lease tests: an in-process backend (a KvStateMachine applied directly,
// with the real clock as the leader's timestamp so lease TTLs read naturally), a GrpcServer on
// 127.0.0.1 with the KV, Watch and Lease services, unary clients, and a Watch stream client
// whose responses are awaited one by one with a timeout. close() closes everything it started.
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { serviceClient, serviceDefinition } from "../../src/api/index.js";
import { type EventListener, KvStateMachine } from "../../src/kv/index.js";
import { asIndex, asTerm } from "../../src/raft/index.js";
import type { MemberHeader } from "../../src/server/etcd-mapping.js";
import { GrpcServer } from "../../src/server/grpc/server.js";
import { grpcReceiveBytesMax, kvServiceHandlers } from "../../src/server/kv-service.js";
import { leaseServiceHandlers } from "../../src/server/lease-service.js";
import {
  type WatchBackend,
  type WatchService,
  type WatchServiceOptions,
  watchService,
} from "../../src/server/watch-service.js";
import { CLUSTER_ID, KvTestClient, MEMBER_ID, RAFT_TERM } from "./kv-harness.js";

export const WAIT_MS = 5000;

/** A one-member cluster minus the log, with hooks for the tests. */
export class ClockBackend implements WatchBackend {
  readonly sm = new KvStateMachine();
  private index = 0;
  /** Runs before every read is answered (a test writes here to race a watch's replay). */
  onRead: ((query: Uint8Array) => void) | undefined;
  /** Resolvers of waitSubscribed(). */
  private subscribedWaiters: (() => void)[] = [];
  subscriptions = 0;

  async propose(command: Uint8Array): Promise<Uint8Array> {
    this.index++;
    const index = this.index;
    return this.sm.apply(command, {
      index: asIndex(index),
      term: asTerm(RAFT_TERM),
      timestampMs: Date.now(),
      random: { int: (bound: number) => (index * 7919) % bound },
    });
  }

  async read(query: Uint8Array, _mode: "linearizable" | "serializable"): Promise<Uint8Array> {
    this.onRead?.(query);
    return this.sm.query(query);
  }

  subscribe(listener: EventListener): () => void {
    const unsubscribe = this.sm.store.subscribe(listener);
    this.subscriptions++;
    const waiters = this.subscribedWaiters;
    this.subscribedWaiters = [];
    for (const wake of waiters) wake();
    return () => {
      this.subscriptions--;
      unsubscribe();
    };
  }

  /** Resolves once the watch hub listens to the store (the first watch is registered). */
  waitSubscribed(): Promise<void> {
    if (this.subscriptions > 0) return Promise.resolve();
    return withTimeout(
      new Promise<void>((resolve) => this.subscribedWaiters.push(resolve)),
      "the watch hub to subscribe",
    );
  }

  revision(): number {
    return this.sm.store.revision;
  }

  header(): MemberHeader {
    return { clusterId: CLUSTER_ID, memberId: MEMBER_ID, raftTerm: RAFT_TERM };
  }
}

export function withTimeout<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A WatchResponse as proto-loader decodes it (keepCase, longs and enums as strings). */
export interface WatchResponse {
  header: { revision: string; cluster_id: string; member_id: string; raft_term: string };
  watch_id: string;
  created: boolean;
  canceled: boolean;
  compact_revision: string;
  cancel_reason: string;
  events: {
    type: string;
    kv: { key: Buffer; value: Buffer; mod_revision: string; version: string; lease: string };
    prev_kv: { key: Buffer; value: Buffer; mod_revision: string } | null;
  }[];
}

/** One Watch call, read response by response. */
export class WatchTestStream {
  private readonly call: grpc.ClientDuplexStream<unknown, WatchResponse>;
  private readonly received: WatchResponse[] = [];
  private waiter: (() => void) | undefined;
  ended: grpc.StatusObject | undefined;

  constructor(client: grpc.Client) {
    const method = (
      client as unknown as Record<string, () => grpc.ClientDuplexStream<unknown, WatchResponse>>
    ).Watch;
    assert.ok(method !== undefined);
    this.call = method.call(client);
    this.call.on("data", (r: WatchResponse) => {
      this.received.push(r);
      this.wake();
    });
    this.call.on("error", () => {});
    this.call.on("status", (status: grpc.StatusObject) => {
      this.ended = status;
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  send(request: object): void {
    this.call.write(request);
  }

  create(request: object): void {
    this.send({ create_request: request });
  }

  cancel(watchId: string | number): void {
    this.send({ cancel_request: { watch_id: String(watchId) } });
  }

  progress(): void {
    this.send({ progress_request: {} });
  }

  /** The next response; fails after `ms` or when the call ends first. */
  async next(ms = WAIT_MS): Promise<WatchResponse> {
    const deadline = Date.now() + ms;
    // Bounded: each turn waits for one response or the end of the call, or times out.
    for (;;) {
      const r = this.received.shift();
      if (r !== undefined) return r;
      if (this.ended !== undefined) {
        throw new Error(`the watch call ended: ${this.ended.code} ${this.ended.details}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no watch response within ${ms} ms`);
      await withTimeout(
        new Promise<void>((resolve) => {
          this.waiter = resolve;
        }),
        "a watch response",
        left,
      );
    }
  }

  /** Resolves when the server ends the call. */
  async waitEnded(): Promise<grpc.StatusObject> {
    if (this.ended !== undefined) return this.ended;
    await withTimeout(
      new Promise<void>((resolve) => {
        this.waiter = resolve;
      }),
      "the watch call to end",
    );
    assert.ok(this.ended !== undefined, "the call did not end");
    return this.ended;
  }

  close(): void {
    this.call.cancel();
  }
}

export interface TestServer {
  readonly address: string;
  readonly backend: ClockBackend;
  readonly watch: WatchService;
  readonly kv: KvTestClient;
  readonly lease: KvTestClient;
  readonly leaseClient: grpc.Client;
  /** A new Watch stream, closed by close(). */
  watchStream(): WatchTestStream;
  close(): Promise<void>;
}

export async function startServer(options: WatchServiceOptions = {}): Promise<TestServer> {
  const backend = new ClockBackend();
  const server = new GrpcServer({ receiveMessageBytesMax: grpcReceiveBytesMax() });
  const watch = watchService(backend, options);
  server.addService(serviceDefinition("KV"), kvServiceHandlers(backend));
  server.addService(serviceDefinition("Watch"), watch.handlers);
  server.addService(serviceDefinition("Lease"), leaseServiceHandlers(backend));
  const port = await server.listen(0, "127.0.0.1");
  const address = `127.0.0.1:${port}`;
  const insecure = grpc.credentials.createInsecure();
  const kvClient = new (serviceClient("KV"))(address, insecure);
  const leaseClient = new (serviceClient("Lease"))(address, insecure);
  const watchClient = new (serviceClient("Watch"))(address, insecure);
  const streams: WatchTestStream[] = [];
  return {
    address,
    backend,
    watch,
    kv: new KvTestClient(kvClient),
    lease: new KvTestClient(leaseClient),
    leaseClient,
    watchStream: () => {
      const stream = new WatchTestStream(watchClient);
      streams.push(stream);
      return stream;
    },
    close: async () => {
      for (const stream of streams) stream.close();
      watch.close();
      kvClient.close();
      leaseClient.close();
      watchClient.close();
      await server.shutdown(2000);
    },
  };
}
