// The KV service over real gRPC on 127.0.0.1: a grpc.Server with kvServiceHandlers in front of a
// KvStateMachine (through the in-process backend of kv-harness.ts), called by a client built
// from the vendored protos. Behaviour etcd clients rely on: results, headers, the read mode per
// request, and etcd's status codes and messages for every kind of failure — including
// malformed requests and failing backends, after which the server keeps serving.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { serviceDefinition } from "../../src/api/index.js";
import { encodeQuery } from "../../src/kv/index.js";
import { prefixEnd } from "../../src/lib/index.js";
import {
  LeaderChanging,
  NotLeader,
  Removed,
  RsmError,
  Stopped,
  Timeout,
} from "../../src/rsm/errors.js";
import {
  type EtcdDeleteRangeResponse,
  type EtcdKeyValue,
  type EtcdPutResponse,
  type EtcdRangeResponse,
  type EtcdResponseHeader,
  type EtcdTxnResponse,
  rangeResponseFromEtcd,
} from "../../src/server/etcd-mapping.js";
import { type KvBackend, statusOf } from "../../src/server/kv-service.js";
import {
  b,
  CLUSTER_ID,
  type KvTestServer,
  MEMBER_ID,
  rejectsWithStatus,
  StateMachineBackend,
  s,
  startKvServer,
} from "./kv-harness.js";

const keysOf = (kvs: readonly EtcdKeyValue[]): string[] => kvs.map((kv) => s(kv.key));

describe("KV service over gRPC", () => {
  let backend: StateMachineBackend;
  let server: KvTestServer;
  const put = (key: string, value: string, extra: object = {}) =>
    server.client.call("Put", {
      key: b(key),
      value: b(value),
      ...extra,
    }) as Promise<EtcdPutResponse>;
  const range = (request: object) =>
    server.client.call("Range", request) as Promise<EtcdRangeResponse>;
  const txn = (request: object) => server.client.call("Txn", request) as Promise<EtcdTxnResponse>;

  before(async () => {
    backend = new StateMachineBackend();
    server = await startKvServer(backend);
  });
  after(async () => {
    await server.close();
  });

  test("put then get, with the member's header", async () => {
    const p = await put("foo", "bar");
    const header: EtcdResponseHeader = p.header;
    assert.equal(header.cluster_id, CLUSTER_ID);
    assert.equal(header.member_id, MEMBER_ID);
    assert.equal(header.raft_term, "3");
    const revision = Number(header.revision);
    assert.ok(revision >= 2, `revision ${header.revision}`);

    const r = await range({ key: b("foo") });
    assert.equal(r.header.revision, String(revision));
    assert.equal(r.header.cluster_id, CLUSTER_ID);
    assert.equal(r.count, "1");
    assert.equal(r.more, false);
    const kv = r.kvs[0]!;
    assert.equal(s(kv.value), "bar");
    assert.equal(kv.create_revision, String(revision));
    assert.equal(kv.mod_revision, String(revision));
    assert.equal(kv.version, "1");
    assert.equal(kv.lease, "0");
  });

  test("the read mode follows `serializable`; writes are proposed", async () => {
    backend.reads.length = 0;
    const proposals = backend.proposals;
    await range({ key: b("foo") });
    await range({ key: b("foo"), serializable: true });
    assert.deepEqual(backend.reads, ["linearizable", "serializable"]);
    await txn({ success: [{ request_range: { key: b("foo") } }] });
    assert.equal(backend.proposals, proposals + 1, "a read-only txn is proposed too");
  });

  test("put with prev_kv returns the previous key-value", async () => {
    const p = await put("foo", "bar2", { prev_kv: true });
    assert.equal(s(p.prev_kv!.value), "bar");
    const r = await range({ key: b("foo") });
    assert.equal(r.kvs[0]!.version, "2");
  });

  test("prefix range, limit, count and more", async () => {
    for (const key of ["p/c", "p/a", "p/b", "q"]) await put(key, `v-${key}`);
    const all = await range({ key: b("p/"), range_end: Buffer.from(prefixEnd(b("p/"))) });
    assert.deepEqual(keysOf(all.kvs), ["p/a", "p/b", "p/c"]);
    assert.equal(all.count, "3");
    const limited = await range({ key: b("p/"), range_end: b("p0"), limit: 2 });
    assert.deepEqual(keysOf(limited.kvs), ["p/a", "p/b"]);
    assert.equal(limited.more, true);
    assert.equal(limited.count, "3");
    const counted = await range({ key: b("p/"), range_end: b("p0"), count_only: true });
    assert.equal(counted.kvs.length, 0);
    assert.equal(counted.count, "3");
    const keysOnly = await range({ key: b("p/a"), keys_only: true });
    assert.equal(keysOnly.kvs[0]!.value.length, 0);
  });

  test("sort orders and targets, in both enum spellings", async () => {
    const prefix = { key: b("p/"), range_end: b("p0") };
    const descend = await range({ ...prefix, sort_order: "Descend", sort_target: "Key" });
    assert.deepEqual(keysOf(descend.kvs), ["p/c", "p/b", "p/a"]);
    // Raw numbers on the wire are what etcd's Go clients send; DESCEND = 2, MOD = 3.
    const byMod = await range({ ...prefix, sort_order: 2, sort_target: 3 });
    assert.deepEqual(keysOf(byMod.kvs), ["p/b", "p/a", "p/c"]);
    // A target other than KEY with order NONE sorts ascending, as in etcd.
    const byCreate = await range({ ...prefix, sort_target: "Create" });
    assert.deepEqual(keysOf(byCreate.kvs), ["p/c", "p/a", "p/b"]);
  });

  test("range at an older revision", async () => {
    const first = await put("rev", "one");
    await put("rev", "two");
    const old = await range({ key: b("rev"), revision: first.header.revision });
    assert.equal(s(old.kvs[0]!.value), "one");
    const now = await range({ key: b("rev") });
    assert.equal(s(now.kvs[0]!.value), "two");
    const decoded = rangeResponseFromEtcd(now);
    assert.equal(decoded.kvs[0]!.version, 2);
  });

  test("delete a range with prev_kv", async () => {
    for (const key of ["d/1", "d/2"]) await put(key, key);
    const d = (await server.client.call("DeleteRange", {
      key: b("d/"),
      range_end: b("d0"),
      prev_kv: true,
    })) as EtcdDeleteRangeResponse;
    assert.equal(d.deleted, "2");
    assert.deepEqual(keysOf(d.prev_kvs), ["d/1", "d/2"]);
    assert.equal(d.header.cluster_id, CLUSTER_ID);
    const gone = await range({ key: b("d/"), range_end: b("d0") });
    assert.equal(gone.count, "0");
  });

  test("txn compare-and-swap: success, then failure with the failure branch", async () => {
    await put("cas", "old");
    const swap = {
      compare: [{ key: b("cas"), target: "Value", result: "Equal", value: b("old") }],
      success: [{ request_put: { key: b("cas"), value: b("new"), prev_kv: true } }],
      failure: [{ request_range: { key: b("cas") } }],
    };
    const won = await txn(swap);
    assert.equal(won.succeeded, true);
    assert.equal(won.header.member_id, MEMBER_ID);
    const putResponse = won.responses[0]!;
    assert.ok("response_put" in putResponse);
    assert.equal(s(putResponse.response_put.prev_kv!.value), "old");
    assert.equal(putResponse.response_put.header.cluster_id, "0", "nested headers: revision only");
    assert.equal(putResponse.response_put.header.revision, won.header.revision);

    const lost = await txn(swap);
    assert.equal(lost.succeeded, false);
    const rangeResponse = lost.responses[0]!;
    assert.ok("response_range" in rangeResponse);
    assert.equal(s(rangeResponse.response_range.kvs[0]!.value), "new");

    // The same guard by mod revision, with the union's int64 as a string.
    const r = await range({ key: b("cas") });
    const byMod = await txn({
      compare: [
        { key: b("cas"), target: "Mod", result: "Equal", mod_revision: r.kvs[0]!.mod_revision },
      ],
      success: [{ request_delete_range: { key: b("cas") } }],
    });
    assert.equal(byMod.succeeded, true);
  });

  test("txn errors: duplicate keys, too many ops", async () => {
    await rejectsWithStatus(
      txn({
        success: [{ request_put: { key: b("x") } }, { request_put: { key: b("x") } }],
      }),
      grpc.status.INVALID_ARGUMENT,
      "etcdserver: duplicate key given in txn request",
    );
    const ops = Array.from({ length: 129 }, (_, i) => ({ request_range: { key: b(`k${i}`) } }));
    await rejectsWithStatus(
      txn({ success: ops }),
      grpc.status.INVALID_ARGUMENT,
      "etcdserver: too many operations in txn request",
    );
  });

  test("compact, then reading a compacted revision is OUT_OF_RANGE", async () => {
    const first = await put("c", "1");
    const second = await put("c", "2");
    const c = (await server.client.call("Compact", { revision: second.header.revision })) as {
      header: EtcdResponseHeader;
    };
    assert.equal(c.header.cluster_id, CLUSTER_ID);
    await rejectsWithStatus(
      range({ key: b("c"), revision: first.header.revision }),
      grpc.status.OUT_OF_RANGE,
      "etcdserver: mvcc: required revision has been compacted",
    );
    await rejectsWithStatus(
      server.client.call("Compact", { revision: first.header.revision }),
      grpc.status.OUT_OF_RANGE,
      "etcdserver: mvcc: required revision has been compacted",
    );
    await rejectsWithStatus(
      range({ key: b("c"), revision: "1000000" }),
      grpc.status.OUT_OF_RANGE,
      "etcdserver: mvcc: required revision is a future revision",
    );
  });

  test("bad requests: empty key, value with ignore_value, bad int64, bad enum, empty op", async () => {
    const proposals = backend.proposals;
    await rejectsWithStatus(
      put("", "v"),
      grpc.status.INVALID_ARGUMENT,
      "etcdserver: key is not provided",
    );
    await rejectsWithStatus(
      range({ key: b("") }),
      grpc.status.INVALID_ARGUMENT,
      "etcdserver: key is not provided",
    );
    await rejectsWithStatus(
      put("k", "v", { ignore_value: true }),
      grpc.status.INVALID_ARGUMENT,
      "etcdserver: value is provided",
    );
    await rejectsWithStatus(
      range({ key: b("k"), revision: "9007199254740993" }),
      grpc.status.INVALID_ARGUMENT,
      /^etcdserver: revision must be an integer/,
    );
    await rejectsWithStatus(
      range({ key: b("k"), sort_order: 7 }),
      grpc.status.INVALID_ARGUMENT,
      "etcdserver: invalid sort option",
    );
    await rejectsWithStatus(
      txn({ success: [{}] }),
      grpc.status.INVALID_ARGUMENT,
      /^etcdserver: a txn op must hold exactly one request/,
    );
    // Refused before the log: none of them was proposed.
    assert.equal(backend.proposals, proposals, "a bad request reached the log");
  });

  test("many concurrent puts each get their own revision", async () => {
    const responses = await Promise.all(
      Array.from({ length: 40 }, (_, i) => put(`many/${i}`, String(i))),
    );
    const revisions = new Set(responses.map((r) => r.header.revision));
    assert.equal(revisions.size, 40);
  });
});

describe("request size", () => {
  test("a command above requestBytesMax is refused before it is proposed", async () => {
    const backend = new StateMachineBackend();
    const server = await startKvServer(backend, { requestBytesMax: 1024 });
    try {
      await rejectsWithStatus(
        server.client.call("Put", { key: b("big"), value: Buffer.alloc(2000) }),
        grpc.status.INVALID_ARGUMENT,
        "etcdserver: request is too large",
      );
      assert.equal(backend.proposals, 0);
      await server.client.call("Put", { key: b("small"), value: Buffer.alloc(100) });
      assert.equal(backend.proposals, 1);
      // Beyond the limit plus gRPC's overhead, gRPC itself refuses the message.
      await rejectsWithStatus(
        server.client.call("Put", { key: b("huge"), value: Buffer.alloc(600 * 1024) }),
        grpc.status.RESOURCE_EXHAUSTED,
        /larger than max/,
      );
    } finally {
      await server.close();
    }
  });

  test("the default limit is etcd's 1.5 MiB", async () => {
    const backend = new StateMachineBackend();
    const server = await startKvServer(backend);
    try {
      await rejectsWithStatus(
        server.client.call("Put", { key: b("big"), value: Buffer.alloc(1.5 * 1024 * 1024) }),
        grpc.status.INVALID_ARGUMENT,
        "etcdserver: request is too large",
      );
      assert.equal(backend.proposals, 0);
    } finally {
      await server.close();
    }
  });
});

describe("bad requests are refused before they are proposed", () => {
  test("an empty key, a value with ignore_value, duplicate txn keys, too many txn ops: no log entry", async () => {
    const backend = new StateMachineBackend();
    const server = await startKvServer(backend);
    try {
      const put = (key: string) => ({ request_put: { key: b(key), value: b("v") } });
      const cases: [string, object, string][] = [
        ["Put", { key: b(""), value: b("v") }, "etcdserver: key is not provided"],
        [
          "Put",
          { key: b("k"), value: b("v"), ignore_value: true },
          "etcdserver: value is provided",
        ],
        ["DeleteRange", { key: b("") }, "etcdserver: key is not provided"],
        [
          "Txn",
          { success: [put("a"), put("a")] },
          "etcdserver: duplicate key given in txn request",
        ],
        [
          "Txn",
          { success: Array.from({ length: 129 }, (_, i) => put(`k${i}`)) },
          "etcdserver: too many operations in txn request",
        ],
      ];
      for (const [method, request, details] of cases) {
        await rejectsWithStatus(
          server.client.call(method, request),
          grpc.status.INVALID_ARGUMENT,
          details,
        );
      }
      assert.equal(backend.proposals, 0, "nothing reached the log");
      await server.client.call("Put", { key: b("k"), value: b("v") });
      assert.equal(backend.proposals, 1, "a good request still does");
    } finally {
      await server.close();
    }
  });
});

/** A backend whose every call fails with `error`. */
function failingBackend(error: unknown): KvBackend {
  return {
    propose: () => Promise.reject(error),
    read: () => Promise.reject(error),
    header: () => ({ clusterId: CLUSTER_ID, memberId: MEMBER_ID, raftTerm: 1 }),
  };
}

describe("backend failures map to etcd's errors", () => {
  const cases: [string, unknown, grpc.status, string | RegExp][] = [
    ["NOT_LEADER", new NotLeader("n2"), grpc.status.UNAVAILABLE, "etcdserver: no leader"],
    ["NO_LEADER", new RsmError("NO_LEADER", "x"), grpc.status.UNAVAILABLE, "etcdserver: no leader"],
    ["TIMEOUT", new Timeout("proposal"), grpc.status.UNAVAILABLE, "etcdserver: request timed out"],
    ["STOPPED", new Stopped(), grpc.status.UNAVAILABLE, "etcdserver: server stopped"],
    [
      "REMOVED",
      new Removed(),
      grpc.status.UNAVAILABLE,
      "etcdserver: this member was removed from the cluster",
    ],
    [
      "PROPOSAL_DROPPED",
      new RsmError("PROPOSAL_DROPPED", "too many uncommitted bytes"),
      grpc.status.RESOURCE_EXHAUSTED,
      "etcdserver: too many requests",
    ],
    [
      "LEADER_CHANGING (a leadership transfer in progress)",
      new LeaderChanging("n2"),
      grpc.status.UNAVAILABLE,
      "etcdserver: leader changed",
    ],
    [
      "SESSION_EXPIRED",
      new RsmError("SESSION_EXPIRED", "session c1 expired"),
      grpc.status.FAILED_PRECONDITION,
      "etcdserver: session c1 expired",
    ],
    [
      "INVALID_ARGUMENT",
      new RsmError("INVALID_ARGUMENT", "seq 3 is older"),
      grpc.status.INVALID_ARGUMENT,
      "etcdserver: seq 3 is older",
    ],
    ["a plain Error", new Error("boom"), grpc.status.INTERNAL, "ordo: internal error: boom"],
    ["a thrown string", "kaput", grpc.status.INTERNAL, "ordo: internal error: kaput"],
    ["null", null, grpc.status.INTERNAL, "ordo: internal error: null"],
  ];

  for (const [name, error, code, details] of cases) {
    test(`${name} → ${grpc.status[code]}`, async () => {
      const internal: string[] = [];
      const server = await startKvServer(failingBackend(error), {
        onInternalError: (method) => internal.push(method),
      });
      try {
        await rejectsWithStatus(server.client.call("Put", { key: b("k") }), code, details);
        await rejectsWithStatus(server.client.call("Range", { key: b("k") }), code, details);
        assert.deepEqual(internal, code === grpc.status.INTERNAL ? ["Put", "Range"] : []);
      } finally {
        await server.close();
      }
    });
  }

  test("statusOf agrees for a direct call", () => {
    assert.deepEqual(statusOf(new NotLeader("")), {
      code: grpc.status.UNAVAILABLE,
      details: "etcdserver: no leader",
    });
  });

  test("a backend that answers junk, throws synchronously or has no header: INTERNAL, and the server lives on", async () => {
    const healthy = new StateMachineBackend();
    let mode: "junk" | "throw" | "header" | "wrong type" | "ok" = "junk";
    const backend: KvBackend = {
      propose: (command) => {
        if (mode === "junk") return Promise.resolve(new Uint8Array([1, 2, 3]));
        if (mode === "throw") throw new Error("sync throw");
        return healthy.propose(command);
      },
      read: (query, readMode) => healthy.read(query, readMode),
      header: () => {
        if (mode === "header") throw new Error("no term");
        return healthy.header();
      },
    };
    const internal: unknown[] = [];
    const server = await startKvServer(backend, {
      onInternalError: (_method, error) => {
        internal.push(error);
        throw new Error("a broken logger changes nothing");
      },
    });
    try {
      const call = () => server.client.call("Put", { key: b("k"), value: b("v") });
      await rejectsWithStatus(call(), grpc.status.INTERNAL, /result is malformed/);
      mode = "throw";
      await rejectsWithStatus(call(), grpc.status.INTERNAL, "ordo: internal error: sync throw");
      mode = "header";
      await rejectsWithStatus(call(), grpc.status.INTERNAL, "ordo: internal error: no term");
      // A Range result where a Put result belongs.
      mode = "wrong type";
      const rangeResult = await healthy.read(
        encodeQuery({ type: "Range", request: { key: b("k") } }),
        "serializable",
      );
      backend.propose = () => Promise.resolve(rangeResult);
      await rejectsWithStatus(call(), grpc.status.INTERNAL, /expected a Put result, got Range/);
      assert.equal(internal.length, 4);
      mode = "ok";
      backend.propose = (command) => healthy.propose(command);
      const ok = (await call()) as EtcdPutResponse;
      assert.equal(ok.header.cluster_id, CLUSTER_ID);
    } finally {
      await server.close();
    }
  });
});

describe("malformed bytes on the wire", () => {
  /** Sends raw bytes as a KV method's request, bypassing the client's serializer. */
  function rawCall(address: string, method: string, payload: Buffer): Promise<unknown> {
    const client = new grpc.Client(address, grpc.credentials.createInsecure());
    return new Promise<unknown>((resolve, reject) => {
      client.makeUnaryRequest(
        `/etcdserverpb.KV/${method}`,
        (x: Buffer) => x,
        (x: Buffer) => x,
        payload,
        { deadline: Date.now() + 10_000 },
        (error, response) => (error === null ? resolve(response) : reject(error)),
      );
    }).finally(() => client.close());
  }

  /** TxnRequest{success: [RequestOp{request_txn: ...}]} nested `depth` times, as bytes. */
  function nestedTxnBytes(depth: number): Buffer {
    const varint = (n: number): number[] => {
      const out: number[] = [];
      while (n >= 0x80) {
        out.push((n & 0x7f) | 0x80);
        n = Math.floor(n / 128);
      }
      out.push(n);
      return out;
    };
    const wrap = (tag: number, body: Buffer): Buffer =>
      Buffer.concat([Buffer.from([tag, ...varint(body.length)]), body]);
    let txn: Buffer = Buffer.alloc(0);
    for (let i = 0; i < depth; i++) txn = wrap(0x12, wrap(0x22, txn)); // success=2, request_txn=4
    return txn;
  }

  test("garbage and absurdly deep txns get an error status; the server keeps serving", async () => {
    const backend = new StateMachineBackend();
    const server = await startKvServer(backend);
    try {
      await assert.rejects(rawCall(server.address, "Put", Buffer.from([0xff, 0xff, 0xff, 0x0f])));
      // protobufjs decodes at most 100 nested messages (two per txn level): deeper txns never
      // reach the handler; gRPC answers them itself.
      const deep = (await rawCall(server.address, "Txn", nestedTxnBytes(45))) as Buffer;
      const decoded = serviceDefinition("KV").Txn!.responseDeserialize(deep) as EtcdTxnResponse;
      assert.equal(decoded.succeeded, true);
      for (const depth of [60, 5_000]) {
        await rejectsWithStatus(
          rawCall(server.address, "Txn", nestedTxnBytes(depth)),
          grpc.status.INTERNAL,
          "Error deserializing request",
        );
      }
      const ok = (await server.client.call("Put", { key: b("alive"), value: b("yes") })) as {
        header: EtcdResponseHeader;
      };
      assert.equal(ok.header.member_id, MEMBER_ID);
    } finally {
      await server.close();
    }
  });
});
