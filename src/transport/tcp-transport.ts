// Peer transport over TCP: how a node's Raft messages reach the other members.
//
// Connections: each node dials one outbound connection to every peer and sends on it only
// (peer-sender.ts); it accepts inbound connections from peers and only reads from them
// (inbound-connection.ts). So between two nodes there are two connections, one per direction.
// One-way connections keep both halves simple: a sender owns its socket's write side alone
// (ordering, backpressure, reconnecting), a receiver never writes after the handshake, and
// there is no tie-break for two nodes dialing each other at once.
//
// Wire protocol (version 1), all on top of length-prefixed frames (frame.ts):
//   1. dialer → acceptor: Hello {magic, version, clusterId, from, to}      (handshake.ts)
//   2. acceptor → dialer: Reply {status, reason}; on a refusal it closes
//   3. dialer → acceptor: frames, each one message (codec.ts, tags 1–15) or one chunk of a
//      large InstallSnapshot (snapshot-chunks.ts, tag 16)
//
// Incarnations (incarnations.ts): the Hello carries the dialer's data directory incarnation and
// the Accepted reply the acceptor's; each side checks the other's against the incarnation it
// remembers for that node id (learned durably at first contact) and refuses a different one:
// an acceptor with HandshakeStatus.StaleIncarnation (the dialer hears it must stop: onFenced),
// a dialer by closing. Refusals are counted (incarnationRefusals) and logged, at most once per
// peer per STALE_LOG_INTERVAL_MS.
//
// Membership: setPeer/removePeer follow the cluster's configuration; setRemoved marks a node
// removed from the cluster, whose hellos are then refused with HandshakeStatus.Removed (it
// hears that it must stop). A hello with an empty clusterId is a joining node's discovery:
// answered with ClusterInfo (the clusterInfo option) and closed (handshake.ts).
//
// Guarantees: send() never blocks and never throws for network reasons. Messages to a peer
// are delivered in the order sent, at most once, possibly not at all (a full queue, a lost
// connection); a chunked snapshot may arrive after messages sent after it. Raft is built for
// exactly this network. Nothing a peer sends can crash the process: bad input closes its
// connection, and exceptions from onMessage are caught and logged.

import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { assert } from "../lib/index.js";
import type { Message, NodeId } from "../raft/index.js";
import { idBytesMax } from "./codec.js";
import { TransportError } from "./errors.js";
import { FRAME_BYTES_LIMIT, FRAME_BYTES_MAX_DEFAULT } from "./frame.js";
import { type ClusterInfo, handshakeFrameBytesMax } from "./handshake.js";
import { InboundConnection, type InboundCounters } from "./inbound-connection.js";
import { MemoryIncarnations, type PeerIncarnations } from "./incarnations.js";
import { PeerSender, type PeerSenderConfig } from "./peer-sender.js";
import type { PeerTls } from "./peer-tls.js";
import { SNAPSHOT_BYTES_MAX_DEFAULT, SNAPSHOT_CHUNK_BYTES_DEFAULT } from "./snapshot-chunks.js";
import type {
  PeerAddress,
  PeerStats,
  TransportCounters,
  TransportLogger,
} from "./transport-types.js";

export interface TcpTransportOptions {
  readonly id: NodeId;
  /** Nodes of another cluster are refused at the handshake. */
  readonly clusterId: string;
  readonly listenHost: string;
  /** 0 picks a free port: read it from `port` after start(). */
  readonly listenPort: number;
  /** The other members (an entry for `id` itself is ignored). Change later with setPeer/removePeer. */
  readonly peers: ReadonlyMap<NodeId, PeerAddress>;
  /** Called once per received message, in order per sender. Exceptions are caught and logged. */
  readonly onMessage: (m: Message) => void;
  readonly logger?: TransportLogger | undefined;
  /** Messages queued per peer before send() drops. Default 4096. */
  readonly queueMessagesMax?: number | undefined;
  /** Encoded bytes queued per peer before send() drops. Default 64 MiB. */
  readonly queueBytesMax?: number | undefined;
  /** Largest frame sent or accepted. Default 16 MiB. */
  readonly frameBytesMax?: number | undefined;
  /** Snapshots with more data than this are sent in chunks of this size. Default 1 MiB. */
  readonly snapshotChunkBytes?: number | undefined;
  /** Largest chunked snapshot a receiver reassembles; larger ones are discarded. Default 1 GiB. */
  readonly snapshotBytesMax?: number | undefined;
  /** Default 50 ms. */
  readonly reconnectBackoffMinMs?: number | undefined;
  /** Default 2000 ms. */
  readonly reconnectBackoffMaxMs?: number | undefined;
  /** Time for a connection to connect and complete its handshake. Default 5000 ms. */
  readonly handshakeTimeoutMs?: number | undefined;
  /** Inbound connections open at once; more are closed at once. Default 256. */
  readonly inboundConnectionsMax?: number | undefined;
  /**
   * What a joining node's discovery hello (empty clusterId) is told: the cluster id and every
   * member's peer URLs. Absent, or returning undefined: discovery hellos are refused.
   */
  readonly clusterInfo?: (() => ClusterInfo | undefined) | undefined;
  /**
   * Called when a peer refuses this node's hello with HandshakeStatus.Removed: the cluster
   * removed this node, which should stop. May be called more than once (one per peer).
   */
  readonly onRemoved?: ((by: NodeId, reason: string) => void) | undefined;
  /** This node's data directory incarnation (incarnations.ts). Default "": none sent. */
  readonly incarnation?: string | undefined;
  /**
   * The incarnations remembered for peers, durable in a real member (server/incarnation-file.ts).
   * Default: in memory, forgotten at restart.
   */
  readonly peerIncarnations?: PeerIncarnations | undefined;
  /**
   * Called when a peer refuses this node's hello with HandshakeStatus.StaleIncarnation: this
   * node's data directory is not the one the cluster knew for its id; it should stop.
   */
  readonly onFenced?: ((by: NodeId, reason: string) => void) | undefined;
  /**
   * Mutual TLS between members (peer-tls.ts): inbound connections must complete a TLS
   * handshake before their hello is read, outbound ones dial TLS. Absent: plain TCP.
   */
  readonly tls?: PeerTls | undefined;
}

/** Room a chunk frame needs beyond its piece: envelope and snapshot meta. */
const CHUNK_HEADROOM_BYTES = 64 * 1024;
const KEEP_ALIVE_MS = 10_000;

type State = "new" | "starting" | "running" | "stopped";

/** A peer refused for a stale incarnation is logged at most this often. */
const STALE_LOG_INTERVAL_MS = 10_000;

interface Config extends Omit<PeerSenderConfig, "peer" | "onStale"> {
  readonly listenHost: string;
  readonly listenPort: number;
  readonly snapshotBytesMax: number;
  readonly inboundConnectionsMax: number;
  readonly clusterInfo: (() => ClusterInfo | undefined) | undefined;
}

/** The most removed node ids remembered (the oldest are forgotten first). */
const REMOVED_IDS_MAX = 4096;

export class TcpTransport {
  private state: State = "new";
  private readonly config: Config;
  private readonly onMessage: (m: Message) => void;
  private server: Server | undefined;
  private boundPort: number | undefined;
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private readonly senders = new Map<NodeId, PeerSender>();
  /** Senders removed by removePeer whose sockets are still closing; stop() waits for them. */
  private readonly removing = new Set<Promise<void>>();
  private readonly inbound = new Set<InboundConnection>();
  /** Node ids removed from the cluster: their hellos are refused with Removed. */
  private readonly removed = new Set<NodeId>();
  private readonly counters: InboundCounters = {
    handshakesAccepted: 0,
    handshakesRefused: 0,
    connectionsMalformed: 0,
    snapshotsRejected: 0,
    discoveryAnswers: 0,
  };
  private messagesReceived = 0;
  private deliveryErrors = 0;
  private messagesUnroutable = 0;
  private incarnationRefusals = 0;
  private tlsHandshakesRefused = 0;
  /** When a stale peer was last logged, and how many refusals were not logged since. */
  private readonly staleLogged = new Map<NodeId, { atMs: number; quiet: number }>();
  private readonly onStale = (peer: NodeId, claimed: string, known: string | undefined): void =>
    this.reportStale(peer, claimed, known);

  constructor(options: TcpTransportOptions) {
    this.config = resolveConfig(options);
    this.onMessage = options.onMessage;
    for (const [id, address] of options.peers) this.setPeer(id, address);
  }

  get id(): NodeId {
    return this.config.self;
  }

  /** The port the transport listens on (the chosen one when listenPort was 0). */
  get port(): number {
    if (this.boundPort === undefined) throw new TransportError("CLOSED", "transport not started");
    return this.boundPort;
  }

  /** Listens, then dials every peer. Rejects with TransportError LISTEN_FAILED. Call once. */
  start(): Promise<void> {
    if (this.state !== "new") {
      return Promise.reject(
        new TransportError("CLOSED", `start() on a transport that is ${this.state}`),
      );
    }
    this.state = "starting";
    this.starting = this.listen();
    return this.starting;
  }

  /**
   * Queues `m` for `m.to`. Never blocks and never throws for network reasons: a message for
   * an unknown node, or over a full queue, is counted and dropped. Ignored after stop().
   */
  send(m: Message): void {
    if (this.state === "stopped") return;
    assert(m.from === this.config.self, "transport: sending a message from another node");
    const sender = this.senders.get(m.to);
    if (sender === undefined) {
      this.messagesUnroutable++;
      this.config.logger("debug", "no route to node; message dropped", { to: m.to, type: m.type });
      return;
    }
    sender.enqueue(m);
  }

  /** Adds a peer, or moves one to a new address (its queue is kept). */
  setPeer(id: NodeId, address: PeerAddress): void {
    checkAddress(id, address);
    if (this.state === "stopped" || id === this.config.self) return;
    const existing = this.senders.get(id);
    if (existing !== undefined) {
      existing.setAddress(address);
      return;
    }
    const sender = new PeerSender(
      { ...this.config, peer: id, onStale: this.onStale },
      { host: address.host, port: address.port },
    );
    this.senders.set(id, sender);
    if (this.state === "running") sender.start();
  }

  /** Forgets a peer: closes its connection and drops its queue. */
  removePeer(id: NodeId): void {
    const sender = this.senders.get(id);
    if (sender === undefined) return;
    this.senders.delete(id);
    const closing = sender.stop();
    this.removing.add(closing);
    void closing.then(() => this.removing.delete(closing));
  }

  /**
   * Marks `id` as removed from the cluster (or, with `removed` false, as a member again):
   * its hellos are refused with HandshakeStatus.Removed, which tells it to stop, and its open
   * inbound connections are closed so that it redials and hears so. Also forgets it as a peer.
   */
  setRemoved(id: NodeId, removed = true): void {
    if (!removed) {
      this.removed.delete(id);
      return;
    }
    if (id === this.config.self) return;
    this.removed.delete(id); // re-inserted last: the set forgets in insertion order
    this.removed.add(id);
    if (this.removed.size > REMOVED_IDS_MAX) {
      const oldest = this.removed.values().next().value as NodeId;
      this.removed.delete(oldest);
    }
    this.removePeer(id);
    for (const connection of this.inbound) if (connection.peer === id) connection.destroy();
  }

  /** Whether `id` is marked removed (see setRemoved). */
  isRemoved(id: NodeId): boolean {
    return this.removed.has(id);
  }

  /** The peers this transport sends to. */
  peerIds(): NodeId[] {
    return [...this.senders.keys()];
  }

  /**
   * Closes the server and every connection, cancels every timer. Afterwards nothing is
   * delivered and send() does nothing. Idempotent; the transport cannot be started again.
   */
  stop(): Promise<void> {
    this.stopping ??= this.close();
    return this.stopping;
  }

  /** Per-peer counters. */
  stats(): ReadonlyMap<NodeId, PeerStats> {
    const out = new Map<NodeId, PeerStats>();
    for (const [id, sender] of this.senders) out.set(id, sender.stats());
    return out;
  }

  /** Counters of the receiving side and of unroutable messages. */
  transportCounters(): TransportCounters {
    return {
      inboundConnections: this.inbound.size,
      ...this.counters,
      messagesReceived: this.messagesReceived,
      deliveryErrors: this.deliveryErrors,
      messagesUnroutable: this.messagesUnroutable,
      incarnationRefusals: this.incarnationRefusals,
      tlsHandshakesRefused: this.tlsHandshakesRefused,
    };
  }

  /** A peer whose incarnation is not the one remembered: counted always, logged now and then. */
  private reportStale(peer: NodeId, claimed: string, known: string | undefined): void {
    this.incarnationRefusals++;
    const now = performance.now();
    const last = this.staleLogged.get(peer);
    if (last !== undefined && now - last.atMs < STALE_LOG_INTERVAL_MS) {
      last.quiet++;
      return;
    }
    this.staleLogged.set(peer, { atMs: now, quiet: 0 });
    if (this.staleLogged.size > REMOVED_IDS_MAX) {
      const oldest = this.staleLogged.keys().next().value as NodeId;
      this.staleLogged.delete(oldest);
    }
    this.config.logger(
      "error",
      "refusing a peer whose data directory is not the one it had: its durable state went backwards (wiped or replaced), so it must not take part; remove it and add it back as a new member",
      {
        peer,
        incarnation: claimed === "" ? "(none)" : claimed,
        remembered: known ?? "?",
        refusedSinceLastLog: last?.quiet ?? 0,
      },
    );
  }

  private async listen(): Promise<void> {
    const { listenHost, listenPort } = this.config;
    const tls = this.config.tls;
    const server =
      tls === undefined ? createServer((socket) => this.onConnection(socket)) : this.tlsServer(tls);
    this.server = server;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen({ host: listenHost, port: listenPort }, () => {
          server.off("error", reject);
          resolve();
        });
      });
    } catch (error) {
      this.state = "stopped";
      const reason = error instanceof Error ? error.message : String(error);
      throw new TransportError(
        "LISTEN_FAILED",
        `cannot listen on ${listenHost}:${listenPort}: ${reason}`,
        {
          cause: error,
        },
      );
    }
    server.on("error", (error) =>
      this.config.logger("error", "server error", { error: error.message }),
    );
    this.boundPort = (server.address() as AddressInfo).port;
    if (this.state === "stopped") return; // stop() was called meanwhile; it closes the server
    this.state = "running";
    for (const sender of this.senders.values()) sender.start();
    this.config.logger("info", "transport listening", {
      host: listenHost,
      port: this.boundPort,
      peers: [...this.senders.keys()],
    });
  }

  /** The mutual-TLS peer listener: certificates reloaded per connection, refusals counted. */
  private tlsServer(tls: PeerTls): Server {
    const tlsServer = createTlsServer(
      { ...tls.server(), handshakeTimeout: this.config.handshakeTimeoutMs },
      (socket) => this.onConnection(socket),
    );
    // Handshakes in progress count too: a flood of hellos that never finish is bounded.
    tlsServer.maxConnections = this.config.inboundConnectionsMax * 2;
    tlsServer.on("connection", (socket: Socket) => {
      // The listener node adds first has already taken this socket into TLS; whatever
      // error the raw socket meets is that one connection's.
      socket.on("error", () => socket.destroy());
      const reloaded = tls.reloaded?.();
      if (reloaded === undefined) return;
      try {
        tlsServer.setSecureContext(reloaded);
        this.config.logger("info", "peer TLS certificates reloaded", {});
      } catch (error) {
        this.config.logger("warn", "peer TLS certificates not reloaded", {
          error: String(error),
        });
      }
    });
    // A dialer without a certificate the peer CA signed, a garbage or timed-out handshake:
    // node has closed that socket; it never reaches the Raft handshake.
    tlsServer.on("tlsClientError", (error, socket) => {
      this.tlsHandshakesRefused++;
      this.config.logger("warn", "refused a peer connection at the TLS handshake", {
        remote: `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`,
        error: error.message,
      });
      socket.destroy();
    });
    return tlsServer;
  }

  private onConnection(socket: Socket): void {
    if (this.state !== "running") {
      socket.destroy();
      return;
    }
    if (this.inbound.size >= this.config.inboundConnectionsMax) {
      this.counters.handshakesRefused++;
      this.config.logger("warn", "too many inbound connections; closing a new one", {
        remote: `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`,
        inboundConnectionsMax: this.config.inboundConnectionsMax,
      });
      socket.destroy();
      return;
    }
    const connection = new InboundConnection(socket, {
      ...this.config,
      counters: this.counters,
      deliver: (m) => this.deliver(m),
      identified: (c) => this.onIdentified(c),
      isRemoved: (id) => this.removed.has(id),
      onStale: this.onStale,
    });
    this.inbound.add(connection);
    void connection.closed.then(() => this.inbound.delete(connection));
  }

  /**
   * A peer's new connection replaces its older ones: they are dead or dying at the dialer's
   * end (it keeps one), and a late frame read from one would arrive out of order.
   */
  private onIdentified(connection: InboundConnection): void {
    for (const other of this.inbound) {
      if (other !== connection && other.peer === connection.peer) {
        this.config.logger("debug", "closing a peer's older inbound connection", {
          peer: other.peer,
        });
        other.destroy();
      }
    }
  }

  private deliver(m: Message): void {
    if (this.state !== "running") return;
    this.messagesReceived++;
    try {
      this.onMessage(m);
    } catch (error) {
      this.deliveryErrors++;
      this.config.logger("error", "onMessage threw", {
        from: m.from,
        type: m.type,
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      });
    }
  }

  private async close(): Promise<void> {
    const wasRunning = this.state === "running" || this.state === "starting";
    this.state = "stopped";
    if (this.starting !== undefined) await this.starting.catch(() => {});
    const closing: Promise<void>[] = [...this.removing];
    for (const sender of this.senders.values()) closing.push(sender.stop());
    for (const connection of this.inbound) {
      connection.destroy();
      closing.push(connection.closed);
    }
    const server = this.server;
    if (server?.listening === true) {
      closing.push(new Promise((resolve) => server.close(() => resolve())));
    }
    await Promise.all(closing);
    if (wasRunning) this.config.logger("info", "transport stopped", {});
  }
}

function resolveConfig(options: TcpTransportOptions): Config {
  const self = options.id;
  const userLogger = options.logger;
  const logger: TransportLogger =
    userLogger === undefined
      ? () => {}
      : (level, message, fields) => userLogger(level, message, { node: self, ...fields });
  const frameBytesMax = options.frameBytesMax ?? FRAME_BYTES_MAX_DEFAULT;
  const snapshotChunkBytes = options.snapshotChunkBytes ?? SNAPSHOT_CHUNK_BYTES_DEFAULT;
  const reconnectBackoffMinMs = options.reconnectBackoffMinMs ?? 50;
  const reconnectBackoffMaxMs = options.reconnectBackoffMaxMs ?? 2000;
  const config: Config = {
    self,
    clusterId: options.clusterId,
    listenHost: options.listenHost,
    listenPort: options.listenPort,
    queueMessagesMax: options.queueMessagesMax ?? 4096,
    queueBytesMax: options.queueBytesMax ?? 64 * 1024 * 1024,
    frameBytesMax,
    snapshotChunkBytes,
    snapshotBytesMax: options.snapshotBytesMax ?? SNAPSHOT_BYTES_MAX_DEFAULT,
    reconnectBackoffMinMs,
    reconnectBackoffMaxMs,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? 5000,
    inboundConnectionsMax: options.inboundConnectionsMax ?? 256,
    keepAliveMs: KEEP_ALIVE_MS,
    logger,
    clusterInfo: options.clusterInfo,
    onRemoved: options.onRemoved,
    onFenced: options.onFenced,
    incarnation: options.incarnation ?? "",
    incarnations: options.peerIncarnations ?? new MemoryIncarnations(),
    tls: options.tls,
  };
  checkConfig(config);
  return config;
}

/** Every option in range, or INVALID_ARGUMENT naming the first that is not. */
function checkConfig(config: Config): void {
  const { frameBytesMax, snapshotChunkBytes, reconnectBackoffMinMs, reconnectBackoffMaxMs } =
    config;
  ensure(
    isValidId(config.self) && config.self !== "",
    "id must be 1 to 255 bytes of well-formed text",
  );
  ensure(isValidId(config.clusterId), "clusterId must be at most 255 bytes of well-formed text");
  ensure(
    isValidId(config.incarnation),
    "incarnation must be at most 255 bytes of well-formed text",
  );
  ensure(typeof config.listenHost === "string" && config.listenHost !== "", "listenHost is empty");
  ensure(isCount(config.listenPort) && config.listenPort <= 65535, "listenPort must be 0 to 65535");
  ensure(isPositive(config.queueMessagesMax), "queueMessagesMax must be a positive integer");
  ensure(isPositive(config.queueBytesMax), "queueBytesMax must be a positive integer");
  ensure(
    isPositive(frameBytesMax) &&
      frameBytesMax >= handshakeFrameBytesMax &&
      frameBytesMax <= FRAME_BYTES_LIMIT,
    `frameBytesMax must be ${handshakeFrameBytesMax} to ${FRAME_BYTES_LIMIT}`,
  );
  ensure(
    isPositive(snapshotChunkBytes) && snapshotChunkBytes + CHUNK_HEADROOM_BYTES <= frameBytesMax,
    `snapshotChunkBytes must be positive and at least ${CHUNK_HEADROOM_BYTES} bytes below frameBytesMax`,
  );
  ensure(isPositive(config.snapshotBytesMax), "snapshotBytesMax must be a positive integer");
  ensure(
    reconnectBackoffMinMs > 0 &&
      reconnectBackoffMaxMs >= reconnectBackoffMinMs &&
      Number.isFinite(reconnectBackoffMaxMs),
    "reconnect backoff must satisfy 0 < min ≤ max",
  );
  ensure(isPositive(config.handshakeTimeoutMs), "handshakeTimeoutMs must be a positive integer");
  ensure(
    isPositive(config.inboundConnectionsMax),
    "inboundConnectionsMax must be a positive integer",
  );
}

function checkAddress(id: NodeId, address: PeerAddress): void {
  ensure(isValidId(id) && id !== "", "a peer id must be 1 to 255 bytes of well-formed text");
  ensure(typeof address.host === "string" && address.host !== "", `peer ${id}: host is empty`);
  ensure(
    Number.isInteger(address.port) && address.port >= 1 && address.port <= 65535,
    `peer ${id}: port must be 1 to 65535`,
  );
}

/** What the handshake can carry: a string of at most idBytesMax bytes of UTF-8, no lone surrogates. */
function isValidId(s: string): boolean {
  if (typeof s !== "string") return false;
  // isWellFormed is in Node 20 but not in the ES2022 library types.
  if (!(s as unknown as { isWellFormed(): boolean }).isWellFormed()) return false;
  return new TextEncoder().encode(s).byteLength <= idBytesMax;
}

const isCount = (n: number): boolean => Number.isSafeInteger(n) && n >= 0;
const isPositive = (n: number): boolean => Number.isSafeInteger(n) && n > 0;

function ensure(condition: boolean, message: string): asserts condition {
  if (!condition) throw new TransportError("INVALID_ARGUMENT", message);
}
