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
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import type { RsmMetrics } from "../rsm/index.js";

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

export class ClientMetrics {
  readonly registry = new Registry();

  constructor(source: MetricsSource, options: ClientMetricsOptions = {}) {
    const registers = [this.registry];
    if (options.labels !== undefined) this.registry.setDefaultLabels({ ...options.labels });
    for (const [field, name, help] of RUNTIME_COUNTERS) {
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(source.metrics()[field]);
        },
      });
    }
    const gauge = (name: string, help: string, read: () => number): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    };
    gauge("ordo_is_leader", "1 when this member is the leader.", () =>
      source.status().role === "Leader" ? 1 : 0,
    );
    gauge("ordo_has_leader", "1 when this member knows a leader.", () =>
      source.status().leader === "" ? 0 : 1,
    );
    gauge("ordo_term", "The member's current Raft term.", () => source.status().term);
    gauge(
      "ordo_last_index",
      "The last index of the member's log.",
      () => source.status().lastIndex,
    );
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
      new Counter({
        name: "ordo_peer_incarnation_refusals_total",
        help: "Peer connections refused because the peer's data directory incarnation was not the one remembered for its id (its durable state went backwards: wiped or replaced).",
        registers,
        collect() {
          this.reset();
          this.inc(refusals());
        },
      });
    }
    const tlsFailures = source.peerTlsHandshakeFailures;
    if (tlsFailures !== undefined) {
      new Counter({
        name: "ordo_peer_tls_handshake_failures_total",
        help: "Inbound peer connections refused at the TLS handshake (no certificate, one the peer CA did not sign, garbage, or too slow).",
        registers,
        collect() {
          this.reset();
          this.inc(tlsFailures());
        },
      });
    }
    this.peerMetrics(source, registers);
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
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

  /** The exposition text. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
