// `ordo snapshot save | status | restore`: etcdctl's snapshot commands for Ordo's snapshot file
// (api/snapshot-file.ts; Ordo's KV encoding framed as etcdctl expects, not a bbolt file).
//   ordo snapshot save FILE      the first endpoint's snapshot: data + 32-byte SHA-256
//   ordo snapshot status FILE    hash, revision, keys, size, after checking the file whole;
//                                a truncated or corrupt file: an error, exit 1
//   ordo snapshot restore FILE --name N --data-dir DIR --initial-cluster N=URL,...
//        [--initial-advertise-peer-urls URL] [--initial-cluster-token T]
//                                a new member data directory of a new cluster holding the
//                                snapshot's state (server/member-restore.ts); the directory
//                                must be missing or empty. Then: ordo serve with the same flags.
// --progress shows progress on stderr also when it is not a terminal (it is shown on one).
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { client, common } from "./kv-commands.js";
import type { Output } from "./output.js";
import { commandProgress } from "./progress.js";

export const SNAPSHOT_USAGE = `usage: ordo snapshot save FILE [--json] [--progress]
       ordo snapshot status FILE [--json]
       ordo snapshot restore FILE --name NAME --data-dir DIR --initial-cluster NAME=URL,...
            [--initial-advertise-peer-urls URL] [--initial-cluster-token TOKEN] [--json] [--progress]`;

const options = {
  ...common,
  progress: { type: "boolean", default: false },
  name: { type: "string" },
  "data-dir": { type: "string" },
  "initial-cluster": { type: "string" },
  "initial-advertise-peer-urls": { type: "string" },
  "initial-cluster-token": { type: "string", default: "ordo-cluster" },
} as const;

function table(headers: readonly string[], row: readonly string[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, (row[i] ?? "").length));
  const rule = `+${widths.map((w) => "-".repeat(w + 2)).join("+")}+`;
  const line = (cells: readonly string[], right: boolean): string =>
    `|${cells
      .map((c, i) => {
        const w = widths[i] as number;
        return ` ${right ? c.padStart(w) : c.padEnd(w)} `;
      })
      .join("|")}|`;
  const centred = headers.map((h, i) => {
    const w = widths[i] as number;
    const left = Math.floor((w - h.length) / 2);
    return " ".repeat(left) + h + " ".repeat(w - h.length - left);
  });
  return `${rule}\n${line(centred, false)}\n${rule}\n${line(row, true)}\n${rule}\n`;
}

function size(n: number): string {
  if (n < 1000) return `${n} B`;
  if (n < 1_000_000) return `${(n / 1000).toFixed(1)} kB`;
  return `${(n / 1_000_000).toFixed(1)} MB`;
}

const parse = (args: string[]) =>
  parseArgs({ args, options, allowPositionals: true, strict: true });
type SnapshotValues = ReturnType<typeof parse>["values"];

export async function runSnapshot(args: string[], out: Output): Promise<number> {
  const { values, positionals } = parse(args);
  const [sub, path] = positionals;
  if (positionals.length !== 2 || path === undefined) throw new Error(SNAPSHOT_USAGE);
  if (sub === "save") return snapshotSave(values, path, out);
  if (sub === "status") return snapshotStatus(values, path, out);
  if (sub === "restore") return snapshotRestore(values, path, out);
  throw new Error(SNAPSHOT_USAGE);
}

async function snapshotSave(values: SnapshotValues, path: string, out: Output): Promise<number> {
  const c = client(values);
  const progress = commandProgress(out, values, "snapshot save", "bytes");
  try {
    const info = await c.snapshotSave(path, {
      onProgress: (bytes, total) => progress.update(bytes, total),
    });
    progress.done(`revision ${info.revision}`);
    out.stdout(values.json ? `${JSON.stringify(info)}\n` : `Snapshot saved at ${info.path}\n`);
    return 0;
  } finally {
    c.close();
  }
}

async function snapshotStatus(values: SnapshotValues, path: string, out: Output): Promise<number> {
  const { snapshotStatus } = await import("../server/member-restore.js");
  const status = snapshotStatus(await readFile(path));
  if (values.json) out.stdout(`${JSON.stringify({ integrity: "ok", ...status })}\n`);
  else
    out.stdout(
      table(
        ["HASH", "REVISION", "TOTAL KEYS", "TOTAL SIZE", "LEASES", "INTEGRITY"],
        [
          status.hash,
          String(status.revision),
          String(status.keys),
          size(status.fileBytes),
          String(status.leases),
          "ok (sha256)",
        ],
      ),
    );
  return 0;
}

async function snapshotRestore(values: SnapshotValues, path: string, out: Output): Promise<number> {
  const { restoreMember } = await import("../server/member-restore.js");
  const { parseInitialCluster } = await import("../server/index.js");
  const name = values.name;
  const dataDir = values["data-dir"];
  const clusterText = values["initial-cluster"];
  if (name === undefined) throw new Error("--name is required");
  if (dataDir === undefined) throw new Error("--data-dir is required");
  if (clusterText === undefined) throw new Error("--initial-cluster is required");
  const initialCluster = parseInitialCluster(clusterText);
  const advertise = values["initial-advertise-peer-urls"];
  const progress = commandProgress(out, values, `snapshot restore ${name}`);
  const file = await readFile(path);
  const r = await restoreMember({
    file,
    name,
    dataDir,
    initialCluster,
    ...(advertise !== undefined
      ? {
          advertisePeerUrls: advertise
            .split(",")
            .map((u) => u.trim())
            .filter((u) => u !== ""),
        }
      : {}),
    clusterToken: values["initial-cluster-token"],
    onProgress: (phase, done, total) => progress.update(done, total, phase),
  });
  progress.done(`revision ${r.revision}`);
  if (values.json) {
    out.stdout(`${JSON.stringify(r)}\n`);
    return 0;
  }
  const hex = (d: string): string => BigInt(d).toString(16);
  out.stdout(
    `restored snapshot (revision ${r.revision}, ${r.keys} keys, ${r.leases} leases) into ${r.dataDir}\n` +
      `member ${r.name} (id ${hex(r.memberId)}) of a new cluster ${hex(r.clusterId)}: ` +
      r.members.map((m) => `${m.name}=${hex(m.id)}`).join(", ") +
      `\nstart it with:\n  ordo serve --name ${r.name} --data-dir ${r.dataDir} --initial-cluster ${clusterText}` +
      `${values["initial-cluster-token"] !== "ordo-cluster" ? ` --initial-cluster-token ${values["initial-cluster-token"]}` : ""} --listen-client-urls URL\n`,
  );
  return 0;
}
