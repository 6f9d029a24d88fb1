// etcd's Cluster service (clientv3 cluster.go): member list, add, remove, update, promote.
//
// Membership changes go to the leader when one is known (a follower would forward them and
// hear the leader's refusal back, at the cost of a round through the log). They
// are retried only when the failure says nothing was applied (no leader, leader changed, a
// change in progress); after an ambiguous failure (a timeout) a retry that finds the change
// already made (the peer URLs exist, the member is gone, the learner is a voter) succeeds.
import * as grpc from "@grpc/grpc-js";
import { MEMBER_NAME_METADATA_KEY } from "../api/index.js";
import { errorOf, KvClientError, unreachable } from "./errors.js";
import { MaintenanceApi } from "./maintenance.js";
import type { RawHeader } from "./wire.js";

export interface MemberInfo {
  /** uint64 as a decimal string. */
  readonly id: string;
  readonly name: string;
  readonly peerUrls: string[];
  readonly clientUrls: string[];
  readonly isLearner: boolean;
}

export interface MemberAddResult {
  readonly member: MemberInfo;
  readonly members: MemberInfo[];
  readonly header: RawHeader;
}

interface RawMember {
  ID: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

const toMember = (m: RawMember): MemberInfo => ({
  id: m.ID,
  name: m.name,
  peerUrls: m.peerURLs,
  clientUrls: m.clientURLs,
  isLearner: m.isLearner,
});

const toRaw = (m: MemberInfo): RawMember => ({
  ID: m.id,
  name: m.name,
  peerURLs: m.peerUrls,
  clientURLs: m.clientUrls,
  isLearner: m.isLearner,
});

/** A failure after which the change certainly was not applied, and may be tried again. */
function retryableChange(e: KvClientError): boolean {
  if (unreachable(e)) return true;
  return (
    e.grpcCode === grpc.status.FAILED_PRECONDITION &&
    /in progress|not yet applied|not yet committed an entry/.test(e.message)
  );
}

/** A failure after which the change may or may not have been applied. */
const ambiguous = (e: KvClientError): boolean =>
  e.grpcCode === grpc.status.DEADLINE_EXCEEDED ||
  (e.grpcCode === grpc.status.UNAVAILABLE &&
    e.message !== "etcdserver: no leader" &&
    e.message !== "etcdserver: leader changed");

export class ClusterApi extends MaintenanceApi {
  async memberList(): Promise<{ members: MemberInfo[]; header: RawHeader }> {
    const res = (await this.call("Cluster", "MemberList", {})) as {
      header: RawHeader;
      members: RawMember[];
    };
    return { header: res.header, members: res.members.map(toMember) };
  }

  /**
   * Adds a member (a learner with `learner`) with these peer URLs. With `name` (Ordo servers)
   * the name is the new member's node id and shows in the member list before it starts.
   */
  async memberAdd(
    peerUrls: readonly string[],
    options: { learner?: boolean; name?: string } = {},
  ): Promise<MemberAddResult> {
    const metadata = new grpc.Metadata();
    if (options.name !== undefined) metadata.set(MEMBER_NAME_METADATA_KEY, options.name);
    const res = (await this.changeMembership(
      "MemberAdd",
      { peerURLs: [...peerUrls], isLearner: options.learner === true },
      metadata,
      async (e) => {
        // The first attempt may have added it: then the member with these peer URLs is it.
        if (!/Peer URLs already exists/.test(e.message)) return undefined;
        const { members, header } = await this.memberList();
        const member = members.find((m) => peerUrls.every((u) => m.peerUrls.includes(u)));
        return member === undefined
          ? undefined
          : { header, member: toRaw(member), members: members.map(toRaw) };
      },
    )) as { header: RawHeader; member: RawMember; members: RawMember[] };
    return { header: res.header, member: toMember(res.member), members: res.members.map(toMember) };
  }

  /** Removes the member with this id (decimal); resolves with the members left. */
  async memberRemove(id: string): Promise<MemberInfo[]> {
    const res = (await this.changeMembership("MemberRemove", { ID: id }, undefined, async (e) => {
      if (!/member not found/.test(e.message)) return undefined;
      return { members: (await this.memberList()).members.map(toRaw) };
    })) as { members: RawMember[] };
    return res.members.map(toMember);
  }

  /** Replaces the peer URLs of the member with this id. */
  async memberUpdate(id: string, peerUrls: readonly string[]): Promise<MemberInfo[]> {
    const res = (await this.changeMembership(
      "MemberUpdate",
      { ID: id, peerURLs: [...peerUrls] },
      undefined,
      async () => undefined,
    )) as { members: RawMember[] };
    return res.members.map(toMember);
  }

  /** Promotes the learner with this id to a voter (refused while it lags the leader). */
  async memberPromote(id: string): Promise<MemberInfo[]> {
    const res = (await this.changeMembership("MemberPromote", { ID: id }, undefined, async (e) => {
      if (!/can only promote a learner member$/.test(e.message)) return undefined;
      const { members } = await this.memberList();
      const m = members.find((x) => x.id === id);
      return m !== undefined && !m.isLearner ? { members: members.map(toRaw) } : undefined;
    })) as { members: RawMember[] };
    return res.members.map(toMember);
  }

  /**
   * One membership change on the leader (or, when none is known, the next endpoint), retried
   * while the failure says nothing was applied. After an ambiguous failure, `recover` reads a
   * later refusal: it returns the answer when the change turns out to be made already.
   */
  private async changeMembership(
    method: string,
    request: unknown,
    metadata: grpc.Metadata | undefined,
    recover: (e: KvClientError) => Promise<unknown>,
  ): Promise<unknown> {
    const attempts = this.attempts();
    let maybeApplied = false;
    let last: KvClientError | undefined;
    for (let i = 0; i < attempts; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** i, 2000)));
      const leader = await this.leaderEndpoint().catch(() => undefined);
      const endpoint = leader?.index ?? this.current % this.channels.length;
      try {
        return await this.callOn(endpoint, "Cluster", method, request, metadata);
      } catch (e) {
        last = errorOf(e);
        if (maybeApplied) {
          const answer = await recover(last);
          if (answer !== undefined) return answer;
        }
        if (!retryableChange(last)) throw last;
        if (ambiguous(last)) maybeApplied = true;
        if (leader === undefined) this.current++;
      }
    }
    throw last ?? new KvClientError(grpc.status.UNAVAILABLE, "no endpoint answered");
  }
}
