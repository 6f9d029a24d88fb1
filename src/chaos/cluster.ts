// The chaos cluster: N real members behind the chaos network, and what the runner asks of
// them (their /status, who leads). Ports are loopback ports chosen free at the start and kept
// for the whole run, so a restarted member comes back at the same addresses.
import { mkdir } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { MemberProcess } from "./member-process.js";
import { ChaosNetwork } from "./proxy.js";

export interface MemberStatus {
  readonly name: string;
  readonly memberId: string;
  readonly role: string;
  readonly leader: string;
  readonly revision: number;
  readonly applied: number;
  readonly health: boolean;
  readonly verdict: string;
  readonly reasons: readonly string[];
}

export interface ChaosClusterOptions {
  readonly nodes: number;
  readonly root: string;
  readonly tickMs: number;
  readonly extraArgs?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

const STATUS_TIMEOUT_MS = 1000;

// Ports are chosen below Linux's ephemeral range (32768–60999): a port from that range, free
// when picked, could become the local port of some outgoing connection (the proxies make many)
// while its member is down between a kill and a restart.
const PORT_LOW = 20_000;
const PORT_HIGH = 32_000;
let nextPort =
  PORT_LOW + ((process.pid * 7919 + Math.floor(Math.random() * 1000)) % (PORT_HIGH - PORT_LOW));

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

/** `count` distinct free loopback ports outside the ephemeral range. */
export async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let attempt = 0; attempt < 2000 && ports.length < count; attempt++) {
    const port = nextPort;
    nextPort = nextPort + 1 >= PORT_HIGH ? PORT_LOW : nextPort + 1;
    if (await canBind(port)) ports.push(port);
  }
  if (ports.length < count) throw new Error("no free ports found below the ephemeral range");
  return ports;
}

export class ChaosCluster {
  readonly members: MemberProcess[] = [];
  network!: ChaosNetwork;

  private constructor(readonly options: ChaosClusterOptions) {}

  static async create(options: ChaosClusterOptions): Promise<ChaosCluster> {
    const c = new ChaosCluster(options);
    const n = options.nodes;
    const ports = await freePorts(3 * n);
    const names = Array.from({ length: n }, (_, i) => `n${i + 1}`);
    const peerPorts = new Map(names.map((name, i) => [name, ports[n + i] as number]));
    const proxyPorts = new Map(names.map((name, i) => [name, ports[2 * n + i] as number]));
    c.network = new ChaosNetwork({ targets: peerPorts, proxyPorts });
    await c.network.start();
    const initialCluster = names
      .map((name) => `${name}=http://127.0.0.1:${c.network.proxyPort(name)}`)
      .join(",");
    await mkdir(join(options.root, "logs"), { recursive: true });
    for (const [i, name] of names.entries()) {
      const dataDir = join(options.root, "data", name);
      await mkdir(dataDir, { recursive: true });
      c.members.push(
        new MemberProcess({
          name,
          dataDir,
          logDir: join(options.root, "logs"),
          clientPort: ports[i] as number,
          peerPort: peerPorts.get(name) as number,
          initialCluster,
          tickMs: options.tickMs,
          ...(options.extraArgs !== undefined ? { extraArgs: options.extraArgs } : {}),
          ...(options.env !== undefined ? { env: options.env } : {}),
        }),
      );
    }
    return c;
  }

  get names(): string[] {
    return this.members.map((m) => m.name);
  }

  get endpoints(): string[] {
    return this.members.map((m) => m.endpoint);
  }

  /** The endpoint list starting at member i (a client sticks to its first endpoint while it works). */
  endpointsFrom(i: number): string[] {
    const e = this.endpoints;
    return e.map((_, j) => e[(i + j) % e.length] as string);
  }

  member(name: string): MemberProcess {
    const m = this.members.find((x) => x.name === name);
    if (m === undefined) throw new Error(`no member ${name}`);
    return m;
  }

  get majority(): number {
    return Math.floor(this.members.length / 2) + 1;
  }

  async startAll(): Promise<void> {
    await Promise.all(this.members.filter((m) => m.state === "down").map((m) => m.start()));
  }

  /** One member's /status, undefined when it does not answer in time. */
  async status(m: MemberProcess): Promise<MemberStatus | undefined> {
    if (m.state !== "running") return undefined;
    try {
      const res = await fetch(`http://${m.endpoint}/status`, {
        signal: AbortSignal.timeout(STATUS_TIMEOUT_MS),
      });
      const b = (await res.json()) as Record<string, unknown>;
      return {
        name: m.name,
        memberId: String(b.memberId ?? ""),
        role: String(b.role ?? ""),
        leader: String(b.leader ?? ""),
        revision: Number(b.revision ?? 0),
        applied: Number(b.applied ?? 0),
        health: b.health === true,
        verdict: String(b.verdict ?? ""),
        reasons: Array.isArray(b.reasons) ? b.reasons.map(String) : [],
      };
    } catch {
      return undefined;
    }
  }

  async statuses(): Promise<Map<string, MemberStatus>> {
    const all = await Promise.all(this.members.map((m) => this.status(m)));
    const out = new Map<string, MemberStatus>();
    for (const s of all) if (s !== undefined) out.set(s.name, s);
    return out;
  }

  /** The member that says it leads (and whose /status answered), if any. */
  async leader(): Promise<MemberStatus | undefined> {
    for (const s of (await this.statuses()).values()) if (s.role === "Leader") return s;
    return undefined;
  }

  /**
   * Polls until every member runs, answers /status healthy and names the same leader, or the
   * time is up. Returns the statuses seen last.
   */
  async waitHealthy(
    timeoutMs: number,
  ): Promise<{ ok: boolean; statuses: Map<string, MemberStatus> }> {
    const deadline = performance.now() + timeoutMs;
    let statuses = new Map<string, MemberStatus>();
    for (let i = 0; i < 100_000; i++) {
      statuses = await this.statuses();
      const all = [...statuses.values()];
      const leader = all[0]?.leader ?? "";
      if (
        all.length === this.members.length &&
        leader !== "" &&
        all.every((s) => s.health && s.leader === leader)
      )
        return { ok: true, statuses };
      if (performance.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    return { ok: false, statuses };
  }

  /** Kills every child at once (process exit, errors): SIGKILL by PID, only ours. */
  killAll(): void {
    for (const m of this.members) m.kill();
  }

  async close(): Promise<void> {
    await Promise.all(this.members.map((m) => m.close()));
    await this.network.stop();
  }
}
