// A 3-member cluster of Ordo or of etcd on loopback, data on disk, each member a child process
// whose PID we hold: started, awaited until every member answers GET /health with 200 (both
// systems serve it on the client port), asked for its leader and metrics, and stopped by PID.
// With TlsFiles (bench:etcd --tls) both systems serve https:// client and peer URLs with mutual
// TLS on both ports (etcd's flags, which Ordo shares), and every call made here (etcdctl,
// /health, /metrics) presents the client certificate.
import type { ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { connect } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { isRunning, runChecked, startDaemon, stopChild, tail } from "./processes.js";

export type SystemName = "ordo" | "etcd";

export interface Ports {
  readonly client: readonly [number, number, number];
  readonly peer: readonly [number, number, number];
}

/** Certificate files for --tls: one CA, a certificate per member (n1..n3), one client's. */
export interface TlsFiles {
  readonly ca: string;
  /** Per member, used on both ports: SAN 127.0.0.1, server and client extended key usage. */
  readonly members: readonly { readonly cert: string; readonly key: string }[];
  readonly client: { readonly cert: string; readonly key: string };
}

export interface Tools {
  readonly etcd: string;
  readonly etcdctl: string;
  readonly benchmark: string;
}

const HOST = "127.0.0.1";
const NAMES = ["n1", "n2", "n3"] as const;
const ORDO_BIN = fileURLToPath(new URL("../../../bin/ordo.js", import.meta.url));

export interface Member {
  readonly name: string;
  readonly endpoint: string; // host:port, the client address
  readonly child: ChildProcess;
  readonly pid: number;
  readonly log: string;
}

export interface LeaderInfo {
  readonly member: Member;
  readonly revision: number;
}

export class Cluster {
  private constructor(
    readonly system: SystemName,
    readonly dir: string,
    readonly members: readonly Member[],
    private readonly tools: Tools,
    readonly tls: TlsFiles | undefined,
  ) {}

  /** Starts the three members with empty data under dir and waits until all are healthy. */
  static async start(
    system: SystemName,
    dir: string,
    ports: Ports,
    tools: Tools,
    tls?: TlsFiles,
    readyTimeoutMs = 30_000,
  ): Promise<Cluster> {
    mkdirSync(dir, { recursive: true });
    for (const port of [...ports.client, ...ports.peer]) {
      if (await portInUse(port)) throw new Error(`${system}: port ${port} is already in use`);
    }
    const scheme = tls === undefined ? "http" : "https";
    const initialCluster = NAMES.map((n, i) => `${n}=${scheme}://${HOST}:${ports.peer[i]}`).join(
      ",",
    );
    const members: Member[] = [];
    for (const [i, name] of NAMES.entries()) {
      const clientUrl = `${scheme}://${HOST}:${ports.client[i]}`;
      const own = tls?.members[i];
      const tlsArgs =
        tls === undefined || own === undefined
          ? []
          : [
              "--cert-file",
              own.cert,
              "--key-file",
              own.key,
              "--trusted-ca-file",
              tls.ca,
              "--client-cert-auth",
              "--peer-cert-file",
              own.cert,
              "--peer-key-file",
              own.key,
              "--peer-trusted-ca-file",
              tls.ca,
              "--peer-client-cert-auth",
            ];
      const data = join(dir, name);
      const log = join(dir, `${name}.log`);
      const fd = openSync(log, "a");
      const [command, args] =
        system === "ordo"
          ? [
              process.execPath,
              [
                ORDO_BIN,
                "serve",
                "--name",
                name,
                "--data-dir",
                data,
                "--listen-client-urls",
                clientUrl,
                "--initial-cluster",
                initialCluster,
                "--initial-cluster-token",
                "ordo-bench",
                "--log-level",
                "warn",
                ...tlsArgs,
              ],
            ]
          : [
              tools.etcd,
              [
                "--name",
                name,
                "--data-dir",
                data,
                "--listen-client-urls",
                clientUrl,
                "--advertise-client-urls",
                clientUrl,
                "--listen-peer-urls",
                `${scheme}://${HOST}:${ports.peer[i]}`,
                "--initial-advertise-peer-urls",
                `${scheme}://${HOST}:${ports.peer[i]}`,
                "--initial-cluster",
                initialCluster,
                "--initial-cluster-token",
                "etcd-bench",
                "--initial-cluster-state",
                "new",
                "--logger",
                "zap",
                "--log-outputs",
                "stderr",
                "--log-level",
                "warn",
                ...tlsArgs,
              ],
            ];
      const child = startDaemon(command, args, fd);
      closeSync(fd);
      if (child.pid === undefined) throw new Error(`${system} ${name}: could not start ${command}`);
      members.push({ name, endpoint: `${HOST}:${ports.client[i]}`, child, pid: child.pid, log });
    }
    const cluster = new Cluster(system, dir, members, tools, tls);
    try {
      await cluster.waitHealthy(readyTimeoutMs);
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** The client endpoints as etcdctl and the benchmark tool take them (https:// with --tls). */
  get endpoints(): string[] {
    return this.members.map((m) => this.url(m));
  }

  /** A member's client endpoint: host:port, or https://host:port with --tls. */
  url(m: Member): string {
    return this.tls === undefined ? m.endpoint : `https://${m.endpoint}`;
  }

  /** etcdctl's and the benchmark tool's client certificate flags (none without --tls). */
  get clientTlsArgs(): string[] {
    const t = this.tls;
    return t === undefined
      ? []
      : [`--cacert=${t.ca}`, `--cert=${t.client.cert}`, `--key=${t.client.key}`];
  }

  get pids(): number[] {
    return this.members.map((m) => m.pid);
  }

  /** Whether every member is still running. */
  alive(): boolean {
    return this.members.every((m) => isRunning(m.child));
  }

  /** Throws if a member has exited. */
  checkAlive(): void {
    for (const m of this.members) {
      if (!isRunning(m.child)) {
        throw new Error(
          `${this.system} ${m.name} (pid ${m.pid}) exited (${m.child.signalCode ?? m.child.exitCode}); log ${m.log}`,
        );
      }
    }
  }

  /** Polls every member's /health until all answer 200; a member that exits fails at once. */
  private async waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const pending = new Set(this.members);
    while (pending.size > 0) {
      this.checkAlive();
      for (const m of [...pending]) if (await this.healthy(m)) pending.delete(m);
      if (pending.size === 0) break;
      if (Date.now() > deadline) {
        throw new Error(
          `${this.system}: ${[...pending].map((m) => m.name).join(", ")} not healthy after ${timeoutMs} ms; logs under ${this.dir}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The leader (per etcdctl endpoint status, which Ordo answers as etcd does) and revision. */
  async leader(): Promise<LeaderInfo> {
    const out = await runChecked(
      this.tools.etcdctl,
      [
        `--endpoints=${this.endpoints.join(",")}`,
        ...this.clientTlsArgs,
        "--command-timeout=5s",
        "endpoint",
        "status",
        "--write-out=json",
      ],
      15_000,
    );
    // Member ids are 64-bit: keep them as strings (JSON.parse would round them).
    const statuses = JSON.parse(out.replace(/":(\d{16,})/g, '":"$1"')) as {
      Endpoint: string;
      Status: { header: { member_id: unknown; revision: unknown }; leader: unknown };
    }[];
    for (const s of statuses) {
      if (String(s.Status.header.member_id) === String(s.Status.leader)) {
        const member = this.members.find((m) => this.url(m) === s.Endpoint);
        if (member !== undefined)
          return { member, revision: Number(s.Status.header.revision ?? 0) };
      }
    }
    throw new Error(`${this.system}: no leader in endpoint status: ${tail(out, 5)}`);
  }

  /** The endpoints with the leader last (so one connection goes to a follower). */
  async endpointsLeaderLast(): Promise<{ endpoints: string[]; leader: Member }> {
    const { member } = await this.leader();
    const followers = this.members.filter((m) => m !== member).map((m) => this.url(m));
    return { endpoints: [...followers, this.url(member)], leader: member };
  }

  /** The sum of one metric's samples (all label sets) from a member's /metrics. */
  async metric(member: Member, name: string, timeoutMs = 10_000): Promise<number | undefined> {
    const { body: text } = await this.get(member, "/metrics", timeoutMs);
    let sum: number | undefined;
    for (const line of text.split("\n")) {
      if (line.startsWith("#")) continue;
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
      if (m !== null && m[1] === name) sum = (sum ?? 0) + Number(m[3]);
    }
    return sum;
  }

  /** Puts one key through etcdctl (hex-free: key and value are plain text). */
  async put(key: string, value: string): Promise<void> {
    await runChecked(
      this.tools.etcdctl,
      [
        `--endpoints=${this.endpoints.join(",")}`,
        ...this.clientTlsArgs,
        "--command-timeout=10s",
        "put",
        key,
        value,
      ],
      20_000,
    );
  }

  async compact(revision: number, physical: boolean): Promise<void> {
    const args = [
      `--endpoints=${this.endpoints.join(",")}`,
      ...this.clientTlsArgs,
      "--command-timeout=120s",
    ];
    await runChecked(
      this.tools.etcdctl,
      [...args, "compact", String(revision), ...(physical ? ["--physical"] : [])],
      180_000,
    );
  }

  async defrag(): Promise<void> {
    await runChecked(
      this.tools.etcdctl,
      [
        `--endpoints=${this.endpoints.join(",")}`,
        ...this.clientTlsArgs,
        "--command-timeout=120s",
        "defrag",
      ],
      400_000,
    );
  }

  /**
   * Stops the followers, then the leader. A leader stopped together with its followers (etcd)
   * first hands its leadership to one of them, which is going away too, and waits ~7 s for that
   * transfer to time out; with no peer connected it skips the transfer.
   */
  async stop(): Promise<void> {
    const metric = this.system === "ordo" ? "ordo_is_leader" : "etcd_server_is_leader";
    const leaders = await Promise.all(
      this.members.map((m) =>
        isRunning(m.child) ? this.metric(m, metric, 2000).catch(() => undefined) : undefined,
      ),
    );
    const last = this.members.filter((_, i) => leaders[i] === 1);
    await Promise.all(this.members.filter((m) => !last.includes(m)).map((m) => stopChild(m.child)));
    await Promise.all(last.map((m) => stopChild(m.child)));
  }

  private healthy(m: Member): Promise<boolean> {
    return this.get(m, "/health", 1000)
      .then((r) => r.status === 200)
      .catch(() => false);
  }

  /** GET path on a member's client port: fetch over http, node's https with the client cert. */
  private async get(
    m: Member,
    path: string,
    timeoutMs: number,
  ): Promise<{ status: number; body: string }> {
    const t = this.tls;
    if (t === undefined) {
      const res = await fetch(`http://${m.endpoint}${path}`, {
        signal: AbortSignal.timeout(timeoutMs),
      });
      return { status: res.status, body: await res.text() };
    }
    const [ca, cert, key] = [t.ca, t.client.cert, t.client.key].map((f) => readFileSync(f));
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        `https://${m.endpoint}${path}`,
        { ca, cert, key, agent: false, signal: AbortSignal.timeout(timeoutMs) },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
          );
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end();
    });
  }
}

function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port });
    socket.setTimeout(1000);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(false));
  });
}
