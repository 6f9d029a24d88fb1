// Member: one Ordo server process. It wires the pieces together: the durable WAL, the peer
// transport, the runtime (RsmNode) running the MVCC key-value state machine, and the
// client-facing gRPC server speaking etcd's v3 API. The leader also proposes what only leader
// time may decide: lease expiry (never a replica's own clock).
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { decodeResult, encodeCommand, encodeQuery, KvStateMachine } from "../kv/index.js";
import { asNodeId, type NodeId } from "../raft/index.js";
import { type Logger, RsmNode } from "../rsm/index.js";
import { WalStorage } from "../storage/index.js";
import { TcpTransport } from "../transport/index.js";
import { type PeerSpec, stableId } from "./cluster-config.js";
import { type KvBackend, kvGrpcServerOptions, kvServiceHandlers } from "./kv-service.js";
import { leaseServiceHandlers } from "./lease-service.js";
import { maintenanceHandlers } from "./maintenance-service.js";
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
  readonly logger: Logger;
}

const LEASE_CHECK_MS = 500;

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
    readonly clientPort: number,
  ) {
    this.clusterId = clusterIdOf(options.initialCluster, options.clusterToken);
    this.memberId = stableId(options.name);
  }

  static async start(options: MemberOptions): Promise<Member> {
    const self = options.initialCluster.find((p) => p.name === options.name);
    if (self === undefined) throw new Error(`--name ${options.name} is not in --initial-cluster`);
    await mkdir(options.dataDir, { recursive: true });
    const log = options.logger;
    const storage = await WalStorage.open(join(options.dataDir, "wal"), {
      logger: (level, message, fields) => log(level, `wal: ${message}`, fields),
    });
    const kv = new KvStateMachine();
    const voters = options.initialCluster.map((p) => asNodeId(p.name));
    let node: RsmNode | undefined;
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
      onMessage: (m) => node?.receive(m),
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

    const grpcServer = new grpc.Server(kvGrpcServerOptions(1.5 * 1024 * 1024));
    const clusterId = clusterIdOf(options.initialCluster, options.clusterToken);
    const memberId = stableId(options.name);
    const runtime = node;
    const backend: KvBackend = {
      propose: (command) => runtime.propose(command),
      read: (query, mode) => runtime.read(query, mode),
      header: () => ({ clusterId, memberId, raftTerm: runtime.status().term }),
    };
    grpcServer.addService(
      serviceDefinition("KV"),
      kvServiceHandlers(backend, {
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
    grpcServer.addService(
      serviceDefinition("Maintenance"),
      maintenanceHandlers({
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
    const clientPort = await new Promise<number>((resolve, reject) => {
      grpcServer.bindAsync(
        `${options.clientHost}:${options.clientPort}`,
        grpc.ServerCredentials.createInsecure(),
        (err, port) => (err ? reject(err) : resolve(port)),
      );
    });
    const member = new Member(options, node, kv, transport, grpcServer, clientPort);
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
    await new Promise<void>((resolve) => this.grpcServer.tryShutdown(() => resolve()));
    await this.node.stop();
    await this.transport.stop();
  }

  /** A local (serializable) query, for tests and tools. */
  async query(query: Parameters<typeof encodeQuery>[0]) {
    return decodeResult(await this.node.read(encodeQuery(query), "serializable"));
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
