// Cluster discovery for a node joining an existing cluster (etcd's --initial-cluster-state
// existing): it knows some members' peer addresses but neither the cluster id nor its own node
// id. It sends each of them a discovery hello (empty clusterId, handshake.ts) and reads the
// ClusterInfo reply: the cluster id and every member's node id and peer URLs. The joining node
// then finds itself in that list by its own peer URL.
//
// Bounded: each attempt has a deadline, the whole discovery has one too, and rounds over the
// addresses back off (no tight loop against members that are down).
import { asNodeId } from "../raft/index.js";
import { TransportError } from "./errors.js";
import { encodeFrame, FrameDecoder } from "./frame.js";
import {
  type ClusterInfo,
  clusterInfoFrameBytesMax,
  decodeClusterInfo,
  decodeReply,
  encodeHello,
  HandshakeStatus,
  statusName,
} from "./handshake.js";
import { dialPeer, type PeerTls } from "./peer-tls.js";
import type { PeerAddress } from "./transport-types.js";

export interface DiscoveryOptions {
  /** Give up after this long. Default 30 000 ms. */
  readonly timeoutMs?: number;
  /** One connection's time to answer. Default 2 000 ms. */
  readonly attemptTimeoutMs?: number;
  /**
   * Whether an answer is the one wanted (e.g. it lists the joining node). A ClusterInfo that is
   * not accepted is asked again later, from any member, until the deadline.
   */
  readonly accept?: (info: ClusterInfo) => boolean;
  /** Stops the discovery early (rejects with TransportError CLOSED). */
  readonly signal?: AbortSignal;
  /** Ask over TLS (https:// peer URLs). */
  readonly tls?: PeerTls | undefined;
}

const ROUND_BACKOFF_MIN_MS = 100;
const ROUND_BACKOFF_MAX_MS = 1000;
/** A bound on rounds beyond the deadline's own (each round waits at least the minimum backoff). */
const ROUNDS_MAX = 10_000;

/** Asks one address for its ClusterInfo. Rejects with TransportError on any failure. */
export function askClusterInfo(
  address: PeerAddress,
  timeoutMs = 2000,
  tls?: PeerTls,
): Promise<ClusterInfo> {
  return new Promise<ClusterInfo>((resolve, reject) => {
    const socket = dialPeer(address, tls, () => {
      const none = asNodeId("");
      socket.write(encodeFrame(encodeHello({ clusterId: "", from: none, to: none })));
    });
    const replies = new FrameDecoder(clusterInfoFrameBytesMax);
    let settled = false;
    const finish = (error: Error | undefined, info?: ClusterInfo): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error !== undefined) reject(error);
      else resolve(info as ClusterInfo);
    };
    const timer = setTimeout(
      () => finish(new TransportError("CLOSED", `no discovery answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.on("data", (chunk: Buffer) => {
      try {
        replies.push(chunk);
        const frame = replies.next();
        if (frame === undefined) return;
        const reply = decodeReply(frame);
        if (reply.status !== HandshakeStatus.ClusterInfo) {
          finish(
            new TransportError(
              "CLOSED",
              `discovery refused: ${statusName(reply.status)}: ${reply.reason}`,
            ),
          );
          return;
        }
        finish(undefined, decodeClusterInfo(reply.reason));
      } catch (error) {
        finish(error instanceof Error ? error : new Error(String(error)));
      }
    });
    socket.on("error", (error) => finish(new TransportError("CLOSED", error.message)));
    socket.on("close", () => finish(new TransportError("CLOSED", "connection closed")));
  });
}

/**
 * Asks the addresses in turn, round after round, until one answers a ClusterInfo that
 * `accept` takes. Rejects with TransportError CLOSED naming the last failures after the
 * deadline.
 */
export async function discoverCluster(
  addresses: readonly PeerAddress[],
  options: DiscoveryOptions = {},
): Promise<ClusterInfo> {
  if (addresses.length === 0) {
    throw new TransportError("INVALID_ARGUMENT", "discovery needs at least one peer address");
  }
  const deadline = performance.now() + (options.timeoutMs ?? 30_000);
  const attemptTimeoutMs = options.attemptTimeoutMs ?? 2000;
  const failures = new Map<string, string>();
  let backoffMs = ROUND_BACKOFF_MIN_MS;
  for (let round = 0; round < ROUNDS_MAX; round++) {
    for (const address of addresses) {
      if (options.signal?.aborted === true) throw new TransportError("CLOSED", "discovery stopped");
      const where = `${address.host}:${address.port}`;
      const left = deadline - performance.now();
      if (left <= 0) break;
      try {
        const info = await askClusterInfo(
          address,
          Math.min(attemptTimeoutMs, Math.ceil(left)),
          options.tls,
        );
        if (options.accept === undefined || options.accept(info)) return info;
        failures.set(where, "answered, but not what was asked for (not yet a member?)");
      } catch (error) {
        failures.set(where, error instanceof Error ? error.message : String(error));
      }
    }
    const left = deadline - performance.now();
    if (left <= 0) break;
    await new Promise((r) => setTimeout(r, Math.min(backoffMs, left)));
    backoffMs = Math.min(backoffMs * 2, ROUND_BACKOFF_MAX_MS);
  }
  const why = [...failures].map(([where, error]) => `${where}: ${error}`).join("; ");
  throw new TransportError("CLOSED", `cluster discovery failed: ${why || "no answer"}`);
}
