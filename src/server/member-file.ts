// member.json: a member's identity in its data directory, written once when the data directory
// is new, atomically (temp file, fsync, rename, directory fsync), so a crash leaves no half file.
//
//   { "version": 1, "clusterId": "…", "nodeId": "n4", "memberId": "…", "incarnation": "…",
//     "bootstrap": true, "peers": [{ "nodeId": "n1", "peerURLs": ["http://…"] }, …] }
//
// incarnation: a random id drawn when the data directory is created (transport/incarnations.ts).
// Peers remember it at first contact and refuse this node id with any other one, so a member
// restarted with a wiped data directory (which forgot its log, term and vote) cannot take part.
// A file from before incarnations has none: Member.start draws one and rewrites the file.
//
// bootstrap true: the member started the cluster (--initial-cluster-state new); its first
// configuration is `peers` as voters, as every bootstrap member's is. bootstrap false: it
// joined an existing cluster, starts with an empty configuration and receives the leader's
// snapshot; `peers` is what discovery told it (where to find members that have published no
// record yet). Which nodes left the cluster is not kept here: the runtime replicates it
// (RsmNode.membership().removed, in its snapshots and log). A data directory from before member.json is a bootstrap member's:
// Member.start writes the file from the command line on its first start.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { asNodeId, type NodeId } from "../raft/index.js";
import { replaceFileDurably } from "../storage/index.js";

export interface MemberFilePeer {
  readonly nodeId: NodeId;
  readonly peerURLs: readonly string[];
}

export interface MemberFile {
  readonly clusterId: string;
  readonly nodeId: NodeId;
  /** etcd's member id when the member learned it at discovery ("" for bootstrap members). */
  readonly memberId: string;
  readonly bootstrap: boolean;
  readonly peers: readonly MemberFilePeer[];
  /** This data directory's incarnation; absent in files written before incarnations. */
  readonly incarnation?: string;
}

export const MEMBER_FILE = "member.json";
const VERSION = 1;
const FILE_BYTES_MAX = 1024 * 1024;

export class MemberFileError extends Error {
  override readonly name = "MemberFileError";
}

/** Reads dir/member.json; undefined when there is none. Throws MemberFileError when it is damaged. */
export async function readMemberFile(dir: string): Promise<MemberFile | undefined> {
  const path = join(dir, MEMBER_FILE);
  let text: string;
  try {
    const bytes = await readFile(path);
    if (bytes.byteLength > FILE_BYTES_MAX) throw new MemberFileError(`${path}: too large`);
    text = bytes.toString("utf8");
  } catch (e) {
    if ((e as { code?: unknown }).code === "ENOENT") return undefined;
    throw e;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new MemberFileError(`${path}: not JSON; restore it or remove the data directory`);
  }
  const bad = (what: string): never => {
    throw new MemberFileError(`${path}: ${what}`);
  };
  if (raw === null || typeof raw !== "object") bad("not an object");
  const o = raw as Record<string, unknown>;
  if (o.version !== VERSION) bad(`unknown version ${String(o.version)}`);
  if (typeof o.clusterId !== "string" || o.clusterId === "") bad("bad clusterId");
  if (typeof o.nodeId !== "string" || !/^[\x21-\x7e]{1,255}$/.test(o.nodeId)) bad("bad nodeId");
  if (typeof o.memberId !== "string") bad("bad memberId");
  if (typeof o.bootstrap !== "boolean") bad("bad bootstrap");
  if (
    o.incarnation !== undefined &&
    (typeof o.incarnation !== "string" || !/^[0-9a-f]{8,64}$/.test(o.incarnation))
  )
    bad("bad incarnation");
  if (!Array.isArray(o.peers)) bad("bad peers");
  const peers: MemberFilePeer[] = [];
  for (const p of o.peers as unknown[]) {
    const r = p as Record<string, unknown> | null;
    if (
      r === null ||
      typeof r !== "object" ||
      typeof r.nodeId !== "string" ||
      r.nodeId === "" ||
      !Array.isArray(r.peerURLs) ||
      !r.peerURLs.every((u) => typeof u === "string")
    )
      bad("bad peer entry");
    const entry = r as { nodeId: string; peerURLs: string[] };
    peers.push({ nodeId: asNodeId(entry.nodeId), peerURLs: [...entry.peerURLs] });
  }
  return {
    clusterId: o.clusterId as string,
    nodeId: asNodeId(o.nodeId as string),
    memberId: o.memberId as string,
    bootstrap: o.bootstrap as boolean,
    peers,
    ...(o.incarnation !== undefined ? { incarnation: o.incarnation as string } : {}),
  };
}

/** Writes dir/member.json atomically and durably. */
export async function writeMemberFile(dir: string, file: MemberFile): Promise<void> {
  const text = `${JSON.stringify(
    {
      version: VERSION,
      clusterId: file.clusterId,
      nodeId: file.nodeId,
      memberId: file.memberId,
      ...(file.incarnation !== undefined ? { incarnation: file.incarnation } : {}),
      bootstrap: file.bootstrap,
      peers: file.peers.map((p) => ({ nodeId: p.nodeId, peerURLs: [...p.peerURLs] })),
    },
    null,
    2,
  )}\n`;
  await replaceFileDurably(dir, MEMBER_FILE, Buffer.from(text, "utf8"));
}
