// A member's client-facing services, wired to its runtime: the gRPC server with etcd's six v3
// services (KV, Watch, Lease, Cluster, Maintenance, Auth), the KV backend they share, the
// space quota, the auth gate and the database size. member.ts builds the member's durable and
// peer half first (identity, WAL, transport, runtime, membership) and hands it here.
import { serviceDefinition } from "../api/index.js";
import { type KvStateMachine, quotaBytesOf } from "../kv/index.js";
import type { NodeId } from "../raft/index.js";
import type { Logger, RsmNode } from "../rsm/index.js";
import { AuthGate } from "./auth-gate.js";
import { adminOnly, authServiceHandlers } from "./auth-service.js";
import { stableId } from "./cluster-config.js";
import { clusterHandlers } from "./cluster-service.js";
import { kvServiceDefinition } from "./etcd-wire.js";
import { GrpcServer } from "./grpc/server.js";
import { grpcReceiveBytesMax, type KvBackend, kvServiceHandlers } from "./kv-service.js";
import { leaseServiceHandlers } from "./lease-service.js";
import { DbSize, type MaintenanceBackend, maintenanceHandlers } from "./maintenance-service.js";
import type { MemberView } from "./member-records.js";
import type { ClusterMembership } from "./membership.js";
import type { ClientMetrics } from "./metrics.js";
import { proposeAlarm, SpaceQuota } from "./space-quota.js";
import { type WatchService, watchService } from "./watch-service.js";

/** What the services need from the member's durable and peer half. */
export interface ServiceInputs {
  readonly nodeId: NodeId;
  readonly clusterId: string;
  /** member.json's member id ("" for a bootstrap member that has none recorded). */
  readonly recordedMemberId: string;
  readonly runtime: RsmNode;
  readonly kv: KvStateMachine;
  readonly cluster: ClusterMembership;
  /** The members as the replicated records say now. */
  readonly members: () => readonly MemberView[];
  readonly requestBytesMax: number;
  readonly quotaBackendBytes: number;
  readonly authTokenTtlSeconds?: number | undefined;
  readonly bcryptCost?: number | undefined;
  /** --client-cert-auth: a verified client certificate's common name is the user (etcd). */
  readonly clientCertAuth: boolean;
  /** The unsafe testing fault that serves every read locally. */
  readonly unsafeLocalReads: boolean;
  /** Set once the metrics exist (they read the gRPC server's counts). */
  readonly metrics: () => ClientMetrics | undefined;
  readonly log: Logger;
}

export interface MemberServices {
  readonly grpcServer: GrpcServer;
  readonly backend: KvBackend;
  readonly watch: WatchService;
  readonly dbSize: DbSize;
  readonly quota: SpaceQuota;
  readonly authGate: AuthGate;
  /** etcd's member id of this member (decimal), from the records once it has one. */
  readonly ownMemberId: () => string;
}

export function memberServices(m: ServiceInputs): MemberServices {
  const grpcServer = new GrpcServer({
    receiveMessageBytesMax: grpcReceiveBytesMax(m.requestBytesMax),
    observer: {
      started: (path, type) => m.metrics()?.grpcObserver.started(path, type),
      handled: (path, type, code) => m.metrics()?.grpcObserver.handled(path, type, code),
    },
    onError: (what, error) =>
      m.log("warn", "gRPC server: a call or connection failed", { what, error: String(error) }),
  });
  const ownMemberId = (): string =>
    m.cluster.memberIdOf(m.nodeId, m.members()) ??
    (m.recordedMemberId !== "" ? m.recordedMemberId : stableId(m.nodeId));
  const backend = kvBackendOf(m, ownMemberId);
  const dbSize = new DbSize(() => m.kv.store.storedBytes);
  const quota = spaceQuotaOf(m, dbSize, ownMemberId);
  // Who each client is and what it may do: one gate for every service and the gateway.
  const authGate = new AuthGate({
    auth: () => m.kv.store.auth,
    ...(m.authTokenTtlSeconds !== undefined ? { tokenTtlSeconds: m.authTokenTtlSeconds } : {}),
    ...(m.bcryptCost !== undefined ? { bcryptCost: m.bcryptCost } : {}),
    clientCertAuth: m.clientCertAuth,
  });
  const services = { grpcServer, backend, dbSize, quota, authGate, ownMemberId };
  const watch = addServices(m, services);
  return { ...services, watch };
}

function kvBackendOf(m: ServiceInputs, ownMemberId: () => string): KvBackend {
  const { runtime, kv } = m;
  const local = m.unsafeLocalReads;
  return {
    propose: (command, session) => runtime.propose(command, session),
    registerSession: () => runtime.registerSession(),
    read: (query, mode) => runtime.read(query, local ? "serializable" : mode),
    range: (request, mode) =>
      runtime.readWith(local ? "serializable" : mode, () => kv.store.range(request)),
    header: () => ({ clusterId: m.clusterId, memberId: ownMemberId(), raftTerm: runtime.term }),
  };
}

function spaceQuotaOf(m: ServiceInputs, dbSize: DbSize, ownMemberId: () => string): SpaceQuota {
  const quota = new SpaceQuota({
    quotaBytes: quotaBytesOf(m.quotaBackendBytes),
    dbSize: () => dbSize.sample().size,
    alarms: () => m.kv.store.alarms,
    memberId: ownMemberId,
    raiseNoSpace: async (memberId) => {
      m.log("warn", "space quota exceeded; raising the NOSPACE alarm", { memberId });
      await proposeAlarm((c) => m.runtime.propose(c), {
        action: "ACTIVATE",
        memberId,
        alarm: "NOSPACE",
      });
    },
    onRaiseError: (error) =>
      m.log("warn", "cannot raise the NOSPACE alarm", { error: String(error) }),
  });
  // etcd's quotaApplierV3: a write applied here that leaves this member over its quota raises
  // the alarm; proposed after apply, never from inside it (one check per turn, not per write).
  if (quota.quotaBytes !== undefined) m.kv.store.subscribe(() => quota.afterWriteSoon());
  return quota;
}

/** etcd's six v3 services on the gRPC server; the Watch service, which stop() must end. */
function addServices(m: ServiceInputs, s: Omit<MemberServices, "watch">): WatchService {
  const { grpcServer, backend, authGate, quota } = s;
  const onInternalError = (method: string, error: unknown) =>
    m.log("error", "internal error serving a client", { method, error: String(error) });
  const requestBytesMax = m.requestBytesMax;
  grpcServer.addService(
    serviceDefinition("Auth"),
    authServiceHandlers(backend, authGate, { requestBytesMax, onInternalError }),
  );
  grpcServer.addService(
    kvServiceDefinition(),
    kvServiceHandlers(backend, {
      auth: authGate,
      requestBytesMax,
      limits: m.kv.store.limits,
      quota,
      onInternalError,
    }),
  );
  const watch = watchService(
    {
      read: (query, mode) => m.runtime.read(query, mode),
      subscribe: (listener) => m.kv.store.subscribe(listener),
      revision: () => m.kv.store.revision,
      header: backend.header,
    },
    {
      auth: authGate,
      onInternalError: (what, error) =>
        m.log("error", "internal error serving a watch", { what, error: String(error) }),
    },
  );
  grpcServer.addService(serviceDefinition("Watch"), watch.handlers);
  grpcServer.addService(
    serviceDefinition("Lease"),
    leaseServiceHandlers(backend, { auth: authGate, quota, onInternalError }),
  );
  const cluster = m.cluster;
  grpcServer.addService(
    serviceDefinition("Cluster"),
    adminOnly(
      clusterHandlers(
        {
          members: () => cluster.clusterMembers(),
          header: backend.header,
          memberAdd: (peerUrls, o) => cluster.add(peerUrls, o),
          memberRemove: (id) => cluster.remove(id),
          memberUpdate: (id, peerUrls) => cluster.update(id, peerUrls),
          memberPromote: (id) => cluster.promote(id),
        },
        { onInternalError },
      ),
      ["MemberAdd", "MemberRemove", "MemberUpdate", "MemberPromote"],
      authGate,
    ),
  );
  grpcServer.addService(
    serviceDefinition("Maintenance"),
    adminOnly(
      maintenanceHandlers(maintenanceBackendOf(m, s)),
      // etcd 3.4's authMaintenanceServer; Alarm too (etcd 3.4 leaves it unchecked).
      ["Alarm", "Defragment", "Snapshot", "Hash", "HashKV", "MoveLeader"],
      authGate,
    ),
  );
  return watch;
}

function maintenanceBackendOf(
  m: ServiceInputs,
  s: Omit<MemberServices, "watch">,
): MaintenanceBackend {
  const { runtime, kv, cluster } = m;
  const memberIdOf = (id: string): string =>
    cluster.memberIdOf(id as NodeId, m.members()) ?? stableId(id);
  return {
    defragment: () => s.dbSize.defragment(),
    alarm: (request) => proposeAlarm((c) => runtime.propose(c), request),
    hash: () => kv.hash(),
    hashKV: (revision) => {
      const r = kv.store.hashKV({ revision });
      return { hash: r.hash, compactRevision: r.compactRevision, revision: r.header.revision };
    },
    snapshot: () => kv.snapshot(),
    moveLeader: (targetId) => cluster.moveLeader(targetId),
    status: () => {
      const st = runtime.status();
      const size = s.dbSize.sample();
      return {
        clusterId: m.clusterId,
        memberId: s.ownMemberId(),
        leaderId: st.leader === "" ? "0" : memberIdOf(st.leader),
        raftTerm: st.term,
        raftIndex: st.commit,
        raftAppliedIndex: st.applied,
        revision: kv.store.revision,
        dbSize: size.size,
        dbSizeInUse: size.inUse,
        errors:
          st.divergence.length > 0
            ? ["divergence alarm: this replica's state differs from the leader's"]
            : [],
        isLearner: st.confState.learners.includes(m.nodeId),
        alarms: kv.store.alarms.get(),
      };
    },
  };
}
