// The gateway's pieces without a member: etcd's JSON conventions in json-codec.ts (names,
// int64 strings, base64, enum names, zero values left out) and the cutting of a stream's body
// into objects in streams.ts (objects split across chunks, braces inside strings, bounds).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  etcdEnumName,
  messageFromJson,
  messageToJson,
} from "../../src/server/gateway/json-codec.js";
import { JsonSplitter, streamErrorOf } from "../../src/server/gateway/streams.js";

describe("gateway JSON codec", () => {
  it("writes the vendored enum names as etcd spells them", () => {
    assert.equal(etcdEnumName("NotEqual"), "NOT_EQUAL");
    assert.equal(etcdEnumName("Nospace"), "NOSPACE");
    assert.equal(etcdEnumName("Readwrite"), "READWRITE");
    assert.equal(etcdEnumName("Put"), "PUT");
  });

  it("reads snake_case and camelCase, int64 strings or numbers, base64, enums by name or number", () => {
    const m = messageFromJson("etcdserverpb.WatchRequest", {
      createRequest: {
        key: "Zm9v",
        range_end: "Zm9w",
        startRevision: 7,
        filters: ["NODELETE", 0, "Noput"],
        prev_kv: true,
      },
    }) as { create_request: Record<string, unknown> };
    const c = m.create_request;
    assert.deepEqual(c.key, Buffer.from("foo"));
    assert.deepEqual(c.range_end, Buffer.from("fop"));
    assert.equal(c.start_revision, "7");
    assert.deepEqual(c.filters, [1, 0, 0]);
    assert.equal(c.prev_kv, true);
    assert.deepEqual(
      messageFromJson("etcdserverpb.LeaseGrantRequest", { TTL: "9223372036854775807" }),
      { TTL: "9223372036854775807" },
    );
  });

  it("refuses what jsonpb refuses, saying which field", () => {
    const grant = (json: unknown) => messageFromJson("etcdserverpb.LeaseGrantRequest", json);
    assert.throws(() => grant({ TTL: "9223372036854775808" }), /TTL must be an integer/);
    assert.throws(() => grant({ TTL: 1.5 }), /TTL must be an integer/);
    assert.throws(() => grant({ TTL: true }), /TTL must be an integer/);
    assert.throws(
      () => grant({ nope: 1 }),
      /unknown field "nope" in etcdserverpb\.LeaseGrantRequest/,
    );
    assert.throws(() => grant([]), /must be a JSON object/);
    const alarm = (json: unknown) => messageFromJson("etcdserverpb.AlarmRequest", json);
    assert.throws(
      () => alarm({ action: "LOUD" }),
      /action must be one of GET, ACTIVATE, DEACTIVATE/,
    );
    assert.throws(() => alarm({ memberID: "-1" }), /memberID must be an integer \(UINT64\)/);
    const watch = (json: unknown) => messageFromJson("etcdserverpb.WatchRequest", json);
    assert.throws(() => watch({ create_request: { key: "a*b" } }), /key must be a base64 string/);
    assert.throws(() => watch({ create_request: { filters: "NOPUT" } }), /filters must be a list/);
    assert.throws(() => watch({ create_request: { prev_kv: "yes" } }), /prev_kv must be a boolean/);
    // A txn inside a txn, 40 times over: two message levels each, past the limit of 64.
    let deep: unknown = {};
    for (let i = 0; i < 40; i++) deep = { success: [{ request_txn: deep }] };
    assert.throws(() => messageFromJson("etcdserverpb.TxnRequest", deep), /nested too deep/);
    let fine: unknown = {};
    for (let i = 0; i < 20; i++) fine = { success: [{ request_txn: fine }] };
    assert.doesNotThrow(() => messageFromJson("etcdserverpb.TxnRequest", fine));
  });

  it("writes etcd's gateway JSON: zero values left out, int64 as strings, enum names, base64", () => {
    const json = messageToJson("etcdserverpb.WatchResponse", {
      header: { cluster_id: "12", member_id: "0", revision: "3", raft_term: "0" },
      watch_id: "0",
      created: false,
      canceled: false,
      compact_revision: "0",
      cancel_reason: "",
      fragment: false,
      events: [
        {
          type: "Delete",
          kv: {
            key: Buffer.from("k"),
            create_revision: "0",
            mod_revision: "3",
            version: "0",
            value: Buffer.alloc(0),
            lease: "0",
          },
          prev_kv: null,
        },
        { type: "Put", kv: null, prev_kv: null },
      ],
    });
    assert.deepEqual(json, {
      header: { cluster_id: "12", revision: "3" },
      events: [{ type: "DELETE", kv: { key: "aw==", mod_revision: "3" } }, {}],
    });
    assert.deepEqual(messageToJson("etcdserverpb.HashResponse", { header: null, hash: 5 }), {
      hash: 5,
    });
  });
});

describe("gateway stream body", () => {
  const split = (chunks: string[], bytesMax = 1000) => {
    const splitter = new JsonSplitter(bytesMax, 8);
    const objects: string[] = [];
    for (const c of chunks) {
      const error = splitter.push(Buffer.from(c), (t) => objects.push(t));
      if (error !== undefined) return { objects, error, midObject: splitter.midObject };
    }
    return { objects, error: undefined, midObject: splitter.midObject };
  };

  it("cuts concatenated and newline-delimited objects, across chunk boundaries", () => {
    const r = split(['{"a":1}\n{"b":"}{\\"', '"}  {"c"', ":[{}]}\r\n", '{"d":"é"}']);
    assert.equal(r.error, undefined);
    assert.deepEqual(
      r.objects.map((o) => JSON.parse(o)),
      [{ a: 1 }, { b: '}{"' }, { c: [{}] }, { d: "é" }],
    );
    assert.equal(r.midObject, false);
    assert.equal(split(['{"a":', "1"]).midObject, true);
  });

  it("refuses a value that is not an object, one too large and one nested too deep", () => {
    assert.equal(split(["[1]"]).error?.httpStatus, 400);
    assert.match(String(split(["{} 12"]).error?.details), /must be a JSON object/);
    const large = split([`{"k":"${"x".repeat(600)}`, `${"x".repeat(600)}"}`]);
    assert.equal(large.error?.httpStatus, 413);
    assert.match(String(large.error?.details), /request is too large/);
    assert.match(String(split([`{"a":${"[".repeat(9)}`]).error?.details), /too deep/);
  });

  it("renders a stream error as grpc-gateway's StreamError", () => {
    assert.deepEqual(streamErrorOf({ code: 5, details: "etcdserver: requested lease not found" }), {
      error: {
        grpc_code: 5,
        http_code: 404,
        message: "etcdserver: requested lease not found",
        http_status: "Not Found",
      },
    });
  });
});
