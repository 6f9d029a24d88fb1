// /metrics with etcd's names, read by a Prometheus text-format parser (not a regex), against a
// real member process after real etcdctl traffic; and `etcdctl check datascale --load=s`, which
// reads process_resident_memory_bytes from /metrics (a `member` label there broke it).
import assert from "node:assert/strict";
import { test } from "node:test";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { etcdctlMissing, etcdctl as etcdctlRun } from "./etcdctl.js";
import { startProcessCluster } from "./processes.js";

// check datascale runs longer than one command timeout: no --command-timeout here.
const etcdctl = (endpoint: string, args: readonly string[]) =>
  etcdctlRun(endpoint, args, { global: [], killAfterMs: 150_000 });

test("/metrics: etcd's names and types beside Ordo's; etcdctl check datascale passes", {
  timeout: 180_000,
  skip: etcdctlMissing,
}, async () => {
  const cluster = await startProcessCluster(1);
  try {
    const endpoint = `http://${cluster.endpoints[0]}`;
    const puts = 5;
    for (let i = 0; i < puts; i++)
      assert.equal((await etcdctl(endpoint, ["put", `k${i}`, "v"])).code, 0);
    // The member proposes on its own too (LeaseRenewAll once it leads, its record): scrape
    // once nothing is in flight, polled with a deadline, so the pending gauge reads at rest.
    const scrape = async () => (await fetch(`${endpoint}/metrics`)).text();
    const atRest = (t: string) => /^etcd_server_proposals_pending 0$/m.test(t);
    const deadline = Date.now() + 10_000;
    let text = await scrape();
    while (!atRest(text) && Date.now() < deadline) text = await scrape();
    const families = new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f]));
    const family = (name: string, type: string) => {
      const f = families.get(name);
      assert.ok(f !== undefined, `${name} is exported`);
      assert.equal(f.type, type, name);
      return f;
    };
    const value = (name: string, type: string): number =>
      Number(family(name, type).metrics[0]?.value);

    assert.equal(value("etcd_server_has_leader", "GAUGE"), 1);
    assert.equal(value("etcd_server_is_leader", "GAUGE"), 1);
    assert.ok(value("etcd_server_leader_changes_seen_total", "COUNTER") >= 1);
    assert.ok(value("etcd_server_proposals_committed_total", "GAUGE") >= puts);
    assert.ok(value("etcd_server_proposals_applied_total", "GAUGE") >= puts);
    assert.equal(value("etcd_server_proposals_pending", "GAUGE"), 0);
    assert.equal(value("etcd_server_proposals_failed_total", "COUNTER"), 0);
    assert.ok(value("etcd_mvcc_db_total_size_in_bytes", "GAUGE") > 0);
    // No --quota-backend-bytes: etcd's default quota, 2 GiB.
    assert.equal(value("etcd_server_quota_backend_bytes", "GAUGE"), 2 * 1024 ** 3);
    assert.equal(value("etcd_debugging_mvcc_keys_total", "GAUGE"), puts);
    for (const name of [
      "etcd_disk_wal_fsync_duration_seconds",
      "etcd_disk_backend_commit_duration_seconds",
    ]) {
      const h = family(name, "HISTOGRAM").metrics[0];
      assert.ok(Number(h?.count) >= puts, `${name} observed every write`);
      // etcd's buckets: 1 ms doubling 14 times.
      assert.deepEqual(
        Object.keys(h?.buckets ?? {})
          .map(Number)
          .filter(Number.isFinite),
        Array.from({ length: 14 }, (_, i) => 0.001 * 2 ** i),
      );
    }
    const handled = family("grpc_server_handled_total", "COUNTER").metrics.find(
      (m) =>
        m.labels?.grpc_service === "etcdserverpb.KV" &&
        m.labels.grpc_method === "Put" &&
        m.labels.grpc_type === "unary" &&
        m.labels.grpc_code === "OK",
    );
    assert.equal(Number(handled?.value), puts);
    const startedPuts = family("grpc_server_started_total", "COUNTER").metrics.find(
      (m) => m.labels?.grpc_method === "Put",
    );
    assert.equal(Number(startedPuts?.value), puts);
    const rss = family("process_resident_memory_bytes", "GAUGE").metrics[0];
    assert.deepEqual(rss?.labels ?? {}, {}, "no member label on process_*");
    assert.ok(Number(rss?.value) > 0);
    // Ordo's own are still there, with their member label.
    assert.equal(family("ordo_is_leader", "GAUGE").metrics[0]?.labels?.member, "n1");

    const scale = await etcdctl(endpoint, ["check", "datascale", "--load=s"]);
    assert.equal(scale.code, 0, scale.out);
    assert.match(scale.out, /PASS: Approximate system memory used/);
  } finally {
    cluster.stop();
  }
});
