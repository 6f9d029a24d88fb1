// Ordo beside etcd 3.4 as an etcdctl user sees them: the same etcdctl commands (bench/etcd/
// parity-checks.ts: KV, txn, compaction, watch, lease, members, endpoints, maintenance, lock,
// auth), in the same order, against a fresh 3-member cluster of each on loopback with data on
// disk. A check behaves the same when every etcdctl run in it exits alike and prints the same
// text, once what must differ between two clusters is masked: endpoints and peer URLs, member,
// cluster and lease ids, durations, Raft terms and indexes, the server's patch version, and the
// check's own masks (hash values, database sizes). clientv3's retry warnings on stderr (JSON log
// lines) are dropped.
//
//   npm run parity:etcd [-- --only ID,ID] [-- --verbose]
//
// Prints a Markdown table of the checks that differ (with both outputs' first differing line)
// and the count; the last line of stdout is one JSON object {same, total, differ: [ids]}. Full
// outputs go to bench/results/parity-<date>.json. Everything it starts is stopped by PID and its
// temporary folder removed.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Cluster, type Ports, type SystemName } from "./etcd/clusters.js";
import { CHECKS, type Check, type Context, type Step } from "./etcd/parity-checks.js";
import { killAll, runCommand, which } from "./etcd/processes.js";

const { values } = parseArgs({
  options: {
    only: { type: "string" },
    verbose: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  process.stdout.write("usage: node dist/bench/etcd-parity.js [--only ID,ID] [--verbose]\n");
  process.exit(0);
}

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SYSTEMS: readonly SystemName[] = ["etcd", "ordo"];
const PORTS: Record<SystemName, Ports> = {
  ordo: { client: [26791, 26792, 26793], peer: [26801, 26802, 26803] },
  etcd: { client: [27791, 27792, 27793], peer: [27801, 27802, 27803] },
};

interface Run {
  readonly code: number | null;
  readonly text: string;
}

/** Member ids (hex, n1..n3), the cluster id (decimal) and the leader's index, from etcdctl. */
async function identify(
  etcdctl: string,
  endpoints: readonly string[],
): Promise<{ members: string[]; cluster: string; leader: number }> {
  const r = await runCommand(
    etcdctl,
    [`--endpoints=${endpoints.join(",")}`, "endpoint", "status", "-w", "json"],
    15_000,
  );
  const rows = JSON.parse(r.stdout.replace(/":(\d{16,})/g, '":"$1"')) as {
    Status: { header: { member_id: string; cluster_id: string }; leader: string };
  }[];
  const members = rows.map((row) => BigInt(row.Status.header.member_id).toString(16));
  const leaderHex = BigInt(rows[0]?.Status.leader ?? 0).toString(16);
  return {
    members,
    cluster: String(rows[0]?.Status.header.cluster_id ?? ""),
    leader: Math.max(0, members.indexOf(leaderHex)),
  };
}

/** Replaces what must differ between two clusters by names, so that outputs compare. */
function normalizer(ctx: Context, cluster: string): (text: string) => string {
  return (text) => {
    const ids: [string, string][] = ctx.members.map((hex) => [hex, "<member>"]);
    if (cluster !== "") ids.push([BigInt(cluster).toString(16), "<cluster>"]);
    if (ctx.learner !== undefined) ids.push([ctx.learner, "<learner>"]);
    if (ctx.lease !== undefined) ids.push([ctx.lease, "<lease>"]);
    let t = text
      .split("\n")
      .filter((line) => !line.startsWith('{"level":'))
      .join("\n");
    t = t.replaceAll(ctx.dir, "<dir>");
    for (const [i, e] of ctx.endpoints.entries()) t = t.replaceAll(e, `<client-n${i + 1}>`);
    for (const [i, u] of ctx.peerUrls.entries())
      t = t.replaceAll(u.replace(/^https?:\/\//, ""), `<peer-n${i + 1}>`);
    t = t.replaceAll(ctx.spareUrl.replace(/^https?:\/\//, ""), "<peer-spare>");
    for (const [hex, name] of ids) {
      t = t.replace(new RegExp(`\\b(${hex}|${BigInt(`0x${hex}`).toString(10)})\\b`, "g"), name);
    }
    return t
      .replace(/"raft_(term|index|applied_index)":\d+/g, '"raft_$1":<n>')
      .replace(/"RaftTerm" : \d+/g, '"RaftTerm" : <n>')
      .replace(/\b\d+(\.\d+)?(ns|µs|us|ms|s|m)\b/g, "<dur>")
      .replace(/\b3\.4\.\d+\b/g, "3.4.x")
      .trimEnd();
  };
}

function runStep(etcdctl: string, ctx: Context, step: Step): Promise<Run> {
  const endpoints = step.endpoint === "one" ? [ctx.endpoints[0] as string] : ctx.endpoints;
  const args = [`--endpoints=${endpoints.join(",")}`, "--command-timeout=5s", ...step.args];
  const killAfter = step.killAfterMs;
  return runWithInput(etcdctl, args, step.input, killAfter ?? 60_000, killAfter !== undefined);
}

/** etcdctl with stdin; a step with killAfterMs is expected to run until it is killed. */
function runWithInput(
  command: string,
  args: readonly string[],
  input: string | undefined,
  timeoutMs: number,
  killExpected: boolean,
): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, ETCDCTL_API: "3" },
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      err += c.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdin.on("error", () => {});
    child.stdin.end(input ?? "");
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const ended = signal !== null ? (killExpected ? "killed" : `signal ${signal}`) : code;
      resolve({
        code: typeof ended === "number" ? ended : null,
        text: `${out}\n--stderr--\n${err}\n--exit ${ended}--`,
      });
    });
  });
}

/** A check's own view of a normalized output: only what it keeps, masked, in its order. */
function canonical(text: string, check: Check): string {
  let t = check.keep === undefined ? text : (text.match(check.keep) ?? []).join("\n");
  for (const re of check.mask ?? []) t = t.replace(re, "<masked>");
  if (check.unordered === true) {
    // Lines sorted; in a line of JSON, its innermost objects too (members, endpoints), for
    // comparing only: what remains of the line, then the objects in text order.
    t = t
      .split("\n")
      .map((line) => {
        if (!/^[[{]/.test(line)) return line;
        const objects = line.match(/\{[^{}]*\}/g) ?? [];
        return `${line.replace(/\{[^{}]*\}/g, "{}")} ${objects.sort().join(",")}`;
      })
      .sort()
      .join("\n");
  }
  return t;
}

function firstDifference(a: string, b: string): [string, string] {
  const la = a.split("\n");
  const lb = b.split("\n");
  for (let i = 0; i < Math.max(la.length, lb.length); i++)
    if (la[i] !== lb[i]) return [la[i] ?? "(end)", lb[i] ?? "(end)"];
  return ["", ""];
}

async function main(): Promise<void> {
  const tools = { etcd: which("etcd"), etcdctl: which("etcdctl"), benchmark: "" };
  const only = values.only?.split(",");
  const checks = CHECKS.filter((c) => only === undefined || only.includes(c.id));
  const work = mkdtempSync(join(tmpdir(), "ordo-parity-"));
  const clusters: Cluster[] = [];
  const onSignal = () => {
    killAll();
    rmSync(work, { recursive: true, force: true });
    process.exit(130);
  };
  process.on("SIGINT", onSignal);
  try {
    const contexts = new Map<SystemName, { ctx: Context; normalize: (t: string) => string }>();
    for (const system of SYSTEMS) {
      process.stderr.write(`parity: starting 3-member ${system}\n`);
      const ports = PORTS[system];
      const cluster = await Cluster.start(system, join(work, system), ports, tools);
      clusters.push(cluster);
      const endpoints = cluster.endpoints;
      const id = await identify(tools.etcdctl, endpoints);
      const dir = join(work, `${system}-scratch`);
      mkdirSync(dir);
      const ctx: Context = {
        members: id.members,
        leader: id.leader,
        endpoints,
        peerUrls: ports.peer.map((p) => `http://127.0.0.1:${p}`),
        spareUrl: `http://127.0.0.1:${ports.peer[2] + 1}`,
        dir,
      };
      contexts.set(system, { ctx, normalize: normalizer(ctx, id.cluster) });
    }
    const results: { id: string; same: boolean; etcd: string; ordo: string }[] = [];
    for (const [n, check] of checks.entries()) {
      const texts: Record<string, string> = {};
      for (const system of SYSTEMS) {
        const { ctx, normalize } = contexts.get(system) as {
          ctx: Context;
          normalize: (t: string) => string;
        };
        const parts: string[] = [];
        for (const step of check.steps(ctx)) {
          const r = await runStep(tools.etcdctl, ctx, step);
          step.learn?.(r.text.split("\n--stderr--")[0] ?? "", ctx);
          parts.push(`$ etcdctl ${step.args.join(" ").slice(0, 120)}\n${r.text}`);
        }
        texts[system] = canonical(normalize(parts.join("\n")), check);
      }
      const same = texts.etcd === texts.ordo;
      results.push({ id: check.id, same, etcd: texts.etcd ?? "", ordo: texts.ordo ?? "" });
      process.stderr.write(
        `parity: ${n + 1}/${checks.length} ${same ? "same  " : "DIFFER"} ${check.id}\n`,
      );
      if (!same && values.verbose)
        process.stderr.write(`--- etcd\n${texts.etcd}\n--- ordo\n${texts.ordo}\n`);
    }
    report(results);
  } finally {
    for (const c of clusters) await c.stop().catch(() => {});
    rmSync(work, { recursive: true, force: true });
  }
}

function report(
  results: readonly { id: string; same: boolean; etcd: string; ordo: string }[],
): void {
  const differ = results.filter((r) => !r.same);
  const cell = (s: string) => `\`${s.replaceAll("|", "\\|").replaceAll("`", "'").slice(0, 90)}\``;
  const lines = [
    `## etcdctl 3.4 against etcd 3.4 and Ordo: ${results.length - differ.length} of ${results.length} checks behave the same`,
    "",
    "| check | etcd | Ordo |",
    "|---|---|---|",
    ...differ.map((r) => {
      const [a, b] = firstDifference(r.etcd, r.ordo);
      return `| ${r.id} | ${cell(a)} | ${cell(b)} |`;
    }),
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  const dir = join(ROOT, "bench", "results");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `parity-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, JSON.stringify(results, null, 2));
  process.stderr.write(`parity: full outputs in ${file}\n`);
  process.stdout.write(
    `${JSON.stringify({ same: results.length - differ.length, total: results.length, differ: differ.map((r) => r.id) })}\n`,
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`parity: ${e instanceof Error ? e.message : String(e)}\n`);
  killAll();
  process.exit(1);
});
