// etcd-mapping: kv → etcd → protobuf bytes → etcd → kv gives back the same request or response
// (through the real serializers of the vendored protos), and incoming messages are checked
// strictly: bad int64s, unknown enums, wrong field types and malformed oneofs are KvError
// INVALID_ARGUMENT with an "etcdserver: " message.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { serviceDefinition } from "../../src/api/index.js";
import {
  type Compare,
  type DeleteRangeResponse,
  KvError,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type TxnRequest,
  type TxnResponse,
} from "../../src/kv/index.js";
import {
  compactionRequestFromEtcd,
  compactionRequestToEtcd,
  compactionResponseFromEtcd,
  compactionResponseToEtcd,
  compareFromEtcd,
  deleteRangeRequestFromEtcd,
  deleteRangeRequestToEtcd,
  deleteRangeResponseFromEtcd,
  deleteRangeResponseToEtcd,
  headerToEtcd,
  int64FromEtcd,
  type MemberHeader,
  putRequestFromEtcd,
  putRequestToEtcd,
  putResponseFromEtcd,
  putResponseToEtcd,
  rangeRequestFromEtcd,
  rangeRequestToEtcd,
  rangeResponseFromEtcd,
  rangeResponseToEtcd,
  txnRequestFromEtcd,
  txnRequestToEtcd,
  txnResponseFromEtcd,
  txnResponseToEtcd,
} from "../../src/server/etcd-mapping.js";

const u = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "utf8"));

type KvMethod = "Range" | "Put" | "DeleteRange" | "Txn" | "Compact";

/** Through the real wire: serialize as a client would, deserialize as the server does. */
function wireRequest(method: KvMethod, message: unknown): unknown {
  const m = serviceDefinition("KV")[method]!;
  return m.requestDeserialize(m.requestSerialize(message));
}

function wireResponse(method: KvMethod, message: unknown): unknown {
  const m = serviceDefinition("KV")[method]!;
  return m.responseDeserialize(m.responseSerialize(message));
}

/** Uint8Array views compare equal to plain copies in deepEqual only as the same class. */
function plain<T>(value: T): T {
  return JSON.parse(
    JSON.stringify(value, (_key, v) =>
      v instanceof Uint8Array ? { bytes: Buffer.from(v).toString("hex") } : v,
    ),
  ) as T;
}

function throwsInvalid(f: () => unknown, message?: string | RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof KvError, `expected KvError, got ${String(e)}`);
    assert.equal(e.code, "INVALID_ARGUMENT");
    assert.match(e.message, /^etcdserver: /);
    if (typeof message === "string") assert.equal(e.message, message);
    else if (message !== undefined) assert.match(e.message, message);
    return true;
  });
}

const member: MemberHeader = {
  clusterId: "18446744073709551615",
  memberId: "9007199254740993",
  raftTerm: 42,
};

const fullRange: RangeRequest = {
  key: u("a"),
  rangeEnd: u("z"),
  limit: 7,
  revision: 9007199254740991,
  sortOrder: "DESCEND",
  sortTarget: "MOD",
  serializable: true,
  keysOnly: true,
  countOnly: false,
  minModRevision: 1,
  maxModRevision: 100,
  minCreateRevision: 2,
  maxCreateRevision: 99,
};

const compares: Compare[] = [
  { key: u("k"), rangeEnd: u(""), target: "VERSION", result: "EQUAL", version: 3 },
  { key: u("k"), rangeEnd: u("l"), target: "CREATE", result: "GREATER", createRevision: 4 },
  { key: u("k"), rangeEnd: u(""), target: "MOD", result: "LESS", modRevision: 5 },
  { key: u("k"), rangeEnd: u(""), target: "VALUE", result: "NOT_EQUAL", value: u("v") },
  { key: u("k"), rangeEnd: u(""), target: "LEASE", result: "EQUAL", lease: 77 },
];

const nestedTxn: TxnRequest = {
  compare: compares,
  success: [
    { type: "range", request: fullRange },
    {
      type: "put",
      request: {
        key: u("p"),
        value: u("q"),
        lease: 5,
        prevKv: true,
        ignoreValue: false,
        ignoreLease: false,
      },
    },
    { type: "deleteRange", request: { key: u("d"), rangeEnd: u("e"), prevKv: true } },
    {
      type: "txn",
      request: {
        compare: [compares[0]!],
        success: [
          { type: "deleteRange", request: { key: u("x"), rangeEnd: u(""), prevKv: false } },
        ],
        failure: [],
      },
    },
  ],
  failure: [{ type: "range", request: { ...fullRange, sortOrder: "NONE", sortTarget: "KEY" } }],
};

describe("requests round-trip through the wire", () => {
  test("Range, every field set", () => {
    const etcd = rangeRequestToEtcd(fullRange);
    assert.equal(etcd.sort_order, "Descend");
    assert.equal(etcd.revision, "9007199254740991");
    const back = rangeRequestFromEtcd(wireRequest("Range", etcd));
    assert.deepEqual(plain(back), plain(fullRange));
    assert.ok(!(back.key instanceof Buffer), "keys come back as plain Uint8Arrays");
  });

  test("Range, nothing set: proto3 zero values", () => {
    const back = rangeRequestFromEtcd(wireRequest("Range", { key: Buffer.from("k") }));
    assert.deepEqual(plain(back), plain({ ...fullRange, ...zeroRange(), key: u("k") }));
  });

  test("Put and DeleteRange", () => {
    const put = {
      key: u("k"),
      value: u("v"),
      lease: 12,
      prevKv: true,
      ignoreValue: false,
      ignoreLease: true,
    };
    assert.deepEqual(
      plain(putRequestFromEtcd(wireRequest("Put", putRequestToEtcd(put)))),
      plain(put),
    );
    const del = { key: u("a"), rangeEnd: new Uint8Array([0]), prevKv: true };
    const etcdDel = wireRequest("DeleteRange", deleteRangeRequestToEtcd(del));
    assert.deepEqual(plain(deleteRangeRequestFromEtcd(etcdDel)), plain(del));
  });

  test("Txn with every compare target, every op and a nested txn", () => {
    const back = txnRequestFromEtcd(wireRequest("Txn", txnRequestToEtcd(nestedTxn)));
    assert.deepEqual(plain(back), plain(nestedTxn));
  });

  test("Compaction, including a negative revision (the store decides)", () => {
    for (const req of [
      { revision: 17, physical: true },
      { revision: -3, physical: false },
    ]) {
      const back = compactionRequestFromEtcd(wireRequest("Compact", compactionRequestToEtcd(req)));
      assert.deepEqual(back, req);
    }
  });

  test("bytes keep every byte value, and the empty value is empty", () => {
    const key = new Uint8Array(256).map((_, i) => i);
    const back = putRequestFromEtcd(wireRequest("Put", putRequestToEtcd({ key })));
    assert.deepEqual([...back.key], [...key]);
    assert.equal(back.value?.length, 0);
  });
});

function zeroRange(): Partial<RangeRequest> {
  return {
    rangeEnd: new Uint8Array(0),
    limit: 0,
    revision: 0,
    sortOrder: "NONE",
    sortTarget: "KEY",
    serializable: false,
    keysOnly: false,
    countOnly: false,
    minModRevision: 0,
    maxModRevision: 0,
    minCreateRevision: 0,
    maxCreateRevision: 0,
  };
}

describe("responses round-trip through the wire", () => {
  const kv = {
    key: u("k"),
    createRevision: 2,
    modRevision: 9007199254740991,
    version: 3,
    value: u("v"),
    lease: 4,
  };

  test("Range: header ids as exact uint64 strings, kvs, more, count", () => {
    const r: RangeResponse = { header: { revision: 9 }, kvs: [kv, kv], more: true, count: 5 };
    const etcd = wireResponse("Range", rangeResponseToEtcd(r, member)) as {
      header: Record<string, string>;
    };
    assert.deepEqual(etcd.header, {
      cluster_id: "18446744073709551615",
      member_id: "9007199254740993",
      revision: "9",
      raft_term: "42",
    });
    assert.deepEqual(plain(rangeResponseFromEtcd(etcd)), plain(r));
  });

  test("Put with and without prev_kv, DeleteRange", () => {
    for (const r of [{ header: { revision: 3 } }, { header: { revision: 3 }, prevKv: kv }]) {
      const back = putResponseFromEtcd(wireResponse("Put", putResponseToEtcd(r, member)));
      assert.deepEqual(plain(back), plain(r as PutResponse));
    }
    const d: DeleteRangeResponse = { header: { revision: 4 }, deleted: 2, prevKvs: [kv] };
    const back = deleteRangeResponseFromEtcd(
      wireResponse("DeleteRange", deleteRangeResponseToEtcd(d, member)),
    );
    assert.deepEqual(plain(back), plain(d));
  });

  test("Txn: nested responses carry only their revision", () => {
    const r: TxnResponse = {
      header: { revision: 8 },
      succeeded: true,
      responses: [
        { type: "range", response: { header: { revision: 8 }, kvs: [kv], more: false, count: 1 } },
        { type: "put", response: { header: { revision: 8 }, prevKv: kv } },
        { type: "deleteRange", response: { header: { revision: 8 }, deleted: 0, prevKvs: [] } },
        {
          type: "txn",
          response: {
            header: { revision: 8 },
            succeeded: false,
            responses: [{ type: "put", response: { header: { revision: 8 } } }],
          },
        },
      ],
    };
    const etcd = txnResponseToEtcd(r, member);
    const first = etcd.responses[0];
    assert.ok(first !== undefined && "response_range" in first);
    assert.deepEqual(first.response_range.header, {
      cluster_id: "0",
      member_id: "0",
      revision: "8",
      raft_term: "0",
    });
    assert.deepEqual(plain(txnResponseFromEtcd(wireResponse("Txn", etcd))), plain(r));
  });

  test("Compaction", () => {
    const r = { header: { revision: 12 } };
    assert.deepEqual(
      compactionResponseFromEtcd(wireResponse("Compact", compactionResponseToEtcd(r, member))),
      r,
    );
  });

  test("a header with a malformed member id is a bug, not a bad request", () => {
    for (const clusterId of ["18446744073709551616", "-1", "0x10", "", "01"]) {
      assert.throws(
        () => headerToEtcd({ revision: 1 }, { ...member, clusterId }),
        (e: unknown) => e instanceof Error && !(e instanceof KvError),
      );
    }
    assert.throws(() => headerToEtcd({ revision: 1 }, { ...member, raftTerm: 1.5 }));
  });
});

describe("strict int64", () => {
  test("accepts decimal strings and numbers within ±(2^53 - 1)", () => {
    const cases: [unknown, number][] = [
      ["0", 0],
      ["-5", -5],
      ["9007199254740991", 9007199254740991],
      ["-9007199254740991", -9007199254740991],
      [12, 12],
      ["-0", 0],
      [undefined, 0],
      [null, 0],
    ];
    for (const [value, expected] of cases) {
      assert.equal(int64FromEtcd(value, "revision"), expected, String(value));
    }
    assert.ok(Object.is(int64FromEtcd("-0", "x"), 0), "no negative zero");
  });

  test("refuses non-integers, out-of-range values and other types", () => {
    const bad: unknown[] = [
      "9007199254740992",
      "-9007199254740992",
      "9223372036854775807",
      "1.5",
      "1e3",
      "0x10",
      " 1",
      "1 ",
      "+1",
      "",
      "abc",
      1.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      2 ** 53,
      true,
      {},
      [],
      10n,
    ];
    for (const value of bad) {
      throwsInvalid(() => int64FromEtcd(value, "revision"), /^etcdserver: revision must be/);
    }
  });

  test("through a request: a revision beyond 2^53 from the wire is refused", () => {
    const wire = wireRequest("Range", { key: Buffer.from("k"), revision: "9007199254740993" });
    throwsInvalid(() => rangeRequestFromEtcd(wire), /revision must be an integer/);
    const lease = wireRequest("Put", { key: Buffer.from("k"), lease: "-9223372036854775808" });
    throwsInvalid(() => putRequestFromEtcd(lease), /lease/);
  });
});

describe("strict enums", () => {
  test("either spelling, or the number", () => {
    for (const value of ["Ascend", "ASCEND", 1]) {
      assert.equal(rangeRequestFromEtcd({ key: u("k"), sort_order: value }).sortOrder, "ASCEND");
    }
    for (const value of ["NotEqual", "NOT_EQUAL", 3]) {
      const c = compareFromEtcd({ key: u("k"), result: value, target: "Value" });
      assert.equal(c.result, "NOT_EQUAL");
    }
    assert.equal(compareFromEtcd({ key: u("k"), target: 4 }).target, "LEASE");
  });

  test("unknown values are refused, sort options with etcd's message", () => {
    for (const value of ["ascend", "Sideways", 3, -1, 1.5, true]) {
      throwsInvalid(
        () => rangeRequestFromEtcd({ key: u("k"), sort_order: value }),
        "etcdserver: invalid sort option",
      );
    }
    throwsInvalid(
      () => rangeRequestFromEtcd({ key: u("k"), sort_target: 5 }),
      "etcdserver: invalid sort option",
    );
    throwsInvalid(() => compareFromEtcd({ key: u("k"), result: 4 }), /unknown compare result 4/);
    throwsInvalid(
      () => compareFromEtcd({ key: u("k"), target: "Size" }),
      /unknown compare target "Size"/,
    );
  });

  test("an unknown enum number from the wire is refused", () => {
    const wire = wireRequest("Range", { key: Buffer.from("k"), sort_order: 9 });
    throwsInvalid(() => rangeRequestFromEtcd(wire), "etcdserver: invalid sort option");
  });
});

describe("message shape", () => {
  test("fields of the wrong type", () => {
    throwsInvalid(() => rangeRequestFromEtcd({ key: "k" }), "etcdserver: key must be bytes");
    throwsInvalid(
      () => putRequestFromEtcd({ key: u("k"), prev_kv: 1 }),
      /prev_kv must be a boolean/,
    );
    throwsInvalid(() => txnRequestFromEtcd({ compare: {} }), /compare must be a list/);
    throwsInvalid(() => rangeRequestFromEtcd("Range"), /must be a message/);
    throwsInvalid(() => txnRequestFromEtcd({ success: [[]] }), /must be a message/);
  });

  test("a compare whose union holds another field compares against the zero value", () => {
    const c = compareFromEtcd({ key: u("k"), target: "Mod", result: "Equal", version: "5" });
    assert.equal(c.modRevision, 0);
    assert.equal(c.version, undefined);
    const wire = wireRequest("Txn", { compare: [{ key: u("k"), target: "Value" }] }) as {
      compare: unknown[];
    };
    const v = compareFromEtcd(wire.compare[0]);
    assert.equal(v.target, "VALUE");
    assert.equal(v.result, "EQUAL");
    assert.deepEqual(v.value, new Uint8Array(0));
  });

  test("a txn op must hold exactly one request", () => {
    throwsInvalid(() => txnRequestFromEtcd({ success: [{}] }), /exactly one request, got 0/);
    throwsInvalid(
      () =>
        txnRequestFromEtcd({
          failure: [{ request_put: { key: u("a") }, request_range: { key: u("a") } }],
        }),
      /exactly one request, got 2/,
    );
    const fromWire = wireRequest("Txn", { success: [{}] });
    throwsInvalid(() => txnRequestFromEtcd(fromWire), /exactly one request/);
  });

  test("nesting is bounded", () => {
    let txn: unknown = { success: [{ request_put: { key: u("a") } }] };
    for (let depth = 0; depth < 300; depth++) txn = { success: [{ request_txn: txn }] };
    throwsInvalid(() => txnRequestFromEtcd(txn), /nested deeper than/);
  });
});
