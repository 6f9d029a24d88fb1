// The connection handshake. A dialer opens a TCP connection and sends one Hello frame; the
// acceptor answers with one Reply frame and, if it accepted, only reads from then on. The
// dialer sends messages only after an Accepted reply, so a rejected dialer learns why (and
// backs off) instead of streaming into a connection about to close.
//
//   Hello: magic "ORDO" (4 bytes), version u8, clusterId string, from string, to string
//          [, incarnation string]
//   Reply: magic "ORDO" (4 bytes), version u8, status u8 (HandshakeStatus), reason string
//          [, incarnation string]
//
// The incarnation (incarnations.ts) is the random id of the sender's data directory: the
// dialer's in its Hello, the acceptor's in an Accepted reply. It is a trailing field, absent
// when empty, so a peer that does not send one still decodes (and is let in only while no
// incarnation is remembered for its id).
//
// Strings are a varint byte length and UTF-8, as in codec.ts. The magic lets an acceptor tell
// a stray client (an HTTP probe, a port scanner) from a peer in the first bytes.
//
// Discovery: a node joining an existing cluster knows neither the cluster id nor its own node
// id yet. It sends a Hello with an empty clusterId (and empty from/to); a member that can
// answer replies with status ClusterInfo, whose reason is JSON (ClusterInfo below, at most
// clusterInfoBytesMax bytes, so the dialer reads that reply with a larger frame limit), and
// closes. Such a dialer never becomes a peer connection.

import { assert, ByteReader, ByteWriter } from "../lib/index.js";
import { asNodeId, type NodeId } from "../raft/index.js";
import { idBytesMax, writeText } from "./codec.js";
import { DecodeError, TransportError, wireError } from "./errors.js";

export const HANDSHAKE_MAGIC = new Uint8Array([0x4f, 0x52, 0x44, 0x4f]); // "ORDO"
/** Version of the whole peer protocol (handshake, frames, message encoding, chunks). */
export const PROTOCOL_VERSION = 1;
/** Largest handshake frame either side accepts before the handshake is done. */
export const handshakeFrameBytesMax = 4096;
const reasonBytesMax = 1024;
/** Largest ClusterInfo payload (the reason of a ClusterInfo reply). */
export const clusterInfoBytesMax = 60 * 1024;
/** Largest frame a discovering dialer accepts as the reply. */
export const clusterInfoFrameBytesMax = clusterInfoBytesMax + 64;
/** Bounds of a ClusterInfo: members, and peer URLs per member. */
const clusterInfoMembersMax = 1024;
const peerUrlsMax = 16;
const urlBytesMax = 1024;
const utf8Encoder = new TextEncoder();

export interface Hello {
  readonly clusterId: string;
  readonly from: NodeId;
  readonly to: NodeId;
  /** The dialer's data directory incarnation; "" (or absent) when it has none. */
  readonly incarnation?: string;
}

export const HandshakeStatus = {
  Accepted: 0,
  /** The dialer belongs to another cluster. */
  WrongCluster: 1,
  /** The dialer addressed a node that is not the acceptor, or claims to be the acceptor. */
  WrongNode: 2,
  /** The hello did not decode (including an unsupported version). */
  Malformed: 3,
  /** The acceptor has no room for another connection. */
  Busy: 4,
  /** The dialer is a node that was removed from the cluster: it must stop, not retry. */
  Removed: 5,
  /** The answer to a discovery hello (empty clusterId): the reason is a ClusterInfo as JSON. */
  ClusterInfo: 6,
  /**
   * The dialer's incarnation is not the one the acceptor remembers for its node id: its data
   * directory was wiped or replaced, its durable state went backwards, and it must stop, not
   * retry (it may rejoin only as a new member).
   */
  StaleIncarnation: 7,
} as const;
export type HandshakeStatus = (typeof HandshakeStatus)[keyof typeof HandshakeStatus];

export interface HandshakeReply {
  readonly status: HandshakeStatus;
  readonly reason: string;
  /** Accepted replies: the acceptor's data directory incarnation ("" or absent: none). */
  readonly incarnation?: string;
}

/** What a member tells a joining node: the cluster's id and every member's peer addresses. */
export interface ClusterInfo {
  readonly clusterId: string;
  readonly members: readonly ClusterInfoMember[];
}

export interface ClusterInfoMember {
  readonly nodeId: NodeId;
  /** etcd's member id (decimal uint64), when the answering member knows it. */
  readonly id?: string;
  readonly peerURLs: readonly string[];
  /**
   * The incarnation the answering member remembers for this member (it has heard from it),
   * absent when none. A joining or bootstrapping node whose data directory is empty and finds
   * one for itself has been here before: its data directory was wiped (member-identity.ts).
   */
  readonly incarnation?: string;
  /** Whether the member has published its record (etcd: it has started and has client URLs). */
  readonly started?: boolean;
}

export function encodeHello(hello: Hello): Uint8Array {
  const w = new ByteWriter(64);
  try {
    w.raw(HANDSHAKE_MAGIC);
    w.u8(PROTOCOL_VERSION);
    writeText(w, hello.clusterId, idBytesMax, "clusterId");
    writeText(w, hello.from, idBytesMax, "from");
    writeText(w, hello.to, idBytesMax, "to");
    if (hello.incarnation !== undefined && hello.incarnation !== "")
      writeText(w, hello.incarnation, idBytesMax, "incarnation");
  } catch (e) {
    throw wireError(e);
  }
  const bytes = w.finish();
  assert(bytes.byteLength <= handshakeFrameBytesMax, "handshake: hello too long");
  return bytes;
}

export function decodeHello(bytes: Uint8Array): Hello {
  try {
    const r = new ByteReader(bytes);
    readPreamble(r);
    const clusterId = r.stringVarint("clusterId", idBytesMax);
    const from = asNodeId(r.stringVarint("from", idBytesMax));
    const to = asNodeId(r.stringVarint("to", idBytesMax));
    const incarnation = readIncarnation(r);
    r.end("hello");
    return { clusterId, from, to, ...(incarnation !== "" ? { incarnation } : {}) };
  } catch (e) {
    throw wireError(e);
  }
}

export function encodeReply(reply: HandshakeReply): Uint8Array {
  const w = new ByteWriter(64);
  try {
    w.raw(HANDSHAKE_MAGIC);
    w.u8(PROTOCOL_VERSION);
    w.u8(reply.status);
    if (reply.status === HandshakeStatus.ClusterInfo) {
      // A payload, not a log line: never cut (encodeClusterInfo keeps it within the bound).
      writeText(w, reply.reason, clusterInfoBytesMax, "cluster info");
    } else {
      // Reasons are for logs: cut a long one rather than fail the reply.
      writeText(w, truncateUtf8(reply.reason, reasonBytesMax), reasonBytesMax, "reason");
      if (reply.incarnation !== undefined && reply.incarnation !== "")
        writeText(w, reply.incarnation, idBytesMax, "incarnation");
    }
  } catch (e) {
    throw wireError(e);
  }
  return w.finish();
}

export function decodeReply(bytes: Uint8Array): HandshakeReply {
  try {
    const r = new ByteReader(bytes);
    readPreamble(r);
    const code = r.u8("status");
    const status = statusFromCode(code) ?? r.fail(`unknown handshake status ${code}`);
    const reason =
      status === HandshakeStatus.ClusterInfo
        ? r.stringVarint("cluster info", clusterInfoBytesMax)
        : r.stringVarint("reason", reasonBytesMax);
    const incarnation = status !== HandshakeStatus.ClusterInfo ? readIncarnation(r) : "";
    r.end("handshake reply");
    return { status, reason, ...(incarnation !== "" ? { incarnation } : {}) };
  } catch (e) {
    throw wireError(e);
  }
}

/** A ClusterInfo as a reply's JSON payload. Throws TransportError when it exceeds the bound. */
export function encodeClusterInfo(info: ClusterInfo): string {
  const text = JSON.stringify({
    clusterId: info.clusterId,
    members: info.members.map((m) => ({
      nodeId: m.nodeId,
      ...(m.id !== undefined ? { id: m.id } : {}),
      peerURLs: [...m.peerURLs],
      ...(m.incarnation !== undefined ? { incarnation: m.incarnation } : {}),
      ...(m.started !== undefined ? { started: m.started } : {}),
    })),
  });
  if (utf8Encoder.encode(text).byteLength > clusterInfoBytesMax) {
    throw new TransportError("INVALID_ARGUMENT", "cluster info larger than clusterInfoBytesMax");
  }
  return text;
}

/**
 * Strict inverse of encodeClusterInfo: anything but the expected shape, within its bounds, is
 * a DecodeError (the payload comes from the network).
 */
export function decodeClusterInfo(text: string): ClusterInfo {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new DecodeError("cluster info is not JSON", 0);
  }
  const bad = (what: string): never => {
    throw new DecodeError(`cluster info: ${what}`, 0);
  };
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) bad("not an object");
  const o = raw as Record<string, unknown>;
  if (!isBoundedText(o.clusterId, idBytesMax) || o.clusterId === "") bad("bad clusterId");
  if (!Array.isArray(o.members) || o.members.length > clusterInfoMembersMax) bad("bad members");
  const members: ClusterInfoMember[] = [];
  for (const m of o.members as unknown[]) {
    if (m === null || typeof m !== "object" || Array.isArray(m)) bad("a member is not an object");
    const r = m as Record<string, unknown>;
    if (!isBoundedText(r.nodeId, idBytesMax) || r.nodeId === "") bad("bad nodeId");
    if (r.id !== undefined && (typeof r.id !== "string" || !/^\d{1,20}$/.test(r.id)))
      bad("bad member id");
    if (
      !Array.isArray(r.peerURLs) ||
      r.peerURLs.length > peerUrlsMax ||
      !r.peerURLs.every((u) => isBoundedText(u, urlBytesMax))
    )
      bad("bad peerURLs");
    if (r.incarnation !== undefined && !isBoundedText(r.incarnation, idBytesMax))
      bad("bad incarnation");
    if (r.started !== undefined && typeof r.started !== "boolean") bad("bad started");
    members.push({
      nodeId: asNodeId(r.nodeId as string),
      ...(r.id !== undefined ? { id: r.id as string } : {}),
      peerURLs: [...(r.peerURLs as string[])],
      ...(r.incarnation !== undefined ? { incarnation: r.incarnation as string } : {}),
      ...(r.started !== undefined ? { started: r.started as boolean } : {}),
    });
  }
  return { clusterId: o.clusterId as string, members };
}

function isBoundedText(value: unknown, bytesMax: number): boolean {
  return typeof value === "string" && utf8Encoder.encode(value).byteLength <= bytesMax;
}

/** The name of a status, for logs. */
export function statusName(status: HandshakeStatus): string {
  for (const [name, code] of Object.entries(HandshakeStatus)) if (code === status) return name;
  return `status ${status}`;
}

/** The optional trailing incarnation: absent, or a non-empty string (canonical: "" is absent). */
function readIncarnation(r: ByteReader): string {
  if (r.remainingBytes === 0) return "";
  const incarnation = r.stringVarint("incarnation", idBytesMax);
  if (incarnation === "") r.fail("an empty incarnation is sent as none");
  return incarnation;
}

function readPreamble(r: ByteReader): void {
  const magic = r.take("magic", HANDSHAKE_MAGIC.byteLength);
  for (let i = 0; i < HANDSHAKE_MAGIC.byteLength; i++) {
    if (magic[i] !== HANDSHAKE_MAGIC[i]) r.fail("not an Ordo peer (bad magic)");
  }
  const version = r.u8("version");
  if (version !== PROTOCOL_VERSION) {
    r.fail(`unsupported protocol version ${version} (this node speaks ${PROTOCOL_VERSION})`);
  }
}

function statusFromCode(code: number): HandshakeStatus | undefined {
  for (const status of Object.values(HandshakeStatus)) if (status === code) return status;
  return undefined;
}

/** The longest prefix of `s` whose UTF-8 fits in `bytesMax`, cut on a code point boundary. */
function truncateUtf8(text: string, bytesMax: number): string {
  // toWellFormed (Node 20, not in the ES2022 types) replaces lone surrogates the writer refuses.
  const s = (text as unknown as { toWellFormed(): string }).toWellFormed();
  // Each UTF-16 code unit takes at most 3 UTF-8 bytes, so this many always fit.
  if (s.length * 3 <= bytesMax) return s;
  const chars = Array.from(s);
  let bytes = 0;
  let kept = 0;
  for (; kept < chars.length; kept++) {
    const size = utf8Encoder.encode(chars[kept]).byteLength;
    if (bytes + size > bytesMax) break;
    bytes += size;
  }
  return chars.slice(0, kept).join("");
}
