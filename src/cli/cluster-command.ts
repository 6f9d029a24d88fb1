// `ordo cluster` (what `npm start` runs): a local 3-member cluster as three OS processes, with
// data on disk under ./data, clients on 127.0.0.1:2379, 22379, 32379 and peers on 2380, 22380,
// 32380 (etcd's local-cluster convention). Ctrl-C stops all three; the next start recovers
// from disk. A member removed from the cluster (ordo member remove) stops by itself and exits 0
// saying so: that is a normal stop of that one child, and the others keep running.
import { type ChildProcess, spawn } from "node:child_process";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { Output } from "./output.js";

/** What `ordo serve` prints when its member was removed from the cluster. */
const REMOVED_MESSAGE = "this member was removed from the cluster";

export const CLUSTER_USAGE = `usage: ordo cluster [--data-dir DIR] [--client-ports A,B,C] [--peer-ports A,B,C] [--host H] [--read-mode index|lease] [--log-level error|warn|info|debug]
  starts a local 3-member cluster (default data ./data, client ports 2379,22379,32379, peer ports 2380,22380,32380)`;

function ports(text: string, flag: string): number[] {
  const list = text.split(",").map((p) => Number(p.trim()));
  if (list.length !== 3 || list.some((p) => !Number.isInteger(p) || p <= 0 || p > 65535)) {
    throw new Error(`${flag} takes three ports, like 2379,22379,32379`);
  }
  return list;
}

export async function runClusterCommand(args: string[], out: Output): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      "data-dir": { type: "string", default: "data" },
      "client-ports": { type: "string", default: "2379,22379,32379" },
      "read-mode": { type: "string", default: "index" },
      "peer-ports": { type: "string", default: "2380,22380,32380" },
      host: { type: "string", default: "127.0.0.1" },
      "log-level": { type: "string", default: "error" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    out.stdout(`${CLUSTER_USAGE}\n`);
    return 0;
  }
  const host = values.host as string;
  const clientPorts = ports(values["client-ports"] as string, "--client-ports");
  const peerPorts = ports(values["peer-ports"] as string, "--peer-ports");
  const dataDir = resolve(values["data-dir"] as string);
  const names = ["n1", "n2", "n3"];
  const initialCluster = names.map((n, i) => `${n}=http://${host}:${peerPorts[i]}`).join(",");
  const ordo = fileURLToPath(new URL("../../../bin/ordo.js", import.meta.url));
  const children = new Map<string, ChildProcess>();
  let stopping = false;
  const exited = new Promise<number>((resolveExit) => {
    let alive = names.length;
    names.forEach((name, i) => {
      const child = spawn(
        process.execPath,
        [
          ordo,
          "serve",
          "--name",
          name,
          "--data-dir",
          join(dataDir, name),
          "--listen-client-urls",
          `http://${host}:${clientPorts[i]}`,
          "--initial-cluster",
          initialCluster,
          "--log-level",
          values["log-level"] as string,
          "--read-mode",
          values["read-mode"] as string,
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      children.set(name, child);
      let removed = false;
      const prefix = (chunk: Buffer, write: (s: string) => void): void => {
        for (const line of chunk.toString().split("\n")) {
          if (line === "") continue;
          if (line.includes(REMOVED_MESSAGE)) removed = true;
          write(`[${name}] ${line}\n`);
        }
      };
      child.stdout?.on("data", (c: Buffer) => prefix(c, out.stdout));
      child.stderr?.on("data", (c: Buffer) => prefix(c, out.stderr));
      child.on("exit", (code, signal) => {
        if (removed && code === 0) {
          // Removed from the cluster: a normal stop of this member alone.
          if (!stopping) out.stderr(`[${name}] stopped: removed from the cluster\n`);
        } else {
          if (!stopping) out.stderr(`[${name}] exited (${signal ?? code}); stopping the cluster\n`);
          stopAll();
        }
        if (--alive === 0) resolveExit(unexpected ? 1 : 0);
      });
    });
  });
  let unexpected = false;
  const stopAll = (): void => {
    if (!stopping) unexpected = true;
    stopping = true;
    for (const child of children.values())
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  };
  const onSignal = (): void => {
    stopping = true;
    out.stderr("\nstopping the cluster...\n");
    stopAll();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  out.stdout(
    `ordo: local 3-member cluster, data under ${dataDir}\n` +
      `  client endpoints: ${clientPorts.map((p) => `${host}:${p}`).join(",")}\n` +
      `  peers:            ${initialCluster}\n` +
      `  try: npx ordo put greeting hello --endpoints ${host}:${clientPorts[0]}\n` +
      `       ETCDCTL_API=3 etcdctl --endpoints=${clientPorts.map((p) => `${host}:${p}`).join(",")} get greeting\n` +
      "  Ctrl-C stops it; the next start recovers from disk.\n",
  );
  const code = await exited;
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  return code;
}
