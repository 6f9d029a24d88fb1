// etcd's Cluster service: MemberList, and membership changes through the log — MemberAdd
// (a voter, or a learner with isLearner), MemberRemove, MemberUpdate (peer URLs) and
// MemberPromote (learner → voter). The backend (member.ts, through membership.ts) decides; this
// file turns etcd messages into calls and every failure into the status and message etcd's
// rpctypes give, so etcd clients (etcdctl, clientv3) read them as they read etcd's own.
//
// Ordo extension: MemberAdd with gRPC metadata `ordo-member-name: NAME` (what `ordo member add
// NAME` sends) makes NAME the new member's Raft node id and name; etcd's MemberAdd without it
// gets a generated node id, and the name stays empty until the member starts and publishes it.
import * as grpc from "@grpc/grpc-js";
import { MEMBER_NAME_METADATA_KEY } from "../api/index.js";
import { headerToEtcd, type MemberHeader } from "./etcd-mapping.js";

export interface ClusterMember {
  /** uint64 as a decimal string. */
  readonly id: string;
  readonly name: string;
  readonly peerUrls: readonly string[];
  readonly clientUrls: readonly string[];
  readonly isLearner?: boolean;
}

export interface MemberAddOptions {
  readonly isLearner: boolean;
  /** The ordo-member-name metadata, when given. */
  readonly name?: string;
}

/**
 * What the service reads and asks. A missing mutation answers UNIMPLEMENTED. Mutations resolve
 * once the change is applied on the serving member, with the members after it; they reject
 * with an EtcdError (validation) or the runtime's error (NotLeader, Timeout, Stopped, RsmError
 * PROPOSAL_DROPPED), which clusterStatusOf maps.
 */
export interface ClusterBackend {
  members(): readonly ClusterMember[];
  header(): MemberHeader;
  memberAdd?(
    peerUrls: readonly string[],
    options: MemberAddOptions,
  ): Promise<{ member: ClusterMember; members: readonly ClusterMember[] }>;
  memberRemove?(id: string): Promise<readonly ClusterMember[]>;
  memberUpdate?(id: string, peerUrls: readonly string[]): Promise<readonly ClusterMember[]>;
  memberPromote?(id: string): Promise<readonly ClusterMember[]>;
}

export const MEMBERSHIP_UNSUPPORTED = "membership changes are not supported by this server";

export interface EtcdStatus {
  readonly code: grpc.status;
  readonly details: string;
}

/** etcd's rpctypes errors that membership changes and MoveLeader answer with. */
export const ETCD_ERRORS = {
  memberExist: s(grpc.status.FAILED_PRECONDITION, "etcdserver: member ID already exist"),
  peerUrlExist: s(grpc.status.FAILED_PRECONDITION, "etcdserver: Peer URLs already exists"),
  memberBadUrls: s(grpc.status.INVALID_ARGUMENT, "etcdserver: given member URLs are invalid"),
  memberNotFound: s(grpc.status.NOT_FOUND, "etcdserver: member not found"),
  memberNotLearner: s(
    grpc.status.FAILED_PRECONDITION,
    "etcdserver: can only promote a learner member",
  ),
  learnerNotReady: s(
    grpc.status.FAILED_PRECONDITION,
    "etcdserver: can only promote a learner member which is in sync with leader",
  ),
  noLeader: s(grpc.status.UNAVAILABLE, "etcdserver: no leader"),
  notLeader: s(grpc.status.FAILED_PRECONDITION, "etcdserver: not leader"),
  leaderChanged: s(grpc.status.UNAVAILABLE, "etcdserver: leader changed"),
  stopped: s(grpc.status.UNAVAILABLE, "etcdserver: server stopped"),
  removed: s(grpc.status.UNAVAILABLE, "etcdserver: this member was removed from the cluster"),
  timeout: s(grpc.status.UNAVAILABLE, "etcdserver: request timed out"),
  badLeaderTransferee: s(grpc.status.FAILED_PRECONDITION, "etcdserver: bad leader transferee"),
  // etcd's ErrTimeoutLeaderTransfer (etcd sends it as UNKNOWN; it is transient: UNAVAILABLE).
  leaderTransferTimeout: s(
    grpc.status.UNAVAILABLE,
    "etcdserver: request timed out, leader transfer took too long",
  ),
} as const;

function s(code: grpc.status, details: string): EtcdStatus {
  return { code, details };
}

/** A failure with the exact status etcd would answer. */
export class EtcdError extends Error {
  override readonly name = "EtcdError";
  constructor(readonly status: EtcdStatus) {
    super(status.details);
  }
}

function fieldOf(error: unknown, field: "code" | "message" | "leaderHint"): string | undefined {
  if (error === null || typeof error !== "object") return undefined;
  const value = (error as Record<string, unknown>)[field];
  return typeof value === "string" ? value : undefined;
}

const prefixed = (message: string): string =>
  message.startsWith("etcdserver: ") ? message : `etcdserver: ${message}`;

/**
 * The status for a failed membership change. The runtime's PROPOSAL_DROPPED carries the core's
 * reason, read here for the cases etcd has a name for (a lagging learner, a member that is not
 * there); the others (a change already in progress, a change that would leave no voter) keep
 * the core's words as FAILED_PRECONDITION — nothing was applied.
 */
export function clusterStatusOf(error: unknown): EtcdStatus {
  if (error instanceof EtcdError) return error.status;
  const code = fieldOf(error, "code");
  const message = fieldOf(error, "message") ?? String(error);
  switch (code) {
    case "NOT_LEADER":
      return fieldOf(error, "leaderHint") ? ETCD_ERRORS.leaderChanged : ETCD_ERRORS.noLeader;
    case "NO_LEADER":
      return ETCD_ERRORS.noLeader;
    case "TIMEOUT":
      return ETCD_ERRORS.timeout;
    case "STOPPED":
      return ETCD_ERRORS.stopped;
    case "REMOVED":
      return ETCD_ERRORS.removed;
    case "LEADER_CHANGING":
      return ETCD_ERRORS.leaderChanged;
    case "PROPOSAL_DROPPED":
      if (/not in sync with the leader|entries behind/.test(message))
        return ETCD_ERRORS.learnerNotReady;
      if (/is not a member/.test(message)) return ETCD_ERRORS.memberNotFound;
      return s(grpc.status.FAILED_PRECONDITION, prefixed(message));
    case "INVALID_ARGUMENT":
      // Refused when applied (member-records.ts recordConflict): etcd's words and codes.
      if (message === ETCD_ERRORS.peerUrlExist.details) return ETCD_ERRORS.peerUrlExist;
      if (message === ETCD_ERRORS.memberExist.details) return ETCD_ERRORS.memberExist;
      if (/^etcdserver: member name .* already exists$/.test(message))
        return s(grpc.status.FAILED_PRECONDITION, message);
      return s(grpc.status.INVALID_ARGUMENT, prefixed(message));
    default:
      return s(grpc.status.INTERNAL, `ordo: internal error: ${message}`);
  }
}

export function memberToEtcd(m: ClusterMember): object {
  if (!/^\d+$/.test(m.id)) throw new Error(`cluster-service: member id "${m.id}" is not decimal`);
  return {
    ID: m.id,
    name: m.name,
    peerURLs: [...m.peerUrls],
    clientURLs: [...m.clientUrls],
    isLearner: m.isLearner === true,
  };
}

/** A request's uint64 member id (a decimal string with longs: String); 0 names no member. */
export function memberIdOf(request: unknown, field = "ID"): string {
  const raw =
    typeof request === "object" && request !== null
      ? (request as Record<string, unknown>)[field]
      : undefined;
  const text = raw === undefined || raw === null ? "0" : String(raw);
  if (!/^\d{1,20}$/.test(text) || BigInt(text) >= 2n ** 64n)
    throw new EtcdError(s(grpc.status.INVALID_ARGUMENT, `etcdserver: bad member id "${text}"`));
  return BigInt(text).toString();
}

function peerUrlsOf(request: unknown): string[] {
  const raw =
    typeof request === "object" && request !== null
      ? (request as Record<string, unknown>).peerURLs
      : undefined;
  if (!Array.isArray(raw) || raw.length === 0 || !raw.every((u) => typeof u === "string"))
    throw new EtcdError(ETCD_ERRORS.memberBadUrls);
  return raw as string[];
}

export function clusterHandlers(
  backend: ClusterBackend,
  options: { onInternalError?: (method: string, error: unknown) => void } = {},
): grpc.UntypedServiceImplementation {
  // etcd's ClusterServer header has no revision (cluster id, member id, Raft term only).
  const header = (): object => headerToEtcd({ revision: 0 }, backend.header());
  /** A unary handler: every outcome reaches the callback once; nothing escapes into grpc-js. */
  const unary =
    (method: string, answer: (call: grpc.ServerUnaryCall<unknown, unknown>) => Promise<object>) =>
    (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      answer(call).then(
        (response) => callback(null, response),
        (error: unknown) => {
          const status = clusterStatusOf(error);
          if (status.code === grpc.status.INTERNAL) {
            try {
              options.onInternalError?.(method, error);
            } catch {
              // A logger's failure must not turn into the caller's.
            }
          }
          callback({ code: status.code, details: status.details });
        },
      );
    };
  const unsupported = (): never => {
    throw new EtcdError(s(grpc.status.UNIMPLEMENTED, MEMBERSHIP_UNSUPPORTED));
  };
  return {
    MemberList: unary("MemberList", async () => ({
      header: header(),
      members: backend.members().map(memberToEtcd),
    })),
    MemberAdd: unary("MemberAdd", async (call) => {
      if (backend.memberAdd === undefined) return unsupported();
      const peerUrls = peerUrlsOf(call.request);
      const isLearner = (call.request as { isLearner?: unknown } | null)?.isLearner === true;
      const nameValue = call.metadata?.get(MEMBER_NAME_METADATA_KEY)[0];
      if (nameValue !== undefined && typeof nameValue !== "string")
        throw new EtcdError(s(grpc.status.INVALID_ARGUMENT, "etcdserver: bad member name"));
      const r = await backend.memberAdd(peerUrls, {
        isLearner,
        ...(nameValue !== undefined ? { name: nameValue } : {}),
      });
      return {
        header: header(),
        member: memberToEtcd(r.member),
        members: r.members.map(memberToEtcd),
      };
    }),
    MemberRemove: unary("MemberRemove", async (call) => {
      if (backend.memberRemove === undefined) return unsupported();
      const members = await backend.memberRemove(memberIdOf(call.request));
      return { header: header(), members: members.map(memberToEtcd) };
    }),
    MemberUpdate: unary("MemberUpdate", async (call) => {
      if (backend.memberUpdate === undefined) return unsupported();
      const id = memberIdOf(call.request);
      const members = await backend.memberUpdate(id, peerUrlsOf(call.request));
      return { header: header(), members: members.map(memberToEtcd) };
    }),
    MemberPromote: unary("MemberPromote", async (call) => {
      if (backend.memberPromote === undefined) return unsupported();
      const members = await backend.memberPromote(memberIdOf(call.request));
      return { header: header(), members: members.map(memberToEtcd) };
    }),
  };
}
