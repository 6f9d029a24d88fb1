// Who this member is: its cluster id and Raft node id, read from member.json, or decided on the
// first start of a data directory:
//  - bootstrap (--initial-cluster-state new, etcd's default): the cluster id is a stable hash
//    of the token and --initial-cluster (clusterIdOf), the node id is --name, and the first
//    configuration is every --initial-cluster member as a voter. A data directory written
//    before member.json existed (it has a WAL) is such a member too.
//  - joining (--initial-cluster-state existing, empty data directory): the member must already
//    have been added (MemberAdd). It asks the other --initial-cluster members for ClusterInfo
//    (a discovery hello, transport/discovery.ts), finds itself there by its peer URL, and takes
//    the cluster id and node id it reads; it starts with an empty configuration and receives
//    the leader's snapshot.
//
// Either way a new data directory gets a random incarnation (transport/incarnations.ts), and
// neither way lets a member back in under its old id once its data directory was wiped (etcd
// 3.4's isMemberBootstrapped): a member with an empty data directory first asks the other
// --initial-cluster members about itself, and refuses to start (MemberStartError, with how to
// rejoin) when one of them remembers an incarnation for it (it heard from an earlier start) or
// has its published record (it started before). When no peer answers it starts: the peers'
// incarnation check then keeps it out (they refuse its connections and it stops).
import { readdir } from "node:fs/promises";
import { asNodeId } from "../raft/index.js";
import {
  askClusterInfo,
  type ClusterInfo,
  type ClusterInfoMember,
  discoverCluster,
  newIncarnation,
  type PeerTls,
} from "../transport/index.js";
import { type PeerSpec, stableId } from "./cluster-config.js";
import type { MemberFile } from "./member-file.js";
import { readMemberFile } from "./member-file.js";
import { canonicalUrl } from "./member-records.js";

export type InitialClusterState = "new" | "existing";

export interface IdentityOptions {
  readonly name: string;
  readonly dataDir: string;
  readonly walDir: string;
  readonly initialCluster: readonly PeerSpec[];
  readonly clusterToken: string;
  readonly initialClusterState: InitialClusterState;
  readonly discoveryTimeoutMs: number;
  /**
   * How long a bootstrap member with an empty data directory waits for each peer's answer.
   * Default 2000 ms; 0 skips the check (tests of what the peers do when it is bypassed).
   */
  readonly bootstrapCheckTimeoutMs?: number;
  /** Peer TLS: the bootstrap check and discovery ask over TLS. */
  readonly peerTls?: PeerTls | undefined;
  readonly log: (message: string, fields: Record<string, unknown>) => void;
}

/** A member must not start as asked; the message says why and what to do. Not a bug: no stack. */
export class MemberStartError extends Error {
  override readonly name = "MemberStartError";
}

const BOOTSTRAP_CHECK_TIMEOUT_MS = 2000;

/**
 * The refusal of a member whose data directory is empty while `by` knows it from an earlier
 * start: what happened, and the four steps that bring it back as a new member.
 */
export function alreadyBootstrappedMessage(o: {
  readonly name: string;
  readonly dataDir: string;
  readonly peerUrl: string;
  readonly by: string;
  readonly member: ClusterInfoMember;
}): string {
  const { member } = o;
  const id = member.id !== undefined ? BigInt(member.id).toString(16) : o.name;
  const how =
    member.incarnation !== undefined
      ? `remembers it by data directory incarnation ${member.incarnation}`
      : "has its published record";
  return (
    `member ${o.name} (node id ${member.nodeId}) has already been bootstrapped: ${o.by} ${how}, ` +
    `but the data directory ${o.dataDir} is empty (wiped or replaced). A member that forgot its ` +
    "log, term and vote must not rejoin under its old id: it could vote twice in one term. " +
    "To bring it back as a new member:\n" +
    `  1. ordo member remove ${id}        (against a running member, --endpoints URL)\n` +
    `  2. wipe ${o.dataDir}\n` +
    `  3. ordo member add ${o.name} --peer-urls ${o.peerUrl}\n` +
    "  4. start it with --initial-cluster-state existing and the --initial-cluster that " +
    "member add prints"
  );
}

/** Whether a peer's ClusterInfo says this node started before (so its data dir went backwards). */
const knownFromBefore = (m: ClusterInfoMember): boolean =>
  m.incarnation !== undefined || m.started === true;

export const peerUrlOf = (p: PeerSpec): string =>
  `${p.scheme ?? "http"}://${p.host.includes(":") ? `[${p.host}]` : p.host}:${p.port}`;

/** The cluster id every bootstrap member of one --initial-cluster computes. */
export function clusterIdOf(peers: readonly PeerSpec[], token: string): string {
  return stableId(
    `${token}/${peers
      .map((p) => `${p.name}=${p.host}:${p.port}`)
      .sort()
      .join(",")}`,
  );
}

async function hasFiles(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).some((f) => f !== "LOCK");
  } catch (e) {
    if ((e as { code?: unknown }).code === "ENOENT") return false;
    throw e;
  }
}

/**
 * This member's identity: member.json when present (created false), else decided as the top of
 * this file says (created true: the caller writes member.json before it opens the WAL).
 */
export async function resolveIdentity(
  o: IdentityOptions,
): Promise<{ file: MemberFile; created: boolean }> {
  const existing = await readMemberFile(o.dataDir);
  if (existing !== undefined) return { file: existing, created: false };
  const self = o.initialCluster.find((p) => p.name === o.name);
  if (self === undefined) throw new Error(`--name ${o.name} is not in --initial-cluster`);
  const walHasFiles = await hasFiles(o.walDir);
  if (o.initialClusterState === "existing" && !walHasFiles) {
    return { file: { ...(await join(o, self)), incarnation: newIncarnation() }, created: true };
  }
  const clusterId = clusterIdOf(o.initialCluster, o.clusterToken);
  // A WAL without member.json is a data directory from before member.json: not a first start.
  if (!walHasFiles) await checkNotBootstrapped(o, self, clusterId);
  return {
    file: {
      clusterId,
      nodeId: asNodeId(o.name),
      memberId: "",
      bootstrap: true,
      peers: o.initialCluster.map((p) => ({ nodeId: asNodeId(p.name), peerURLs: [peerUrlOf(p)] })),
      incarnation: newIncarnation(),
    },
    created: true,
  };
}

/**
 * etcd's isMemberBootstrapped: an empty data directory about to bootstrap asks each other
 * --initial-cluster member once (in parallel, bounded) whether it knows this member from an
 * earlier start, and throws MemberStartError if one does. Members that do not answer (down,
 * or starting too: a fresh cluster) are no objection.
 */
async function checkNotBootstrapped(
  o: IdentityOptions,
  self: PeerSpec,
  clusterId: string,
): Promise<void> {
  const others = o.initialCluster.filter((p) => p.name !== o.name);
  const timeoutMs = o.bootstrapCheckTimeoutMs ?? BOOTSTRAP_CHECK_TIMEOUT_MS;
  if (others.length === 0 || timeoutMs === 0) return;
  const own = canonicalUrl(peerUrlOf(self));
  const answers = await Promise.allSettled(
    others.map((p) => askClusterInfo({ host: p.host, port: p.port }, timeoutMs, o.peerTls)),
  );
  let answered = 0;
  for (const [i, answer] of answers.entries()) {
    if (answer.status !== "fulfilled") continue;
    const info = answer.value;
    const peer = others[i] as PeerSpec;
    if (info.clusterId !== clusterId) {
      o.log("a peer answered for another cluster; ignoring it", {
        peer: peerUrlOf(peer),
        clusterId: info.clusterId,
      });
      continue;
    }
    answered++;
    const me = info.members.find((m) => m.nodeId === o.name || hasUrl(m, own));
    if (me !== undefined && knownFromBefore(me)) {
      throw new MemberStartError(
        alreadyBootstrappedMessage({
          name: o.name,
          dataDir: o.dataDir,
          peerUrl: peerUrlOf(self),
          by: `${peer.name} (${peerUrlOf(peer)})`,
          member: me,
        }),
      );
    }
  }
  o.log("new data directory: no peer knows this member from an earlier start", {
    asked: others.length,
    answered,
  });
}

function hasUrl(m: ClusterInfoMember, own: string): boolean {
  return m.peerURLs.some((u) => {
    try {
      return canonicalUrl(u) === own;
    } catch {
      return false;
    }
  });
}

async function join(o: IdentityOptions, self: PeerSpec): Promise<MemberFile> {
  const own = canonicalUrl(peerUrlOf(self));
  const others = o.initialCluster.filter((p) => p.name !== o.name);
  if (others.length === 0) {
    throw new Error(
      "--initial-cluster-state existing: --initial-cluster must name at least one running member besides this one",
    );
  }
  const findSelf = (info: ClusterInfo) => info.members.find((m) => hasUrl(m, own));
  o.log("joining an existing cluster: asking its members who we are", {
    peerURL: own,
    asking: others.map(peerUrlOf),
  });
  let info: ClusterInfo;
  try {
    info = await discoverCluster(
      others.map((p) => ({ host: p.host, port: p.port })),
      {
        timeoutMs: o.discoveryTimeoutMs,
        accept: (i) => findSelf(i) !== undefined,
        tls: o.peerTls,
      },
    );
  } catch (e) {
    throw new Error(
      `cannot join the cluster: ${(e as Error).message}. Add this member first ` +
        `(ordo member add ${o.name} --peer-urls ${own}) and make sure --initial-cluster names running members`,
    );
  }
  const me = findSelf(info);
  if (me === undefined) throw new Error("discovery accepted an answer without this member");
  if (knownFromBefore(me)) {
    // Added, started, and now back with an empty data directory: it forgot its state.
    throw new MemberStartError(
      alreadyBootstrappedMessage({
        name: o.name,
        dataDir: o.dataDir,
        peerUrl: peerUrlOf(self),
        by: "the cluster",
        member: me,
      }),
    );
  }
  o.log("found this member in the cluster", {
    clusterId: info.clusterId,
    nodeId: me.nodeId,
    memberId: me.id,
  });
  return {
    clusterId: info.clusterId,
    nodeId: me.nodeId,
    memberId: me.id ?? "",
    bootstrap: false,
    peers: info.members.map((m) => ({ nodeId: m.nodeId, peerURLs: [...m.peerURLs] })),
  };
}
