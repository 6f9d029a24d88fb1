// The member's side of etcd's membership API: MemberAdd, MemberRemove, MemberUpdate,
// MemberPromote and MoveLeader decided against the runtime's replicated membership
// (RsmNode.membership(): configuration + member records, see member-records.ts) and carried out
// through the log (changeMembership, updateMemberContext, transferLeadership).
//
// Checks made here, before anything is proposed, answer with etcd's errors: malformed or
// already used peer URLs, an unknown member, promoting a member that is no learner. What only
// the leader's core can judge (a change already in progress, a lagging learner, no voter left)
// comes back as the runtime's PROPOSAL_DROPPED and is mapped by clusterStatusOf. These checks
// read this member's applied membership, so two additions racing through two members may both
// pass them; as etcd does, the record is checked again when the entry applies, on every replica
// in log order (member-records.ts recordConflict, RsmNode's validateMembership), and the later
// one is refused there.
import { randomBytes } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import type { ConfChange, NodeId } from "../raft/index.js";
import {
  type ClusterMember,
  ETCD_ERRORS,
  EtcdError,
  type MemberAddOptions,
} from "./cluster-service.js";
import {
  canonicalUrl,
  checkUrls,
  encodeMemberRecord,
  generatedNodeId,
  generateMemberId,
  MEMBER_NAME_PATTERN,
  type MemberRecord,
  MemberRecordError,
  type MembershipView,
  type MemberView,
  memberNodeIds,
  membersOf,
} from "./member-records.js";

/** What this layer needs of the runtime (RsmNode satisfies it). */
export interface MembershipNode {
  readonly id: NodeId;
  readonly isLeader: boolean;
  membership(): MembershipView;
  changeMembership(
    cc: ConfChange,
    contexts?: ReadonlyMap<NodeId, Uint8Array>,
    timeoutMs?: number,
  ): Promise<MembershipView>;
  updateMemberContext(id: NodeId, context: Uint8Array, timeoutMs?: number): Promise<MembershipView>;
  transferLeadership(to: NodeId, timeoutMs?: number): Promise<void>;
}

export interface ClusterMembershipOptions {
  readonly node: MembershipNode;
  readonly clusterId: string;
  /** Peer URLs of members without a replicated record (the bootstrap configuration). */
  readonly fallbackPeerUrls: () => ReadonlyMap<NodeId, readonly string[]>;
  /** This member's client URL, shown for it until its record says otherwise. */
  readonly ownClientUrl?: () => string;
  /** Node ids known to have been removed: never given to a new member. */
  readonly isRemovedNode?: (id: NodeId) => boolean;
  /** Deadline of each change. Default 10 000 ms. */
  readonly timeoutMs?: number;
  readonly logger?: (message: string, fields: Record<string, unknown>) => void;
}

/** The differences between two memberships that the transport and identity care about. */
export interface MembershipDiff {
  /** Node ids that were members and are no longer. */
  readonly left: readonly NodeId[];
  /** Node ids that are members now and were not. */
  readonly joined: readonly NodeId[];
}

export function diffMembership(before: MembershipView, after: MembershipView): MembershipDiff {
  const was = new Set(memberNodeIds(before.confState));
  const now = new Set(memberNodeIds(after.confState));
  return {
    left: [...was].filter((id) => !now.has(id)),
    joined: [...now].filter((id) => !was.has(id)),
  };
}

export class ClusterMembership {
  private readonly node: MembershipNode;
  private readonly timeoutMs: number;
  /** etcd ids of members seen removed (in this process): never drawn again. */
  private readonly removedMemberIds = new Set<string>();
  private last: MembershipView | undefined;

  constructor(private readonly options: ClusterMembershipOptions) {
    this.node = options.node;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** Every member with its record, sorted by member id. */
  members(membership: MembershipView = this.node.membership()): MemberView[] {
    return membersOf(membership, this.options.fallbackPeerUrls(), (nodeId, error) =>
      this.options.logger?.("undecodable member record; using the bootstrap fallback", {
        nodeId,
        error: String(error),
      }),
    );
  }

  /** The members as the Cluster service answers them. */
  clusterMembers(membership?: MembershipView): ClusterMember[] {
    return this.members(membership).map((m) => this.toClusterMember(m));
  }

  /** etcd's member id of a Raft node id: its record's, else the bootstrap id. */
  memberIdOf(nodeId: NodeId, members: readonly MemberView[] = this.members()): string | undefined {
    return members.find((m) => m.nodeId === nodeId)?.id;
  }

  /** Notes a new membership: remembers the ids of members that left. Returns what changed. */
  observe(membership: MembershipView): MembershipDiff {
    const before = this.last;
    this.last = membership;
    if (before === undefined) return { left: [], joined: memberNodeIds(membership.confState) };
    const diff = diffMembership(before, membership);
    if (diff.left.length > 0) {
      const old = this.members(before);
      for (const id of diff.left) {
        const memberId = this.memberIdOf(id, old);
        if (memberId !== undefined) this.removedMemberIds.add(memberId);
      }
    }
    return diff;
  }

  async add(
    peerUrls: readonly string[],
    options: MemberAddOptions,
  ): Promise<{ member: ClusterMember; members: ClusterMember[] }> {
    const urls = this.checkedUrls(peerUrls);
    const membership = this.node.membership();
    const members = this.members(membership);
    this.refuseUsedUrls(urls, members, undefined);
    const name = options.name;
    if (name !== undefined) {
      if (!MEMBER_NAME_PATTERN.test(name))
        throw new EtcdError({
          code: grpc.status.INVALID_ARGUMENT,
          details: `etcdserver: bad member name ${JSON.stringify(name)} (1 to 64 of A-Z a-z 0-9 _ . -)`,
        });
      if (members.some((m) => m.name === name || m.nodeId === name))
        throw new EtcdError({
          code: grpc.status.FAILED_PRECONDITION,
          details: `etcdserver: member name ${JSON.stringify(name)} already exists`,
        });
    }
    const nodeIds = new Set<string>(members.map((m) => m.nodeId));
    const id = generateMemberId(
      this.options.clusterId,
      urls,
      membership.index,
      (candidate) =>
        members.some((m) => m.id === candidate) ||
        this.removedMemberIds.has(candidate) ||
        nodeIds.has(generatedNodeId(candidate)),
      () => randomBytes(8).toString("hex"),
    );
    // A name that a removed member had as its node id is not reused as one: that node may
    // still be around, and members refuse it as removed.
    const nodeId =
      name !== undefined && this.options.isRemovedNode?.(name as NodeId) !== true
        ? (name as NodeId)
        : generatedNodeId(id);
    const record: MemberRecord = { id, name: name ?? "", peerURLs: urls, clientURLs: [] };
    const cc: ConfChange = {
      transition: "Auto",
      changes: [{ type: options.isLearner ? "AddLearner" : "AddVoter", node: nodeId }],
    };
    this.options.logger?.("adding a member", {
      nodeId,
      id,
      peerURLs: urls,
      learner: options.isLearner,
    });
    const after = await this.node.changeMembership(
      cc,
      new Map([[nodeId, encodeMemberRecord(record)]]),
      this.timeoutMs,
    );
    const list = this.members(after);
    const added = list.find((m) => m.nodeId === nodeId) ?? {
      ...record,
      nodeId,
      isLearner: options.isLearner,
      replicated: true,
    };
    return {
      member: this.toClusterMember(added),
      members: list.map((m) => this.toClusterMember(m)),
    };
  }

  async remove(id: string): Promise<ClusterMember[]> {
    const member = this.find(id);
    this.options.logger?.("removing a member", { nodeId: member.nodeId, id });
    const after = await this.node.changeMembership(
      { transition: "Auto", changes: [{ type: "RemoveNode", node: member.nodeId }] },
      undefined,
      this.timeoutMs,
    );
    return this.clusterMembers(after);
  }

  async update(id: string, peerUrls: readonly string[]): Promise<ClusterMember[]> {
    const member = this.find(id);
    const urls = this.checkedUrls(peerUrls);
    this.refuseUsedUrls(urls, this.members(), member.nodeId);
    const record: MemberRecord = {
      id: member.id,
      name: member.name,
      peerURLs: urls,
      clientURLs: member.clientURLs,
    };
    const after = await this.node.updateMemberContext(
      member.nodeId,
      encodeMemberRecord(record),
      this.timeoutMs,
    );
    return this.clusterMembers(after);
  }

  async promote(id: string): Promise<ClusterMember[]> {
    const member = this.find(id);
    if (!member.isLearner) throw new EtcdError(ETCD_ERRORS.memberNotLearner);
    const after = await this.node.changeMembership(
      { transition: "Auto", changes: [{ type: "AddVoter", node: member.nodeId }] },
      undefined,
      this.timeoutMs,
    );
    return this.clusterMembers(after);
  }

  /** etcd's MoveLeader: only the leader moves leadership, and only to a voter. */
  async moveLeader(targetId: string): Promise<void> {
    const target = this.members().find((m) => m.id === targetId);
    if (target === undefined || target.isLearner)
      throw new EtcdError(ETCD_ERRORS.badLeaderTransferee);
    if (!this.node.isLeader) throw new EtcdError(ETCD_ERRORS.notLeader);
    if (target.nodeId === this.node.id) return;
    try {
      await this.node.transferLeadership(target.nodeId, this.timeoutMs);
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      if (code === "NOT_LEADER") throw new EtcdError(ETCD_ERRORS.notLeader);
      if (code === "PROPOSAL_DROPPED") throw new EtcdError(ETCD_ERRORS.badLeaderTransferee);
      if (code === "TIMEOUT") throw new EtcdError(ETCD_ERRORS.leaderTransferTimeout);
      throw error;
    }
  }

  private find(id: string): MemberView {
    const member = this.members().find((m) => m.id === id);
    if (member === undefined) throw new EtcdError(ETCD_ERRORS.memberNotFound);
    return member;
  }

  private checkedUrls(peerUrls: readonly string[]): string[] {
    try {
      return checkUrls(peerUrls, "peerURLs");
    } catch (error) {
      if (error instanceof MemberRecordError) throw new EtcdError(ETCD_ERRORS.memberBadUrls);
      throw error;
    }
  }

  /** etcd refuses a peer URL that another member already has. */
  private refuseUsedUrls(
    urls: readonly string[],
    members: readonly MemberView[],
    except: NodeId | undefined,
  ): void {
    const wanted = new Set(urls);
    for (const m of members) {
      if (m.nodeId === except) continue;
      for (const u of m.peerURLs) {
        let canonical: string;
        try {
          canonical = canonicalUrl(u);
        } catch {
          continue;
        }
        if (wanted.has(canonical)) throw new EtcdError(ETCD_ERRORS.peerUrlExist);
      }
    }
  }

  private toClusterMember(m: MemberView): ClusterMember {
    const own = m.nodeId === this.node.id && m.clientURLs.length === 0;
    const ownUrl = own ? (this.options.ownClientUrl?.() ?? "") : "";
    // A member added to the log but not yet started has published no client URL: etcd lists
    // it with no name (etcdctl: "unstarted"), even when `ordo member add NAME` recorded one.
    const unstarted = m.replicated && m.clientURLs.length === 0 && !own;
    return {
      id: m.id,
      name: unstarted ? "" : m.name,
      peerUrls: [...m.peerURLs],
      clientUrls: ownUrl !== "" ? [ownUrl] : [...m.clientURLs],
      isLearner: m.isLearner,
    };
  }
}
