// Range on the direct path (KvBackend.range: the store answers in process, RsmNode.readWith)
// answers exactly as the encoded path (KvBackend.read: query and result as bytes): two servers
// with the same history, the same requests, the same responses and the same errors.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  b,
  DirectRangeBackend,
  type KvTestServer,
  StateMachineBackend,
  startKvServer,
} from "./kv-harness.js";

describe("Range: the direct path answers as the encoded path", () => {
  const encoded = new StateMachineBackend();
  const direct = new DirectRangeBackend();
  let servers: [KvTestServer, KvTestServer];

  before(async () => {
    servers = [await startKvServer(encoded), await startKvServer(direct)];
    for (const server of servers) {
      for (const key of ["a", "b/1", "b/2", "b/3", "c"]) {
        await server.client.call("Put", { key: b(key), value: b(`v-${key}`) });
      }
      await server.client.call("Put", { key: b("b/2"), value: b("again") });
      await server.client.call("DeleteRange", { key: b("c") });
      await server.client.call("Compact", { revision: "2" });
    }
  });
  after(async () => {
    for (const server of servers) await server.close();
  });

  const requests: [string, object][] = [
    ["one key", { key: b("a") }],
    ["serializable", { key: b("b/1"), serializable: true }],
    ["a prefix", { key: b("b/"), range_end: b("b0") }],
    ["from a key on", { key: b("b/2"), range_end: Buffer.from([0]) }],
    ["limit and more", { key: b("b/"), range_end: b("b0"), limit: "2" }],
    ["count only", { key: b("b/"), range_end: b("b0"), count_only: true }],
    [
      "keys only, descending by version",
      {
        key: b("b/"),
        range_end: b("b0"),
        keys_only: true,
        sort_order: "Descend",
        sort_target: "Version",
      },
    ],
    ["at an old revision", { key: b("b/"), range_end: b("b0"), revision: "4" }],
    ["a deleted key", { key: b("c") }],
    ["mod revision bounds", { key: b("b/"), range_end: b("b0"), min_mod_revision: "4" }],
    ["compacted", { key: b("a"), revision: "1" }],
    ["future", { key: b("a"), revision: "1000" }],
    ["no key", { key: b("") }],
  ];
  for (const [name, request] of requests) {
    test(name, async () => {
      const outcomes = await Promise.all(
        servers.map((s) =>
          s.client.call("Range", request).then(
            (r) => ({ ok: r }),
            (e: { code: number; details: string }) => ({ code: e.code, details: e.details }),
          ),
        ),
      );
      assert.deepEqual(outcomes[1], outcomes[0]);
    });
  }

  test("the direct server answered on its direct path, the other on bytes", () => {
    assert.equal(direct.directRanges, requests.length);
    assert.equal(encoded.reads.length, requests.length);
  });
});
