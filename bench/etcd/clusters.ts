// A 3-member cluster of Ordo or of etcd on loopback, data on disk, each member a child process
// whose PID we hold: started, awaited until every member answers GET /health with 200 (both
// systems serve it on the client port), asked for its leader and metrics, and stopped by PID.
import type { ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { isRunning, runChecked, startDaemon, stopChild, tail } from "./processes.js";

export type SystemName = "ordo" | "etcd";

export interface Ports {
  readonly client: readonly [number, number, number];
  readonly peer: readonly [number, number, number];
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
  ) {}

  /** Starts the three members with empty data under dir and waits until all are healthy. */
  static async start(
    system: SystemName,
    dir: string,
    ports: Ports,
    tools: Tools,
    readyTimeoutMs = 30_000,
  ): Promise<Cluster> {
    mkdirSync(dir, { recursive: true });
    for (const port of [...ports.client, ...ports.peer]) {
      if (await portInUse(port)) throw new Error(`${system}: port ${port} is already in use`);
    }
    const initialCluster = NAMES.map((n, i) => `${n}=http://${HOST}:${ports.peer[i]}`).join(",");
    const members: Member[] = [];
    for (const [i, name] of NAMES.entries()) {
      const clientUrl = `http://${HOST}:${ports.client[i]}`;
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
                `http://${HOST}:${ports.peer[i]}`,
                "--initial-advertise-peer-urls",
                `http://${HOST}:${ports.peer[i]}`,
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
              ],
            ];
      const child = startDaemon(command, args, fd);
      closeSync(fd);
      if (child.pid === undefined) throw new Error(`${system} ${name}: could not start ${command}`);
      members.push({ name, endpoint: `${HOST}:${ports.client[i]}`, child, pid: child.pid, log });
    }
    const cluster = new Cluster(system, dir, members, tools);
    try {
      await cluster.waitHealthy(readyTimeoutMs);
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  get endpoints(): string[] {
    return this.members.map((m) => m.endpoint);
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
      for (const m of [...pending]) if (await healthy(m.endpoint)) pending.delete(m);
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
        const member = this.members.find((m) => m.endpoint === s.Endpoint);
        if (member !== undefined)
          return { member, revision: Number(s.Status.header.revision ?? 0) };
      }
    }
    throw new Error(`${this.system}: no leader in endpoint status: ${tail(out, 5)}`);
  }

  /** The endpoints with the leader last (so one connection goes to a follower). */
  async endpointsLeaderLast(): Promise<{ endpoints: string[]; leader: Member }> {
    const { member } = await this.leader();
    const followers = this.members.filter((m) => m !== member).map((m) => m.endpoint);
    return { endpoints: [...followers, member.endpoint], leader: member };
  }

  /** The sum of one metric's samples (all label sets) from a member's /metrics. */
  async metric(member: Member, name: string, timeoutMs = 10_000): Promise<number | undefined> {
    const res = await fetch(`http://${member.endpoint}/metrics`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
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
      [`--endpoints=${this.endpoints.join(",")}`, "--command-timeout=10s", "put", key, value],
      20_000,
    );
  }

  async compact(revision: number, physical: boolean): Promise<void> {
    const args = [`--endpoints=${this.endpoints.join(",")}`, "--command-timeout=120s"];
    await runChecked(
      this.tools.etcdctl,
      [...args, "compact", String(revision), ...(physical ? ["--physical"] : [])],
      180_000,
    );
  }

  async defrag(): Promise<void> {
    await runChecked(
      this.tools.etcdctl,
      [`--endpoints=${this.endpoints.join(",")}`, "--command-timeout=120s", "defrag"],
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
}

function healthy(endpoint: string): Promise<boolean> {
  return fetch(`http://${endpoint}/health`, { signal: AbortSignal.timeout(1000) })
    .then(async (res) => {
      await res.arrayBuffer();
      return res.status === 200;
    })
    .catch(() => false);
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
