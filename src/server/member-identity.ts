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
import { readdir } from "node:fs/promises";
import { asNodeId } from "../raft/index.js";
import { type ClusterInfo, discoverCluster } from "../transport/index.js";
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
  readonly log: (message: string, fields: Record<string, unknown>) => void;
}

export const peerUrlOf = (p: PeerSpec): string =>
  `http://${p.host.includes(":") ? `[${p.host}]` : p.host}:${p.port}`;

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
  if (o.initialClusterState === "existing" && !(await hasFiles(o.walDir))) {
    return { file: await join(o, self), created: true };
  }
  return {
    file: {
      clusterId: clusterIdOf(o.initialCluster, o.clusterToken),
      nodeId: asNodeId(o.name),
      memberId: "",
      bootstrap: true,
      peers: o.initialCluster.map((p) => ({ nodeId: asNodeId(p.name), peerURLs: [peerUrlOf(p)] })),
    },
    created: true,
  };
}

async function join(o: IdentityOptions, self: PeerSpec): Promise<MemberFile> {
  const own = canonicalUrl(peerUrlOf(self));
  const others = o.initialCluster.filter((p) => p.name !== o.name);
  if (others.length === 0) {
    throw new Error(
      "--initial-cluster-state existing: --initial-cluster must name at least one running member besides this one",
    );
  }
  const findSelf = (info: ClusterInfo) =>
    info.members.find((m) =>
      m.peerURLs.some((u) => {
        try {
          return canonicalUrl(u) === own;
        } catch {
          return false;
        }
      }),
    );
  o.log("joining an existing cluster: asking its members who we are", {
    peerURL: own,
    asking: others.map(peerUrlOf),
  });
  let info: ClusterInfo;
  try {
    info = await discoverCluster(
      others.map((p) => ({ host: p.host, port: p.port })),
      { timeoutMs: o.discoveryTimeoutMs, accept: (i) => findSelf(i) !== undefined },
    );
  } catch (e) {
    throw new Error(
      `cannot join the cluster: ${(e as Error).message}. Add this member first ` +
        `(ordo member add ${o.name} --peer-urls ${own}) and make sure --initial-cluster names running members`,
    );
  }
  const me = findSelf(info);
  if (me === undefined) throw new Error("discovery accepted an answer without this member");
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
