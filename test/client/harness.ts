// Servers for the client and CLI tests, all on 127.0.0.1, each closed by its close():
// - startMember(): a real single-member Ordo cluster (Member.start in this process: WAL in a
//   temp dir, real Raft, the gRPC services member.ts registers). A single voter elects itself;
//   ready once Maintenance.Status names a leader.
// - startServices(): a GrpcServer with KV, Watch, Lease and this package's Cluster and
//   Maintenance services over an in-process backend (ClockBackend: a KvStateMachine applied
//   directly), for the services member.ts does not register yet. Several servers may share one
//   backend, standing in for members of one cluster.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KvClient } from "../../src/client/index.js";
import { type ClusterMember, clusterHandlers } from "../../src/server/cluster-service.js";
import { kvServiceDefinition } from "../../src/server/etcd-wire.js";
import { GrpcServer } from "../../src/server/grpc/server.js";
import { grpcReceiveBytesMax, kvServiceHandlers } from "../../src/server/kv-service.js";
import { leaseServiceHandlers } from "../../src/server/lease-service.js";
import { maintenanceHandlers } from "../../src/server/maintenance-service.js";
import { Member } from "../../src/server/member.js";
import { serviceDefinition } from "../../src/server/proto.js";
import { type WatchService, watchService } from "../../src/server/watch-service.js";
import { CLUSTER_ID, MEMBER_ID, RAFT_TERM } from "../server/kv-harness.js";
import { ClockBackend, withTimeout } from "../server/watch-lease-harness.js";

export { ClockBackend, withTimeout };

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface RunningMember {
  readonly endpoint: string;
  readonly member: Member;
  close(): Promise<void>;
}

const READY_ATTEMPTS = 200;

export async function startMember(): Promise<RunningMember> {
  const dataDir = mkdtempSync(join(tmpdir(), "ordo-client-test-"));
  const peerPort = await freePort();
  const member = await Member.start({
    name: "n1",
    dataDir,
    clientHost: "127.0.0.1",
    clientPort: 0,
    initialCluster: [{ name: "n1", host: "127.0.0.1", port: peerPort }],
    clusterToken: "client-test",
    tickMs: 10,
    logger: () => {},
  });
  const endpoint = `127.0.0.1:${member.clientPort}`;
  const close = async (): Promise<void> => {
    await member.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  // A single voter elects itself within a few election timeouts; wait for it (bounded).
  const c = new KvClient([endpoint], { timeoutMs: 1000, attempts: 1 });
  try {
    for (let i = 0; ; i++) {
      const [s] = await c.status();
      if (s?.ok && s.value.leaderId !== "0") break;
      if (i >= READY_ATTEMPTS) {
        await close();
        throw new Error("the member elected no leader");
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    c.close();
  }
  return { endpoint, member, close };
}

export const MEMBERS: readonly ClusterMember[] = [
  {
    id: MEMBER_ID,
    name: "n1",
    peerUrls: ["http://127.0.0.1:2380"],
    clientUrls: ["http://127.0.0.1:2379"],
  },
  { id: "42", name: "n2", peerUrls: ["http://127.0.0.1:22380"], clientUrls: [] },
];

export interface ServicesServer {
  readonly endpoint: string;
  readonly backend: ClockBackend;
  /** Ends open watch streams (status OK) and shuts the server down. */
  close(): Promise<void>;
}

export async function startServices(
  backend: ClockBackend = new ClockBackend(),
  options: { diverged?: () => boolean } = {},
): Promise<ServicesServer> {
  const server = new GrpcServer({ receiveMessageBytesMax: grpcReceiveBytesMax(1.5 * 1024 * 1024) });
  server.addService(kvServiceDefinition(), kvServiceHandlers(backend));
  const watch: WatchService = watchService(backend);
  server.addService(serviceDefinition("Watch"), watch.handlers);
  server.addService(serviceDefinition("Lease"), leaseServiceHandlers(backend));
  server.addService(
    serviceDefinition("Cluster"),
    clusterHandlers({ members: () => MEMBERS, header: () => backend.header() }),
  );
  server.addService(
    serviceDefinition("Maintenance"),
    maintenanceHandlers({
      status: () => ({
        clusterId: CLUSTER_ID,
        memberId: MEMBER_ID,
        leaderId: MEMBER_ID,
        raftTerm: RAFT_TERM,
        raftIndex: 7,
        raftAppliedIndex: 7,
        revision: backend.revision(),
        dbSize: 0,
        errors: options.diverged?.() ? ["divergence alarm"] : [],
      }),
      hash: () => backend.sm.hash(),
      hashKV: (revision) => {
        const r = backend.sm.store.hashKV({ revision });
        return { hash: r.hash, compactRevision: r.compactRevision, revision: r.header.revision };
      },
      snapshot: () => backend.sm.snapshot(),
    }),
  );
  const port = await server.listen(0, "127.0.0.1");
  return {
    endpoint: `127.0.0.1:${port}`,
    backend,
    close: async () => {
      watch.close();
      await server.shutdown(2000);
    },
  };
}
