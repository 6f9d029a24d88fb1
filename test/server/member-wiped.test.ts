// A member restarted with a wiped data directory under its old name and flags (issue 11): it
// must not take part. In process (Member.start on loopback):
//  - the boot check refuses it (MemberStartError "has already been bootstrapped", with how to
//    rejoin) and leaves no data directory behind, so the next attempt is refused the same way;
//  - with the boot check bypassed (no peer answers in time), the peers refuse its connections
//    by its data directory's incarnation: it stops (Member.fenced), is never let in, and the
//    others keep serving;
//  - rejoining the documented way (member remove, wipe, member add, --initial-cluster-state
//    existing) works.
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { KvClient } from "../../src/client/index.js";
import type { PeerSpec } from "../../src/server/cluster-config.js";
import type { Member } from "../../src/server/member.js";
import { MemberStartError } from "../../src/server/member-identity.js";
import { freePort } from "../cluster/ports.js";
import { endpoint, memberHarness, waitFor } from "./member-harness.js";

const { tempDir, startMember } = memberHarness("wiped");

async function threeMembers(): Promise<{
  specs: PeerSpec[];
  dataDirs: string[];
  started: Member[];
  client: KvClient;
}> {
  const specs: PeerSpec[] = [];
  for (const name of ["n1", "n2", "n3"])
    specs.push({ name, host: "127.0.0.1", port: await freePort() });
  const root = tempDir();
  const dataDirs = specs.map((s) => join(root, s.name));
  const started = await Promise.all(
    specs.map((s, i) => startMember(s.name, dataDirs[i] as string, specs)),
  );
  const client = new KvClient(started.map(endpoint), { timeoutMs: 3000 });
  for (let i = 0; i < 5; i++)
    await waitFor(`write ${i}`, () =>
      client.put(`k${i}`, `v${i}`).then(
        () => true,
        () => undefined,
      ),
    );
  // Every member has heard from every other (each has published its record).
  await waitFor("every member published", async () => {
    const { members: list } = await client.memberList();
    return list.length === 3 && list.every((m) => m.clientUrls.length > 0) ? true : undefined;
  });
  return { specs, dataDirs, started, client };
}

test("a wiped member restarted under its old name is refused at boot, with how to rejoin", async () => {
  const { specs, dataDirs, started, client } = await threeMembers();
  try {
    const n3 = started[2] as Member;
    await n3.stop();
    const dir3 = dataDirs[2] as string;
    rmSync(dir3, { recursive: true, force: true });
    for (let attempt = 0; attempt < 2; attempt++) {
      await assert.rejects(startMember("n3", dir3, specs), (e: unknown) => {
        assert.ok(e instanceof MemberStartError, String(e));
        assert.match(e.message, /member n3 .*has already been bootstrapped/);
        assert.match(e.message, /ordo member remove /);
        assert.match(e.message, /ordo member add n3 --peer-urls http:\/\/127\.0\.0\.1:\d+/);
        assert.match(e.message, /--initial-cluster-state existing/);
        return true;
      });
      // Nothing half-written: the next attempt behaves the same.
      assert.equal(existsSync(dir3), false, "no data directory left behind");
    }
    // The others keep serving.
    await client.put("after", "1");
    assert.equal((await client.get("after")).kvs[0]?.value, "1");
  } finally {
    client.close();
  }
});

test("with the boot check bypassed, the peers refuse its data directory and it stops", async () => {
  const { specs, dataDirs, started, client } = await threeMembers();
  try {
    const [n1, n2, n3] = started as [Member, Member, Member];
    await n3.stop();
    const dir3 = dataDirs[2] as string;
    rmSync(dir3, { recursive: true, force: true });
    // The boot check skipped (as if every peer were unreachable at its boot): it bootstraps...
    const back = await startMember("n3", dir3, specs, { bootstrapCheckTimeoutMs: 0 });
    // ...and is refused by the first peer it reaches: it stops, never let in.
    const reason = await Promise.race([
      back.fenced,
      new Promise<string>((_, reject) =>
        setTimeout(() => reject(new Error("not fenced in time")), 10_000),
      ),
    ]);
    assert.match(reason, /refused it: .*wiped or replaced/);
    assert.equal(back.node.status().lastIndex, 0, "it never received the log");
    const refusals = await n1.metrics.text();
    assert.match(refusals, /ordo_peer_incarnation_refusals_total\{member="n1"\} [1-9]/);
    // The remembered incarnation is durable: peers.json in n1's data directory names n3's old one.
    const peers = JSON.parse(readFileSync(join(dataDirs[0] as string, "peers.json"), "utf8"));
    assert.equal(typeof peers.peers.n3, "string");
    // The others keep serving, and their leader was never n3.
    await client.put("after", "2");
    assert.notEqual(n1.node.status().leader, "n3");
    assert.notEqual(n2.node.status().leader, "n3");
  } finally {
    client.close();
  }
});

test("rejoining the documented way works: remove, wipe, add, start with existing", async () => {
  const { specs, dataDirs, started, client } = await threeMembers();
  try {
    const n3 = started[2] as Member;
    const id = n3.memberId;
    await n3.stop();
    const dir3 = dataDirs[2] as string;
    rmSync(dir3, { recursive: true, force: true });
    await client.memberRemove(id);
    const spec3 = specs[2] as PeerSpec;
    await client.memberAdd([`http://127.0.0.1:${spec3.port}`], { name: "n3" });
    const again = await startMember("n3", dir3, specs, { initialClusterState: "existing" });
    assert.notEqual(again.nodeId, "n3", "a new node id for the new member");
    const local = new KvClient([endpoint(again)], { timeoutMs: 2000 });
    try {
      const seen = await waitFor("the old keys on the rejoined member", () =>
        local.get("k4", { serializable: true }).then((r) => r.kvs[0]?.value),
      );
      assert.equal(seen, "v4");
    } finally {
      local.close();
    }
  } finally {
    client.close();
  }
});
