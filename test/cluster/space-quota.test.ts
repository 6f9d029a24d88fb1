// --quota-backend-bytes on three real member processes, driven by Debian's etcdctl 3.4 as an
// operator would (etcd's "space quota" runbook): fill the store until a put says
// "etcdserver: mvcc: database space exceeded"; the NOSPACE alarm is then listed by every member
// (it is in the log) and survives a member's kill -9 and restart; gets and deletes still work, a
// put is refused on every endpoint; compact + defrag --cluster + alarm disarm make puts work again.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { run } from "../../src/cli/main.js";
import { capturedOutput } from "../../src/cli/output.js";
import { etcdctl, etcdctlMissing, etcdctlOk, etcdctlRefused } from "./etcdctl.js";
import { launchMember, startProcessCluster, TEST_TICK_MS, waitForLeader } from "./processes.js";

const QUOTA_BYTES = 64 * 1024;
const VALUE = "x".repeat(4096);
const NO_SPACE = /etcdserver: mvcc: database space exceeded/;
const NOSPACE_LINE = /^memberID:\d+ alarm:NOSPACE\s*$/m;
/** Bounds on the polls below: each ends by a signal (an etcdctl answer), these bound a failure. */
const POLL_BOUND_MS = 30_000;
const FILL_PUTS_MAX = 4 * Math.ceil(QUOTA_BYTES / VALUE.length);

/** Polls `probe` (each call a real request) until it returns true, within POLL_BOUND_MS. */
async function until(what: string, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + POLL_BOUND_MS;
  while (!(await probe())) {
    assert.ok(Date.now() < deadline, `${what}: not within ${POLL_BOUND_MS} ms`);
    await new Promise((r) => setTimeout(r, TEST_TICK_MS)); // between two probes of a signal
  }
}

test("--quota-backend-bytes: NOSPACE on every member, reads and deletes work, disarm after compact and defrag", {
  timeout: 240_000,
  skip: etcdctlMissing,
}, async () => {
  const cluster = await startProcessCluster(3, ["--quota-backend-bytes", String(QUOTA_BYTES)]);
  const restarted: ReturnType<typeof launchMember>[] = [];
  try {
    const all = cluster.endpoints.join(",");
    // Fill until refused: a bounded number of 4 KiB puts, each through etcdctl.
    let refused = "";
    let stored = 0;
    for (let i = 0; i < FILL_PUTS_MAX && refused === ""; i++) {
      const r = await etcdctl(all, ["put", `fill/${i}`, VALUE]);
      if (r.code === 0) stored++;
      else if (NO_SPACE.test(r.out)) refused = r.out;
      else assert.fail(`put fill/${i}: ${r.out}`);
    }
    assert.match(refused, NO_SPACE, `no refusal after ${FILL_PUTS_MAX} puts`);
    assert.ok(stored >= 10 && stored * VALUE.length < 2 * QUOTA_BYTES, `stored ${stored} puts`);

    // The alarm is replicated: every member lists it (once it applied the entry).
    for (const endpoint of cluster.endpoints) {
      await until(`alarm list on ${endpoint}`, async () =>
        NOSPACE_LINE.test(await etcdctlOk(endpoint, ["alarm", "list"])),
      );
    }
    const status = JSON.parse(
      await etcdctlOk(cluster.endpoints[0]!, ["endpoint", "status", "-w", "json"]),
    ) as { Status: { errors?: string[] } }[];
    assert.ok(
      (status[0]?.Status.errors ?? []).some((e) => /alarm:NOSPACE/.test(e)),
      JSON.stringify(status),
    );
    const statusPage = (await (await fetch(`http://${cluster.endpoints[1]}/status`)).json()) as {
      alarms?: { alarm: string }[];
      verdict?: string;
    };
    assert.ok(
      (statusPage.alarms ?? []).some((a) => a.alarm === "NOSPACE"),
      JSON.stringify(statusPage),
    );

    const metrics = parsePrometheusTextFormat(
      await (await fetch(`http://${cluster.endpoints[0]}/metrics`)).text(),
    );
    const quotaGauge = metrics.find((f) => f.name === "etcd_server_quota_backend_bytes");
    assert.equal(quotaGauge?.type, "GAUGE");
    assert.equal(Number(quotaGauge?.metrics[0]?.value), QUOTA_BYTES);

    // Reads and deletes still work; a put is refused on every member, even a tiny one.
    assert.match(await etcdctlOk(all, ["get", "fill/0"]), /^fill\/0$/m);
    for (const endpoint of cluster.endpoints) {
      await etcdctlRefused(endpoint, ["put", "tiny", "1"], NO_SPACE);
    }
    await etcdctlRefused(all, ["lease", "grant", "60"], NO_SPACE);

    // The alarm survives a member's kill -9 and restart (its WAL replays the alarm entry).
    const victim = cluster.members[2]!;
    victim.child.kill("SIGKILL");
    await victim.exited;
    const initialCluster = cluster.members
      .map((m) => `${m.name}=http://127.0.0.1:${m.peerPort}`)
      .join(",");
    const again = launchMember(
      victim.name,
      join(cluster.root, victim.name),
      victim.clientPort,
      victim.peerPort,
      initialCluster,
      ["--quota-backend-bytes", String(QUOTA_BYTES)],
    );
    restarted.push(again);
    await again.ready;
    await waitForLeader(cluster.clientPorts);
    await until("alarm list on the restarted member", async () =>
      NOSPACE_LINE.test(await etcdctlOk(cluster.endpoints[2]!, ["alarm", "list"])),
    );
    await etcdctlRefused(cluster.endpoints[2]!, ["put", "tiny", "1"], NO_SPACE);
    // ordo alarm list prints what etcdctl alarm list prints.
    const ordo = async (...args: string[]) => {
      const o = capturedOutput();
      const code = await run([...args, "--endpoints", all], o);
      assert.equal(code, 0, `ordo ${args.join(" ")}: ${o.err}`);
      return o.out;
    };
    const listed = await etcdctlOk(all, ["alarm", "list"]);
    assert.equal(await ordo("alarm", "list"), listed);

    // Recovery, as etcd's runbook: free the space, compact, defragment every member, disarm.
    assert.match(await etcdctlOk(all, ["del", "--prefix", "fill/"]), /^\d+$/m);
    const header = JSON.parse(await etcdctlOk(all, ["get", "none", "-w", "json"])) as {
      header: { revision: number };
    };
    await etcdctlOk(all, ["compact", String(header.header.revision)]);
    assert.match(
      await etcdctlOk(cluster.endpoints[0]!, ["defrag", "--cluster"]),
      /Finished defragmenting etcd member/,
    );
    await etcdctlRefused(all, ["put", "tiny", "1"], NO_SPACE); // still raised: disarm needed
    // ordo alarm disarm clears it and prints the alarms it cleared, as etcdctl alarm disarm.
    assert.equal(await ordo("alarm", "disarm"), listed);
    for (const endpoint of cluster.endpoints) {
      await until(
        `no alarm on ${endpoint}`,
        async () => (await etcdctlOk(endpoint, ["alarm", "list"])).trim() === "",
      );
      assert.match(await etcdctlOk(endpoint, ["put", `after/${endpoint}`, "ok"]), /^OK$/m);
    }
    assert.match(await etcdctlOk(all, ["lease", "grant", "60"]), /granted with TTL/);
  } finally {
    for (const m of restarted)
      if (m.child.exitCode === null && m.child.signalCode === null) m.child.kill("SIGKILL");
    cluster.stop();
  }
});
