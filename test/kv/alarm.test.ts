// The replicated NOSPACE alarm and the capped apply (etcd 3.4's applierV3Capped): the Alarm
// command raises, clears and lists alarms; while NOSPACE is raised Put, a Txn with a put and
// LeaseGrant are refused with etcd's error and nothing else is; the alarm rides the snapshot
// (a snapshot from before alarms existed still loads); the quota arithmetic is etcd's; and
// malformed Alarm command bytes are refused with a clear MALFORMED error.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  type AlarmRequest,
  costTxn,
  DEFAULT_QUOTA_BYTES,
  decodeCommand,
  encodeCommand,
  grpcErrorOf,
  KV_OVERHEAD_BYTES,
  type KvCommand,
  KvError,
  type KvResult,
  KvStateMachine,
  KvStore,
  LEASE_OVERHEAD_BYTES,
  type PlainKvCommand,
  quotaAvailable,
  quotaBytesOf,
  quotaCostOf,
} from "../../src/kv/index.js";
import { b, ctx } from "./helpers.js";

const MEMBER = "10276657743932975437"; // above 2^53: ids travel as decimal text
const OTHER = "42";

function run(sm: KvStateMachine, command: KvCommand): KvResult {
  return sm.applyDecoded(encodeCommand(command), ctx());
}

function ok(sm: KvStateMachine, command: KvCommand) {
  const r = run(sm, command);
  if (!r.ok) assert.fail(`${command.type}: ${r.error.code} ${r.error.message}`);
  return r.response;
}

function refusedCode(sm: KvStateMachine, command: KvCommand): string {
  const r = run(sm, command);
  assert.equal(r.ok, false, `${command.type} should be refused`);
  return r.ok ? "" : r.error.code;
}

const alarm = (action: AlarmRequest["action"], memberId = MEMBER): KvCommand => ({
  type: "Alarm",
  request: { action, memberId, alarm: action === "GET" ? "NONE" : "NOSPACE" },
});

const put = (key: string, value = "v"): PlainKvCommand => ({
  type: "Put",
  request: { key: b(key), value: b(value) },
});

const txnWith = (ops: "put" | "range" | "delete" | "nested-put"): KvCommand => {
  const op =
    ops === "put"
      ? { type: "put" as const, request: { key: b("t"), value: b("1") } }
      : ops === "range"
        ? { type: "range" as const, request: { key: b("a") } }
        : ops === "delete"
          ? { type: "deleteRange" as const, request: { key: b("a") } }
          : {
              type: "txn" as const,
              request: {
                success: [{ type: "put" as const, request: { key: b("n"), value: b("") } }],
              },
            };
  // The same op in both branches: only one runs, but the cap (as etcd's cost) counts either.
  return { type: "Txn", request: { compare: [], success: [op], failure: [op] } };
};

function listed(sm: KvStateMachine): string[] {
  const r = ok(sm, alarm("GET", "0"));
  assert.equal(r.type, "Alarm");
  return r.type === "Alarm" ? r.response.alarms.map((a) => `${a.memberId}:${a.alarm}`) : [];
}

describe("Alarm command", () => {
  test("ACTIVATE raises NOSPACE once per member, DEACTIVATE clears it, GET lists in order", () => {
    const sm = new KvStateMachine();
    assert.deepEqual(listed(sm), []);
    const raised = ok(sm, alarm("ACTIVATE"));
    assert.deepEqual(raised.type === "Alarm" && raised.response.alarms, [
      { memberId: MEMBER, alarm: "NOSPACE" },
    ]);
    ok(sm, alarm("ACTIVATE")); // again: etcd answers the alarm already raised
    ok(sm, alarm("ACTIVATE", OTHER));
    assert.deepEqual(listed(sm), [`${OTHER}:NOSPACE`, `${MEMBER}:NOSPACE`]);
    const cleared = ok(sm, alarm("DEACTIVATE"));
    assert.deepEqual(cleared.type === "Alarm" && cleared.response.alarms, [
      { memberId: MEMBER, alarm: "NOSPACE" },
    ]);
    const none = ok(sm, alarm("DEACTIVATE"));
    assert.deepEqual(none.type === "Alarm" && none.response.alarms, []);
    assert.deepEqual(listed(sm), [`${OTHER}:NOSPACE`]);
    ok(sm, alarm("DEACTIVATE", OTHER));
    assert.deepEqual(listed(sm), []);
    assert.equal(sm.store.alarms.has("NOSPACE"), false);
  });

  test("CORRUPT is the runtime's: raising it is refused, clearing it finds nothing", () => {
    const sm = new KvStateMachine();
    const corrupt = (action: "ACTIVATE" | "DEACTIVATE"): KvCommand => ({
      type: "Alarm",
      request: { action, memberId: MEMBER, alarm: "CORRUPT" },
    });
    assert.equal(refusedCode(sm, corrupt("ACTIVATE")), "INVALID_ARGUMENT");
    const r = ok(sm, corrupt("DEACTIVATE"));
    assert.deepEqual(r.type === "Alarm" && r.response.alarms, []);
    assert.deepEqual(listed(sm), []);
  });

  test("an alarm changes no revision and no key", () => {
    const sm = new KvStateMachine();
    ok(sm, put("a"));
    const before = sm.store.revision;
    ok(sm, alarm("ACTIVATE"));
    ok(sm, alarm("DEACTIVATE"));
    assert.equal(sm.store.revision, before);
  });
});

describe("capped apply while NOSPACE is raised", () => {
  function capped(): KvStateMachine {
    const sm = new KvStateMachine();
    ok(sm, put("a", "1"));
    ok(sm, put("b", "2"));
    ok(sm, { type: "LeaseGrant", request: { ttl: 60, id: 5 } });
    ok(sm, alarm("ACTIVATE"));
    return sm;
  }

  test("Put, a Txn with a put (nested too) and LeaseGrant are refused with etcd's error", () => {
    const sm = capped();
    const revision = sm.store.revision;
    for (const command of [
      put("a", "2"),
      put("new"),
      txnWith("put"),
      txnWith("nested-put"),
      { type: "LeaseGrant", request: { ttl: 60 } } as KvCommand,
    ]) {
      const r = run(sm, command);
      assert.equal(r.ok, false, command.type);
      if (r.ok) continue;
      assert.equal(r.error.code, "NO_SPACE");
      const grpc = grpcErrorOf(new KvError(r.error.code, r.error.message));
      assert.deepEqual(grpc, {
        status: "RESOURCE_EXHAUSTED",
        message: "etcdserver: mvcc: database space exceeded",
      });
    }
    assert.equal(sm.store.revision, revision, "nothing was written");
    assert.equal(sm.store.leaseLeases().leases.length, 1);
  });

  test("a WithAuth envelope does not get a put past the cap", () => {
    const sm = capped();
    const wrapped: KvCommand = {
      type: "WithAuth",
      auth: { username: "", revision: 0 },
      command: { type: "Put", request: { key: b("a"), value: b("x") } },
    };
    assert.equal(refusedCode(sm, wrapped), "NO_SPACE");
  });

  test("Range, DeleteRange, a Txn without puts, Compaction, LeaseRevoke still apply", () => {
    const sm = capped();
    const range = ok(sm, { type: "Range", request: { key: b("a") } });
    assert.equal(range.type === "Range" && range.response.count, 1);
    ok(sm, txnWith("range"));
    ok(sm, txnWith("delete"));
    const del = ok(sm, { type: "DeleteRange", request: { key: b("b") } });
    assert.equal(del.type === "DeleteRange" && del.response.deleted, 1);
    ok(sm, { type: "Compaction", request: { revision: sm.store.revision } });
    ok(sm, { type: "LeaseKeepAlive", request: { id: 5 } });
    ok(sm, { type: "LeaseRevoke", request: { id: 5 } });
    assert.equal(sm.store.status().keys, 0);
  });

  test("after DEACTIVATE writes are accepted again", () => {
    const sm = capped();
    assert.equal(refusedCode(sm, put("a")), "NO_SPACE");
    ok(sm, alarm("DEACTIVATE"));
    ok(sm, put("a", "3"));
    ok(sm, { type: "LeaseGrant", request: { ttl: 60 } });
  });

  test("only the last member's alarm lifts the cap", () => {
    const sm = capped();
    ok(sm, alarm("ACTIVATE", OTHER));
    ok(sm, alarm("DEACTIVATE"));
    assert.equal(refusedCode(sm, put("a")), "NO_SPACE");
    ok(sm, alarm("DEACTIVATE", OTHER));
    ok(sm, put("a"));
  });
});

describe("alarms in snapshots", () => {
  test("a raised alarm survives snapshot and restore, and changes the state hash", () => {
    const sm = new KvStateMachine();
    ok(sm, put("a"));
    const hashWithout = sm.hash();
    const snapshotWithout = sm.snapshot();
    ok(sm, alarm("ACTIVATE"));
    assert.notEqual(sm.hash(), hashWithout, "replicas that disagree on alarms must not agree");
    const restored = new KvStateMachine();
    restored.restore(sm.snapshot());
    assert.deepEqual(listed(restored), [`${MEMBER}:NOSPACE`]);
    assert.equal(refusedCode(restored, put("b")), "NO_SPACE");
    assert.deepEqual(restored.snapshot(), sm.snapshot());
    // Cleared again: the snapshot is byte for byte the one without alarms.
    ok(sm, alarm("DEACTIVATE"));
    assert.deepEqual(sm.snapshot(), snapshotWithout);
    assert.equal(sm.hash(), hashWithout);
  });

  test("alarms with auth state round-trip", () => {
    const store = new KvStore();
    store.auth.userAdd("u", "hash", false);
    store.alarm({ action: "ACTIVATE", memberId: OTHER, alarm: "NOSPACE" });
    const again = KvStore.fromSnapshot(store.snapshot());
    assert.deepEqual(again.alarms.get(), [{ memberId: OTHER, alarm: "NOSPACE" }]);
    assert.deepEqual(again.auth.userNames(), ["u"]);
  });

  // Written by the store before alarms existed (commit 8729218): keys a (deleted) and b on
  // lease 7; the second also with a user and a role (format version 2).
  const V1 = "4f4b56010400020161020200000201000131040001016201030000030107013201073cc8dc03";
  const V2 =
    "4f4b56020400020161020200000201000131040001016201030000030107013201073cc8dc03" +
    "00030101750468617368000001017200";

  test("snapshots from before alarms existed load, with no alarm, and re-encode unchanged", () => {
    for (const hex of [V1, V2]) {
      const bytes = Uint8Array.from(Buffer.from(hex, "hex"));
      const store = KvStore.fromSnapshot(bytes);
      assert.deepEqual(store.alarms.get(), []);
      assert.equal(store.revision, 4);
      assert.equal(store.status().keys, 1);
      assert.deepEqual(store.snapshot(), bytes);
    }
  });

  test("a corrupt alarm section is CORRUPT_SNAPSHOT", () => {
    const store = new KvStore();
    store.alarm({ action: "ACTIVATE", memberId: OTHER, alarm: "NOSPACE" });
    const good = store.snapshot();
    const cases: [string, Uint8Array][] = [
      ["truncated", good.subarray(0, good.length - 1)],
      ["trailing byte", Uint8Array.from([...good, 0])],
      ["alarm type NONE", Uint8Array.from([...good.subarray(0, good.length - 1), 0])],
      ["unknown alarm type", Uint8Array.from([...good.subarray(0, good.length - 1), 9])],
    ];
    for (const [what, bytes] of cases) {
      assert.throws(
        () => KvStore.fromSnapshot(bytes),
        (e: unknown) => e instanceof KvError && e.code === "CORRUPT_SNAPSHOT",
        what,
      );
    }
    assert.deepEqual(KvStore.fromSnapshot(good).alarms.get(), store.alarms.get());
  });
});

describe("Alarm command bytes", () => {
  test("encode → decode round-trips", () => {
    for (const action of ["GET", "ACTIVATE", "DEACTIVATE"] as const) {
      const command = alarm(action);
      assert.deepEqual(decodeCommand(encodeCommand(command)), command);
    }
  });

  test("malformed bytes are MALFORMED with a clear reason; apply answers, never throws", () => {
    const good = encodeCommand(alarm("ACTIVATE", OTHER));
    // version, tag 18, action, member id (len 2, "42"), alarm type
    assert.deepEqual([...good], [1, 18, 1, 2, 0x34, 0x32, 1]);
    const cases: [string, number[], RegExp][] = [
      ["unknown action", [1, 18, 3, 2, 0x34, 0x32, 1], /alarm action/],
      ["unknown alarm type", [1, 18, 1, 2, 0x34, 0x32, 3], /alarm type/],
      ["leading zero id", [1, 18, 1, 2, 0x30, 0x32, 1], /not a uint64/],
      ["non-digit id", [1, 18, 1, 2, 0x34, 0x78, 1], /not a uint64/],
      ["id above 2^64-1", [1, 18, 1, 20, ...Buffer.from("18446744073709551616"), 1], /uint64/],
      ["id too long", [1, 18, 1, 21, ...Buffer.from("184467440737095516150"), 1], /exceeds/],
      ["truncated", [1, 18, 1, 2, 0x34], /truncated|beyond/],
      ["trailing bytes", [...good, 0], /trailing/],
    ];
    const sm = new KvStateMachine();
    for (const [what, bytes, reason] of cases) {
      const input = Uint8Array.from(bytes);
      assert.throws(
        () => decodeCommand(input),
        (e: unknown) =>
          e instanceof KvError &&
          e.code === "MALFORMED" &&
          /^kv: malformed command: /.test(e.message) &&
          reason.test(e.message),
        what,
      );
      const r = sm.applyDecoded(input, ctx());
      assert.equal(r.ok ? "ok" : r.error.code, "MALFORMED", what);
    }
    assert.deepEqual(sm.store.alarms.get(), []);
  });

  test("an id that is not a uint64 cannot be encoded", () => {
    assert.throws(
      () =>
        encodeCommand({
          type: "Alarm",
          request: { action: "ACTIVATE", memberId: "-1", alarm: "NOSPACE" },
        }),
      (e: unknown) => e instanceof KvError && e.code === "INVALID_ARGUMENT",
    );
  });
});

describe("quota arithmetic (etcd 3.4 etcdserver/quota.go)", () => {
  test("quotaBytesOf: negative disables, 0 is 2 GiB, else the bytes", () => {
    assert.equal(quotaBytesOf(-1), undefined);
    assert.equal(quotaBytesOf(0), DEFAULT_QUOTA_BYTES);
    assert.equal(DEFAULT_QUOTA_BYTES, 2 * 1024 ** 3);
    assert.equal(quotaBytesOf(4096), 4096);
    assert.throws(() => quotaBytesOf(1.5), RangeError);
  });

  test("costs: put key+value+256, txn its larger branch, lease grant 64, others none", () => {
    assert.equal(quotaCostOf(put("ab", "cde")), KV_OVERHEAD_BYTES + 5);
    assert.equal(quotaCostOf({ type: "LeaseGrant", request: { ttl: 5 } }), LEASE_OVERHEAD_BYTES);
    assert.equal(quotaCostOf({ type: "DeleteRange", request: { key: b("a") } }), undefined);
    const p = (key: string) => ({ type: "put" as const, request: { key: b(key), value: b("") } });
    assert.equal(costTxn({ success: [p("a"), p("b")], failure: [p("cc")] }), 2 * 256 + 2);
    assert.equal(costTxn({ success: [p("a")], failure: [p("a"), p("bb")] }), 2 * 256 + 3);
    assert.equal(costTxn({ success: [{ type: "range", request: { key: b("a") } }] }), 0);
    assert.equal(costTxn({ success: [{ type: "txn", request: { failure: [p("a")] } }] }), 257);
  });

  test("available while size + cost stays strictly below the quota", () => {
    assert.equal(quotaAvailable(700, 299, 1000), true);
    assert.equal(quotaAvailable(700, 300, 1000), false);
  });
});
