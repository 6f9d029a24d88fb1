// etcd's Maintenance service, the part the cluster needs first: Status (who leads, term,
// indexes, alarms). etcdctl's `endpoint status` and Ordo's client use it to find the leader.
// The rest of the service (Hash, HashKV, Snapshot, ...) answers UNIMPLEMENTED for now.
import * as grpc from "@grpc/grpc-js";

export interface MemberStatus {
  readonly clusterId: string;
  readonly memberId: string;
  /** The leader's member id, "0" when none is known. */
  readonly leaderId: string;
  readonly raftTerm: number;
  readonly raftIndex: number;
  readonly raftAppliedIndex: number;
  readonly revision: number;
  readonly dbSize: number;
  readonly errors: readonly string[];
}

export interface MaintenanceBackend {
  status(): MemberStatus;
}

export const ORDO_VERSION = "3.4.0-ordo";

export function maintenanceHandlers(
  backend: MaintenanceBackend,
): grpc.UntypedServiceImplementation {
  const unimplemented = (_call: unknown, callback: grpc.sendUnaryData<unknown>): void =>
    callback({ code: grpc.status.UNIMPLEMENTED, details: "not implemented by this Ordo version" });
  return {
    Status: (
      _call: grpc.ServerUnaryCall<unknown, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) => {
      try {
        const s = backend.status();
        callback(null, {
          header: {
            cluster_id: s.clusterId,
            member_id: s.memberId,
            revision: String(s.revision),
            raft_term: String(s.raftTerm),
          },
          version: ORDO_VERSION,
          dbSize: String(s.dbSize),
          leader: s.leaderId,
          raftIndex: String(s.raftIndex),
          raftTerm: String(s.raftTerm),
          raftAppliedIndex: String(s.raftAppliedIndex),
          errors: [...s.errors],
          dbSizeInUse: String(s.dbSize),
          isLearner: false,
        });
      } catch (e) {
        callback({ code: grpc.status.INTERNAL, details: String(e) });
      }
    },
    Alarm: unimplemented,
    Defragment: unimplemented,
    Hash: unimplemented,
    HashKV: unimplemented,
    Snapshot: (call: grpc.ServerWritableStream<unknown, unknown>) =>
      call.emit("error", {
        code: grpc.status.UNIMPLEMENTED,
        details: "not implemented by this Ordo version",
      }),
    MoveLeader: unimplemented,
    Downgrade: unimplemented,
  };
}
