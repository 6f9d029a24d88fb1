// Member records: what the cluster knows about each member beyond its Raft node id, replicated
// through the log as the runtime's per-member context (RsmNode.membership().contexts) — etcd's
// member attributes. A record is UTF-8 JSON:
//
//   { "id": "<etcd member id, decimal uint64>", "name": "n4",
//     "peerURLs": ["http://10.0.0.4:2380"], "clientURLs": ["http://10.0.0.4:2379"] }
//
// Who writes it: MemberAdd (id, peer URLs, and the name when `ordo member add NAME` gave one),
// MemberUpdate (peer URLs), and each member itself once it runs ("publish": its name and client
// URLs, as etcd's publish does). Members of the bootstrap configuration (--initial-cluster) have
// no record until they publish: their id is stableId(name), their name is their node id, and
// their peer URLs come from what the member was started with (fallback).
//
// Node ids: a member added with a name has that name as its Raft node id; one added by etcd's
// MemberAdd (peer URLs only) gets "m" + its generated member id in hexadecimal.
import { asNodeId, type ConfState, type NodeId } from "../raft/index.js";
import { parseHostPort, stableId, stableId64 } from "./cluster-config.js";

export interface MemberRecord {
  /** etcd's member id: a decimal uint64. */
  readonly id: string;
  /** Empty until the member has started and published its name. */
  readonly name: string;
  readonly peerURLs: readonly string[];
  readonly clientURLs: readonly string[];
}

/** The runtime's membership as this layer reads it (RsmNode.membership()). */
export interface MembershipView {
  readonly confState: ConfState;
  readonly contexts: ReadonlyMap<NodeId, Uint8Array>;
  readonly index: number;
}

/** One member as the Cluster service shows it. */
export interface MemberView extends MemberRecord {
  readonly nodeId: NodeId;
  readonly isLearner: boolean;
  /** Whether the record came from the log (false: derived from the bootstrap configuration). */
  readonly replicated: boolean;
}

/** A bad record or URL: INVALID_ARGUMENT for whoever sent it. */
export class MemberRecordError extends Error {
  override readonly name = "MemberRecordError";
  readonly code = "INVALID_ARGUMENT";
}

export const MEMBER_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
const URLS_MAX = 16;
const URL_BYTES_MAX = 1024;
const RECORD_BYTES_MAX = 32 * 1024;
const utf8 = new TextEncoder();

/**
 * A peer or client URL as etcd accepts it: http or https, a host and a port, nothing else.
 * Returns the canonical form (scheme://host:port) used for comparisons.
 */
export function canonicalUrl(text: string): string {
  if (typeof text !== "string" || utf8.encode(text).byteLength > URL_BYTES_MAX)
    throw new MemberRecordError(`bad URL ${JSON.stringify(text)}`);
  const m = /^(https?):\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})\/?$/i.exec(text);
  const port = Number(m?.[3]);
  if (m === null || !(port >= 1 && port <= 65535))
    throw new MemberRecordError(
      `bad URL ${JSON.stringify(text)}: expected http(s)://host:port with nothing after it`,
    );
  return `${(m[1] as string).toLowerCase()}://${(m[2] as string).toLowerCase()}:${port}`;
}

/** Checks a list of URLs (1 to 16, each valid, no duplicates); returns their canonical forms. */
export function checkUrls(urls: readonly string[], what: string, allowEmpty = false): string[] {
  if (!Array.isArray(urls)) throw new MemberRecordError(`${what}: not a list`);
  if ((!allowEmpty && urls.length === 0) || urls.length > URLS_MAX)
    throw new MemberRecordError(`${what}: expected 1 to ${URLS_MAX} URLs, got ${urls.length}`);
  const canonical = urls.map(canonicalUrl);
  if (new Set(canonical).size !== canonical.length)
    throw new MemberRecordError(`${what}: a URL is listed twice`);
  return canonical;
}

/** The TCP address of a member's first peer URL. */
export function peerAddressOf(url: string): { host: string; port: number } {
  return parseHostPort(url, "peer URL");
}

export function encodeMemberRecord(record: MemberRecord): Uint8Array {
  checkRecord(record);
  // Fixed key order: the same record is the same bytes on every member.
  const bytes = utf8.encode(
    JSON.stringify({
      id: record.id,
      name: record.name,
      peerURLs: [...record.peerURLs],
      clientURLs: [...record.clientURLs],
    }),
  );
  if (bytes.byteLength > RECORD_BYTES_MAX) throw new MemberRecordError("member record too large");
  return bytes;
}

/** Strict inverse of encodeMemberRecord; MemberRecordError for anything else. */
export function decodeMemberRecord(bytes: Uint8Array): MemberRecord {
  if (bytes.byteLength > RECORD_BYTES_MAX) throw new MemberRecordError("member record too large");
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new MemberRecordError("member record is not UTF-8 JSON");
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw))
    throw new MemberRecordError("member record is not an object");
  const o = raw as Record<string, unknown>;
  const record = {
    id: o.id as string,
    name: o.name as string,
    peerURLs: o.peerURLs as string[],
    clientURLs: o.clientURLs as string[],
  };
  checkRecord(record);
  return record;
}

function checkRecord(r: MemberRecord): void {
  if (typeof r.id !== "string" || !isMemberId(r.id))
    throw new MemberRecordError(`bad member id ${JSON.stringify(r.id)}`);
  if (typeof r.name !== "string" || (r.name !== "" && !MEMBER_NAME_PATTERN.test(r.name)))
    throw new MemberRecordError(`bad member name ${JSON.stringify(r.name)}`);
  checkUrls(r.peerURLs, "peerURLs");
  checkUrls(r.clientURLs, "clientURLs", true);
}

/** A decimal uint64 other than 0 (etcd's "no member"). */
export function isMemberId(text: string): boolean {
  return /^[1-9]\d{0,19}$/.test(text) && BigInt(text) < 2n ** 64n;
}

/**
 * A fresh member id for MemberAdd: a stable hash of what makes this addition unique — the
 * cluster, the peer URLs, the applied index it was decided at and a random nonce (two additions
 * decided at the same index differ by the nonce). Ids of removed members are never reused: the
 * caller passes the ids in use or known removed, and a collision is re-drawn (bounded).
 */
export function generateMemberId(
  clusterId: string,
  peerURLs: readonly string[],
  index: number,
  taken: (id: string) => boolean,
  nonce: () => string,
): string {
  for (let attempt = 0; attempt < 16; attempt++) {
    const id = stableId64(`${clusterId}/${[...peerURLs].sort().join(",")}/${index}/${nonce()}`);
    if (id !== "0" && !taken(id)) return id;
  }
  throw new Error("could not draw an unused member id");
}

/** The Raft node id of a member added without a name: "m" and its member id in hexadecimal. */
export function generatedNodeId(memberId: string): NodeId {
  return asNodeId(`m${BigInt(memberId).toString(16)}`);
}

/** Every member of a configuration, in the order voters, outgoing-only voters, learners. */
export function memberNodeIds(conf: ConfState): NodeId[] {
  const ids = new Set<NodeId>([...conf.voters, ...conf.votersOutgoing, ...conf.learners]);
  return [...ids];
}

export function isMemberOf(conf: ConfState, id: NodeId): boolean {
  return conf.voters.includes(id) || conf.votersOutgoing.includes(id) || conf.learners.includes(id);
}

/**
 * The members of `membership` with their records: the replicated record when there is one
 * (and it decodes), otherwise the bootstrap fallback (id stableId(nodeId), name nodeId, peer
 * URLs from `fallbackPeerUrls`). Sorted by member id, as etcd lists them.
 */
export function membersOf(
  membership: MembershipView,
  fallbackPeerUrls: ReadonlyMap<NodeId, readonly string[]>,
  onBadRecord: (nodeId: NodeId, error: unknown) => void = () => {},
): MemberView[] {
  const learners = new Set(membership.confState.learners);
  const out: MemberView[] = [];
  for (const nodeId of memberNodeIds(membership.confState)) {
    const isLearner = learners.has(nodeId);
    const bytes = membership.contexts.get(nodeId);
    if (bytes !== undefined && bytes.byteLength > 0) {
      try {
        out.push({ ...decodeMemberRecord(bytes), nodeId, isLearner, replicated: true });
        continue;
      } catch (error) {
        onBadRecord(nodeId, error);
      }
    }
    out.push({
      id: stableId(nodeId),
      name: nodeId,
      peerURLs: [...(fallbackPeerUrls.get(nodeId) ?? [])],
      clientURLs: [],
      nodeId,
      isLearner,
      replicated: false,
    });
  }
  return out.sort((a, b) =>
    BigInt(a.id) < BigInt(b.id) ? -1 : BigInt(a.id) > BigInt(b.id) ? 1 : 0,
  );
}

/**
 * What a running member publishes about itself (etcd's publish): its name and client URL, with
 * the id and peer URLs the cluster already has for it (peer URLs change only by MemberUpdate).
 * Undefined when the replicated record already says so.
 */
export function recordToPublish(
  current: MemberView | undefined,
  own: { readonly name: string; readonly peerURL: string; readonly clientURL: string },
  nodeId: NodeId,
): MemberRecord | undefined {
  const wanted: MemberRecord = {
    id: current?.id ?? stableId(nodeId),
    name: own.name,
    peerURLs:
      current !== undefined && current.peerURLs.length > 0 ? current.peerURLs : [own.peerURL],
    clientURLs: [own.clientURL],
  };
  if (
    current?.replicated === true &&
    current.name === wanted.name &&
    sameList(current.peerURLs, wanted.peerURLs) &&
    sameList(current.clientURLs, wanted.clientURLs)
  ) {
    return undefined;
  }
  return wanted;
}

const sameList = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * The apply-time check of member records (RsmNode's validateMembership: every replica, in log
 * order, so two requests racing through different members are decided the same everywhere):
 * a record must decode, and its peer URLs, etcd id and name must not be another member's.
 * Only replicated records count (the bootstrap fallback differs from member to member).
 * Returns etcd's error text, or undefined to accept.
 */
export function recordConflict(
  current: MembershipView,
  proposed: ReadonlyMap<NodeId, Uint8Array>,
): string | undefined {
  const others: MemberRecord[] = [];
  for (const [nodeId, bytes] of current.contexts) {
    if (proposed.has(nodeId) || !isMemberOf(current.confState, nodeId)) continue;
    try {
      others.push(decodeMemberRecord(bytes));
    } catch {
      // An undecodable record claims nothing.
    }
  }
  for (const [nodeId, bytes] of proposed) {
    let record: MemberRecord;
    try {
      record = decodeMemberRecord(bytes);
    } catch (error) {
      return `etcdserver: bad member record for ${nodeId}: ${(error as Error).message}`;
    }
    const urls = new Set(record.peerURLs.map(canonicalUrl));
    for (const other of others) {
      if (other.peerURLs.some((u) => urls.has(canonicalUrl(u))))
        return "etcdserver: Peer URLs already exists";
      if (other.id === record.id) return "etcdserver: member ID already exist";
      if (record.name !== "" && other.name === record.name)
        return `etcdserver: member name ${JSON.stringify(record.name)} already exists`;
    }
  }
  return undefined;
}
