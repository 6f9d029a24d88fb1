// `ordo cluster` (what `npm start` runs): a local 3-member cluster as three OS processes, with
// data on disk under ./data, clients on 127.0.0.1:2379, 22379, 32379 and peers on 2380, 22380,
// 32380 (etcd's local-cluster convention). It supervises them (supervisor.ts): a member that
// crashes or is killed is reported and restarted with backoff while the others keep serving;
// one that keeps crashing is given up on; one removed from the cluster (ordo member remove)
// stops for good. Ctrl-C stops all three and waits for them; the next start recovers from disk.
//
//   ordo cluster status | stop NAME | start NAME | restart NAME [--data-dir DIR]
//
// talk to the running supervisor through <data-dir>/supervisor.json (its loopback control port
// and token).
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  createCertificateAuthority,
  createSignedCertificate,
  writePemFiles,
} from "../server/index.js";
import type { Output } from "./output.js";
import {
  CONTROL_FILE,
  type ControlInfo,
  type MemberStatus,
  Supervisor,
  type SupervisorStatus,
} from "./supervisor.js";

export const CLUSTER_USAGE = `usage: ordo cluster [--data-dir DIR] [--client-ports A,B,C] [--peer-ports A,B,C] [--host H]
                    [--read-mode index|lease] [--log-level error|warn|info|debug]
                    [--no-restart] [--restart-backoff-ms N] [--tls] [--quota-backend-bytes N]
  starts a local 3-member cluster (default data ./data, client ports 2379,22379,32379, peer ports
  2380,22380,32380) and supervises it: a member that exits is reported and restarted after a
  backoff (--restart-backoff-ms, default 500, doubling to 10 s) while the others keep serving;
  one that crashes 5 times within a minute is given up on; one removed from the cluster is not
  restarted. --no-restart leaves an exited member down. Ctrl-C stops every member.
  --tls: https everywhere, with certificates made on first start under DIR/tls (a CA, one
  certificate per member for its client port and its peers, a client certificate), mutual TLS
  between members and client-cert-auth on the client ports; prints the etcdctl flags to use.
  --log-level (default warn): the members' JSON log lines at that level and above are shown,
  prefixed by the member's name; info adds the start-up and leadership lines.
  --quota-backend-bytes N is given to every member's ordo serve (etcd's space quota).

usage: ordo cluster status|stop NAME|start NAME|restart NAME [--data-dir DIR] [--json]
  controls the running supervisor of DIR (default ./data) through DIR/${CONTROL_FILE}:
  status lists each member's state, pid, endpoint, starts and last exit; stop, start and
  restart act on one member and return once it has stopped, or serves clients again.`;

const CONTROL_COMMANDS = new Set(["status", "stop", "start", "restart"]);

function ports(text: string, flag: string): number[] {
  const list = text.split(",").map((p) => Number(p.trim()));
  if (list.length !== 3 || list.some((p) => !Number.isInteger(p) || p <= 0 || p > 65535)) {
    throw new Error(`${flag} takes three ports, like 2379,22379,32379`);
  }
  return list;
}

const CLUSTER_OPTIONS = {
  "data-dir": { type: "string", default: "data" },
  "client-ports": { type: "string", default: "2379,22379,32379" },
  "read-mode": { type: "string", default: "index" },
  "peer-ports": { type: "string", default: "2380,22380,32380" },
  host: { type: "string", default: "127.0.0.1" },
  "log-level": { type: "string", default: "warn" },
  "no-restart": { type: "boolean", default: false },
  "restart-backoff-ms": { type: "string", default: "500" },
  tls: { type: "boolean", default: false },
  "quota-backend-bytes": { type: "string" },
  help: { type: "boolean", short: "h", default: false },
} as const;

/** What `ordo cluster` starts: the flags read, and the addresses they give each member. */
interface ClusterLayout {
  host: string;
  clientPorts: number[];
  dataDir: string;
  backoffMs: number;
  restart: boolean;
  logLevel: string;
  readMode: string;
  quotaBackendBytes: string | undefined;
  names: string[];
  tls: ClusterCertificates | undefined;
  scheme: string;
  initialCluster: string;
  endpoints: string;
  clientFlags: string;
}

export async function runClusterCommand(args: string[], out: Output): Promise<number> {
  if (args[0] !== undefined && CONTROL_COMMANDS.has(args[0]))
    return runControlCommand(args[0], args.slice(1), out);
  const { values } = parseArgs({ args, options: CLUSTER_OPTIONS, strict: true });
  if (values.help) {
    out.stdout(`${CLUSTER_USAGE}\n`);
    return 0;
  }
  const host = values.host as string;
  const clientPorts = ports(values["client-ports"] as string, "--client-ports");
  const peerPorts = ports(values["peer-ports"] as string, "--peer-ports");
  const dataDir = resolve(values["data-dir"] as string);
  const backoffMs = Number(values["restart-backoff-ms"]);
  if (!Number.isSafeInteger(backoffMs) || backoffMs <= 0)
    throw new Error(`--restart-backoff-ms must be a positive integer of milliseconds`);
  const running = await runningSupervisor(dataDir);
  if (running !== undefined) {
    out.stderr(
      `ordo cluster: a supervisor already runs this cluster (pid ${running.pid}, ${join(dataDir, CONTROL_FILE)}); ` +
        "use `ordo cluster status|stop|start|restart`, or stop it first\n",
    );
    return 1;
  }
  const names = ["n1", "n2", "n3"];
  const tls =
    values.tls === true ? await clusterCertificates(join(dataDir, "tls"), names, host) : undefined;
  const scheme = tls !== undefined ? "https" : "http";
  const layout: ClusterLayout = {
    host,
    clientPorts,
    dataDir,
    backoffMs,
    restart: !values["no-restart"],
    logLevel: values["log-level"] as string,
    readMode: values["read-mode"] as string,
    quotaBackendBytes: values["quota-backend-bytes"] as string | undefined,
    names,
    tls,
    scheme,
    initialCluster: names.map((n, i) => `${n}=${scheme}://${host}:${peerPorts[i]}`).join(","),
    endpoints: clientPorts
      .map((p) => `${tls !== undefined ? "https://" : ""}${host}:${p}`)
      .join(","),
    clientFlags:
      tls === undefined
        ? ""
        : ` --cacert ${tls.caFile} --cert ${tls.clientCertFile} --key ${tls.clientKeyFile}`,
  };
  return superviseCluster(layout, out);
}

/** The `ordo serve` arguments of member `i`. */
function memberServeArgs(layout: ClusterLayout, name: string, i: number): string[] {
  const ordo = fileURLToPath(new URL("../../../bin/ordo.js", import.meta.url));
  const { host, clientPorts, dataDir, scheme, tls, quotaBackendBytes } = layout;
  return [
    ordo,
    "serve",
    "--name",
    name,
    "--data-dir",
    join(dataDir, name),
    "--listen-client-urls",
    `${scheme}://${host}:${clientPorts[i]}`,
    "--initial-cluster",
    layout.initialCluster,
    "--log-level",
    layout.logLevel,
    "--read-mode",
    layout.readMode,
    ...(tls === undefined ? [] : tlsServeArgs(tls, name)),
    ...(quotaBackendBytes === undefined ? [] : [`--quota-backend-bytes=${quotaBackendBytes}`]),
  ];
}

/** The banner printed at start: where the members are and how to reach them. */
function clusterBanner(layout: ClusterLayout): string {
  const { host, clientPorts, dataDir, tls, endpoints, clientFlags } = layout;
  return (
    `ordo: local 3-member cluster, data under ${dataDir}\n` +
    `  client endpoints: ${endpoints}\n` +
    `  peers:            ${layout.initialCluster}\n` +
    (tls !== undefined
      ? `  TLS: certificates under ${tls.dir} (CA ${tls.caFile}); clients need a certificate it signed\n` +
        `  etcdctl flags:    --endpoints=${endpoints}${clientFlags}\n`
      : "") +
    `  dashboard:        ${tls !== undefined ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${clientPorts[0]}/dashboard (every member serves one on its client port)\n` +
    `  try: npx ordo put greeting hello --endpoints ${tls !== undefined ? "https://" : ""}${host}:${clientPorts[0]}${clientFlags}\n` +
    `       ETCDCTL_API=3 etcdctl --endpoints=${endpoints}${clientFlags} get greeting\n` +
    `  members are restarted when they exit${!layout.restart ? " (not: --no-restart)" : ""}; ` +
    "ordo cluster status | stop NAME | start NAME | restart NAME\n" +
    "  Ctrl-C stops it; the next start recovers from disk.\n"
  );
}

/** Starts the three members and supervises them until Ctrl-C (twice: SIGKILL) or the end. */
async function superviseCluster(layout: ClusterLayout, out: Output): Promise<number> {
  const { host, clientPorts, backoffMs } = layout;
  const supervisor = new Supervisor({
    dataDir: layout.dataDir,
    restart: layout.restart,
    backoffMs,
    maxBackoffMs: Math.max(backoffMs, 10_000),
    stableMs: 30_000,
    maxCrashes: 5,
    crashWindowMs: 60_000,
    stdout: (t) => out.stdout(t),
    stderr: (t) => out.stderr(t),
    members: layout.names.map((name, i) => ({
      name,
      endpoint: `${host}:${clientPorts[i]}`,
      args: memberServeArgs(layout, name, i),
    })),
  });
  let signals = 0;
  const onSignal = (): void => {
    if (++signals === 1) {
      out.stderr("\nstopping the cluster... (again to kill at once)\n");
      void supervisor.shutdown();
    } else {
      out.stderr("killing every member (SIGKILL)\n");
      void supervisor.shutdown(true);
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  out.stdout(clusterBanner(layout));
  try {
    await supervisor.start();
    out.stdout(`supervisor: pid ${process.pid}, control in ${supervisor.controlFile}\n`);
    return await supervisor.done;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

// ---- the control commands -------------------------------------------------------------------

function readControlInfo(dataDir: string): ControlInfo | undefined {
  const file = join(dataDir, CONTROL_FILE);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as ControlInfo;
  } catch {
    return undefined;
  }
}

/** Sends one request to the supervisor of dataDir; undefined when none answers. */
async function control(
  info: ControlInfo,
  method: "GET" | "POST",
  path: string,
): Promise<{ status: number; body: Record<string, unknown> } | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${info.port}${path}`, {
      method,
      headers: { authorization: `Bearer ${info.token}` },
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  } catch {
    return undefined;
  }
}

/** The supervisor running for dataDir, when its control file names one that answers. */
async function runningSupervisor(dataDir: string): Promise<ControlInfo | undefined> {
  const info = readControlInfo(dataDir);
  if (info === undefined) return undefined;
  return (await control(info, "GET", "/v1/status")) !== undefined ? info : undefined;
}

function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
}

/** The human-readable status table. */
export function formatStatus(status: SupervisorStatus): string {
  const rows = [["NAME", "STATE", "PID", "ENDPOINT", "UP", "STARTS", "LAST EXIT"]];
  for (const m of status.members as MemberStatus[]) {
    const state =
      m.state === "backoff" && m.restartInMs !== null
        ? `backoff (restart in ${(m.restartInMs / 1000).toFixed(1)}s)`
        : m.state;
    rows.push([
      m.name,
      state,
      m.pid === null ? "-" : String(m.pid),
      m.endpoint,
      m.upMs === null ? "-" : duration(m.upMs),
      String(m.starts),
      m.lastExit === null ? "-" : `${m.lastExit.reason} at ${m.lastExit.at}`,
    ]);
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] as string).length)));
  return (
    `supervisor pid ${status.pid}, data under ${status.dataDir}` +
    `${status.restart ? "" : " (--no-restart)"}\n` +
    rows
      .map((r) =>
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths?.[i] ?? 0)))
          .join("  ")
          .trimEnd(),
      )
      .join("\n") +
    "\n"
  );
}

async function runControlCommand(command: string, args: string[], out: Output): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      "data-dir": { type: "string", default: "data" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    out.stdout(`${CLUSTER_USAGE}\n`);
    return 0;
  }
  const dataDir = resolve(values["data-dir"] as string);
  if (command === "status" ? positionals.length !== 0 : positionals.length !== 1)
    throw new Error(
      command === "status"
        ? "status takes no member name"
        : `${command} takes one member name, like: ordo cluster ${command} n2`,
    );
  const info = readControlInfo(dataDir);
  const file = join(dataDir, CONTROL_FILE);
  if (info === undefined) {
    out.stderr(
      `ordo cluster ${command}: no supervisor runs for ${dataDir} (no ${file}); start one with ordo cluster\n`,
    );
    return 1;
  }
  const reply =
    command === "status"
      ? await control(info, "GET", "/v1/status")
      : await control(
          info,
          "POST",
          `/v1/members/${encodeURIComponent(positionals[0] as string)}/${command}`,
        );
  if (reply === undefined) {
    out.stderr(
      `ordo cluster ${command}: the supervisor in ${file} (pid ${info.pid}) does not answer; it is not running\n`,
    );
    return 1;
  }
  if (reply.status !== 200) {
    if (values.json) out.stdout(`${JSON.stringify(reply.body)}\n`);
    out.stderr(`ordo cluster ${command}: ${String(reply.body.error)}\n`);
    return 1;
  }
  if (values.json) {
    out.stdout(`${JSON.stringify(reply.body)}\n`);
    return 0;
  }
  if (command === "status") out.stdout(formatStatus(reply.body as unknown as SupervisorStatus));
  else out.stdout(`${String(reply.body.message)}\n`);
  return 0;
}

/** Where `ordo cluster --tls` keeps its certificates. */
export interface ClusterCertificates {
  readonly dir: string;
  readonly caFile: string;
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
}

/**
 * The certificates of a local TLS cluster under dir, made on first start and kept (the next
 * start reuses them, as it reuses the data): ca.pem (and its key), NAME.pem / NAME-key.pem per
 * member (server and client use: its client port and both directions of its peer links; SANs
 * the host, 127.0.0.1 and localhost), client.pem / client-key.pem (CN root) for etcdctl.
 */
export async function clusterCertificates(
  dir: string,
  names: readonly string[],
  host: string,
): Promise<ClusterCertificates> {
  const caFile = join(dir, "ca.pem");
  const clientCertFile = join(dir, "client.pem");
  const clientKeyFile = join(dir, "client-key.pem");
  const files = [
    caFile,
    clientCertFile,
    clientKeyFile,
    ...names.flatMap((n) => [join(dir, `${n}.pem`), join(dir, `${n}-key.pem`)]),
  ];
  if (files.every((f) => existsSync(f))) return { dir, caFile, clientCertFile, clientKeyFile };
  const ca = await createCertificateAuthority("ordo cluster --tls CA");
  await writePemFiles(caFile, join(dir, "ca-key.pem"), ca);
  const hosts = [...new Set([host, "127.0.0.1", "localhost"])];
  for (const name of names) {
    const pair = await createSignedCertificate(ca, { commonName: name, hosts });
    await writePemFiles(join(dir, `${name}.pem`), join(dir, `${name}-key.pem`), pair);
  }
  const client = await createSignedCertificate(ca, { commonName: "root", usages: ["client"] });
  await writePemFiles(clientCertFile, clientKeyFile, client);
  return { dir, caFile, clientCertFile, clientKeyFile };
}

/** `ordo serve`'s TLS flags for one member of such a cluster. */
export function tlsServeArgs(tls: ClusterCertificates, name: string): string[] {
  const cert = join(tls.dir, `${name}.pem`);
  const key = join(tls.dir, `${name}-key.pem`);
  return [
    "--cert-file",
    cert,
    "--key-file",
    key,
    "--trusted-ca-file",
    tls.caFile,
    "--client-cert-auth",
    "--peer-cert-file",
    cert,
    "--peer-key-file",
    key,
    "--peer-trusted-ca-file",
    tls.caFile,
    "--peer-client-cert-auth",
  ];
}
