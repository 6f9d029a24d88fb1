// Disaster recovery on real processes (issue 13): three `ordo serve` members take writes over
// several revisions (overwrites, deletes) and a lease with keys attached; `ordo snapshot save`
// writes the file; every member is killed and every data directory deleted; `ordo snapshot
// restore` builds three new data directories from the file (a new cluster, on new ports); the
// restored members start and serve every key with its value, create/mod revision and version,
// the same current revision, the lease with its TTL and keys, and take new writes. A corrupt
// or truncated file is refused by status and restore (exit 1, nothing written), and restore
// refuses a non-empty data directory.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { KvClient } from "../../src/client/index.js";
import { freePort } from "./ports.js";
import {
  launchMember,
  type MemberProcess,
  type ProcessCluster,
  startProcessCluster,
  waitForLeader,
} from "./processes.js";

const ordo = fileURLToPath(new URL("../../../bin/ordo.js", import.meta.url));
const root = mkdtempSync(join(tmpdir(), "ordo-restore-"));
let cluster: ProcessCluster | undefined;
const restored: MemberProcess[] = [];
after(() => {
  cluster?.stop();
  for (const m of restored)
    if (m.child.exitCode === null && m.child.signalCode === null) m.child.kill("SIGKILL");
  rmSync(root, { recursive: true, force: true });
});

function ordoRun(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [ordo, ...args], { timeout: 30_000 }, (error, out, err) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      resolve({ code, out, err });
    });
  });
}

test("snapshot save, destroy every member, restore three new members from the file", {
  timeout: 120_000,
}, async () => {
  cluster = await startProcessCluster(3);
  const c = new KvClient(cluster.endpoints, { timeoutMs: 5000 });
  let leaseId: string;
  try {
    for (let i = 0; i < 20; i++) await c.put(`k/${i % 7}`, `v${i}`); // versions up to 3
    await c.put("k/gone", "soon deleted");
    await c.delete("k/gone");
    await c.delete("k/3");
    await c.put("k/3", "back"); // a new life: create revision moves, version 1
    const lease = await c.leaseGrant(600);
    leaseId = lease.id;
    await c.put("l/a", "leased a", { lease: leaseId });
    await c.put("l/b", "leased b", { lease: leaseId });
    await c.put("z", "last");
  } finally {
    c.close();
  }
  const read = async (client: KvClient) => ({
    k: await client.get("k/", { prefix: true }),
    l: await client.get("l/", { prefix: true }),
    z: await client.get("z"),
    gone: await client.get("k/gone"),
  });
  const before = await (async () => {
    const client = new KvClient(cluster.endpoints, { timeoutMs: 5000 });
    try {
      return await read(client);
    } finally {
      client.close();
    }
  })();
  assert.equal(before.k.kvs.length, 7);
  assert.equal(before.gone.kvs.length, 0);

  const file = join(root, "backup.db");
  const saved = await ordoRun([
    "snapshot",
    "save",
    file,
    "--endpoints",
    cluster.endpoints.join(","),
    "--progress",
  ]);
  assert.equal(saved.code, 0, saved.err);
  assert.match(saved.out, /Snapshot saved at /);
  const size = readFileSync(file).length;
  assert.match(
    saved.err,
    new RegExp(`^snapshot save: ${size} B / ${size} B \\(100%\\) — done: revision \\d+$`, "m"),
  );

  const status = await ordoRun(["snapshot", "status", file, "--json"]);
  assert.equal(status.code, 0, status.err);
  const st = JSON.parse(status.out) as Record<string, unknown>;
  assert.equal(st.revision, before.z.revision);
  assert.equal(st.keys, 7 + 2 + 1);
  assert.equal(st.leases, 1);
  assert.equal(st.integrity, "ok");
  const table = await ordoRun(["snapshot", "status", file]);
  assert.equal(table.code, 0, table.err);
  assert.match(table.out, /\| +HASH +\| REVISION \| TOTAL KEYS \|/);
  assert.match(
    table.out,
    new RegExp(`\\| +${String(st.hash)} \\| +${before.z.revision} \\| +10 \\|`),
  );

  // A damaged copy: one byte flipped, and one cut short. Refused, nothing written.
  const bytes = readFileSync(file);
  const corrupt = Buffer.from(bytes);
  corrupt[100] = (corrupt[100] as number) ^ 0xff;
  writeFileSync(join(root, "corrupt.db"), corrupt);
  writeFileSync(join(root, "short.db"), bytes.subarray(0, bytes.length - 700));
  for (const bad of ["corrupt.db", "short.db"]) {
    const s = await ordoRun(["snapshot", "status", join(root, bad)]);
    assert.equal(s.code, 1, `${bad}: ${s.out}${s.err}`);
    assert.match(s.err, /snapshot file: SHA-256 mismatch/);
    assert.equal(s.out, "");
  }

  // Every member gone, data directories and all.
  const oldCluster = cluster;
  for (const m of oldCluster.members) m.child.kill("SIGKILL");
  await Promise.all(oldCluster.members.map((m) => m.exited));
  oldCluster.stop();
  cluster = undefined;
  assert.equal(existsSync(oldCluster.root), false);

  // A new cluster on new ports.
  const names = ["n1", "n2", "n3"];
  const clientPorts: number[] = [];
  const peerPorts: number[] = [];
  for (let i = 0; i < 3; i++) {
    clientPorts.push(await freePort());
    peerPorts.push(await freePort());
  }
  const initialCluster = names.map((n, i) => `${n}=http://127.0.0.1:${peerPorts[i]}`).join(",");
  const dirs = names.map((n) => join(root, "restored", n));
  const restoreArgs = (i: number, from: string, dir = dirs[i] as string): string[] => [
    "snapshot",
    "restore",
    from,
    "--name",
    names[i] as string,
    "--data-dir",
    dir,
    "--initial-cluster",
    initialCluster,
    "--initial-advertise-peer-urls",
    `http://127.0.0.1:${peerPorts[i]}`,
  ];
  const refused = await ordoRun(restoreArgs(0, join(root, "corrupt.db")));
  assert.equal(refused.code, 1, refused.err);
  assert.match(refused.err, /SHA-256 mismatch/);
  assert.equal(existsSync(dirs[0] as string), false, "a refused restore writes nothing");
  const full = join(root, "full");
  mkdirSync(full);
  writeFileSync(join(full, "something"), "x");
  const notEmpty = await ordoRun(restoreArgs(0, file, full));
  assert.equal(notEmpty.code, 1);
  assert.match(notEmpty.err, /is not empty/);
  const mismatch = await ordoRun([
    ...restoreArgs(0, file).slice(0, -1),
    `http://127.0.0.1:${peerPorts[1]}`,
  ]);
  assert.equal(mismatch.code, 1);
  assert.match(mismatch.err, /does not match --initial-cluster/);
  assert.equal(existsSync(dirs[0] as string), false);

  for (let i = 0; i < 3; i++) {
    const r = await ordoRun([
      ...restoreArgs(i, file),
      "--json",
      ...(i === 0 ? ["--progress"] : []),
    ]);
    assert.equal(r.code, 0, r.err);
    if (i === 0)
      assert.match(r.err, /^snapshot restore n1: 4 \/ 4 \(100%\) — done: revision \d+$/m);
    else assert.equal(r.err, "", "no progress when stderr is not a terminal");
    const info = JSON.parse(r.out) as { revision: number; keys: number; name: string };
    assert.equal(info.revision, before.z.revision);
    assert.equal(info.keys, 10);
    assert.ok(existsSync(join(dirs[i] as string, "member.json")));
  }
  for (let i = 0; i < 3; i++)
    restored.push(
      launchMember(
        names[i] as string,
        dirs[i] as string,
        clientPorts[i] as number,
        peerPorts[i] as number,
        initialCluster,
      ),
    );
  await Promise.all(restored.map((m) => m.ready));
  await waitForLeader(clientPorts);

  const client = new KvClient(
    clientPorts.map((p) => `127.0.0.1:${p}`),
    { timeoutMs: 5000 },
  );
  try {
    const after = await read(client);
    assert.deepEqual(after.k.kvs, before.k.kvs);
    assert.deepEqual(after.l.kvs, before.l.kvs);
    assert.deepEqual(after.z.kvs, before.z.kvs);
    assert.equal(after.gone.kvs.length, 0);
    assert.equal(after.z.revision, before.z.revision, "the current revision survives");
    const ttl = await client.leaseTimeToLive(leaseId, { keys: true });
    assert.equal(ttl.grantedTtl, 600);
    assert.ok(ttl.ttl > 0 && ttl.ttl <= 600, `ttl ${ttl.ttl}`);
    assert.deepEqual([...ttl.keys].sort(), ["l/a", "l/b"]);
    const { members } = await client.memberList();
    assert.deepEqual(members.map((m) => m.name).sort(), names);
    // New writes go on from the restored revision.
    const w = await client.put("after/restore", "yes");
    assert.equal(w.revision, before.z.revision + 1);
    const got = await client.get("after/restore");
    assert.equal(got.kvs[0]?.value, "yes");
    // Each member has the same state (serializable reads from each one).
    for (const p of clientPorts) {
      const one = new KvClient([`127.0.0.1:${p}`], { timeoutMs: 5000 });
      try {
        for (let tries = 0; ; tries++) {
          const r = await one.get("after/restore", { serializable: true });
          if (r.kvs.length === 1) break;
          assert.ok(tries < 200, `member on ${p} never applied the new write`);
          await new Promise((res) => setTimeout(res, 25));
        }
        const k = await one.get("k/", { prefix: true, serializable: true });
        assert.deepEqual(k.kvs, before.k.kvs);
      } finally {
        one.close();
      }
    }
  } finally {
    client.close();
  }
});
