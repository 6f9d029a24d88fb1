// etcd's Cluster service. MemberList answers every member of the static cluster (ids are the
// stable ids of the names, see stableId). Membership changes (MemberAdd, MemberRemove,
// MemberUpdate, MemberPromote) answer UNIMPLEMENTED until the runtime exposes joint consensus
// to clients.
import * as grpc from "@grpc/grpc-js";
import { headerToEtcd, type MemberHeader } from "./etcd-mapping.js";

export interface ClusterMember {
  /** uint64 as a decimal string (stableId(name)). */
  readonly id: string;
  readonly name: string;
  readonly peerUrls: readonly string[];
  readonly clientUrls: readonly string[];
}

export interface ClusterBackend {
  members(): readonly ClusterMember[];
  header(): MemberHeader;
  /** The store's revision for the response header; 0 when absent (etcd's MemberList sends 0). */
  revision?(): number;
}

export const MEMBERSHIP_UNSUPPORTED = "membership changes are not supported yet";

export function memberToEtcd(m: ClusterMember): object {
  if (!/^\d+$/.test(m.id)) throw new Error(`cluster-service: member id "${m.id}" is not decimal`);
  return {
    ID: m.id,
    name: m.name,
    peerURLs: [...m.peerUrls],
    clientURLs: [...m.clientUrls],
    isLearner: false,
  };
}

export function clusterHandlers(backend: ClusterBackend): grpc.UntypedServiceImplementation {
  const unsupported = (_call: unknown, callback: grpc.sendUnaryData<unknown>): void =>
    callback({ code: grpc.status.UNIMPLEMENTED, details: MEMBERSHIP_UNSUPPORTED });
  return {
    MemberList: (
      _call: grpc.ServerUnaryCall<unknown, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) => {
      let response: object;
      try {
        response = {
          header: headerToEtcd({ revision: backend.revision?.() ?? 0 }, backend.header()),
          members: backend.members().map(memberToEtcd),
        };
      } catch (e) {
        callback({ code: grpc.status.INTERNAL, details: `ordo: internal error: ${String(e)}` });
        return;
      }
      callback(null, response);
    },
    MemberAdd: unsupported,
    MemberRemove: unsupported,
    MemberUpdate: unsupported,
    MemberPromote: unsupported,
  };
}
