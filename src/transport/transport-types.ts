// Types shared by the transport's parts and its users: addresses, logging, statistics.

export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

export type TransportLogLevel = "debug" | "info" | "warn" | "error";

/** Structured logging: a constant message and the fields that vary. */
export type TransportLogger = (
  level: TransportLogLevel,
  message: string,
  fields: Readonly<Record<string, unknown>>,
) => void;

/** What happened to the messages for one peer since the transport was made. */
export interface PeerStats {
  /** The outbound connection is up and its handshake was accepted. */
  readonly connected: boolean;
  /** Messages waiting (a snapshot being streamed in chunks counts as one). */
  readonly queued: number;
  /** Encoded bytes of the waiting messages (a chunked snapshot's data is not copied, not counted). */
  readonly queuedBytes: number;
  /**
   * Messages handed to the socket (a chunked snapshot once its last chunk is written). Handed
   * over is not delivered: what is in flight when a connection breaks is lost.
   */
  readonly sent: number;
  /** Messages dropped: queue full, larger than a frame, or a snapshot cut off by a lost connection. */
  readonly dropped: number;
  /** Connection attempts that failed and established connections that were lost or refused. */
  readonly sendFailures: number;
  /** Connection attempts after the first. */
  readonly reconnects: number;
}

/** Counters of the receiving side and of messages with no route, since the transport was made. */
export interface TransportCounters {
  /** Inbound connections open now (handshaking or accepted). */
  readonly inboundConnections: number;
  readonly handshakesAccepted: number;
  /** Hellos answered with a refusal (wrong cluster, wrong node, malformed) and connections over the limit. */
  readonly handshakesRefused: number;
  /** Inbound connections closed because a frame or message did not decode or broke the protocol. */
  readonly connectionsMalformed: number;
  /** Messages delivered to onMessage (snapshots once reassembled). */
  readonly messagesReceived: number;
  /** Calls of onMessage that threw (caught and logged). */
  readonly deliveryErrors: number;
  /** Chunked snapshots refused for exceeding snapshotBytesMax. */
  readonly snapshotsRejected: number;
  /** Messages given to send() for a node that is not a peer (dropped). */
  readonly messagesUnroutable: number;
  /** Discovery hellos answered with ClusterInfo. */
  readonly discoveryAnswers: number;
  /**
   * Connections refused, either way, because the peer's data directory incarnation was not the
   * one remembered for its node id (its durable state went backwards).
   */
  readonly incarnationRefusals: number;
  /**
   * Inbound connections that failed their TLS handshake (peer TLS only): no certificate, one
   * the peer CA did not sign, garbage, or too slow. They never reach the hello.
   */
  readonly tlsHandshakesRefused: number;
}
