// A member restarted with a wiped data directory under its old name and flags, on real
// processes (issue 11): three `ordo serve` members take writes; one is stopped by PID
// (SIGKILL), its data directory deleted, and it is started again with exactly the same flags.
// It must exit 1 with the refusal ("has already been bootstrapped") and how to rejoin, leave no
// data directory behind (a second attempt is refused the same way), and the other two keep
// serving reads and writes.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { KvClient } from "../../src/client/index.js";
import { freePort } from "./ports.js";
import { launchMember, type MemberProcess, waitFor as waitUntil } from "./processes.js";

const root = mkdtempSync(join(tmpdir(), "ordo-wiped-"));
const running: MemberProcess[] = [];
after(() => {
  for (const m of running)
    if (m.child.exitCode === null && m.child.signalCode === null) m.child.kill("SIGKILL");
  rmSync(root, { recursive: true, force: true });
});

/** waitFor, a probe that throws (a member not up yet) counting as "not yet". */
const waitFor = <T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>) =>
  waitUntil(what, timeoutMs, () => probe().catch(() => undefined));

function exitWithin(m: MemberProcess, ms: number): Promise<number | string> {
  return Promise.race([
    m.exited,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${m.name} did not exit within ${ms} ms`)), ms),
    ),
  ]);
}

test("a member restarted with a wiped data directory is refused; the others keep serving", {
  timeout: 90_000,
}, async () => {
  const names = ["n1", "n2", "n3"];
  const clientPorts: number[] = [];
  const peerPorts: number[] = [];
  for (let i = 0; i < 3; i++) {
    clientPorts.push(await freePort());
    peerPorts.push(await freePort());
  }
  const initialCluster = names.map((n, i) => `${n}=http://127.0.0.1:${peerPorts[i]}`).join(",");
  const dirs = names.map((n) => join(root, n));
  const launch = (i: number): MemberProcess => {
    const m = launchMember(
      names[i] as string,
      dirs[i] as string,
      clientPorts[i] as number,
      peerPorts[i] as number,
      initialCluster,
    );
    running.push(m);
    return m;
  };
  const members = [0, 1, 2].map(launch);
  await Promise.all(members.map((m) => m.ready));
  const client = new KvClient(
    clientPorts.map((p) => `127.0.0.1:${p}`),
    { timeoutMs: 3000 },
  );
  const survivors = new KvClient(
    clientPorts.slice(0, 2).map((p) => `127.0.0.1:${p}`),
    { timeoutMs: 3000 },
  );
  try {
    for (let i = 0; i < 10; i++)
      await waitFor(`write k${i}`, 30_000, () => client.put(`k${i}`, `v${i}`).then(() => true));
    // Every member has started (published its record): they have all met.
    await waitFor("every member published", 30_000, async () => {
      const { members: list } = await client.memberList();
      return list.length === 3 && list.every((m) => m.clientUrls.length > 0) ? true : undefined;
    });
    const n3 = members[2] as MemberProcess;
    assert.ok(n3.child.pid !== undefined);
    process.kill(n3.child.pid as number, "SIGKILL");
    await exitWithin(n3, 10_000);
    rmSync(dirs[2] as string, { recursive: true, force: true });
    for (let attempt = 1; attempt <= 2; attempt++) {
      const again = launch(2);
      const code = await exitWithin(again, 30_000);
      assert.equal(code, 1, `attempt ${attempt}: exit code (stderr: ${again.stderr()})`);
      const err = again.stderr();
      assert.match(err, /member n3 .*has already been bootstrapped/);
      assert.match(err, /ordo member remove /);
      assert.match(err, /ordo member add n3 --peer-urls http:\/\/127\.0\.0\.1:\d+/);
      assert.match(err, /--initial-cluster-state existing/);
      assert.doesNotMatch(err, /\n\s+at /, "a message, not a stack trace");
      assert.equal(existsSync(dirs[2] as string), false, "no data directory left behind");
    }
    // The other two keep serving.
    await waitFor("a write after the refusal", 20_000, () =>
      survivors.put("after", "1").then(() => true),
    );
    const got = await survivors.get("k9");
    assert.equal(got.kvs[0]?.value, "v9");
  } finally {
    client.close();
    survivors.close();
  }
});
