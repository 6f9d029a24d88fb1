// `ordo member list`, `ordo endpoint status | health`, `ordo snapshot save FILE`: the Cluster
// and Maintenance services through Ordo's client. Human output follows etcdctl's simple format
// (member ids in hexadecimal); --json prints the client's objects (ids as decimal strings).
//   ordo member list
//   ordo endpoint status     one line per endpoint; exit 1 if any endpoint did not answer
//   ordo endpoint health     one line per endpoint; exit 1 if any endpoint is unhealthy
//   ordo snapshot save FILE  the first endpoint's snapshot: data + 32-byte SHA-256, as etcdctl
//                            writes it. The data is Ordo's snapshot encoding, not a bbolt file.
import { parseArgs } from "node:util";
import { client, common } from "./kv-commands.js";
import type { Output } from "./output.js";

export const MEMBER_USAGE = "usage: ordo member list [--json]";
export const ENDPOINT_USAGE = "usage: ordo endpoint status | health [--json]";
export const SNAPSHOT_USAGE = "usage: ordo snapshot save FILE [--json]";

const hex = (decimal: string): string => BigInt(decimal).toString(16);

function parse(args: string[]) {
  return parseArgs({ args, options: common, allowPositionals: true, strict: true });
}

export async function runMember(args: string[], out: Output): Promise<number> {
  const { values, positionals } = parse(args);
  if (positionals.length !== 1 || positionals[0] !== "list") throw new Error(MEMBER_USAGE);
  const c = client(values);
  try {
    const { members } = await c.memberList();
    if (values.json) {
      out.stdout(`${JSON.stringify({ members })}\n`);
    } else {
      for (const m of members) {
        out.stdout(
          `${hex(m.id)}, started, ${m.name}, ${m.peerUrls.join(",")}, ${m.clientUrls.join(",")}, ${m.isLearner}\n`,
        );
      }
    }
    return 0;
  } finally {
    c.close();
  }
}

function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  if (n < 1_000_000) return `${(n / 1000).toFixed(1)} kB`;
  return `${(n / 1_000_000).toFixed(1)} MB`;
}

export async function runEndpoint(args: string[], out: Output): Promise<number> {
  const { values, positionals } = parse(args);
  const sub = positionals[0];
  if (positionals.length !== 1 || (sub !== "status" && sub !== "health")) {
    throw new Error(ENDPOINT_USAGE);
  }
  const c = client(values);
  try {
    if (sub === "status") {
      const results = await c.status();
      if (values.json) out.stdout(`${JSON.stringify(results)}\n`);
      for (const r of results) {
        if (values.json) break;
        if (!r.ok) {
          out.stderr(`${r.endpoint}: ${r.error}\n`);
          continue;
        }
        const s = r.value;
        out.stdout(
          `${r.endpoint}, ${hex(s.memberId)}, ${s.version}, ${formatBytes(s.dbSize)}, ${s.isLeader}, false, ${s.raftTerm}, ${s.raftIndex}, ${s.raftAppliedIndex}, ${s.errors.join("; ")}\n`,
        );
      }
      return results.every((r) => r.ok) ? 0 : 1;
    }
    const results = await c.health();
    if (values.json) out.stdout(`${JSON.stringify(results)}\n`);
    for (const r of results) {
      if (values.json) break;
      if (r.ok) {
        out.stdout(
          `${r.endpoint} is healthy: successfully committed proposal: took = ${r.value.tookMs}ms\n`,
        );
      } else {
        out.stderr(`${r.endpoint} is unhealthy: failed to commit proposal: ${r.error}\n`);
      }
    }
    return results.every((r) => r.ok) ? 0 : 1;
  } finally {
    c.close();
  }
}

export async function runSnapshot(args: string[], out: Output): Promise<number> {
  const { values, positionals } = parse(args);
  if (positionals.length !== 2 || positionals[0] !== "save") throw new Error(SNAPSHOT_USAGE);
  const c = client(values);
  try {
    const info = await c.snapshotSave(positionals[1] as string);
    out.stdout(values.json ? `${JSON.stringify(info)}\n` : `Snapshot saved at ${info.path}\n`);
    return 0;
  } finally {
    c.close();
  }
}
