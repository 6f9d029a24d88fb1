// The public surface of transport/: Raft messages between cluster members over TCP — the
// binary message codec, length-prefixed frames, and TcpTransport (per-peer queues, one-way
// connections with a handshake, reconnects with backoff, chunked snapshots).

export { BoundedQueue } from "./bounded-queue.js";
export {
  confIdsMax,
  contextBytesMax,
  decodeMessage,
  encodeMessage,
  entriesMax,
  idBytesMax,
} from "./codec.js";
export { askClusterInfo, type DiscoveryOptions, discoverCluster } from "./discovery.js";
export {
  DecodeError,
  FrameTooLargeError,
  TransportError,
  type TransportErrorCode,
} from "./errors.js";
export {
  encodeFrame,
  FRAME_BYTES_MAX_DEFAULT,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  frameHeader,
} from "./frame.js";
export {
  type ClusterInfo,
  type ClusterInfoMember,
  clusterInfoBytesMax,
  decodeClusterInfo,
  decodeHello,
  decodeReply,
  encodeClusterInfo,
  encodeHello,
  encodeReply,
  type HandshakeReply,
  HandshakeStatus,
  type Hello,
  PROTOCOL_VERSION,
} from "./handshake.js";
export {
  type IncarnationVerdict,
  judgeIncarnation,
  MemoryIncarnations,
  newIncarnation,
  type PeerIncarnations,
} from "./incarnations.js";
export { dialPeer, type PeerTls } from "./peer-tls.js";
export { ReconnectBackoff } from "./reconnect-backoff.js";
export {
  type AssemblyResult,
  decodeSnapshotChunk,
  encodeSnapshotChunk,
  SNAPSHOT_BYTES_MAX_DEFAULT,
  SNAPSHOT_CHUNK_BYTES_DEFAULT,
  SNAPSHOT_CHUNK_TAG,
  SnapshotAssembler,
  type SnapshotChunk,
  SnapshotChunker,
  snapshotChunkFrame,
} from "./snapshot-chunks.js";
export { TcpTransport, type TcpTransportOptions } from "./tcp-transport.js";
export type {
  PeerAddress,
  PeerStats,
  TransportCounters,
  TransportLogger,
  TransportLogLevel,
} from "./transport-types.js";
