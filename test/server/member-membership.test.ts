// A member's identity and membership wiring, in process (Member.start on loopback): member.json
// on first start and on restart (also for a data directory from before member.json), joining a
// running cluster with --initial-cluster-state existing, publishing the name, and stopping when
// removed (and staying removed after a restart).
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { KvClient } from "../../src/client/index.js";
import type { PeerSpec } from "../../src/server/cluster-config.js";
import { readMemberFile } from "../../src/server/member-file.js";
import { freePort } from "../cluster/ports.js";
import { endpoint, memberHarness, waitFor } from "./member-harness.js";

const { tempDir, startMember } = memberHarness("membership");

test("member.json: written on first start, read on restart; a data directory without one keeps working", async () => {
  const dir = tempDir();
  const peer = await freePort();
  const cluster: PeerSpec[] = [{ name: "n1", host: "127.0.0.1", port: peer }];
  let m = await startMember("n1", dir, cluster);
  const clusterId = m.clusterId;
  const file = await readMemberFile(dir);
  const { incarnation, ...rest } = file ?? {};
  assert.deepEqual(rest, {
    clusterId,
    nodeId: "n1",
    memberId: "",
    bootstrap: true,
    peers: [{ nodeId: "n1", peerURLs: [`http://127.0.0.1:${peer}`] }],
  });
  assert.match(incarnation ?? "", /^[0-9a-f]{32}$/, "a random incarnation for the new directory");
  const c = new KvClient([endpoint(m)], { timeoutMs: 2000 });
  await waitFor("a write", () =>
    c.put("k", "v").then(
      () => true,
      () => undefined,
    ),
  );
  c.close();
  await m.stop();
  // Restarted with another token: member.json decides the cluster id, not the flags.
  m = await startMember("n1", dir, cluster, { clusterToken: "another" });
  assert.equal(m.clusterId, clusterId);
  await m.stop();
  // A data directory from before member.json: the flags decide, and the file is written.
  rmSync(join(dir, "member.json"));
  m = await startMember("n1", dir, cluster);
  assert.equal(m.clusterId, clusterId);
  assert.ok(existsSync(join(dir, "member.json")));
  assert.equal(
    (await readMemberFile(dir))?.incarnation,
    incarnation,
    "the WAL's incarnation marker keeps the data directory's incarnation",
  );
  const c2 = new KvClient([endpoint(m)], { timeoutMs: 2000 });
  try {
    const got = await waitFor("the old key", () =>
      c2.get("k").then(
        (r) => r.kvs[0]?.value,
        () => undefined,
      ),
    );
    assert.equal(got, "v");
  } finally {
    c2.close();
    await m.stop();
  }
});

test("a member joins a running cluster, publishes its name, and stops when removed", async () => {
  const [p1, p2] = [await freePort(), await freePort()];
  const n1Spec: PeerSpec = { name: "n1", host: "127.0.0.1", port: p1 };
  const n2Spec: PeerSpec = { name: "n2", host: "127.0.0.1", port: p2 };
  const n1 = await startMember("n1", tempDir(), [n1Spec]);
  const c = new KvClient([endpoint(n1)], { timeoutMs: 3000 });
  try {
    await waitFor("a leader", () =>
      c.put("before", "1").then(
        () => true,
        () => undefined,
      ),
    );
    // Not added yet: discovery finds no member with its peer URL and gives up, saying why.
    const early = tempDir();
    await assert.rejects(
      startMember("n2", early, [n1Spec, n2Spec], {
        initialClusterState: "existing",
        discoveryTimeoutMs: 500,
      }),
      /cannot join the cluster: .*ordo member add n2 --peer-urls http:\/\/127\.0\.0\.1:\d+/,
    );
    // Added with etcd's MemberAdd (no name): the joiner learns its generated node id.
    const added = await c.memberAdd([`http://127.0.0.1:${p2}`], { learner: true });
    assert.equal(added.member.name, "");
    const dir2 = tempDir();
    const n2 = await startMember("n2", dir2, [n1Spec, n2Spec], { initialClusterState: "existing" });
    const file = await readMemberFile(dir2);
    assert.equal(file?.clusterId, n1.clusterId);
    assert.equal(file?.bootstrap, false);
    assert.equal(file?.memberId, added.member.id);
    assert.equal(n2.nodeId, `m${BigInt(added.member.id).toString(16)}`);
    assert.equal(n2.memberId, added.member.id);
    // It catches up (through the snapshot) and publishes its name and client URL.
    const listed = await waitFor("n2's published record", async () => {
      const { members: list } = await c.memberList();
      const me = list.find((x) => x.id === added.member.id);
      return me?.name === "n2" ? me : undefined;
    });
    assert.deepEqual(listed.clientUrls, [`http://127.0.0.1:${n2.clientPort}`]);
    assert.equal(listed.isLearner, true);
    const local = new KvClient([endpoint(n2)], { timeoutMs: 2000 });
    try {
      const seen = await waitFor("the write on n2", () =>
        local.get("before", { serializable: true }).then((r) => r.kvs[0]?.value),
      );
      assert.equal(seen, "1");
    } finally {
      local.close();
    }
    // Removed: n2 applies its own removal and stops by itself.
    await c.memberRemove(added.member.id);
    assert.match(await n2.removed, /applied its own removal/);
    assert.deepEqual([...n1.node.membership().removed], [n2.nodeId]);
    // Restarted from its data directory, it is still removed and stops again.
    const again = await startMember("n2", dir2, [n1Spec, n2Spec], {
      initialClusterState: "existing",
    });
    assert.match(await again.removed, /removal|removed/);
    assert.ok(readFileSync(join(dir2, "member.json"), "utf8").includes('"bootstrap": false'));
  } finally {
    c.close();
  }
});
