// The receiving half of the transport for one accepted TCP connection: read the dialer's
// Hello, answer Accepted or a refusal, then decode frames into messages until the connection
// closes. After its reply the acceptor never writes: an accepted connection is one-way.
//
// Everything on this connection comes from the network and is checked: a frame over the size
// limit, a message or chunk that does not decode, a message whose from/to differ from the
// handshake's, a chunk that does not continue its snapshot — each closes the connection and
// is logged; none throws out of a socket callback. The dialer reconnects, so a bad frame
// costs the messages in flight, which Raft tolerates.

import type { Socket } from "node:net";
import { assert } from "../lib/index.js";
import type { Message, NodeId } from "../raft/index.js";
import { decodeMessage } from "./codec.js";
import { TransportError } from "./errors.js";
import { encodeFrame, FrameDecoder } from "./frame.js";
import {
  type ClusterInfo,
  decodeHello,
  encodeClusterInfo,
  encodeReply,
  HandshakeStatus,
  type Hello,
  handshakeFrameBytesMax,
  statusName,
} from "./handshake.js";
import { judgeIncarnation, type PeerIncarnations } from "./incarnations.js";
import { decodeSnapshotChunk, SNAPSHOT_CHUNK_TAG, SnapshotAssembler } from "./snapshot-chunks.js";
import type { TransportLogger } from "./transport-types.js";

/** Mutable counters the transport shares with its connections (see TransportCounters). */
export interface InboundCounters {
  handshakesAccepted: number;
  handshakesRefused: number;
  connectionsMalformed: number;
  snapshotsRejected: number;
  discoveryAnswers: number;
}

export interface InboundConfig {
  readonly self: NodeId;
  readonly clusterId: string;
  readonly frameBytesMax: number;
  readonly snapshotBytesMax: number;
  readonly handshakeTimeoutMs: number;
  readonly keepAliveMs: number;
  readonly logger: TransportLogger;
  readonly counters: InboundCounters;
  /** Hands one message to the application; must not throw. */
  readonly deliver: (m: Message) => void;
  /** The dialer's hello was accepted: it is `connection.peer` from now on. */
  readonly identified: (connection: InboundConnection) => void;
  /** Whether `id` is known to have been removed from the cluster (refused with Removed). */
  readonly isRemoved: (id: NodeId) => boolean;
  /** What a discovery hello (empty clusterId) is told; undefined: refuse it. */
  readonly clusterInfo: (() => ClusterInfo | undefined) | undefined;
  /** This node's data directory incarnation, sent in Accepted replies ("" for none). */
  readonly incarnation: string;
  /** The incarnation remembered for each peer id (incarnations.ts). */
  readonly incarnations: PeerIncarnations;
  /** A dialer was refused for a stale incarnation: count it and log it (rate-limited). */
  readonly onStale: (peer: NodeId, claimed: string, known: string | undefined) => void;
}

/** "learning": the hello was good, the dialer's incarnation is being made durable. */
type State = "handshake" | "learning" | "open" | "refusing" | "closed";

export class InboundConnection {
  /** The dialer's node id, once its hello was accepted. */
  peer: NodeId | undefined;
  /** Resolves when the socket has closed. */
  readonly closed: Promise<void>;
  private state: State = "handshake";
  private readonly frames = new FrameDecoder(handshakeFrameBytesMax);
  private readonly snapshots: SnapshotAssembler;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private readonly remote: string;

  constructor(
    private readonly socket: Socket,
    private readonly config: InboundConfig,
  ) {
    this.remote = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`;
    this.snapshots = new SnapshotAssembler(config.snapshotBytesMax);
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    socket.setNoDelay(true);
    socket.setKeepAlive(true, config.keepAliveMs);
    // Also bounds how long a refused dialer may keep its half-closed connection.
    this.handshakeTimer = setTimeout(() => {
      this.handshakeTimer = undefined;
      if (this.state === "handshake") this.log("warn", "no handshake in time; closing", {});
      socket.destroy();
    }, config.handshakeTimeoutMs);
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (error) =>
      this.log("debug", "inbound connection error", { error: error.message }),
    );
    socket.on("close", () => this.onClose());
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.state !== "handshake" && this.state !== "open") return;
    try {
      this.frames.push(chunk);
      const framesMax = this.frames.framesBufferedMax;
      for (let i = 0; i < framesMax; i++) {
        // Delivery may have stopped the transport, or a frame closed the connection.
        if (this.state !== "handshake" && this.state !== "open") return;
        const frame = this.frames.next();
        if (frame === undefined) return;
        if (this.state === "handshake") this.onHello(frame);
        else this.onFrame(frame);
      }
    } catch (error) {
      this.onBadInput(error);
    }
  }

  private onHello(frame: Uint8Array): void {
    let hello: Hello;
    try {
      hello = decodeHello(frame);
    } catch (error) {
      if (!(error instanceof TransportError)) throw error;
      this.refuse(HandshakeStatus.Malformed, error.message, {});
      return;
    }
    const { self, clusterId } = this.config;
    const fields = { from: hello.from, to: hello.to, clusterId: hello.clusterId };
    if (hello.clusterId === "") {
      this.answerDiscovery(fields);
    } else if (hello.clusterId !== clusterId) {
      this.refuse(HandshakeStatus.WrongCluster, `this node is in cluster "${clusterId}"`, fields);
    } else if (hello.from !== "" && this.config.isRemoved(hello.from)) {
      this.refuse(
        HandshakeStatus.Removed,
        `node "${hello.from}" was removed from the cluster`,
        fields,
      );
    } else if (hello.to !== self) {
      this.refuse(HandshakeStatus.WrongNode, `this node is "${self}", not "${hello.to}"`, fields);
    } else if (hello.from === "" || hello.from === self) {
      this.refuse(HandshakeStatus.WrongNode, `a dialer cannot be "${hello.from}"`, fields);
    } else {
      this.checkIncarnation(hello.from, hello.incarnation ?? "", fields);
    }
  }

  /**
   * The dialer is who it says, in our cluster: let it in only if its data directory is the one
   * we remember for its id (learning it, durably, at first contact).
   */
  private checkIncarnation(peer: NodeId, claimed: string, fields: Record<string, unknown>): void {
    const { incarnations } = this.config;
    const known = incarnations.get(peer);
    const verdict = judgeIncarnation(known, claimed);
    if (verdict === "match") {
      this.accept(peer);
      return;
    }
    if (verdict === "stale") {
      this.refuseStale(peer, claimed, known, fields);
      return;
    }
    this.state = "learning";
    incarnations.learn(peer, claimed).then(
      (remembered) => {
        if (this.state !== "learning") return; // closed meanwhile
        if (remembered) this.accept(peer);
        else this.refuseStale(peer, claimed, incarnations.get(peer), fields);
      },
      (error: unknown) => {
        if (this.state !== "learning") return;
        this.log("error", "cannot remember a peer's incarnation; refusing it", {
          error: String(error),
          ...fields,
        });
        this.state = "closed";
        this.socket.destroy();
      },
    );
  }

  private refuseStale(
    peer: NodeId,
    claimed: string,
    known: string | undefined,
    fields: Record<string, unknown>,
  ): void {
    this.config.onStale(peer, claimed, known);
    this.refuse(
      HandshakeStatus.StaleIncarnation,
      `node "${this.config.self}" knows "${peer}" by another data directory (incarnation ` +
        `${known ?? "?"}, this one ${claimed === "" ? "has none" : claimed}): its data directory ` +
        "was wiped or replaced and it forgot its log, term and vote; it must not rejoin under " +
        "its old id (remove it with ordo member remove, wipe its data directory, add it with " +
        "ordo member add and start it with --initial-cluster-state existing)",
      fields,
      false,
    );
  }

  private accept(peer: NodeId): void {
    clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    this.state = "open";
    this.peer = peer;
    this.frames.frameBytesMax = this.config.frameBytesMax;
    this.socket.write(
      encodeFrame(
        encodeReply({
          status: HandshakeStatus.Accepted,
          reason: "",
          incarnation: this.config.incarnation,
        }),
      ),
    );
    this.config.counters.handshakesAccepted++;
    this.log("debug", "accepted a peer connection", {});
    this.config.identified(this);
  }

  /** A joining node asks who is in the cluster: answer ClusterInfo (or refuse) and close. */
  private answerDiscovery(fields: Record<string, unknown>): void {
    let payload: string | undefined;
    try {
      const info = this.config.clusterInfo?.();
      payload = info === undefined ? undefined : encodeClusterInfo(info);
    } catch (error) {
      this.log("error", "cannot answer a cluster discovery", { error: String(error) });
    }
    if (payload === undefined) {
      this.refuse(HandshakeStatus.WrongCluster, "this node does not answer discovery", fields);
      return;
    }
    this.state = "refusing";
    this.config.counters.discoveryAnswers++;
    this.log("debug", "answered a cluster discovery", fields);
    this.socket.end(
      encodeFrame(encodeReply({ status: HandshakeStatus.ClusterInfo, reason: payload })),
    );
  }

  /** Answers with the reason and half-closes; the handshake timer ends a dialer that lingers. */
  private refuse(
    status: HandshakeStatus,
    reason: string,
    fields: Record<string, unknown>,
    logIt = true,
  ): void {
    this.state = "refusing";
    this.config.counters.handshakesRefused++;
    if (logIt)
      this.log("warn", "refused a peer connection", {
        status: statusName(status),
        reason,
        ...fields,
      });
    this.socket.end(encodeFrame(encodeReply({ status, reason })));
  }

  private onFrame(frame: Uint8Array): void {
    if (frame.byteLength === 0) throw new TransportError("MALFORMED", "empty frame");
    if (frame[0] === SNAPSHOT_CHUNK_TAG) {
      const chunk = decodeSnapshotChunk(frame);
      this.checkRoute(chunk.from, chunk.to);
      const result = this.snapshots.accept(chunk);
      if (result.kind === "complete") this.deliver(result.message);
      else if (result.kind === "rejected") {
        this.config.counters.snapshotsRejected++;
        this.log("warn", "discarding a snapshot larger than snapshotBytesMax", {
          totalBytes: result.totalBytes,
          snapshotBytesMax: this.config.snapshotBytesMax,
        });
      }
      return;
    }
    const m = decodeMessage(frame);
    this.checkRoute(m.from, m.to);
    this.deliver(m);
  }

  /** A connection speaks for the node that dialed it, to the node it dialed: nothing else. */
  private checkRoute(from: NodeId, to: NodeId): void {
    if (from !== this.peer || to !== this.config.self) {
      throw new TransportError("MALFORMED", `message from "${from}" to "${to}" on this connection`);
    }
  }

  private deliver(m: Message): void {
    assert(this.state === "open", "inbound: delivery on a connection that is not open");
    this.config.deliver(m);
  }

  private onBadInput(error: unknown): void {
    this.config.counters.connectionsMalformed++;
    if (error instanceof TransportError) {
      this.log("warn", "malformed input from peer; closing the connection", {
        code: error.code,
        error: error.message,
      });
    } else {
      // A bug of ours, not the peer's: say so loudly, but one connection is all it costs.
      this.log("error", "unexpected error reading from peer; closing the connection", {
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      });
    }
    this.state = "closed";
    this.socket.destroy();
  }

  private onClose(): void {
    this.state = "closed";
    clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    this.snapshots.reset();
  }

  private log(
    level: "debug" | "info" | "warn" | "error",
    message: string,
    fields: Record<string, unknown>,
  ): void {
    this.config.logger(level, message, { remote: this.remote, peer: this.peer, ...fields });
  }
}
