// Exactly-once writes over etcd's API: a write retried with the same (session, seq) is applied
// at most once and answers with the first result; the client's exactlyOnce mode uses this.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { serviceClient } from "../../src/api/index.js";
import { KvClient } from "../../src/client/index.js";
import { type SingleMember, startSingleMember } from "../server/http-harness.js";

const members: SingleMember[] = [];
after(async () => {
  for (const m of members) await m.close();
});

type Unary = (
  req: unknown,
  md: grpc.Metadata,
  cb: (e: grpc.ServiceError | null, r: unknown) => void,
) => void;

function rawPut(
  endpoint: string,
  key: string,
  value: string,
  session?: { id: string; seq: number },
) {
  const Ctor = serviceClient("KV");
  const client = new Ctor(endpoint, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  if (session !== undefined) {
    md.set("ordo-session", session.id);
    md.set("ordo-seq", String(session.seq));
  }
  return new Promise<{ header: { revision: string } }>((resolve, reject) => {
    (client as unknown as { Put: Unary }).Put(
      { key: Buffer.from(key), value: Buffer.from(value) },
      md,
      (e, r) => {
        client.close();
        if (e) reject(e);
        else resolve(r as { header: { revision: string } });
      },
    );
  });
}

test("a write retried with the same session and seq is applied once", async () => {
  const m = await startSingleMember();
  members.push(m);
  const registered = await fetch(`${m.base}/ordo/v1/session`, { method: "POST" });
  assert.equal(registered.status, 200);
  const { id } = (await registered.json()) as { id: string };
  assert.match(id, /^s\d+$/);

  const first = await rawPut(m.endpoint, "k", "v1", { id, seq: 1 });
  const retry = await rawPut(m.endpoint, "k", "v1", { id, seq: 1 });
  assert.equal(
    retry.header.revision,
    first.header.revision,
    "the retry answers with the first result",
  );
  const client = new KvClient([m.endpoint]);
  try {
    const after1 = await client.get("k");
    assert.equal(after1.revision, Number(first.header.revision), "applied once: no new revision");
    const second = await rawPut(m.endpoint, "k", "v2", { id, seq: 2 });
    assert.equal(Number(second.header.revision), Number(first.header.revision) + 1);
    await assert.rejects(
      rawPut(m.endpoint, "k", "old", { id, seq: 1 }),
      (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT,
    );
    await assert.rejects(
      rawPut(m.endpoint, "k", "x", { id: "s999999", seq: 1 }),
      (e: grpc.ServiceError) => e.code === grpc.status.FAILED_PRECONDITION,
    );
    await assert.rejects(
      rawPut(m.endpoint, "k", "x", { id: "bogus", seq: 1 }),
      (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT,
    );
    assert.equal((await client.get("k")).kvs[0]?.value, "v2");
  } finally {
    client.close();
  }
});

test("the client's exactlyOnce mode: writes in a session, one at a time", async () => {
  const m = await startSingleMember();
  members.push(m);
  const client = new KvClient([m.endpoint], { exactlyOnce: true });
  try {
    const writes = await Promise.all(
      Array.from({ length: 10 }, (_, i) => client.put(`e${i}`, `v${i}`)),
    );
    const revisions = writes.map((w) => w.revision).sort((a, b) => a - b);
    assert.equal(new Set(revisions).size, 10, "each write applied exactly once");
    assert.equal((await client.delete("e0")).deleted, 1);
    assert.equal((await client.get("e", { prefix: true })).count, 9);
  } finally {
    client.close();
  }
});
