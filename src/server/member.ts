// Member: one Ordo server process. It wires the pieces together: the durable WAL, the peer
// transport, the runtime (RsmNode) running the MVCC key-value state machine, and the
// client-facing servers: gRPC speaking etcd's v3 API and HTTP (etcd's JSON gateway, /health,
// /status, /metrics), both on the one client port as etcd serves them (client-listener.ts
// tells the protocols apart; grpc-js itself listens only on an internal endpoint). The leader
// also proposes what only leader time may decide: lease expiry (never a replica's own clock).

import { mkdir, rm } from "node:fs/promises";
import type { Server as HttpServer } from "node:http";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { encodeCommand, KvStateMachine } from "../kv/index.js";
import { asNodeId, type NodeId } from "../raft/index.js";
import { type Logger, RsmNode } from "../rsm/index.js";
import { WalStorage } from "../storage/index.js";
import { TcpTransport } from "../transport/index.js";
import { ClientListener, type InternalEndpoint } from "./client-listener.js";
import { type PeerSpec, stableId } from "./cluster-config.js";
import { clusterHandlers } from "./cluster-service.js";
import { createHttpGateway, type HealthInput } from "./http-gateway.js";
import { type KvBackend, kvGrpcServerOptions, kvServiceHandlers } from "./kv-service.js";
import { leaseServiceHandlers } from "./lease-service.js";
import { maintenanceHandlers } from "./maintenance-service.js";
import { ClientMetrics } from "./metrics.js";
import { serviceDefinition } from "./proto.js";
import { type WatchService, watchService } from "./watch-service.js";

export interface MemberOptions {
  readonly name: string;
  readonly dataDir: string;
  readonly clientHost: string;
  readonly clientPort: number;
  readonly initialCluster: readonly PeerSpec[];
  readonly clusterToken: string;
  readonly tickMs?: number;
  readonly electionTicks?: number;
  readonly snapshotEntries?: number;
  /** Largest client request (etcd's --max-request-bytes). Default 1.5 MiB. */
  readonly requestBytesMax?: number;
  readonly logger: Logger;
}

const LEASE_CHECK_MS = 500;
/** How long stop() lets in-flight gRPC calls finish before cutting them off. */
const GRPC_SHUTDOWN_GRACE_MS = 5_000;
/** A unix socket path longer than this (sun_path is 108 bytes) falls back to a loopback port. */
const UNIX_PATH_BYTES_MAX = 100;

/**
 * Where grpc-js listens behind the client listener: a unix socket in the data dir (no port of
 * its own to collide or be reached from outside), or 127.0.0.1:0 when the path is too long.
 */
async function internalGrpcEndpoint(dataDir: string): Promise<{ address: string; path?: string }> {
  const path = join(dataDir, "grpc.sock");
  if (Buffer.byteLength(path) > UNIX_PATH_BYTES_MAX || process.platform === "win32") {
    return { address: "127.0.0.1:0" };
  }
  await rm(path, { force: true }); // a stale socket of a member that crashed
  return { address: `unix:${path}`, path };
}

export class Member {
  readonly clusterId: string;
  readonly memberId: string;
  private leaseTimer: NodeJS.Timeout | undefined;
  private wasLeader = false;
  /** Open watch streams hold a graceful gRPC shutdown: stop() ends them first. */
  private watch: WatchService | undefined;

  private constructor(
    readonly options: MemberOptions,
    readonly node: RsmNode,
    readonly kv: KvStateMachine,
    private readonly transport: TcpTransport,
    private readonly grpcServer: grpc.Server,
    private readonly listener: ClientListener,
    private readonly httpServer: HttpServer,
    private readonly grpcSocketPath: string | undefined,
    readonly metrics: ClientMetrics,
  ) {
    this.clusterId = clusterIdOf(options.initialCluster, options.clusterToken);
    this.memberId = stableId(options.name);
  }

  /** The real client port (gRPC and HTTP), also when options.clientPort was 0. */
  get clientPort(): number {
    return this.listener.port;
  }

  static async start(options: MemberOptions): Promise<Member> {
    const self = options.initialCluster.find((p) => p.name === options.name);
    if (self === undefined) throw new Error(`--name ${options.name} is not in --initial-cluster`);
    await mkdir(options.dataDir, { recursive: true });
    const log = options.logger;
    const storage = await WalStorage.open(join(options.dataDir, "wal"), {
      logger: (level, message, fields) => log(level, `wal: ${message}`, fields),
    });
    // The request size limit is part of the state machine's behaviour: every member must use
    // the same value (etcd's --max-request-bytes).
    const requestBytesMax = options.requestBytesMax ?? 1.5 * 1024 * 1024;
    const kv = new KvStateMachine({ requestBytesMax });
    const voters = options.initialCluster.map((p) => asNodeId(p.name));
    let node: RsmNode | undefined;
    // When a message last arrived from each peer: /health's "sees a leader and a quorum".
    const heardAtMs = new Map<string, number>();
    const transport = new TcpTransport({
      id: asNodeId(options.name),
      clusterId: clusterIdOf(options.initialCluster, options.clusterToken),
      listenHost: self.host,
      listenPort: self.port,
      peers: new Map(
        options.initialCluster
          .filter((p) => p.name !== options.name)
          .map((p) => [asNodeId(p.name) as NodeId, { host: p.host, port: p.port }]),
      ),
      onMessage: (m) => {
        heardAtMs.set(m.from, performance.now());
        node?.receive(m);
      },
      logger: (level, message, fields) => log(level, `transport: ${message}`, fields),
    });
    node = await RsmNode.open({
      id: asNodeId(options.name),
      confState: { voters, votersOutgoing: [], learners: [] },
      storage,
      transport,
      stateMachine: kv,
      tickMs: options.tickMs ?? 100,
      electionTicks: options.electionTicks ?? 10,
      heartbeatTicks: 1,
      snapshotEntries: options.snapshotEntries ?? 10_000,
      logger: log,
    });
    await transport.start();
    node.start();

    const grpcServer = new grpc.Server(kvGrpcServerOptions(requestBytesMax));
    const clusterId = clusterIdOf(options.initialCluster, options.clusterToken);
    const memberId = stableId(options.name);
    const runtime = node;
    const backend: KvBackend = {
      propose: (command, session) => runtime.propose(command, session),
      registerSession: () => runtime.registerSession(),
      read: (query, mode) => runtime.read(query, mode),
      header: () => ({ clusterId, memberId, raftTerm: runtime.status().term }),
    };
    grpcServer.addService(
      serviceDefinition("KV"),
      kvServiceHandlers(backend, {
        requestBytesMax,
        onInternalError: (method, error) =>
          log("error", "internal error serving a client", { method, error: String(error) }),
      }),
    );
    const watch = watchService(
      {
        read: (query, mode) => runtime.read(query, mode),
        subscribe: (listener) => kv.store.subscribe(listener),
        revision: () => kv.store.revision,
        header: backend.header,
      },
      {
        onInternalError: (what, error) =>
          log("error", "internal error serving a watch", { what, error: String(error) }),
      },
    );
    grpcServer.addService(serviceDefinition("Watch"), watch.handlers);
    grpcServer.addService(
      serviceDefinition("Lease"),
      leaseServiceHandlers(backend, {
        onInternalError: (method, error) =>
          log("error", "internal error serving a client", { method, error: String(error) }),
      }),
    );
    let clientUrl = ""; // set once the client listener is bound
    grpcServer.addService(
      serviceDefinition("Cluster"),
      clusterHandlers({
        members: () =>
          options.initialCluster.map((p) => ({
            id: stableId(p.name),
            name: p.name,
            peerUrls: [`http://${p.host}:${p.port}`],
            clientUrls: p.name === options.name && clientUrl !== "" ? [clientUrl] : [],
          })),
        header: backend.header,
        revision: () => kv.store.revision,
      }),
    );
    grpcServer.addService(
      serviceDefinition("Maintenance"),
      maintenanceHandlers({
        hash: () => kv.hash(),
        hashKV: (revision) => {
          const r = kv.store.hashKV({ revision });
          return { hash: r.hash, compactRevision: r.compactRevision, revision: r.header.revision };
        },
        snapshot: () => kv.snapshot(),
        status: () => {
          const s = runtime.status();
          return {
            clusterId,
            memberId,
            leaderId: s.leader === "" ? "0" : stableId(s.leader),
            raftTerm: s.term,
            raftIndex: s.commit,
            raftAppliedIndex: s.applied,
            revision: kv.store.revision,
            dbSize: 0,
            errors:
              s.divergence.length > 0
                ? ["divergence alarm: this replica's state differs from the leader's"]
                : [],
          };
        },
      }),
    );
    const internal = await internalGrpcEndpoint(options.dataDir);
    const grpcPort = await new Promise<number>((resolve, reject) => {
      grpcServer.bindAsync(
        internal.address,
        grpc.ServerCredentials.createInsecure(),
        (err, port) => (err ? reject(err) : resolve(port)),
      );
    });
    const grpcEndpoint: InternalEndpoint =
      internal.path !== undefined ? { path: internal.path } : { host: "127.0.0.1", port: grpcPort };

    const tickMs = options.tickMs ?? 100;
    const electionMs = tickMs * (options.electionTicks ?? 10);
    const health = (): HealthInput => {
      const s = runtime.status();
      const now = performance.now();
      const heardAgoMs = new Map<string, number>();
      for (const [peer, at] of heardAtMs) heardAgoMs.set(peer, now - at);
      return {
        name: options.name,
        role: s.role,
        term: s.term,
        leader: s.leader,
        commit: s.commit,
        applied: s.applied,
        lastIndex: s.lastIndex,
        voters: s.confState.voters,
        votersOutgoing: s.confState.votersOutgoing,
        heardAgoMs,
        // Heartbeats go every tick; two election timeouts (at least half a second) of silence
        // is lost contact, not a scheduling hiccup.
        heardWindowMs: Math.max(2 * electionMs, 500),
        stopped: s.stopped,
        fatal: s.fatal,
        divergenceAlarms: s.divergence.length,
      };
    };
    const metrics = new ClientMetrics(
      {
        metrics: () => runtime.metrics,
        status: () => runtime.status(),
        peerStats: () => transport.stats(),
      },
      { labels: { member: options.name } },
    );
    const httpServer = createHttpGateway({
      backend,
      requestBytesMax,
      // JSON with base64 bytes is larger than the request it encodes.
      ...(options.requestBytesMax !== undefined
        ? { bodyBytesMax: Math.ceil(requestBytesMax * 1.5) + 64 * 1024 }
        : {}),
      health,
      metrics,
      statusExtra: () => ({ memberId, clusterId, revision: kv.store.revision }),
      onInternalError: (path, error) =>
        log("error", "internal error serving an HTTP client", { path, error: String(error) }),
    });
    let listener: ClientListener;
    try {
      listener = await ClientListener.listen({
        host: options.clientHost,
        port: options.clientPort,
        grpc: grpcEndpoint,
        http: httpServer,
        logger: (level, message, fields) => log(level, `client listener: ${message}`, fields),
      });
    } catch (e) {
      grpcServer.forceShutdown();
      httpServer.close();
      await node.stop();
      await transport.stop();
      throw e;
    }
    const member = new Member(
      options,
      node,
      kv,
      transport,
      grpcServer,
      listener,
      httpServer,
      internal.path,
      metrics,
    );
    const clientPort = listener.port;
    clientUrl = `http://${options.clientHost}:${clientPort}`;
    member.watch = watch;
    member.leaseTimer = setInterval(() => member.leaderDuties(), LEASE_CHECK_MS);
    log("info", "member started", {
      name: options.name,
      client: `${options.clientHost}:${clientPort}`,
      peer: `${self.host}:${self.port}`,
    });
    return member;
  }

  /** Leader-only work decided by leader time: renew leases after an election, expire the overdue. */
  private leaderDuties(): void {
    const leader = this.node.isLeader;
    if (leader && !this.wasLeader) {
      // Keep-alives may have gone to the old leader: give every lease a fresh TTL (as etcd does).
      void this.node.propose(encodeCommand({ type: "LeaseRenewAll", request: {} })).catch(() => {});
    }
    this.wasLeader = leader;
    if (!leader) return;
    if (this.kv.store.expiredLeases(Date.now()).length === 0) return;
    void this.node.propose(encodeCommand({ type: "LeaseExpire", request: {} })).catch(() => {});
  }

  async stop(): Promise<void> {
    if (this.leaseTimer !== undefined) clearInterval(this.leaseTimer);
    this.watch?.close();
    this.listener.stopAccepting();
    this.httpServer.close();
    this.httpServer.closeIdleConnections();
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.grpcServer.forceShutdown();
        resolve();
      }, GRPC_SHUTDOWN_GRACE_MS);
      this.grpcServer.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
    this.httpServer.closeAllConnections();
    await this.listener.close();
    if (this.grpcSocketPath !== undefined) await rm(this.grpcSocketPath, { force: true });
    await this.node.stop();
    await this.transport.stop();
  }
}

export function clusterIdOf(peers: readonly PeerSpec[], token: string): string {
  return stableId(
    `${token}/${peers
      .map((p) => `${p.name}=${p.host}:${p.port}`)
      .sort()
      .join(",")}`,
  );
}
