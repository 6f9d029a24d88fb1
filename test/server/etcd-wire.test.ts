// The hand-written Range/Put (de)serializers (src/server/etcd-wire.ts) against proto-loader's:
// the same requests come out of both decoders (compared through etcd-mapping, which is what the
// handlers see, including its errors), and every response the fast encoders write decodes with
// proto-loader to what proto-loader's own encoding decodes to. Random messages from a seeded
// PRNG, edge values by name, and random bytes (the fast decoder never throws anything but a
// plain Error, and agrees whenever both accept).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type * as grpc from "@grpc/grpc-js";
import { Xoshiro128 } from "../../src/raft/index.js";
import { putRequestFromEtcd, rangeRequestFromEtcd } from "../../src/server/etcd-mapping.js";
import {
  decodePutRequest,
  decodeRangeRequest,
  encodePutResponse,
  encodeRangeResponse,
  kvServiceDefinition,
} from "../../src/server/etcd-wire.js";
import { serviceDefinition } from "../../src/server/proto.js";

const KV = serviceDefinition("KV");
const method = (name: string) => KV[name] as grpc.MethodDefinition<unknown, unknown>;
const prng = new Xoshiro128(424242);
const int = (n: number) => prng.next32() % n;

function randomBytes(max: number): Buffer {
  const b = Buffer.alloc(int(max + 1));
  for (let i = 0; i < b.length; i++) b[i] = int(256);
  return b;
}

/** An int64 as a decimal string: small, large, negative, the edges. */
function randomInt64(): string {
  switch (int(8)) {
    case 0:
      return "0";
    case 1:
      return String(int(1000));
    case 2:
      return String(-1 - int(1000));
    case 3:
      return "9007199254740991";
    case 4:
      return "9007199254740993";
    case 5:
      return "-9223372036854775808";
    case 6:
      return "9223372036854775807";
    default:
      return String(prng.next32() * 2 ** 20 + int(2 ** 20));
  }
}

/** What the handler would get: etcd-mapping's request, or its error message. */
function mapped<T>(f: (m: unknown) => T, m: unknown): T | string {
  try {
    return f(m);
  } catch (e) {
    return `error: ${(e as Error).message}`;
  }
}

function randomRangeRequest(): Record<string, unknown> {
  const m: Record<string, unknown> = {};
  if (int(2)) m.key = randomBytes(20);
  if (int(2)) m.range_end = randomBytes(20);
  for (const f of [
    "limit",
    "revision",
    "min_mod_revision",
    "max_mod_revision",
    "min_create_revision",
    "max_create_revision",
  ]) {
    if (int(3) === 0) m[f] = randomInt64();
  }
  if (int(2)) m.sort_order = int(4); // 3 is not a SortOrder
  if (int(2)) m.sort_target = int(6);
  for (const f of ["serializable", "keys_only", "count_only"]) if (int(2)) m[f] = true;
  return m;
}

function randomPutRequest(): Record<string, unknown> {
  const m: Record<string, unknown> = {};
  if (int(4)) m.key = randomBytes(16);
  if (int(4)) m.value = randomBytes(300);
  if (int(2)) m.lease = randomInt64();
  for (const f of ["prev_kv", "ignore_value", "ignore_lease"]) if (int(2)) m[f] = true;
  return m;
}

function randomHeader(): Record<string, string> {
  return {
    cluster_id: int(2) ? "18446744073709551615" : String(prng.next32()),
    member_id: int(2) ? "0" : String(prng.next32() * 1000),
    revision: String(int(1_000_000)),
    raft_term: String(int(50)),
  };
}

function randomKeyValue(): Record<string, unknown> {
  return {
    key: randomBytes(16),
    create_revision: String(int(100_000)),
    mod_revision: String(int(100_000)),
    version: String(int(100)),
    value: randomBytes(300),
    lease: int(3) === 0 ? "7587880000000000001" : "0",
  };
}

describe("etcd-wire: requests", () => {
  test("RangeRequest: the fast decoder gives the handler what proto-loader gives it", () => {
    const m = method("Range");
    for (let i = 0; i < 2000; i++) {
      const bytes = m.requestSerialize(randomRangeRequest());
      assert.deepEqual(
        mapped(rangeRequestFromEtcd, decodeRangeRequest(bytes)),
        mapped(rangeRequestFromEtcd, m.requestDeserialize(bytes)),
        bytes.toString("hex"),
      );
    }
  });

  test("PutRequest: the fast decoder gives the handler what proto-loader gives it", () => {
    const m = method("Put");
    for (let i = 0; i < 2000; i++) {
      const bytes = m.requestSerialize(randomPutRequest());
      assert.deepEqual(
        mapped(putRequestFromEtcd, decodePutRequest(bytes)),
        mapped(putRequestFromEtcd, m.requestDeserialize(bytes)),
        bytes.toString("hex"),
      );
    }
  });

  test("unknown fields are skipped and an empty message is all defaults", () => {
    const put = method("Put");
    const known = put.requestSerialize({ key: Buffer.from("k"), value: Buffer.from("v") });
    // field 15 varint, field 16 length-delimited, field 17 fixed64, field 18 fixed32
    const unknown = Buffer.from([
      0x78, 0x05, 0x82, 0x01, 0x02, 0xaa, 0xbb, 0x89, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 0x95, 0x01, 1,
      2, 3, 4,
    ]);
    const bytes = Buffer.concat([unknown, known]);
    assert.deepEqual(
      putRequestFromEtcd(decodePutRequest(bytes)),
      putRequestFromEtcd(put.requestDeserialize(bytes)),
    );
    assert.deepEqual(
      rangeRequestFromEtcd(decodeRangeRequest(Buffer.alloc(0))),
      rangeRequestFromEtcd(method("Range").requestDeserialize(Buffer.alloc(0))),
    );
  });

  test("truncated and malformed bytes are refused with an Error, never a crash", () => {
    const bytes = method("Put").requestSerialize({
      key: Buffer.from("key"),
      value: Buffer.alloc(40),
    });
    for (let cut = 1; cut < bytes.length; cut++) {
      const part = bytes.subarray(0, cut);
      let fast: unknown;
      try {
        fast = putRequestFromEtcd(decodePutRequest(part));
      } catch (e) {
        assert.ok(e instanceof Error, String(e));
        continue;
      }
      // A cut exactly between fields is a shorter, valid message.
      assert.deepEqual(fast, putRequestFromEtcd(method("Put").requestDeserialize(part)));
    }
    assert.throws(() => decodePutRequest(Buffer.from([0x0a, 0x05, 1, 2])), /truncated/);
    assert.throws(
      () => decodePutRequest(Buffer.from([0x08, 0x01])),
      /wire type/,
      "key as a varint",
    );
    assert.throws(
      () =>
        decodeRangeRequest(
          Buffer.from([0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
        ),
      /longer than 10/,
    );
  });

  test("random bytes: the decoders agree whenever both accept", () => {
    for (const [name, fast, map] of [
      ["Range", decodeRangeRequest, rangeRequestFromEtcd],
      ["Put", decodePutRequest, putRequestFromEtcd],
    ] as const) {
      let agreed = 0;
      for (let i = 0; i < 3000; i++) {
        const bytes = randomBytes(24);
        let ours: unknown;
        let theirs: unknown;
        try {
          ours = fast(bytes);
        } catch (e) {
          assert.ok(e instanceof Error);
          continue;
        }
        try {
          theirs = method(name).requestDeserialize(bytes);
        } catch {
          continue;
        }
        assert.deepEqual(
          mapped(map, ours),
          mapped(map, theirs),
          `${name} ${bytes.toString("hex")}`,
        );
        agreed++;
      }
      assert.ok(agreed > 20, `${name}: only ${agreed} random messages both accepted`);
    }
  });
});

describe("etcd-wire: responses", () => {
  test("RangeResponse: proto-loader reads the fast encoding as it reads its own", () => {
    const m = method("Range");
    for (let i = 0; i < 1000; i++) {
      const response = {
        header: randomHeader(),
        kvs: Array.from({ length: int(4) }, randomKeyValue),
        more: int(2) === 0,
        count: String(int(10_000)),
      };
      const ours = encodeRangeResponse(response as never);
      assert.deepEqual(
        m.responseDeserialize(ours),
        m.responseDeserialize(m.responseSerialize(response)),
      );
    }
  });

  test("PutResponse, with and without prev_kv", () => {
    const m = method("Put");
    for (let i = 0; i < 500; i++) {
      const response = int(2)
        ? { header: randomHeader() }
        : { header: randomHeader(), prev_kv: randomKeyValue() };
      const ours = encodePutResponse(response as never);
      assert.deepEqual(
        m.responseDeserialize(ours),
        m.responseDeserialize(m.responseSerialize(response)),
      );
    }
  });

  test("the KV definition uses the fast functions for Range and Put only", () => {
    const def = kvServiceDefinition();
    assert.equal(
      (def.Range as grpc.MethodDefinition<unknown, unknown>).requestDeserialize,
      decodeRangeRequest,
    );
    assert.equal(
      (def.Put as grpc.MethodDefinition<unknown, unknown>).requestDeserialize,
      decodePutRequest,
    );
    assert.equal(def.Txn, KV.Txn);
    assert.equal((def.Range as grpc.MethodDefinition<unknown, unknown>).path, method("Range").path);
  });
});
