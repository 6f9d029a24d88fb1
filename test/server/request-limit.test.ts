// --max-request-bytes: a member refuses larger requests with etcd's error, loses nothing, and
// keeps serving.
import assert from "node:assert/strict";
import { test } from "node:test";
import { KvClient, type KvClientError } from "../../src/client/index.js";
import { startSingleMember } from "./http-harness.js";

test("requests over the configured limit get etcd's error; the member keeps serving", async () => {
  const m = await startSingleMember("n1", { requestBytesMax: 4096 });
  const client = new KvClient([m.endpoint], { timeoutMs: 3000, attempts: 2 });
  try {
    await client.put("small", "x".repeat(1000));
    await assert.rejects(client.put("big", "x".repeat(8000)), (e: KvClientError) =>
      /request is too large/.test(e.message),
    );
    assert.equal((await client.get("small")).kvs[0]?.value.length, 1000);
    assert.equal((await client.get("big")).kvs.length, 0);
    await client.put("after", "ok");
    assert.equal((await client.get("after")).kvs[0]?.value, "ok");
  } finally {
    client.close();
    await m.close();
  }
});
