// etcdctl 3.4 with `http://` endpoints and `--cluster` against real member processes. clientv3
// dials the Maintenance connections with the endpoint URL as gRPC target, so grpc-go sends
// `:authority: http://127.0.0.1:PORT`, which nghttp2 resets (PROTOCOL_ERROR) unless the server
// rewrites it (src/server/grpc/authority.ts). Every command here failed before that.
import assert from "node:assert/strict";
import { test } from "node:test";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { etcdctl, etcdctlMissing } from "./etcdctl.js";
import { startProcessCluster } from "./processes.js";

async function ok(endpoints: string, args: readonly string[]): Promise<string> {
  const r = await etcdctl(endpoints, args);
  assert.equal(r.code, 0, `etcdctl ${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /RST_STREAM|PROTOCOL_ERROR/);
  return r.stdout;
}

interface StatusRow {
  Endpoint: string;
  Status: {
    header: { member_id: number | string; revision: number };
    leader: number | string;
    version: string;
    dbSize?: number;
    dbSizeInUse?: number;
  };
}

const statusOf = async (endpoint: string): Promise<StatusRow["Status"]> =>
  (JSON.parse(await ok(endpoint, ["endpoint", "status", "-w", "json"])) as StatusRow[])[0]
    ?.Status as StatusRow["Status"];

test("etcdctl 3.4 over http:// endpoints and --cluster: endpoint status (version, DB size)/hashkv, compact, defrag, move-leader, put/get", {
  timeout: 120_000,
  skip: etcdctlMissing,
}, async () => {
  const cluster = await startProcessCluster(3);
  try {
    const urls = cluster.clientPorts.map((p) => `http://127.0.0.1:${p}`);
    const first = urls[0] as string;
    const all = urls.join(",");

    assert.equal((await ok(first, ["put", "k", "v"])).trim(), "OK");
    assert.equal((await ok(all, ["get", "k", "--print-value-only"])).trim(), "v");

    const status = JSON.parse(
      await ok(first, ["endpoint", "status", "--cluster", "-w", "json"]),
    ) as StatusRow[];
    assert.equal(status.length, 3);
    for (const row of status) assert.match(row.Endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    const leaders = new Set(status.map((r) => String(r.Status.leader)));
    assert.equal(leaders.size, 1, "every member names one leader");

    const hashes = (await ok(first, ["endpoint", "hashkv", "--cluster"])).trim().split("\n");
    assert.equal(hashes.length, 3);
    assert.equal(new Set(hashes.map((l) => l.split(", ")[1])).size, 1, "same hash everywhere");

    // Status: one version string with /version; a DB size that compaction lowers in use and
    // a defragment brings down (dbSize is the largest since the last defragment, as etcd's).
    const version = (await (await fetch(`${first}/version`)).json()) as Record<string, string>;
    assert.equal(version.etcdserver, "3.4.0");
    assert.equal(version.etcdcluster, "3.4.0");
    for (const row of status) assert.equal(row.Status.version, version.etcdserver);
    const big = "x".repeat(20_000);
    for (let i = 0; i < 3; i++) await ok(first, ["put", "big", big]);
    const grown = await statusOf(first);
    assert.ok((grown.dbSize ?? 0) > 3 * big.length, JSON.stringify(grown));
    assert.equal(grown.dbSizeInUse, grown.dbSize);
    await ok(first, ["compact", String(grown.header.revision)]);
    const compacted = await statusOf(first);
    assert.equal(compacted.dbSize, grown.dbSize, "compaction alone keeps dbSize");
    assert.ok((compacted.dbSizeInUse ?? 0) < (grown.dbSize ?? 0) - big.length);
    assert.ok((compacted.dbSizeInUse ?? 0) > big.length);
    const tableOut = await ok(first, ["endpoint", "status", "-w", "table"]);
    assert.match(tableOut, /\| +3\.4\.0 \| +\d+ kB \|/);

    const defrag = await ok(first, ["defrag", "--cluster"]);
    assert.equal(defrag.match(/Finished defragmenting etcd member/g)?.length, 3, defrag);
    const defragmented = await statusOf(first);
    assert.equal(defragmented.dbSize, compacted.dbSizeInUse, "defrag: dbSize down to in use");

    const leader = [...leaders][0] as string;
    const follower = status.find((r) => String(r.Status.header.member_id) !== leader);
    assert.ok(follower !== undefined);
    const target = BigInt(follower.Status.header.member_id).toString(16);
    const moved = await ok(all, ["move-leader", target]);
    assert.match(moved, /Leadership transferred/);
    const after = JSON.parse(await ok(all, ["endpoint", "status", "-w", "json"])) as StatusRow[];
    for (const row of after) assert.equal(BigInt(row.Status.leader).toString(16), target);

    // The leader's peer round trips: a histogram per follower (metrics.ts, on heartbeats).
    const leaderUrl = status.find((r) => BigInt(r.Status.header.member_id).toString(16) === target)
      ?.Endpoint as string;
    // A new leader has a series for a follower once a heartbeat to it has come back: poll
    // /metrics for that (bounded), as a scrape after the transfer may come before it.
    const rttCounts = (text: string) =>
      text
        .split("\n")
        .filter((l) => l.startsWith("etcd_network_peer_round_trip_time_seconds_count{"))
        .map((l) => Number(l.slice(l.lastIndexOf(" ") + 1)));
    const deadline = Date.now() + 10_000;
    let text = await (await fetch(`${leaderUrl}/metrics`)).text();
    while (rttCounts(text).length < 2 && Date.now() < deadline)
      text = await (await fetch(`${leaderUrl}/metrics`)).text();
    const rtt = parsePrometheusTextFormat(text).find(
      (f) => f.name === "etcd_network_peer_round_trip_time_seconds",
    );
    assert.equal(rtt?.type, "HISTOGRAM");
    // The parser folds a labelled histogram's series into one (and drops _count): the series'
    // counts are read from their sample lines, `name{labels} value`.
    const counts = rttCounts(text);
    assert.equal(counts.length, 2, "one series per follower");
    for (const n of counts) assert.ok(n > 0, text);
  } finally {
    cluster.stop();
  }
});
