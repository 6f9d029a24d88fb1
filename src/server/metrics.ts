// The member's Prometheus metrics (served as text on GET /metrics by http-gateway.ts), all named
// ordo_*, plus prom-client's process default metrics (CPU, memory, event loop, GC).
//
// The runtime and the transport keep plain counters (RsmNode.metrics, TcpTransport.stats());
// nothing here sits on their hot paths. Each metric reads its source when scraped (prom-client's
// collect hook), so a scrape always shows the counters of that moment and the runtime needs no
// Prometheus dependency. A counter is set by reset() + inc(value): prom-client counters have no
// set(), and the source is monotonic, so the exported series is too.
//
// Every ClientMetrics owns its own Registry (never prom-client's global one): several members in
// one process (tests) each export their own.
//
// Beside Ordo's own, etcd's names, so that etcd's dashboards and alerts and `etcdctl check
// datascale` read a member as they read etcd: etcd_server_*, etcd_disk_* and etcd_mvcc_*
// with etcd's types and buckets, grpc_server_* as go-grpc-prometheus exports them, and the
// process_* metrics. These live in a second registry without the `member` label (etcd has
// none; a labelled process_resident_memory_bytes breaks datascale's reading of it); /metrics
// serves both registries' text. Histograms are fed where the event happens (the runtime's
// onFsync/onApplied hooks, the gRPC server's call observer): one observe() each.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { RsmMetrics } from "../rsm/index.js";
import type { CallObserver, GrpcType } from "./grpc/call.js";

/** What a scrape reads; each function is called once per scrape and must not throw. */
export interface MetricsSource {
  readonly metrics: () => Readonly<RsmMetrics>;
  readonly status: () => {
    readonly role: string;
    readonly term: number;
    readonly leader: string;
    readonly commit: number;
    readonly applied: number;
    readonly lastIndex: number;
    readonly id: string;
    readonly confState: {
      readonly voters: readonly string[];
      readonly votersOutgoing: readonly string[];
      readonly learners: readonly string[];
    };
  };
  /** Per peer (by name) counters of the outbound transport; an empty map for a single member. */
  readonly peerStats: () => ReadonlyMap<string, PeerCounters>;
  /** Connections refused for a stale data directory incarnation (TransportCounters). */
  readonly incarnationRefusals?: () => number;
  /** Inbound peer connections that failed the TLS handshake (TransportCounters). */
  readonly peerTlsHandshakeFailures?: () => number;
  /** The store's sizes (maintenance-service.ts DbSize). */
  readonly dbSize?: () => { readonly size: number; readonly inUse: number };
  /** Keys that exist now. */
  readonly keys?: () => number;
  /**
   * etcd's etcd_server_quota_backend_bytes: the space quota in bytes (the default when the
   * setting is 0; a negative setting, which disables the quota, as given).
   */
  readonly quotaBackendBytes?: number;
  /** Proposals accepted and not yet answered. */
  readonly pendingProposals?: () => number;
}

/** etcd's buckets for both disk histograms: prometheus.ExponentialBuckets(0.001, 2, 14). */
const DISK_BUCKETS = Array.from({ length: 14 }, (_, i) => 0.001 * 2 ** i);
/** etcd's peer round-trip buckets: prometheus.ExponentialBuckets(0.0001, 2, 14). */
const RTT_BUCKETS = Array.from({ length: 14 }, (_, i) => 0.0001 * 2 ** i);

/** The fields of a Raft message the round-trip measure reads. */
interface PeerMessage {
  readonly type: string;
  readonly from: string;
  readonly to: string;
}

/** gRPC status codes by number, as Go's codes.Code.String() names them (grpc_code). */
const GRPC_CODES = [
  "OK",
  "Canceled",
  "Unknown",
  "InvalidArgument",
  "DeadlineExceeded",
  "NotFound",
  "AlreadyExists",
  "PermissionDenied",
  "ResourceExhausted",
  "FailedPrecondition",
  "Aborted",
  "OutOfRange",
  "Unimplemented",
  "Internal",
  "Unavailable",
  "DataLoss",
  "Unauthenticated",
];

/** "/etcdserverpb.KV/Range" → ["etcdserverpb.KV", "Range"]. */
function serviceAndMethod(path: string): [string, string] {
  const slash = path.lastIndexOf("/");
  return [path.slice(1, slash), path.slice(slash + 1)];
}

/** The part of the transport's PeerStats exported per peer. */
export interface PeerCounters {
  readonly connected: boolean;
  readonly sent: number;
  readonly dropped: number;
  readonly sendFailures: number;
  readonly queued: number;
}

export interface ClientMetricsOptions {
  /** Labels on every series (e.g. {member: "n1"}). */
  readonly labels?: Readonly<Record<string, string>>;
  /** Export process default metrics (process_*, nodejs_*). Default true. */
  readonly processMetrics?: boolean;
}

/** The RsmMetrics counters exported as ordo_<name>: [field, metric name, help]. */
const RUNTIME_COUNTERS: readonly (readonly [keyof RsmMetrics, string, string])[] = [
  ["proposals", "ordo_proposals_total", "Proposals accepted by this member's runtime."],
  ["proposalsFailed", "ordo_proposals_failed_total", "Proposals that failed or timed out."],
  ["commits", "ordo_commits_total", "Log entries committed and handed to the apply loop."],
  ["applies", "ordo_applies_total", "Log entries applied to the state machine."],
  [
    "applySecondsTotal",
    "ordo_apply_seconds_total",
    "Time spent applying entries (divide by ordo_applies_total for the mean).",
  ],
  ["fsyncs", "ordo_fsyncs_total", "WAL writes made durable (one fdatasync each)."],
  [
    "fsyncSecondsTotal",
    "ordo_fsync_seconds_total",
    "Time spent writing and syncing the WAL (divide by ordo_fsyncs_total for the mean).",
  ],
  [
    "linearizableReads",
    "ordo_linearizable_reads_total",
    "Linearizable reads this member served or tried to.",
  ],
  [
    "readIndexRounds",
    "ordo_read_index_rounds_total",
    "ReadIndex rounds issued; concurrent linearizable reads share one.",
  ],
  ["leaderChanges", "ordo_leader_changes_total", "Times this member saw the leader change."],
  ["snapshotsTaken", "ordo_snapshots_taken_total", "State machine snapshots taken."],
  ["snapshotsInstalled", "ordo_snapshots_installed_total", "Snapshots installed from a leader."],
  [
    "membershipChanges",
    "ordo_membership_changes_total",
    "Configuration changes this member applied (adds, removals, promotions, joint enter/leave).",
  ],
  [
    "divergenceAlarms",
    "ordo_divergence_alarms_total",
    "Times this replica's state hash differed from the leader's at the same index.",
  ],
];

/** A gauge that reads its value when scraped. */
function pulledGauge(registers: Registry[], name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers,
    collect() {
      this.set(read());
    },
  });
}

/** A counter that reads its total when scraped (the source keeps the count). */
function pulledCounter(
  registers: Registry[],
  name: string,
  help: string,
  read: () => number,
): void {
  new Counter({
    name,
    help,
    registers,
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/** grpc_server_started_total and grpc_server_handled_total, as etcd's go-grpc-prometheus. */
function grpcCallObserver(registers: Registry[]): CallObserver {
  const started = new Counter({
    name: "grpc_server_started_total",
    help: "Total number of RPCs started on the server.",
    labelNames: ["grpc_type", "grpc_service", "grpc_method"],
    registers,
  });
  const handled = new Counter({
    name: "grpc_server_handled_total",
    help: "Total number of RPCs completed on the server, regardless of success or failure.",
    labelNames: ["grpc_type", "grpc_service", "grpc_method", "grpc_code"],
    registers,
  });
  // Every call passes here twice: the labelled children are looked up once per method and
  // code, not hashed from their labels on every call.
  const startedOf = new Map<string, { inc(): void }>();
  const handledOf = new Map<string, { inc(): void }>();
  return {
    started: (path: string, type: GrpcType) => {
      const key = `${type} ${path}`;
      let child = startedOf.get(key);
      if (child === undefined) {
        const [grpc_service, grpc_method] = serviceAndMethod(path);
        child = started.labels({ grpc_type: type, grpc_service, grpc_method });
        startedOf.set(key, child);
      }
      child.inc();
    },
    handled: (path: string, type: GrpcType, code: number) => {
      const key = `${type} ${path} ${code}`;
      let child = handledOf.get(key);
      if (child === undefined) {
        const [grpc_service, grpc_method] = serviceAndMethod(path);
        const grpc_code = GRPC_CODES[code] ?? `Code(${code})`;
        child = handled.labels({ grpc_type: type, grpc_service, grpc_method, grpc_code });
        handledOf.set(key, child);
      }
      child.inc();
    },
  };
}

/** etcd_server_*: leadership and proposals, under etcd's names and types. */
function etcdServerMetrics(source: MetricsSource, registers: Registry[]): void {
  const gauge = (name: string, help: string, read: () => number): void =>
    pulledGauge(registers, name, help, read);
  const counter = (name: string, help: string, read: () => number): void =>
    pulledCounter(registers, name, help, read);
  gauge(
    "etcd_server_has_leader",
    "Whether or not a leader exists. 1 is existence, 0 is not.",
    () => (source.status().leader === "" ? 0 : 1),
  );
  gauge(
    "etcd_server_is_leader",
    "Whether or not this member is a leader. 1 if is, 0 otherwise.",
    () => (source.status().role === "Leader" ? 1 : 0),
  );
  gauge(
    "etcd_server_is_learner",
    "Whether or not this member is a learner. 1 if is, 0 otherwise.",
    () => {
      const s = source.status();
      return s.confState.learners.includes(s.id) ? 1 : 0;
    },
  );
  counter(
    "etcd_server_leader_changes_seen_total",
    "The number of leader changes seen.",
    () => source.metrics().leaderChanges,
  );
  // etcd's types: committed and applied are gauges (the indexes), pending a gauge.
  gauge(
    "etcd_server_proposals_committed_total",
    "The total number of consensus proposals committed.",
    () => source.status().commit,
  );
  gauge(
    "etcd_server_proposals_applied_total",
    "The total number of consensus proposals applied.",
    () => source.status().applied,
  );
  const pending = source.pendingProposals;
  if (pending !== undefined)
    gauge(
      "etcd_server_proposals_pending",
      "The current number of pending proposals to commit.",
      pending,
    );
  counter(
    "etcd_server_proposals_failed_total",
    "The total number of failed proposals seen.",
    () => source.metrics().proposalsFailed,
  );
}

/** etcd_mvcc_*, the quota and the key count: what the source can tell of the store. */
function etcdBackendMetrics(source: MetricsSource, registers: Registry[]): void {
  const gauge = (name: string, help: string, read: () => number): void =>
    pulledGauge(registers, name, help, read);
  const dbSize = source.dbSize;
  if (dbSize !== undefined) {
    gauge(
      "etcd_mvcc_db_total_size_in_bytes",
      "Total size of the underlying database physically allocated in bytes (Ordo: the store's size at its largest since the last defragment).",
      () => dbSize().size,
    );
    gauge(
      "etcd_mvcc_db_total_size_in_use_in_bytes",
      "Total size of the underlying database logically in use in bytes.",
      () => dbSize().inUse,
    );
  }
  const quotaBytes = source.quotaBackendBytes;
  if (quotaBytes !== undefined) {
    gauge(
      "etcd_server_quota_backend_bytes",
      "Current backend storage quota size in bytes.",
      () => quotaBytes,
    );
  }
  const keys = source.keys;
  if (keys !== undefined) gauge("etcd_debugging_mvcc_keys_total", "Total number of keys.", keys);
}

/** ordo_*: the runtime's counters, its Raft state and configuration, refused peers. */
function ordoMetrics(source: MetricsSource, registers: Registry[]): void {
  for (const [field, name, help] of RUNTIME_COUNTERS) {
    pulledCounter(registers, name, help, () => source.metrics()[field]);
  }
  const gauge = (name: string, help: string, read: () => number): void =>
    pulledGauge(registers, name, help, read);
  gauge("ordo_is_leader", "1 when this member is the leader.", () =>
    source.status().role === "Leader" ? 1 : 0,
  );
  gauge("ordo_has_leader", "1 when this member knows a leader.", () =>
    source.status().leader === "" ? 0 : 1,
  );
  gauge("ordo_term", "The member's current Raft term.", () => source.status().term);
  gauge("ordo_last_index", "The last index of the member's log.", () => source.status().lastIndex);
  gauge("ordo_commit_index", "The member's commit index.", () => source.status().commit);
  gauge("ordo_applied_index", "The member's applied index.", () => source.status().applied);
  gauge(
    "ordo_voters",
    "Voters in the configuration this member applied (the incoming set while joint).",
    () => source.status().confState.voters.length,
  );
  gauge(
    "ordo_learners",
    "Learners in the configuration this member applied.",
    () => source.status().confState.learners.length,
  );
  gauge(
    "ordo_joint_configuration",
    "1 while the configuration is joint (a change of several voters in progress).",
    () => (source.status().confState.votersOutgoing.length > 0 ? 1 : 0),
  );
  gauge("ordo_is_learner", "1 when this member is a learner.", () => {
    const s = source.status();
    return s.confState.learners.includes(s.id) ? 1 : 0;
  });
  const refusals = source.incarnationRefusals;
  if (refusals !== undefined) {
    pulledCounter(
      registers,
      "ordo_peer_incarnation_refusals_total",
      "Peer connections refused because the peer's data directory incarnation was not the one remembered for its id (its durable state went backwards: wiped or replaced).",
      refusals,
    );
  }
  const tlsFailures = source.peerTlsHandshakeFailures;
  if (tlsFailures !== undefined) {
    pulledCounter(
      registers,
      "ordo_peer_tls_handshake_failures_total",
      "Inbound peer connections refused at the TLS handshake (no certificate, one the peer CA did not sign, garbage, or too slow).",
      tlsFailures,
    );
  }
}

export class ClientMetrics {
  readonly registry = new Registry();
  /** etcd's names, grpc_server_* and process_*: no default labels (see the top). */
  readonly etcdRegistry = new Registry();
  private readonly fsyncSeconds: Histogram;
  private readonly backendCommitSeconds: Histogram;
  private readonly peerRoundTripSeconds: Histogram<"To">;
  /** When the last Heartbeat to each peer left, until its response arrives (ms). */
  private readonly heartbeatSentAtMs = new Map<string, number>();
  /** For GrpcServerOptions.observer: grpc_server_started_total / handled_total. */
  readonly grpcObserver: CallObserver;

  /** A synced WAL write's duration (the runtime's onFsync hook). */
  observeFsync(seconds: number): void {
    this.fsyncSeconds.observe(seconds);
  }

  /** A committed batch's apply duration (the runtime's onApplied hook). */
  observeBackendCommit(seconds: number): void {
    this.backendCommitSeconds.observe(seconds);
  }

  /**
   * A message this member sends / receives (the runtime's transport): etcd's
   * etcd_network_peer_round_trip_time_seconds, measured here on Raft's heartbeats (a Heartbeat
   * to a peer and that peer's next HeartbeatResponse) where etcd measures on its prober.
   */
  peerSent(m: PeerMessage): void {
    if (m.type === "Heartbeat") this.heartbeatSentAtMs.set(m.to, performance.now());
  }

  peerReceived(m: PeerMessage): void {
    if (m.type !== "HeartbeatResponse") return;
    const sentAt = this.heartbeatSentAtMs.get(m.from);
    if (sentAt === undefined) return;
    this.heartbeatSentAtMs.delete(m.from);
    this.peerRoundTripSeconds.observe({ To: m.from }, (performance.now() - sentAt) / 1000);
  }

  constructor(source: MetricsSource, options: ClientMetricsOptions = {}) {
    const etcd = [this.etcdRegistry];
    this.peerRoundTripSeconds = new Histogram({
      name: "etcd_network_peer_round_trip_time_seconds",
      help: "Round-Trip-Time histogram between peers (Ordo: a heartbeat and its response; To is the peer's node id).",
      labelNames: ["To"],
      buckets: RTT_BUCKETS,
      registers: etcd,
    });
    this.fsyncSeconds = new Histogram({
      name: "etcd_disk_wal_fsync_duration_seconds",
      help: "The latency distributions of fsync called by WAL.",
      buckets: DISK_BUCKETS,
      registers: etcd,
    });
    this.backendCommitSeconds = new Histogram({
      name: "etcd_disk_backend_commit_duration_seconds",
      help: "The latency distributions of commit called by backend (Ordo: applying one batch of committed entries to the store).",
      buckets: DISK_BUCKETS,
      registers: etcd,
    });
    this.grpcObserver = grpcCallObserver(etcd);
    etcdServerMetrics(source, etcd);
    etcdBackendMetrics(source, etcd);
    const registers = [this.registry];
    if (options.labels !== undefined) this.registry.setDefaultLabels({ ...options.labels });
    ordoMetrics(source, registers);
    this.peerMetrics(source, registers);
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.etcdRegistry });
  }

  private peerMetrics(source: MetricsSource, registers: Registry[]): void {
    const peerCounter = (
      name: string,
      help: string,
      read: (stats: PeerCounters) => number,
    ): void => {
      new Counter({
        name,
        help,
        labelNames: ["peer"],
        registers,
        collect() {
          this.reset();
          for (const [peer, stats] of source.peerStats()) this.inc({ peer }, read(stats));
        },
      });
    };
    peerCounter(
      "ordo_peer_send_failures_total",
      "Failed connection attempts and lost connections to a peer.",
      (s) => s.sendFailures,
    );
    peerCounter(
      "ordo_peer_messages_sent_total",
      "Messages handed to a peer's socket.",
      (s) => s.sent,
    );
    peerCounter(
      "ordo_peer_messages_dropped_total",
      "Messages for a peer dropped (queue full, too large, connection lost).",
      (s) => s.dropped,
    );
    new Gauge({
      name: "ordo_peer_connected",
      help: "1 while the outbound connection to a peer is up.",
      labelNames: ["peer"],
      registers,
      collect() {
        this.reset();
        for (const [peer, stats] of source.peerStats()) this.set({ peer }, stats.connected ? 1 : 0);
      },
    });
    new Gauge({
      name: "ordo_peer_queued_messages",
      help: "Messages waiting to be sent to a peer.",
      labelNames: ["peer"],
      registers,
      collect() {
        this.reset();
        for (const [peer, stats] of source.peerStats()) this.set({ peer }, stats.queued);
      },
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text: Ordo's metrics, then etcd's names and process_*. */
  async text(): Promise<string> {
    const [own, etcd] = await Promise.all([this.registry.metrics(), this.etcdRegistry.metrics()]);
    return `${own}\n${etcd}`;
  }
}
