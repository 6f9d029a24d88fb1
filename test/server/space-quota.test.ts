// The space quota at the API layer (space-quota.ts, etcd 3.4's quotaKVServer and
// quotaLeaseServer) on a real gRPC server with the KV, Lease and Maintenance services over one
// state machine: a write that would take dbSize past the quota is refused with etcd's
// ErrGRPCNoSpace (RESOURCE_EXHAUSTED "etcdserver: mvcc: database space exceeded") and the member
// proposes AlarmRequest{ACTIVATE, NOSPACE} under its own id; from then on apply refuses every
// put (even one that fits); reads and deletes work; Alarm and Status list it; compact + defrag +
// DEACTIVATE bring writes back, and a write still over the quota raises the alarm again.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { serviceClient, serviceDefinition } from "../../src/api/index.js";
import { decodeCommand, encodeCommand, KvStateMachine } from "../../src/kv/index.js";
import { kvServiceDefinition } from "../../src/server/etcd-wire.js";
import { GrpcServer } from "../../src/server/grpc/server.js";
import { kvServiceHandlers } from "../../src/server/kv-service.js";
import { leaseServiceHandlers } from "../../src/server/lease-service.js";
import { DbSize, maintenanceHandlers } from "../../src/server/maintenance-service.js";
import { proposeAlarm, SpaceQuota } from "../../src/server/space-quota.js";
import {
  b,
  CLUSTER_ID,
  KvTestClient,
  MEMBER_ID,
  RAFT_TERM,
  rejectsWithStatus,
  StateMachineBackend,
} from "./kv-harness.js";

const NO_SPACE = "etcdserver: mvcc: database space exceeded";
const QUOTA_BYTES = 8 * 1024;

/** The backend, remembering the type of every proposed command. */
class RecordingBackend extends StateMachineBackend {
  readonly proposed: string[] = [];
  override async propose(command: Uint8Array): Promise<Uint8Array> {
    const decoded = decodeCommand(command);
    this.proposed.push(decoded.type === "WithAuth" ? decoded.command.type : decoded.type);
    return super.propose(command);
  }
}

interface Served {
  readonly backend: RecordingBackend;
  readonly dbSize: DbSize;
  readonly kv: KvTestClient;
  readonly lease: KvTestClient;
  readonly maintenance: KvTestClient;
  close(): Promise<void>;
}

async function serve(quotaBytes: number | undefined): Promise<Served> {
  const backend = new RecordingBackend(new KvStateMachine());
  const store = backend.sm.store;
  const dbSize = new DbSize(() => store.storedBytes);
  const quota = new SpaceQuota({
    quotaBytes,
    dbSize: () => dbSize.sample().size,
    alarms: () => store.alarms,
    memberId: () => MEMBER_ID,
    raiseNoSpace: async (memberId) => {
      await proposeAlarm((c) => backend.propose(c), {
        action: "ACTIVATE",
        memberId,
        alarm: "NOSPACE",
      });
    },
  });
  const server = new GrpcServer({ receiveMessageBytesMax: 4 * 1024 * 1024 });
  server.addService(kvServiceDefinition(), kvServiceHandlers(backend, { quota }));
  server.addService(serviceDefinition("Lease"), leaseServiceHandlers(backend, { quota }));
  server.addService(
    serviceDefinition("Maintenance"),
    maintenanceHandlers({
      defragment: () => dbSize.defragment(),
      alarm: (request) => proposeAlarm((c) => backend.propose(c), request),
      status: () => {
        const size = dbSize.sample();
        return {
          clusterId: CLUSTER_ID,
          memberId: MEMBER_ID,
          leaderId: MEMBER_ID,
          raftTerm: RAFT_TERM,
          raftIndex: 1,
          raftAppliedIndex: 1,
          revision: store.revision,
          dbSize: size.size,
          dbSizeInUse: size.inUse,
          errors: [],
          alarms: store.alarms.get(),
        };
      },
    }),
  );
  const port = await server.listen(0, "127.0.0.1");
  const clients: grpc.Client[] = [];
  const client = (service: "KV" | "Lease" | "Maintenance"): KvTestClient => {
    const Ctor = serviceClient(service);
    const c = new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    clients.push(c);
    return new KvTestClient(c);
  };
  return {
    backend,
    dbSize,
    kv: client("KV"),
    lease: client("Lease"),
    maintenance: client("Maintenance"),
    close: async () => {
      for (const c of clients) c.close();
      await server.shutdown(2000);
    },
  };
}

const put = (key: string, valueBytes: number) => ({
  key: b(key),
  value: Buffer.alloc(valueBytes, 0x61),
});

describe("space quota (etcd's quotaKVServer)", () => {
  let t: Served;
  before(async () => {
    t = await serve(QUOTA_BYTES);
  });
  after(async () => {
    await t?.close();
  });

  test("a put over the quota is refused with ErrGRPCNoSpace and raises NOSPACE", async () => {
    await t.kv.call("Put", put("small", 100));
    const proposedBefore = t.backend.proposed.length;
    await rejectsWithStatus(
      t.kv.call("Put", put("big", QUOTA_BYTES)),
      grpc.status.RESOURCE_EXHAUSTED,
      NO_SPACE,
    );
    // The put itself was never proposed: only the alarm was.
    assert.deepEqual(t.backend.proposed.slice(proposedBefore), ["Alarm"]);
    assert.deepEqual(t.backend.sm.store.alarms.get(), [{ memberId: MEMBER_ID, alarm: "NOSPACE" }]);
    const range = (await t.kv.call("Range", { key: b("big") })) as { count: string };
    assert.equal(range.count, "0");
  });

  test("while NOSPACE is raised apply refuses a put that fits, a txn with a put, a lease", async () => {
    const proposedBefore = t.backend.proposed.length;
    await rejectsWithStatus(
      t.kv.call("Put", put("tiny", 1)),
      grpc.status.RESOURCE_EXHAUSTED,
      NO_SPACE,
    );
    await rejectsWithStatus(
      t.kv.call("Txn", { success: [{ request_put: put("t", 1) }] }),
      grpc.status.RESOURCE_EXHAUSTED,
      NO_SPACE,
    );
    await rejectsWithStatus(
      t.lease.call("LeaseGrant", { TTL: "60" }),
      grpc.status.RESOURCE_EXHAUSTED,
      NO_SPACE,
    );
    // These fit the quota, so they reached the log, and apply refused them (no second alarm).
    assert.deepEqual(t.backend.proposed.slice(proposedBefore), ["Put", "Txn", "LeaseGrant"]);
  });

  test("range, delete and a txn without puts still work", async () => {
    const got = (await t.kv.call("Range", { key: b("small") })) as { count: string };
    assert.equal(got.count, "1");
    await t.kv.call("Txn", { success: [{ request_range: { key: b("small") } }] });
    const del = (await t.kv.call("DeleteRange", { key: b("small") })) as { deleted: string };
    assert.equal(del.deleted, "1");
  });

  test("Alarm GET and Status list NOSPACE for the member", async () => {
    const listed = (await t.maintenance.call("Alarm", { action: "Get" })) as {
      alarms: { memberID: string; alarm: string }[];
    };
    assert.deepEqual(listed.alarms, [{ memberID: MEMBER_ID, alarm: "Nospace" }]);
    const status = (await t.maintenance.call("Status", {})) as { errors: string[] };
    assert.deepEqual(status.errors, [`memberID:${MEMBER_ID} alarm:NOSPACE `]);
  });

  test("compact, defrag and disarm: writes are accepted again", async () => {
    const header = ((await t.kv.call("Range", { key: b("x") })) as { header: { revision: string } })
      .header;
    await t.kv.call("Compact", { revision: header.revision });
    await t.maintenance.call("Defragment", {});
    const cleared = (await t.maintenance.call("Alarm", {
      action: "Deactivate",
      memberID: MEMBER_ID,
      alarm: "Nospace",
    })) as { alarms: { memberID: string; alarm: string }[] };
    assert.deepEqual(cleared.alarms, [{ memberID: MEMBER_ID, alarm: "Nospace" }]);
    assert.deepEqual(t.backend.sm.store.alarms.get(), []);
    await t.kv.call("Put", put("again", 100));
    await t.lease.call("LeaseGrant", { TTL: "60" });
  });
});

describe("space quota: re-raised, disabled", () => {
  let t: Served | undefined;
  beforeEach(async () => {
    await t?.close();
    t = undefined;
  });
  after(async () => {
    await t?.close();
  });

  test("disarmed while still over quota: the next write raises the alarm again", async () => {
    t = await serve(QUOTA_BYTES);
    for (let i = 0; i < 6; i++) await t.kv.call("Put", put(`k${i}`, 1000));
    await rejectsWithStatus(
      t.kv.call("Put", put("k6", 2000)),
      grpc.status.RESOURCE_EXHAUSTED,
      NO_SPACE,
    );
    await t.maintenance.call("Alarm", { action: "Deactivate", memberID: MEMBER_ID, alarm: 1 });
    assert.deepEqual(t.backend.sm.store.alarms.get(), []);
    // Nothing was freed (no compaction, no defrag): dbSize is as high as before.
    await rejectsWithStatus(
      t.kv.call("Put", put("k6", 2000)),
      grpc.status.RESOURCE_EXHAUSTED,
      NO_SPACE,
    );
    assert.equal(t.backend.sm.store.alarms.has("NOSPACE"), true);
  });

  test("a txn's cost is its larger branch; one without puts always passes", async () => {
    t = await serve(QUOTA_BYTES);
    const half = QUOTA_BYTES / 2;
    // Each branch alone fits; etcd charges the larger one, not the sum.
    await t.kv.call("Txn", {
      success: [{ request_put: put("s", half) }],
      failure: [{ request_put: put("f", half) }],
    });
    await rejectsWithStatus(
      t.kv.call("Txn", { success: [{ request_put: put("s2", half) }] }),
      grpc.status.RESOURCE_EXHAUSTED,
      NO_SPACE,
    );
  });

  test("a negative quota disables the check (etcd's passthroughQuota)", async () => {
    t = await serve(undefined);
    for (let i = 0; i < 3; i++) await t.kv.call("Put", put(`big${i}`, QUOTA_BYTES));
    assert.deepEqual(t.backend.sm.store.alarms.get(), []);
    assert.deepEqual(t.backend.proposed, ["Put", "Put", "Put"]);
  });
});

describe("space quota after apply (etcd's quotaApplierV3)", () => {
  test("a write applied here that leaves the member over quota raises NOSPACE, once", async () => {
    const backend = new RecordingBackend(new KvStateMachine());
    const store = backend.sm.store;
    const raised: string[] = [];
    const quota = new SpaceQuota({
      quotaBytes: QUOTA_BYTES,
      dbSize: () => store.storedBytes,
      alarms: () => store.alarms,
      memberId: () => MEMBER_ID,
      raiseNoSpace: async (memberId) => {
        raised.push(memberId);
        await proposeAlarm((c) => backend.propose(c), {
          action: "ACTIVATE",
          memberId,
          alarm: "NOSPACE",
        });
      },
    });
    quota.afterWrite();
    assert.deepEqual(raised, []);
    // Another member's proposal (no check here) takes this store over the quota.
    await backend.propose(
      encodeCommand({ type: "Put", request: { key: b("big"), value: Buffer.alloc(QUOTA_BYTES) } }),
    );
    quota.afterWrite();
    quota.afterWrite(); // while the first proposal is in flight: not again
    await quota.check({ type: "DeleteRange", request: { key: b("big") } }); // not covered: passes
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(raised, [MEMBER_ID]);
    assert.deepEqual(store.alarms.get(), [{ memberId: MEMBER_ID, alarm: "NOSPACE" }]);
    quota.afterWrite(); // raised already: nothing proposed
    assert.deepEqual(raised, [MEMBER_ID]);
  });
});
