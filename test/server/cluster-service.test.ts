// etcd's Cluster service and MoveLeader over gRPC, in process, in front of ClusterMembership
// on a scripted runtime (FakeNode applies changes with the core's nextConfState, or fails them
// the way the runtime does): etcd's errors for every refusal, the member records a change
// writes, the client's retry rules, and the `ordo member` / `ordo leader` commands.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { MEMBER_NAME_METADATA_KEY, serviceClient, serviceDefinition } from "../../src/api/index.js";
import { runLeader, runMember } from "../../src/cli/maintenance-commands.js";
import { capturedOutput } from "../../src/cli/output.js";
import { KvClient, KvClientError } from "../../src/client/index.js";
import {
  asNodeId,
  type ConfChange,
  type ConfState,
  type NodeId,
  nextConfState,
} from "../../src/raft/index.js";
import { NotLeader, Removed, RsmError, Timeout } from "../../src/rsm/index.js";
import { stableId } from "../../src/server/cluster-config.js";
import { clusterHandlers, clusterStatusOf, ETCD_ERRORS } from "../../src/server/cluster-service.js";
import { maintenanceHandlers } from "../../src/server/maintenance-service.js";
import { decodeMemberRecord, type MembershipView } from "../../src/server/member-records.js";
import { ClusterMembership, type MembershipNode } from "../../src/server/membership.js";

const n = asNodeId;
const CLUSTER_ID = "4242";

/** A runtime that applies changes at once, or fails the next one with a scripted error. */
class FakeNode implements MembershipNode {
  readonly id = n("n1");
  isLeader = true;
  leader: NodeId = n("n1");
  conf: ConfState = { voters: [n("n1"), n("n2"), n("n3")], votersOutgoing: [], learners: [] };
  contexts = new Map<NodeId, Uint8Array>();
  index = 0;
  /** Rejects the next change (and, with `apply`, applies it anyway: an ambiguous failure). */
  fail: { error: Error; apply: boolean } | undefined;
  transfers: NodeId[] = [];

  membership(): MembershipView {
    return { confState: this.conf, contexts: new Map(this.contexts), index: this.index };
  }

  async changeMembership(
    cc: ConfChange,
    contexts?: ReadonlyMap<NodeId, Uint8Array>,
  ): Promise<MembershipView> {
    const fail = this.fail;
    this.fail = undefined;
    if (fail !== undefined && !fail.apply) throw fail.error;
    const next = nextConfState(this.conf, cc);
    if ("error" in next) throw new RsmError("PROPOSAL_DROPPED", next.error);
    this.conf = next.conf;
    for (const id of [...this.contexts.keys()])
      if (![...this.conf.voters, ...this.conf.learners].includes(id)) this.contexts.delete(id);
    for (const [id, c] of contexts ?? []) this.contexts.set(id, c);
    this.index++;
    if (fail !== undefined) throw fail.error;
    return this.membership();
  }

  async updateMemberContext(id: NodeId, context: Uint8Array): Promise<MembershipView> {
    if (this.fail !== undefined) {
      const { error } = this.fail;
      this.fail = undefined;
      throw error;
    }
    this.contexts.set(id, context);
    this.index++;
    return this.membership();
  }

  async transferLeadership(to: NodeId): Promise<void> {
    if (this.fail !== undefined) {
      const { error } = this.fail;
      this.fail = undefined;
      throw error;
    }
    this.transfers.push(to);
    this.leader = to;
    this.isLeader = false;
  }
}

const FALLBACK = new Map<NodeId, string[]>([
  [n("n1"), ["http://127.0.0.1:2380"]],
  [n("n2"), ["http://127.0.0.1:22380"]],
  [n("n3"), ["http://127.0.0.1:32380"]],
]);

interface Running {
  readonly endpoint: string;
  readonly node: FakeNode;
  readonly cluster: ClusterMembership;
  raw(method: string, request: unknown, metadata?: grpc.Metadata): Promise<unknown>;
  close(): Promise<void>;
}

async function start(): Promise<Running> {
  const node = new FakeNode();
  const cluster = new ClusterMembership({
    node,
    clusterId: CLUSTER_ID,
    fallbackPeerUrls: () => FALLBACK,
    ownClientUrl: () => "http://127.0.0.1:2379",
  });
  const header = () => ({ clusterId: CLUSTER_ID, memberId: stableId("n1"), raftTerm: 2 });
  const server = new grpc.Server();
  server.addService(
    serviceDefinition("Cluster"),
    clusterHandlers({
      members: () => cluster.clusterMembers(),
      header,
      memberAdd: (urls, o) => cluster.add(urls, o),
      memberRemove: (id) => cluster.remove(id),
      memberUpdate: (id, urls) => cluster.update(id, urls),
      memberPromote: (id) => cluster.promote(id),
    }),
  );
  server.addService(
    serviceDefinition("Maintenance"),
    maintenanceHandlers({
      status: () => ({
        ...header(),
        leaderId: cluster.memberIdOf(node.leader) ?? "0",
        raftIndex: 1,
        raftAppliedIndex: 1,
        revision: 1,
        dbSize: 0,
        errors: [],
      }),
      moveLeader: (id) => cluster.moveLeader(id),
    }),
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) =>
      e === null ? resolve(p) : reject(e),
    ),
  );
  const endpoint = `127.0.0.1:${port}`;
  const clients: grpc.Client[] = [];
  return {
    endpoint,
    node,
    cluster,
    raw: (method, request, metadata = new grpc.Metadata()) => {
      const service = method === "MoveLeader" ? "Maintenance" : "Cluster";
      const client = new (serviceClient(service))(endpoint, grpc.credentials.createInsecure());
      clients.push(client);
      return new Promise((resolve, reject) =>
        (
          client as unknown as Record<
            string,
            (
              r: unknown,
              m: grpc.Metadata,
              o: grpc.CallOptions,
              cb: (e: unknown, r: unknown) => void,
            ) => void
          >
        )[method]?.call(client, request, metadata, { deadline: Date.now() + 5000 }, (e, r) =>
          e ? reject(e) : resolve(r),
        ),
      );
    },
    close: async () => {
      for (const c of clients) c.close();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    },
  };
}

const refusedWith =
  (expected: { code: grpc.status; details: string }) =>
  (e: unknown): boolean => {
    const err = e as Partial<grpc.ServiceError> & { grpcCode?: number };
    assert.equal(err.code ?? err.grpcCode, expected.code, String(err.details ?? err.message));
    assert.equal(err.details ?? err.message, expected.details);
    return true;
  };

const capture = capturedOutput;

test("runtime errors map to etcd's", () => {
  const cases: [unknown, { code: grpc.status; details: string }][] = [
    [new NotLeader(""), ETCD_ERRORS.noLeader],
    [new NotLeader("n2"), ETCD_ERRORS.leaderChanged],
    [new Timeout("proposal"), ETCD_ERRORS.timeout],
    [new RsmError("STOPPED", "x"), ETCD_ERRORS.stopped],
    [new Removed(), ETCD_ERRORS.removed],
    [
      new RsmError(
        "PROPOSAL_DROPPED",
        "configuration change refused: learner n4 is 5000 entries behind (match 1, last 5001; at most 1000 allowed); promote it once it has caught up",
      ),
      ETCD_ERRORS.learnerNotReady,
    ],
    [
      new RsmError("PROPOSAL_DROPPED", "configuration change refused: n9 is not a member"),
      ETCD_ERRORS.memberNotFound,
    ],
    [
      new RsmError("PROPOSAL_DROPPED", "a configuration change is already in progress"),
      {
        code: grpc.status.FAILED_PRECONDITION,
        details: "etcdserver: a configuration change is already in progress",
      },
    ],
    // Refused when applied (two additions racing through different members).
    [
      new RsmError("INVALID_ARGUMENT", "etcdserver: Peer URLs already exists"),
      ETCD_ERRORS.peerUrlExist,
    ],
    [
      new RsmError("INVALID_ARGUMENT", "etcdserver: member ID already exist"),
      ETCD_ERRORS.memberExist,
    ],
    [new Error("boom"), { code: grpc.status.INTERNAL, details: "ordo: internal error: boom" }],
  ];
  for (const [error, expected] of cases) assert.deepEqual(clusterStatusOf(error), expected);
});

describe("the Cluster service on a scripted runtime", () => {
  let r: Running;
  let c: KvClient;
  before(async () => {
    r = await start();
    c = new KvClient([r.endpoint], { timeoutMs: 2000, attempts: 3 });
  });
  after(async () => {
    c?.close();
    await r?.close();
  });
  beforeEach(() => {
    r.node.fail = undefined;
    r.node.isLeader = true;
    r.node.leader = n("n1");
  });

  test("MemberList: bootstrap members from the fallback, this member's client URL", async () => {
    const { members } = await c.memberList();
    assert.deepEqual(
      members.map((m) => [m.id, m.name, m.peerUrls, m.isLearner]),
      [
        [stableId("n1"), "n1", ["http://127.0.0.1:2380"], false],
        [stableId("n2"), "n2", ["http://127.0.0.1:22380"], false],
        [stableId("n3"), "n3", ["http://127.0.0.1:32380"], false],
      ].sort((a, b) => (BigInt(a[0] as string) < BigInt(b[0] as string) ? -1 : 1)),
    );
    assert.deepEqual(members.find((m) => m.name === "n1")?.clientUrls, ["http://127.0.0.1:2379"]);
  });

  test("MemberAdd with a name: that node id, a learner, the record in the same change", async () => {
    const res = await c.memberAdd(["http://127.0.0.1:42380"], { learner: true, name: "n4" });
    assert.equal(res.member.name, "n4");
    assert.equal(res.member.isLearner, true);
    assert.deepEqual(r.node.conf.learners, ["n4"]);
    const record = decodeMemberRecord(r.node.contexts.get(n("n4")) as Uint8Array);
    assert.deepEqual(record, {
      id: res.member.id,
      name: "n4",
      peerURLs: ["http://127.0.0.1:42380"],
      clientURLs: [],
    });
    assert.ok(res.members.some((m) => m.id === res.member.id));
    assert.equal(res.header.cluster_id, CLUSTER_ID);
  });

  test("MemberAdd as etcd sends it: a generated node id, no name until the member publishes", async () => {
    const res = (await r.raw("MemberAdd", { peerURLs: ["http://127.0.0.1:52380"] })) as {
      member: { ID: string; name: string; isLearner: boolean };
    };
    assert.equal(res.member.name, "");
    assert.equal(res.member.isLearner, false);
    const nodeId = `m${BigInt(res.member.ID).toString(16)}`;
    assert.ok(r.node.conf.voters.includes(n(nodeId)), `${nodeId} in ${r.node.conf.voters}`);
    const list = capture();
    assert.equal(await runMember(["list", "--endpoints", r.endpoint], list), 0);
    assert.match(
      list.out,
      new RegExp(
        `^${BigInt(res.member.ID).toString(16)}, unstarted, , http://127\\.0\\.0\\.1:52380, , false$`,
        "m",
      ),
    );
    // Named by ordo member add, but never started (no client URL): unstarted, as etcdctl says.
    assert.match(list.out, /, unstarted, n4, http:\/\/127\.0\.0\.1:42380, , true$/m);
  });

  test("MemberAdd refusals: a peer URL in use, bad URLs, a name in use", async () => {
    for (const url of ["http://127.0.0.1:42380", "http://127.0.0.1:22380/"]) {
      await assert.rejects(
        r.raw("MemberAdd", { peerURLs: [url] }),
        refusedWith(ETCD_ERRORS.peerUrlExist),
      );
    }
    for (const urls of [[], ["127.0.0.1:1"], ["http://h:1/path"], ["http://h:1", "http://h:1"]]) {
      await assert.rejects(
        r.raw("MemberAdd", { peerURLs: urls }),
        refusedWith(ETCD_ERRORS.memberBadUrls),
      );
    }
    const named = new grpc.Metadata();
    named.set(MEMBER_NAME_METADATA_KEY, "n2");
    await assert.rejects(
      r.raw("MemberAdd", { peerURLs: ["http://127.0.0.1:1"] }, named),
      refusedWith({
        code: grpc.status.FAILED_PRECONDITION,
        details: 'etcdserver: member name "n2" already exists',
      }),
    );
  });

  test("MemberRemove / MemberUpdate / MemberPromote of an unknown id: member not found", async () => {
    for (const method of ["MemberRemove", "MemberPromote"])
      await assert.rejects(r.raw(method, { ID: "12345" }), refusedWith(ETCD_ERRORS.memberNotFound));
    await assert.rejects(
      r.raw("MemberUpdate", { ID: "12345", peerURLs: ["http://h:1"] }),
      refusedWith(ETCD_ERRORS.memberNotFound),
    );
  });

  test("MemberPromote: a voter is refused; a lagging learner is 'not in sync'; then it is promoted", async () => {
    const voter = stableId("n2");
    await assert.rejects(
      r.raw("MemberPromote", { ID: voter }),
      refusedWith(ETCD_ERRORS.memberNotLearner),
    );
    const n4 = (await c.memberList()).members.find((m) => m.name === "n4");
    assert.ok(n4);
    r.node.fail = {
      error: new RsmError(
        "PROPOSAL_DROPPED",
        "configuration change refused: learner n4 is 2000 entries behind (match 1, last 2001; at most 1000 allowed); promote it once it has caught up",
      ),
      apply: false,
    };
    await assert.rejects(
      r.raw("MemberPromote", { ID: n4.id }),
      refusedWith(ETCD_ERRORS.learnerNotReady),
    );
    const promote = capture();
    assert.equal(await runMember(["promote", "n4", "--endpoints", r.endpoint], promote), 0);
    assert.equal(promote.out, `Member ${BigInt(n4.id).toString(16)} promoted in the cluster\n`);
    assert.ok(r.node.conf.voters.includes(n("n4")));
  });

  test("runtime failures reach the client as etcd's", async () => {
    const cases: [Error, { code: grpc.status; details: string }][] = [
      [new NotLeader(""), ETCD_ERRORS.noLeader],
      [new NotLeader("n3"), ETCD_ERRORS.leaderChanged],
      [new Timeout("proposal"), ETCD_ERRORS.timeout],
    ];
    for (const [error, expected] of cases) {
      r.node.fail = { error, apply: false };
      await assert.rejects(
        r.raw("MemberAdd", { peerURLs: ["http://127.0.0.1:62380"] }),
        refusedWith(expected),
      );
    }
  });

  test("the client retries a change that certainly did not apply, and recovers an ambiguous one", async () => {
    // No leader for a moment: retried, then added once.
    r.node.fail = { error: new NotLeader(""), apply: false };
    const first = await c.memberAdd(["http://127.0.0.1:7001"], { name: "n7" });
    assert.equal(first.member.name, "n7");
    // A timeout after which the change was applied: the retry finds the peer URL taken by the
    // member just added, and answers with it.
    r.node.fail = { error: new Timeout("proposal"), apply: true };
    const second = await c.memberAdd(["http://127.0.0.1:7002"], { name: "n8" });
    assert.equal(second.member.name, "n8");
    assert.equal(
      (await c.memberList()).members.filter((m) => m.peerUrls.includes("http://127.0.0.1:7002"))
        .length,
      1,
    );
    // A removal that timed out but happened: the retry's "member not found" means done.
    r.node.fail = { error: new Timeout("proposal"), apply: true };
    const left = await c.memberRemove(second.member.id);
    assert.ok(!left.some((m) => m.id === second.member.id));
    // A refusal that says nothing applied and nothing will: no retry.
    r.node.fail = {
      error: new RsmError(
        "PROPOSAL_DROPPED",
        "configuration change refused: the change would leave no voter",
      ),
      apply: false,
    };
    await assert.rejects(
      c.memberRemove(first.member.id),
      (e: unknown) => e instanceof KvClientError && e.grpcCode === grpc.status.FAILED_PRECONDITION,
    );
    assert.ok((await c.memberList()).members.some((m) => m.id === first.member.id));
  });

  test("ordo member add prints the id and how to start the member; update and remove by name", async () => {
    const add = capture();
    assert.equal(
      await runMember(
        [
          "add",
          "n5",
          "--peer-urls",
          "http://127.0.0.1:5380",
          "--learner",
          "--endpoints",
          r.endpoint,
        ],
        add,
      ),
      0,
    );
    const id = (await c.memberList()).members.find((m) => m.name === "n5")?.id as string;
    const lines = add.out.split("\n");
    assert.equal(
      lines[0],
      `Member ${BigInt(id).toString(16)} added as learner to cluster ${BigInt(CLUSTER_ID).toString(16)}`,
    );
    assert.equal(lines[2], 'ORDO_NAME="n5"');
    const pairs = (lines[3] ?? "").replace(/^ORDO_INITIAL_CLUSTER="|"$/g, "").split(",");
    assert.ok(pairs.includes("n1=http://127.0.0.1:2380"), lines[3]);
    assert.ok(pairs.includes("n5=http://127.0.0.1:5380"), lines[3]);
    // The member etcd's MemberAdd added has no name yet: left out, as etcdctl does.
    assert.ok(!pairs.some((p) => p.endsWith(":52380")), lines[3]);
    assert.equal(lines[5], 'ORDO_INITIAL_CLUSTER_STATE="existing"');
    assert.match(add.out, /--initial-cluster-state existing/);

    const update = capture();
    assert.equal(
      await runMember(
        ["update", "n5", "--peer-urls", "http://127.0.0.1:5381", "--endpoints", r.endpoint],
        update,
      ),
      0,
    );
    assert.deepEqual(decodeMemberRecord(r.node.contexts.get(n("n5")) as Uint8Array).peerURLs, [
      "http://127.0.0.1:5381",
    ]);
    await assert.rejects(
      r.raw("MemberUpdate", { ID: id, peerURLs: ["http://127.0.0.1:2380"] }),
      refusedWith(ETCD_ERRORS.peerUrlExist),
    );
    const remove = capture();
    assert.equal(await runMember(["remove", "n5", "--endpoints", r.endpoint], remove), 0);
    assert.equal(remove.out, `Member ${BigInt(id).toString(16)} removed from the cluster\n`);
    assert.ok(!r.node.conf.learners.includes(n("n5")));
    await assert.rejects(
      runMember(["remove", "n5", "--endpoints", r.endpoint], capture()),
      /no member "n5"/,
    );
  });

  test("MoveLeader: only the leader moves it, only to a voter; ordo leader transfer waits to see it", async () => {
    r.node.isLeader = false;
    await assert.rejects(
      r.raw("MoveLeader", { targetID: stableId("n2") }),
      refusedWith(ETCD_ERRORS.notLeader),
    );
    r.node.isLeader = true;
    await assert.rejects(
      r.raw("MoveLeader", { targetID: "999" }),
      refusedWith(ETCD_ERRORS.badLeaderTransferee),
    );
    await c.memberAdd(["http://127.0.0.1:6380"], { learner: true, name: "n6" });
    const n6 = (await c.memberList()).members.find((m) => m.name === "n6")?.id as string;
    await assert.rejects(
      r.raw("MoveLeader", { targetID: n6 }),
      refusedWith(ETCD_ERRORS.badLeaderTransferee),
    );
    r.node.fail = { error: new Timeout("leadership transfer to n2"), apply: false };
    await assert.rejects(
      r.raw("MoveLeader", { targetID: stableId("n2") }),
      refusedWith(ETCD_ERRORS.leaderTransferTimeout),
    );
    const out = capture();
    assert.equal(await runLeader(["transfer", "--to", "n2", "--endpoints", r.endpoint], out), 0);
    assert.deepEqual(r.node.transfers, ["n2"]);
    const hex = (id: string) => BigInt(id).toString(16);
    assert.equal(
      out.out,
      `Leadership transferred from ${hex(stableId("n1"))} to ${hex(stableId("n2"))} (n2)\n`,
    );
    await assert.rejects(
      runLeader(["transfer", "--to", "n6", "--endpoints", r.endpoint], capture()),
      /learner/,
    );
    await assert.rejects(runLeader(["transfer"], capture()), /usage: ordo leader transfer/);
  });
});
