// Member: one Ordo server process. It wires the pieces together: the durable WAL, the peer
// transport, the runtime (RsmNode) running the MVCC key-value state machine, and the
// client-facing servers: gRPC speaking etcd's v3 API and HTTP (etcd's JSON gateway, /health,
// /status, /metrics), both on the one client port as etcd serves them (client-listener.ts
// tells the protocols apart and hands gRPC connections to grpc/server.ts, a lean gRPC server
// on node:http2; grpc-js serves only as a client library). The leader
// also proposes what only leader time may decide: lease expiry (never a replica's own clock).
//
// Membership (etcd's Cluster service, membership.ts): the member's identity comes from
// member.json (member-identity.ts: bootstrap or joining an existing cluster); the transport's
// peers follow every membership change (addresses from the replicated member records); node
// ids that left the cluster are refused at the handshake with Removed; each member publishes
// its own name and client URL through the log once it sees a leader; and a member that applies
// its own removal, or is told by a peer that it was removed, stops.

import { mkdir, readdir, rm } from "node:fs/promises";
import type { Server as HttpServer } from "node:http";
import { createServer } from "node:net";
import { join } from "node:path";
import type { SecureContextOptions } from "node:tls";
import { decodeResult, encodeCommand, KvStateMachine, kvErrorOf } from "../kv/index.js";
import type { NodeId } from "../raft/index.js";
import { type Logger, type Membership, RsmNode } from "../rsm/index.js";
import {
  acquireDirLock,
  type DirLock,
  LOCK_FILE,
  makeDirectories,
  WalStorage,
} from "../storage/index.js";
import {
  type ClusterInfo,
  newIncarnation,
  type PeerTls,
  TcpTransport,
} from "../transport/index.js";
import { type AutoCompaction, AutoCompactor } from "./auto-compaction.js";
import { ClientListener, type ClientListenerTls } from "./client-listener.js";
import { type PeerSpec, stableId } from "./cluster-config.js";
import { type Dashboard, memberDashboard } from "./dashboard.js";
import type { GrpcServer } from "./grpc/server.js";
import { createHttpGateway, type HealthInput } from "./http-gateway.js";
import {
  FileIncarnations,
  readIncarnationMarker,
  writeIncarnationMarker,
} from "./incarnation-file.js";
import { type MemberFile, writeMemberFile } from "./member-file.js";
import {
  clusterIdOf,
  type InitialClusterState,
  MemberStartError,
  peerUrlOf,
  resolveIdentity,
} from "./member-identity.js";
import {
  encodeMemberRecord,
  isMemberOf,
  type MemberView,
  peerAddressOf,
  recordConflict,
  recordToPublish,
} from "./member-records.js";
import { type MemberServices, memberServices } from "./member-services.js";
import { ClusterMembership } from "./membership.js";
import { ClientMetrics } from "./metrics.js";
import type { TlsMaterial } from "./tls-files.js";
import type { WatchService } from "./watch-service.js";

/**
 * Faults a member can be started with on purpose, to prove the chaos checks catch them (never
 * for real use; `ordo serve` refuses them without explicit consent in the environment):
 * - serializable-as-linearizable: every read is served from this member's own state without
 *   ReadIndex, so a partitioned or lagging member answers stale reads as if linearizable.
 */
export const UNSAFE_TESTING_FAULTS = ["serializable-as-linearizable"] as const;
export type UnsafeTestingFault = (typeof UNSAFE_TESTING_FAULTS)[number];
/** The value ORDO_UNSAFE_TESTING_FAULTS must have for `ordo serve` to accept such a fault. */
export const UNSAFE_TESTING_CONSENT = "i-know-this-breaks-safety";

export interface MemberOptions {
  readonly name: string;
  readonly dataDir: string;
  readonly clientHost: string;
  readonly clientPort: number;
  readonly initialCluster: readonly PeerSpec[];
  /**
   * Where the peer transport listens, when not at this member's own --initial-cluster address
   * (which is then only advertised to the peers: a proxy or NAT in front; etcd's
   * --listen-peer-urls). Default: the --initial-cluster address.
   */
  readonly listenPeer?: { readonly host: string; readonly port: number };
  /**
   * TLS on the client port (an https:// client URL; etcd's --cert-file, --key-file,
   * --trusted-ca-file, --client-cert-auth, --auto-tls). Absent: plaintext.
   */
  readonly clientTls?: TlsMaterial;
  /**
   * Mutual TLS between members (https:// peer URLs; etcd's --peer-cert-file, --peer-key-file,
   * --peer-trusted-ca-file, --peer-client-cert-auth, --peer-auto-tls). Absent: plain TCP.
   */
  readonly peerTls?: TlsMaterial;
  /** Breaks a guarantee on purpose (see UNSAFE_TESTING_FAULTS). Testing only. */
  readonly unsafeTestingFault?: UnsafeTestingFault;
  readonly clusterToken: string;
  readonly tickMs?: number;
  readonly electionTicks?: number;
  readonly snapshotEntries?: number;
  /**
   * How linearizable reads confirm leadership: "index" (default, a heartbeat round per batch
   * of reads) or "lease" (none while the leader's check-quorum lease holds; assumes no
   * member's clock runs faster than another's by more than leaseClockDrift, default 0.1).
   */
  readonly readMode?: "index" | "lease";
  readonly leaseClockDrift?: number;
  /** Largest client request (etcd's --max-request-bytes). Default 1.5 MiB. */
  readonly requestBytesMax?: number;
  /**
   * etcd's --quota-backend-bytes (space-quota.ts): negative disables the quota, 0 (default) is
   * etcd's 2 GiB, anything else the quota in bytes of dbSize.
   */
  readonly quotaBackendBytes?: number;
  /** etcd's --auto-compaction-mode/-retention (auto-compaction.ts); undefined: off. */
  readonly autoCompaction?: AutoCompaction;
  /** etcd's --auth-token-ttl (simple tokens), in seconds; default 300. */
  readonly authTokenTtlSeconds?: number;
  /** etcd's --bcrypt-cost for passwords hashed by this member; default 10. */
  readonly bcryptCost?: number;
  /**
   * "new" (default): bootstrap a cluster of --initial-cluster. "existing": join a running
   * cluster this member was added to (MemberAdd); used only while the data directory is empty.
   */
  readonly initialClusterState?: InitialClusterState;
  /** How long a joining member looks for the cluster. Default 30 000 ms. */
  readonly discoveryTimeoutMs?: number;
  /**
   * How long a member starting on an empty data directory waits for each peer's answer to
   * "do you know me from an earlier start?" (member-identity.ts). Default 2000 ms; 0 skips
   * the check (tests: the peers' incarnation check must then keep the member out).
   */
  readonly bootstrapCheckTimeoutMs?: number;
  readonly logger: Logger;
}

const LEASE_CHECK_MS = 500;
/** Publishing this member's record: retry backoff after a failure. */
const PUBLISH_BACKOFF_MIN_MS = 200;
const PUBLISH_BACKOFF_MAX_MS = 5_000;
const PUBLISH_TIMEOUT_MS = 5_000;
/** Ticks a removed member keeps running so its peers hear the commit of its removal (etcd: 10). */
const REMOVED_STOP_DELAY_TICKS = 10;
/** How long stop() lets in-flight gRPC calls finish before cutting them off. */
const GRPC_SHUTDOWN_GRACE_MS = 5_000;

/**
 * Keeps the transport in step with the replicated membership (peers, and the node ids removed
 * from the cluster, which the runtime keeps durably in its snapshots and log), and notices this
 * member's own removal. Set up before the node starts, so no membership change is missed.
 */
class MembershipSync {
  private removedReason: string | undefined;
  private resolveRemoved: ((reason: string) => void) | undefined;
  readonly removed: Promise<string>;
  private fencedReason: string | undefined;
  private resolveFenced: ((reason: string) => void) | undefined;
  /** Resolves when a peer refused this member's data directory (a stale incarnation). */
  readonly fenced: Promise<string>;
  /** The members as last applied here (the cache headers and MemberList read). */
  current: MemberView[] = [];
  membership: Membership | undefined;

  constructor(
    private readonly transport: TcpTransport,
    private readonly log: Logger,
  ) {
    this.removed = new Promise((resolve) => {
      this.resolveRemoved = resolve;
    });
    this.fenced = new Promise((resolve) => {
      this.resolveFenced = resolve;
    });
  }

  get isRemoved(): boolean {
    return this.removedReason !== undefined || this.fencedReason !== undefined;
  }

  /**
   * A peer refused this member's data directory incarnation: the cluster knew another data
   * directory under this node id, so this one's state went backwards; it must stop.
   */
  markFenced(reason: string): void {
    if (this.fencedReason !== undefined) return;
    this.fencedReason = reason;
    this.log("error", "a peer refused this member's data directory; stopping", { reason });
    this.resolveFenced?.(reason);
  }

  /** A membership change applied here (or the one the node opened with). */
  apply(node: RsmNode, cluster: ClusterMembership, m: Membership): void {
    this.membership = m;
    const diff = cluster.observe(m);
    this.current = cluster.members(m);
    for (const id of diff.left)
      if (id !== node.id) this.log("info", "a member left the cluster", { nodeId: id });
    for (const id of m.removed)
      if (id !== node.id && !this.transport.isRemoved(id)) this.transport.setRemoved(id);
    this.syncPeers(node.id, m);
    if (node.removed) this.markRemoved("it applied its own removal", true);
  }

  /** The transport sends to every member but this one, at its record's first peer URL. */
  private syncPeers(self: NodeId, m: Membership): void {
    // A joining member has no configuration until the leader's snapshot: keep the peers that
    // discovery gave it, or it could not answer the leader.
    if (m.confState.voters.length === 0) return;
    const wanted = new Set<NodeId>();
    for (const member of this.current) {
      if (member.nodeId === self) continue;
      const url = member.peerURLs[0];
      if (url === undefined) {
        this.log("warn", "no peer URL known for a member; cannot reach it", {
          nodeId: member.nodeId,
        });
        continue;
      }
      try {
        this.transport.setPeer(member.nodeId, peerAddressOf(url));
        wanted.add(member.nodeId);
      } catch (error) {
        this.log("warn", "bad peer URL for a member", {
          nodeId: member.nodeId,
          url,
          error: String(error),
        });
      }
    }
    for (const id of this.transport.peerIds()) if (!wanted.has(id)) this.transport.removePeer(id);
  }

  markRemoved(reason: string, delayed: boolean): void {
    if (this.removedReason !== undefined) return;
    this.removedReason = reason;
    this.log("warn", "this member was removed from the cluster", { reason });
    this.resolveRemoved?.(delayed ? `${reason} (delayed)` : reason);
  }
}

export class Member {
  private leaseTimer: NodeJS.Timeout | undefined;
  private autoCompactor: AutoCompactor | undefined;
  private wasLeader = false;
  /** Open watch streams hold a graceful gRPC shutdown: stop() ends them first. */
  private watch: WatchService | undefined;
  private dashboard: Dashboard | undefined;
  private stopping: Promise<void> | undefined;
  private publishing = false;
  private nextPublishAtMs = 0;
  private publishBackoffMs = PUBLISH_BACKOFF_MIN_MS;
  private removedTimer: NodeJS.Timeout | undefined;
  /** The data directory's lock, released once stopped. */
  private dirLock: DirLock | undefined;
  /** Resolves with the reason once this member was removed from the cluster and has stopped. */
  readonly removed: Promise<string>;
  /**
   * Resolves with the reason once a peer refused this member's data directory (it was wiped or
   * replaced: a stale incarnation) and the member has stopped. It must rejoin as a new member.
   */
  readonly fenced: Promise<string>;

  private constructor(
    readonly options: MemberOptions,
    readonly node: RsmNode,
    readonly kv: KvStateMachine,
    private readonly transport: TcpTransport,
    private readonly grpcServer: GrpcServer,
    private readonly listener: ClientListener,
    private readonly httpServer: HttpServer,
    readonly metrics: ClientMetrics,
    readonly cluster: ClusterMembership,
    private readonly sync: MembershipSync,
    private readonly identity: MemberFile,
    private readonly ownPeerUrl: string,
  ) {
    const tickMs = options.tickMs ?? 100;
    this.removed = sync.removed.then(async (reason) => {
      // Having applied its own removal, a member keeps running a little (etcd: 10 ticks) so
      // the leader's message committing the removal reaches the other members; told by a
      // peer, it stops at once.
      if (reason.endsWith("(delayed)")) {
        await new Promise<void>((resolve) => {
          this.removedTimer = setTimeout(resolve, REMOVED_STOP_DELAY_TICKS * tickMs);
        });
      }
      await this.stop();
      return reason.replace(/ \(delayed\)$/, "");
    });
    this.fenced = sync.fenced.then(async (reason) => {
      await this.stop();
      return reason;
    });
  }

  /** The cluster id every member shares (member.json). */
  get clusterId(): string {
    return this.identity.clusterId;
  }

  /** This member's Raft node id (its name, or the id MemberAdd gave it). */
  get nodeId(): NodeId {
    return this.node.id;
  }

  /** etcd's member id of this member (decimal). */
  get memberId(): string {
    return (
      this.cluster.memberIdOf(this.node.id, this.sync.current) ??
      (this.identity.memberId !== "" ? this.identity.memberId : stableId(this.node.id))
    );
  }

  /** The real client port (gRPC and HTTP), also when options.clientPort was 0. */
  get clientPort(): number {
    return this.listener.port;
  }

  /**
   * Starts a member. Before anything is written it creates the data directory, takes its lock
   * (one process per data directory) and checks that the client and peer ports are free; a
   * start that fails later stops what it started and removes what it wrote into the data
   * directory (a fresh member.json, the WAL it created), so the next attempt starts the same
   * way. Refusals are MemberStartErrors: one line saying why.
   */
  static async start(options: MemberOptions): Promise<Member> {
    const self = options.initialCluster.find((p) => p.name === options.name);
    if (self === undefined) throw new Error(`--name ${options.name} is not in --initial-cluster`);
    let createdDir: string | undefined;
    try {
      createdDir = await makeDirectories(options.dataDir);
    } catch (e) {
      throw new MemberStartError(
        `cannot create the data directory ${options.dataDir}: ${errorText(e)}`,
      );
    }
    let lock: DirLock;
    try {
      lock = await acquireDirLock(options.dataDir);
    } catch (e) {
      if (createdDir !== undefined) await rm(createdDir, { recursive: true, force: true });
      throw new MemberStartError(errorText(e));
    }
    const before = new Set(await readdir(options.dataDir));
    const cleanups: (() => Promise<void>)[] = [];
    try {
      await checkPortFree(options.clientHost, options.clientPort, "clients");
      await checkPortFree(
        options.listenPeer?.host ?? self.host,
        options.listenPeer?.port ?? self.port,
        "peers",
      );
      const member = await Member.open(options, self, cleanups);
      member.dirLock = lock;
      return member;
    } catch (e) {
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
      // What this start wrote goes (what was there before stays), then the lock.
      for (const entry of await readdir(options.dataDir).catch(() => [])) {
        if (!before.has(entry) && entry !== LOCK_FILE)
          await rm(join(options.dataDir, entry), { recursive: true, force: true });
      }
      await lock.release();
      if (createdDir !== undefined) await rm(createdDir, { recursive: true, force: true });
      if (e instanceof Error && (e.name === "TransportError" || e.name === "StorageError"))
        throw new MemberStartError(e.message);
      throw e;
    }
  }

  private static async open(
    options: MemberOptions,
    self: PeerSpec,
    cleanups: (() => Promise<void>)[],
  ): Promise<Member> {
    const log = options.logger;
    const late: LateBound = { clientUrl: "", clusterInfo: () => undefined };
    const core = await openCore(options, self, cleanups, late);
    const { runtime, kv, identity } = core;
    const services = servicesOf(options, core, late);
    const health = healthOf(options, core);
    const metrics = metricsOf(options, core, services);
    late.metrics = metrics;
    const { dashboard, statusExtra } = memberDashboard({
      nodeId: core.nodeId,
      runtime,
      kv,
      storage: core.storage,
      health,
      members: () => core.sync.current,
      statusExtra: () => ({
        memberId: services.ownMemberId(),
        clusterId: core.clusterId,
        revision: kv.store.revision,
      }),
      onError: (what, error) => log("warn", "dashboard error", { what, error: String(error) }),
    });
    const httpServer = gatewayOf(options, core, services, {
      dashboard,
      health,
      metrics,
      statusExtra,
    });
    const listener = await listenForClients(options, services.grpcServer, httpServer, dashboard);
    const member = new Member(
      options,
      runtime,
      kv,
      core.transport,
      services.grpcServer,
      listener,
      httpServer,
      metrics,
      core.cluster,
      core.sync,
      identity,
      core.ownPeerUrl,
    );
    late.member = member;
    late.clientUrl = clientUrlOf(options, listener.port);
    member.watch = services.watch;
    member.dashboard = dashboard;
    member.startDuties();
    log("info", "member started", {
      name: options.name,
      nodeId: core.nodeId,
      clusterId: core.clusterId,
      client: `${options.clientHost}:${listener.port}`,
      peer: `${self.host}:${self.port}`,
      ...(options.listenPeer !== undefined
        ? { listenPeer: `${options.listenPeer.host}:${options.listenPeer.port}` }
        : {}),
    });
    return member;
  }

  /** The periodic leader duties and publishing, and auto-compaction if asked for. */
  private startDuties(): void {
    this.leaseTimer = setInterval(() => {
      this.leaderDuties();
      this.maybePublish();
    }, LEASE_CHECK_MS);
    this.maybePublish();
    const policy = this.options.autoCompaction;
    if (policy === undefined) return;
    const runtime = this.node;
    this.autoCompactor = new AutoCompactor({
      policy,
      isLeader: () => runtime.isLeader,
      revision: () => this.kv.store.revision,
      compact: async (revision) => {
        const command = encodeCommand({ type: "Compaction", request: { revision } });
        const result = decodeResult(await runtime.propose(command));
        if (!result.ok) throw kvErrorOf(result.error);
      },
      log: (level, message, fields) => this.options.logger(level, message, fields),
    });
    this.autoCompactor.start();
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

  /**
   * etcd's publish: once this member is in the configuration and a leader is known, it writes
   * its name and client URL into its record through the log, when the record says otherwise.
   * One attempt at a time; a failure is retried with backoff (bounded), never after stop().
   * Called on a timer and on every membership change (openCore); idempotent.
   */
  maybePublish(): void {
    if (this.publishing || this.stopping !== undefined || this.sync.isRemoved) return;
    if (performance.now() < this.nextPublishAtMs) return;
    const m = this.sync.membership;
    if (m === undefined || !isMemberOf(m.confState, this.node.id) || this.node.leader === "")
      return;
    const clientUrl = clientUrlOf(this.options, this.clientPort);
    const wanted = recordToPublish(
      this.sync.current.find((v) => v.nodeId === this.node.id),
      { name: this.options.name, peerURL: this.ownPeerUrl, clientURL: clientUrl },
      this.node.id,
    );
    if (wanted === undefined) return;
    this.publishing = true;
    this.node
      .updateMemberContext(this.node.id, encodeMemberRecord(wanted), PUBLISH_TIMEOUT_MS)
      .then(
        () => {
          this.publishBackoffMs = PUBLISH_BACKOFF_MIN_MS;
          this.options.logger("info", "published this member's name and client URL", {
            name: wanted.name,
            clientURLs: wanted.clientURLs,
          });
        },
        (error: unknown) => {
          this.nextPublishAtMs = performance.now() + this.publishBackoffMs;
          this.publishBackoffMs = Math.min(this.publishBackoffMs * 2, PUBLISH_BACKOFF_MAX_MS);
          this.options.logger("debug", "publishing this member's record failed; retrying", {
            error: String(error),
          });
        },
      )
      .finally(() => {
        this.publishing = false;
      });
  }

  /** Open watches over every stream, gRPC and gateway alike (tests, leak checks). */
  get watchCount(): number {
    return this.watch?.watchCount() ?? 0;
  }

  /** Stops serving and the node. Idempotent: later calls wait for the first. */
  stop(): Promise<void> {
    this.stopping ??= this.close();
    return this.stopping;
  }

  private async close(): Promise<void> {
    if (this.leaseTimer !== undefined) clearInterval(this.leaseTimer);
    this.autoCompactor?.stop();
    if (this.removedTimer !== undefined) clearTimeout(this.removedTimer);
    this.watch?.close();
    this.dashboard?.close();
    this.listener.stopAccepting();
    this.httpServer.close();
    this.httpServer.closeIdleConnections();
    await this.grpcServer.shutdown(GRPC_SHUTDOWN_GRACE_MS);
    this.httpServer.closeAllConnections();
    await this.listener.close();
    await this.node.stop();
    await this.transport.stop();
    await this.dirLock?.release();
  }
}

/** The client URL this member publishes: https when its client port serves TLS. */
// ---- a member's durable and peer half, in the order it is built ---------------------------

/** Filled in by later steps, read by callbacks wired before them (transport hooks, observers). */
interface LateBound {
  metrics?: ClientMetrics;
  node?: RsmNode;
  sync?: MembershipSync;
  member?: Member;
  /** This member's client URL, once the client listener is bound. */
  clientUrl: string;
  /** What discovery tells a dialer about the cluster, once the membership is known. */
  clusterInfo: () => ClusterInfo | undefined;
}

interface MemberCore {
  readonly identity: MemberFile;
  readonly nodeId: NodeId;
  readonly clusterId: string;
  readonly ownPeerUrl: string;
  readonly storage: WalStorage;
  readonly kv: KvStateMachine;
  readonly requestBytesMax: number;
  readonly transport: TcpTransport;
  readonly runtime: RsmNode;
  readonly cluster: ClusterMembership;
  readonly sync: MembershipSync;
  /** When a message last arrived from each peer: /health's "sees a leader and a quorum". */
  readonly heardAtMs: Map<string, number>;
}

/** Identity, WAL, peer transport, runtime and membership, started; undone by `cleanups`. */
async function openCore(
  options: MemberOptions,
  self: PeerSpec,
  cleanups: (() => Promise<void>)[],
  late: LateBound,
): Promise<MemberCore> {
  const log = options.logger;
  const peerTls = options.peerTls === undefined ? undefined : peerTlsOf(options.peerTls, log);
  const { identity, incarnations, storage } = await openDurable(options, peerTls);
  cleanups.push(() => storage.close());
  const fallback = fallbackPeerUrls(identity, options);
  const ownPeerUrl = peerUrlOf(self);
  const heardAtMs = new Map<string, number>();
  const transport = peerTransport(options, self, identity, incarnations, late, {
    fallback,
    ownPeerUrl,
    heardAtMs,
    peerTls,
  });
  const sync = new MembershipSync(transport, log);
  late.sync = sync;
  // The request size limit is part of the state machine's behaviour: every member must use
  // the same value (etcd's --max-request-bytes).
  const requestBytesMax = options.requestBytesMax ?? 1.5 * 1024 * 1024;
  const kv = new KvStateMachine({ requestBytesMax });
  const runtime = await openRuntime(options, identity, storage, transport, kv, late);
  cleanups.pop(); // stopping the node closes the storage
  cleanups.push(() => runtime.stop());
  const cluster = new ClusterMembership({
    node: runtime,
    clusterId: identity.clusterId,
    fallbackPeerUrls: () => fallback,
    ownClientUrl: () => late.clientUrl,
    isRemovedNode: (id) => transport.isRemoved(id),
    logger: (message, fields) => log("info", message, fields),
  });
  // Membership changes may apply before the member is wired (messages arrive as soon as the
  // transport listens).
  sync.apply(runtime, cluster, runtime.membership());
  runtime.onMembershipChange((m) => {
    sync.apply(runtime, cluster, m);
    late.member?.maybePublish();
  });
  late.clusterInfo = () => clusterInfoOf(sync, identity, incarnations);
  cleanups.push(() => transport.stop());
  await transport.start();
  runtime.start();
  return {
    identity,
    nodeId: identity.nodeId,
    clusterId: identity.clusterId,
    ownPeerUrl,
    storage,
    kv,
    requestBytesMax,
    transport,
    runtime,
    cluster,
    sync,
    heardAtMs,
  };
}

/** Who this member is (member.json, its incarnation) and its WAL, opened. */
async function openDurable(options: MemberOptions, peerTls: PeerTls | undefined) {
  const log = options.logger;
  const walDir = join(options.dataDir, "wal");
  const resolved = await resolveIdentity({
    name: options.name,
    dataDir: options.dataDir,
    walDir,
    initialCluster: options.initialCluster,
    clusterToken: options.clusterToken,
    initialClusterState: options.initialClusterState ?? "new",
    discoveryTimeoutMs: options.discoveryTimeoutMs ?? 30_000,
    ...(options.bootstrapCheckTimeoutMs !== undefined
      ? { bootstrapCheckTimeoutMs: options.bootstrapCheckTimeoutMs }
      : {}),
    peerTls,
    log: (message, fields) => log("info", message, fields),
  });
  const { created } = resolved;
  // member.json before the WAL: a WAL without member.json reads as a bootstrap member's
  // data directory from before member.json, which a joining member must never look like.
  if (created) await writeMemberFile(options.dataDir, resolved.file);
  const identity = await settleIncarnation(options.dataDir, walDir, resolved.file, created, log);
  const incarnations = await FileIncarnations.open(options.dataDir);
  const storage = await WalStorage.open(walDir, {
    logger: (level, message, fields) => log(level, `wal: ${message}`, fields),
  });
  return { identity, incarnations, storage };
}

/**
 * Peer URLs of members that have no replicated record yet (the bootstrap members, until they
 * publish): what this member started with, then its command line.
 */
function fallbackPeerUrls(
  identity: MemberFile,
  options: MemberOptions,
): Map<NodeId, readonly string[]> {
  const fallback = new Map<NodeId, readonly string[]>();
  for (const p of identity.peers) fallback.set(p.nodeId, p.peerURLs);
  for (const p of options.initialCluster) {
    // This member's own entry names it by --name, which need not be its node id.
    if (p.name === options.name || fallback.has(p.name as NodeId)) continue;
    fallback.set(p.name as NodeId, [peerUrlOf(p)]);
  }
  return fallback;
}

function peerTransport(
  options: MemberOptions,
  self: PeerSpec,
  identity: MemberFile,
  incarnations: FileIncarnations,
  late: LateBound,
  p: {
    readonly fallback: ReadonlyMap<NodeId, readonly string[]>;
    readonly ownPeerUrl: string;
    readonly heardAtMs: Map<string, number>;
    readonly peerTls: PeerTls | undefined;
  },
): TcpTransport {
  const log = options.logger;
  const nodeId = identity.nodeId;
  return new TcpTransport({
    id: nodeId,
    clusterId: identity.clusterId,
    listenHost: options.listenPeer?.host ?? self.host,
    listenPort: options.listenPeer?.port ?? self.port,
    peers: new Map(
      [...p.fallback]
        .filter(([id, urls]) => id !== nodeId && urls[0] !== undefined && urls[0] !== p.ownPeerUrl)
        .map(([id, urls]) => [id, peerAddressOf(urls[0] as string)]),
    ),
    onMessage: (m) => {
      p.heardAtMs.set(m.from, performance.now());
      late.metrics?.peerReceived(m);
      late.node?.receive(m);
    },
    clusterInfo: () => late.clusterInfo(),
    onRemoved: (by, reason) => late.sync?.markRemoved(`${by} refused it: ${reason}`, false),
    onFenced: (by, reason) => late.sync?.markFenced(`${by} refused it: ${reason}`),
    incarnation: identity.incarnation,
    peerIncarnations: incarnations,
    logger: (level, message, fields) => log(level, `transport: ${message}`, fields),
    tls: p.peerTls,
  });
}

async function openRuntime(
  options: MemberOptions,
  identity: MemberFile,
  storage: WalStorage,
  transport: TcpTransport,
  kv: KvStateMachine,
  late: LateBound,
): Promise<RsmNode> {
  const empty = { voters: [], votersOutgoing: [], learners: [] };
  const node = await RsmNode.open({
    id: identity.nodeId,
    confState: identity.bootstrap
      ? { ...empty, voters: identity.peers.map((p) => p.nodeId) }
      : empty,
    storage,
    transport: {
      send: (m) => {
        late.metrics?.peerSent(m);
        transport.send(m);
      },
    },
    stateMachine: kv,
    tickMs: options.tickMs ?? 100,
    electionTicks: options.electionTicks ?? 10,
    heartbeatTicks: 1,
    snapshotEntries: options.snapshotEntries ?? 100_000,
    ...(options.readMode !== undefined ? { readMode: options.readMode } : {}),
    ...(options.leaseClockDrift !== undefined ? { leaseClockDrift: options.leaseClockDrift } : {}),
    logger: options.logger,
    validateMembership: (current, proposed) => recordConflict(current, proposed.contexts),
    // Debug runs (and the real-process tests): the runtime's invariants after every round.
    checkInvariants: process.env.ORDO_CHECK_INVARIANTS === "1",
    hooks: {
      onFsync: (seconds) => late.metrics?.observeFsync(seconds),
      onApplied: (seconds) => late.metrics?.observeBackendCommit(seconds),
    },
  });
  late.node = node;
  return node;
}

/** What a dialer with an empty data directory learns (discovery): the members as recorded. */
function clusterInfoOf(
  sync: MembershipSync,
  identity: MemberFile,
  incarnations: FileIncarnations,
): ClusterInfo | undefined {
  const m = sync.membership;
  if (m === undefined || m.confState.voters.length === 0) return undefined;
  return {
    clusterId: identity.clusterId,
    members: sync.current.map((v) => {
      // What a member with an empty data directory is told about itself (is it back after
      // a wipe?): the incarnation we heard from it, and whether it published its record.
      const incarnation =
        v.nodeId === identity.nodeId ? identity.incarnation : incarnations.get(v.nodeId);
      return {
        nodeId: v.nodeId,
        id: v.id,
        peerURLs: v.peerURLs,
        ...(incarnation !== undefined ? { incarnation } : {}),
        started: v.replicated && v.clientURLs.length > 0,
      };
    }),
  };
}

/** The gRPC server and etcd's services over this member's runtime and store. */
function servicesOf(options: MemberOptions, core: MemberCore, late: LateBound): MemberServices {
  return memberServices({
    nodeId: core.nodeId,
    clusterId: core.clusterId,
    recordedMemberId: core.identity.memberId,
    runtime: core.runtime,
    kv: core.kv,
    cluster: core.cluster,
    members: () => core.sync.current,
    requestBytesMax: core.requestBytesMax,
    quotaBackendBytes: options.quotaBackendBytes ?? 0,
    authTokenTtlSeconds: options.authTokenTtlSeconds,
    bcryptCost: options.bcryptCost,
    clientCertAuth: options.clientTls?.clientCertAuth === true,
    unsafeLocalReads: options.unsafeTestingFault === "serializable-as-linearizable",
    metrics: () => late.metrics,
    log: options.logger,
  });
}

/** /metrics: the runtime's counters and status, the transport's, the store's and the quota's. */
function metricsOf(
  options: MemberOptions,
  core: MemberCore,
  services: MemberServices,
): ClientMetrics {
  const { runtime, kv, transport } = core;
  return new ClientMetrics(
    {
      metrics: () => runtime.metrics,
      status: () => runtime.status(),
      peerStats: () => transport.stats(),
      incarnationRefusals: () => transport.transportCounters().incarnationRefusals,
      peerTlsHandshakeFailures: () => transport.transportCounters().tlsHandshakesRefused,
      dbSize: () => services.dbSize.sample(),
      quotaBackendBytes: services.quota.quotaBytes ?? options.quotaBackendBytes ?? 0,
      keys: () => kv.store.status().keys,
      pendingProposals: () => runtime.pendingProposals,
    },
    { labels: { member: options.name } },
  );
}

/** The client port's HTTP side: the JSON gateway, /health, /status, /metrics, the dashboard. */
function gatewayOf(
  options: MemberOptions,
  core: MemberCore,
  services: MemberServices,
  parts: {
    readonly dashboard: Dashboard;
    readonly health: () => HealthInput;
    readonly metrics: ClientMetrics;
    readonly statusExtra: () => Record<string, unknown>;
  },
): HttpServer {
  const log = options.logger;
  return createHttpGateway({
    extraRoutes: parts.dashboard.handle,
    backend: services.backend,
    // The JSON gateway's /v3/ routes run the gRPC handlers (their auth checks and limits).
    grpc: (path) => services.grpcServer.method(path),
    grpcObserver: parts.metrics.grpcObserver,
    // JSON with base64 bytes is larger than the request it encodes.
    ...(options.requestBytesMax !== undefined
      ? { bodyBytesMax: Math.ceil(core.requestBytesMax * 1.5) + 64 * 1024 }
      : {}),
    health: parts.health,
    metrics: parts.metrics,
    statusExtra: parts.statusExtra,
    onInternalError: (path, error) =>
      log("error", "internal error serving an HTTP client", { path, error: String(error) }),
  });
}

/** /health's and /status's view of this member: role, indexes, who it heard from and when. */
function healthOf(options: MemberOptions, core: MemberCore): () => HealthInput {
  const electionMs = (options.tickMs ?? 100) * (options.electionTicks ?? 10);
  return () => {
    const s = core.runtime.status();
    const now = performance.now();
    const heardAgoMs = new Map<string, number>();
    for (const [peer, at] of core.heardAtMs) heardAgoMs.set(peer, now - at);
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
      spaceAlarms: core.kv.store.alarms.get("NOSPACE").length,
    };
  };
}

/** The client port: gRPC and HTTP on one listener; on failure what was built is closed. */
async function listenForClients(
  options: MemberOptions,
  grpcServer: GrpcServer,
  httpServer: HttpServer,
  dashboard: Dashboard,
): Promise<ClientListener> {
  try {
    return await ClientListener.listen({
      host: options.clientHost,
      port: options.clientPort,
      grpc: (socket, head) => grpcServer.acceptConnection(socket, head),
      http: httpServer,
      ...(options.clientTls !== undefined ? { tls: listenerTlsOf(options.clientTls) } : {}),
      logger: (level, message, fields) =>
        options.logger(level, `client listener: ${message}`, fields),
    });
  } catch (e) {
    dashboard.close();
    grpcServer.forceShutdown();
    httpServer.close();
    throw new MemberStartError(
      `cannot listen for clients: ${listenFailure(options.clientHost, options.clientPort, e)}`,
    );
  }
}

function clientUrlOf(options: MemberOptions, port: number): string {
  const host = options.clientHost.includes(":") ? `[${options.clientHost}]` : options.clientHost;
  return `${options.clientTls !== undefined ? "https" : "http"}://${host}:${port}`;
}

/** The client listener's TLS, from files that are looked at again on every connection. */
function listenerTlsOf(material: TlsMaterial): ClientListenerTls {
  return { options: material.serverOptions(), reloaded: reloadedSince(material) };
}

/** New cert/key/ca once per change of the files, for one tls.Server (setSecureContext). */
function reloadedSince(material: TlsMaterial): () => SecureContextOptions | undefined {
  let applied = material.reloads;
  return () => {
    material.refresh();
    if (material.reloads === applied) return undefined;
    applied = material.reloads;
    return material.contextOptions();
  };
}

/** The peer transport's TLS, from files that are looked at again on every connection. */
function peerTlsOf(material: TlsMaterial, log: Logger): PeerTls {
  return {
    server: () => material.serverOptions(),
    reloaded: reloadedSince(material),
    client: () => {
      if (material.refresh()) log("info", "peer TLS certificates reloaded", {});
      return { secureContext: material.secureContext(), rejectUnauthorized: material.verifiesPeer };
    },
  };
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Why a listen failed, in etcd's (Go's) words: "listen tcp 127.0.0.1:2379: bind: address already in use". */
function listenFailure(host: string, port: number, e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  const at = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
  if (code === "EADDRINUSE") return `listen tcp ${at}: bind: address already in use`;
  if (code === "EADDRNOTAVAIL") return `listen tcp ${at}: bind: cannot assign requested address`;
  if (code === "EACCES") return `listen tcp ${at}: bind: permission denied`;
  return `listen tcp ${at}: ${errorText(e)}`;
}

/**
 * Refuses a port something else listens on, before anything is written (etcd's words: "listen
 * tcp HOST:PORT: bind: address already in use"). Port 0 (any free port) needs no check.
 */
async function checkPortFree(host: string, port: number, what: string): Promise<void> {
  if (port === 0) return;
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e) =>
      reject(new MemberStartError(`cannot listen for ${what}: ${listenFailure(host, port, e)}`)),
    );
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve()));
  });
}

/**
 * This data directory's incarnation, settled before the WAL opens (member-file.ts,
 * incarnation-file.ts): member.json names it and the WAL directory's marker must agree.
 *  - a file from before incarnations: draw one, mark the WAL, rewrite member.json;
 *  - no marker while member.json has an incarnation: the WAL directory was wiped (or a first
 *    start stopped between the two files): its state is new, so is its incarnation (peers that
 *    knew the old one refuse it);
 *  - member.json just written for a WAL directory with a marker: take the marker's;
 *  - another data directory's marker: refuse to start.
 */
async function settleIncarnation(
  dataDir: string,
  walDir: string,
  file: MemberFile,
  created: boolean,
  log: Logger,
): Promise<MemberFile & { readonly incarnation: string }> {
  await mkdir(walDir, { recursive: true });
  const marker = await readIncarnationMarker(walDir);
  if (file.incarnation !== undefined && marker === file.incarnation)
    return { ...file, incarnation: file.incarnation };
  if (created && marker !== undefined) {
    // member.json was (re)written for a WAL directory that has its own marker (a data
    // directory whose member.json was lost): the WAL's life is this data directory's.
    const adopted = { ...file, incarnation: marker };
    await writeMemberFile(dataDir, adopted);
    return adopted;
  }
  if (file.incarnation !== undefined && marker !== undefined) {
    throw new MemberStartError(
      `${walDir} belongs to another data directory (incarnation ${marker}, member.json says ` +
        `${file.incarnation}): restore the matching WAL directory, or rejoin as a new member`,
    );
  }
  let incarnation: string;
  if (file.incarnation === undefined) {
    incarnation = marker ?? newIncarnation();
    log("info", "this data directory predates incarnations: it gets one", { incarnation });
  } else if (created) {
    incarnation = file.incarnation;
  } else {
    incarnation = newIncarnation();
    log(
      "warn",
      "the WAL directory has no incarnation marker (wiped?): this member starts as a new data directory; peers that knew the old one will refuse it",
      { was: file.incarnation, incarnation },
    );
  }
  await writeIncarnationMarker(walDir, incarnation);
  const settled = { ...file, incarnation };
  if (settled.incarnation !== file.incarnation) await writeMemberFile(dataDir, settled);
  return settled;
}

export type { PeerSpec };
export { clusterIdOf };
