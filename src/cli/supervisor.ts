// The supervisor behind `ordo cluster`: runs the local members as child processes and keeps the
// cluster up when one of them dies, the way a process manager (goreman, systemd) would.
//
//  - A member that exits unasked (a crash, kill -9, an exit code) is reported with its exit
//    reason and restarted after a backoff: 0.5 s, doubling up to 10 s, back to 0.5 s once the
//    member had stayed up 30 s. The others keep serving meanwhile.
//  - A member that crashes 5 times within 60 s is reported and left stopped ("failed") until
//    `ordo cluster start NAME`.
//  - A member removed from the cluster (it prints REMOVED_MESSAGE and exits 0) is not restarted.
//  - With --no-restart an exited member stays down ("exited") until `ordo cluster start NAME`.
//  - stop / start / restart of one member by name, and status, come in over a control port:
//    HTTP on 127.0.0.1, on a port the system picks, with a random token, both written to
//    <data-dir>/supervisor.json (mode 0600) while the supervisor runs (see control.ts).
//  - shutdown() (Ctrl-C) stops every member with SIGTERM and waits for all of them.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

/** What `ordo serve` prints when its member was removed from the cluster. */
export const REMOVED_MESSAGE = "this member was removed from the cluster";
/** What `ordo serve` prints once it serves clients: the member is up. */
export const SERVING_MESSAGE = "serving clients on";
/** The control file in the data directory: {pid, port, token, members}. */
export const CONTROL_FILE = "supervisor.json";

export type MemberState =
  | "starting" // spawned, not serving yet
  | "running" // serving clients
  | "backoff" // exited unasked; restarts when its backoff delay has passed
  | "stopping" // asked to stop (SIGTERM sent)
  | "stopped" // stopped on request; starts again only on request
  | "exited" // exited unasked under --no-restart
  | "failed" // crashed too often: given up on
  | "removed"; // removed from the cluster: stopped for good

export interface MemberSpec {
  readonly name: string;
  /** The client endpoint, host:port. */
  readonly endpoint: string;
  /** The arguments after node's path: bin/ordo.js serve ... */
  readonly args: readonly string[];
}

export interface SupervisorOptions {
  readonly members: readonly MemberSpec[];
  readonly dataDir: string;
  readonly restart: boolean;
  /** First restart delay; doubles per crash up to maxBackoffMs. */
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
  /** A member up this long before it exits restarts after backoffMs again. */
  readonly stableMs: number;
  /** This many crashes within crashWindowMs: given up on. */
  readonly maxCrashes: number;
  readonly crashWindowMs: number;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

export interface MemberStatus {
  readonly name: string;
  readonly state: MemberState;
  readonly pid: number | null;
  readonly endpoint: string;
  /** How many times it was started (1 for a member never restarted). */
  readonly starts: number;
  /** Unasked exits within the crash window. */
  readonly recentCrashes: number;
  /** Milliseconds since it started serving, when running. */
  readonly upMs: number | null;
  /** Milliseconds until its restart, in backoff. */
  readonly restartInMs: number | null;
  /** The last exit: "SIGKILL" or "code 1", with when (ISO time). */
  readonly lastExit: { readonly reason: string; readonly at: string } | null;
}

export interface SupervisorStatus {
  readonly pid: number;
  readonly dataDir: string;
  readonly restart: boolean;
  readonly members: readonly MemberStatus[];
}

/** The control file's contents. */
export interface ControlInfo {
  readonly pid: number;
  readonly port: number;
  readonly token: string;
  readonly members: readonly string[];
}

class ControlError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface Supervised {
  readonly spec: MemberSpec;
  state: MemberState;
  child: ChildProcess | undefined;
  /** Bumped on every spawn: tells one run of the member from the next. */
  generation: number;
  startedAt: number;
  servingAt: number;
  /** The current run printed REMOVED_MESSAGE. */
  removedSeen: boolean;
  crashes: number[];
  delayMs: number;
  timer: NodeJS.Timeout | undefined;
  restartAt: number;
  lastExit: { reason: string; at: string } | undefined;
  /** Called on every change of state. */
  readonly listeners: Set<() => void>;
  /** Control requests for this member run one at a time. */
  queue: Promise<unknown>;
}

/** How long `start` waits for the member to serve before it answers anyway. */
const START_REPLY_MS = 120_000;

const seconds = (ms: number): string => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;

export class Supervisor {
  private readonly members = new Map<string, Supervised>();
  private server: Server | undefined;
  private token = "";
  private shuttingDown = false;
  private resolveDone: (code: number) => void = () => {};
  /** Resolves with the exit code once every member has stopped for good or shutdown() ends. */
  readonly done: Promise<number>;

  constructor(private readonly options: SupervisorOptions) {
    for (const spec of options.members)
      this.members.set(spec.name, {
        spec,
        state: "stopped",
        child: undefined,
        generation: 0,
        startedAt: 0,
        servingAt: 0,
        removedSeen: false,
        crashes: [],
        delayMs: options.backoffMs,
        timer: undefined,
        restartAt: 0,
        lastExit: undefined,
        listeners: new Set(),
        queue: Promise.resolve(),
      });
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
  }

  get controlFile(): string {
    return join(this.options.dataDir, CONTROL_FILE);
  }

  /** Opens the control port, writes the control file and starts every member. */
  async start(): Promise<void> {
    mkdirSync(this.options.dataDir, { recursive: true });
    this.token = randomBytes(24).toString("hex");
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    this.server = server;
    const info: ControlInfo = {
      pid: process.pid,
      port: (server.address() as AddressInfo).port,
      token: this.token,
      members: [...this.members.keys()],
    };
    const tmp = `${this.controlFile}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(info)}\n`, { mode: 0o600 });
    renameSync(tmp, this.controlFile);
    for (const m of this.members.values()) this.spawn(m);
  }

  status(): SupervisorStatus {
    const now = Date.now();
    return {
      pid: process.pid,
      dataDir: this.options.dataDir,
      restart: this.options.restart,
      members: [...this.members.values()].map((m) => ({
        name: m.spec.name,
        state: m.state,
        pid: m.child?.pid ?? null,
        endpoint: m.spec.endpoint,
        starts: m.generation,
        recentCrashes: m.crashes.filter((t) => now - t < this.options.crashWindowMs).length,
        upMs: m.state === "running" ? now - m.servingAt : null,
        restartInMs: m.state === "backoff" ? Math.max(0, m.restartAt - now) : null,
        lastExit: m.lastExit ?? null,
      })),
    };
  }

  /** Stops every member (SIGTERM; SIGKILL with `force` or after 20 s) and waits for them. */
  async shutdown(force = false): Promise<void> {
    const first = !this.shuttingDown;
    this.shuttingDown = true;
    if (first) this.server?.close();
    const live = [...this.members.values()].filter((m) => m.child !== undefined);
    for (const m of this.members.values()) {
      if (m.timer !== undefined) clearTimeout(m.timer);
      m.timer = undefined;
    }
    for (const m of live) {
      if (m.state !== "stopping") this.setState(m, "stopping");
      m.child?.kill(force ? "SIGKILL" : "SIGTERM");
    }
    if (!first) return;
    const killer = setTimeout(() => {
      for (const m of this.members.values()) {
        if (m.child === undefined) continue;
        this.options.stderr(`[${m.spec.name}] still running 20 s after SIGTERM: sending SIGKILL\n`);
        m.child.kill("SIGKILL");
      }
    }, 20_000);
    await Promise.all(live.map((m) => this.until(m, () => m.child === undefined)));
    clearTimeout(killer);
    this.removeControlFile();
    this.resolveDone(0);
  }

  // ---- the members' lifecycle ----------------------------------------------------------------

  private setState(m: Supervised, state: MemberState): void {
    m.state = state;
    for (const l of [...m.listeners]) l();
  }

  /** Resolves once `predicate` holds for m (checked now and on every change of state). */
  private until(m: Supervised, predicate: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      if (predicate()) return resolve();
      const check = (): void => {
        if (!predicate()) return;
        m.listeners.delete(check);
        resolve();
      };
      m.listeners.add(check);
    });
  }

  private spawn(m: Supervised): void {
    m.timer = undefined;
    m.generation++;
    m.removedSeen = false;
    m.startedAt = Date.now();
    const child = spawn(process.execPath, [...m.spec.args], {
      // The IPC channel only tells the member when the supervisor is gone (see serve-command).
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      // Its own process group: a terminal's Ctrl-C reaches the supervisor alone, which then
      // stops the members itself (rather than seeing them exit as if they had crashed).
      detached: true,
    });
    m.child = child;
    this.setState(m, "starting");
    const lines = (write: (s: string) => void) => {
      let partial = "";
      return (chunk: Buffer): void => {
        const text = partial + chunk.toString();
        const parts = text.split("\n");
        partial = parts.pop() ?? "";
        for (const line of parts) this.line(m, child, line, write);
      };
    };
    child.stdout?.on("data", lines(this.options.stdout));
    child.stderr?.on("data", lines(this.options.stderr));
    let ended = false;
    const onEnd = (code: number | null, signal: NodeJS.Signals | null, error?: Error): void => {
      if (ended) return;
      ended = true;
      this.exited(m, child, code, signal, error);
    };
    child.once("error", (e) => onEnd(null, null, e));
    // "close": the process exited and its output has been read to the end (the removal message
    // comes just before the exit).
    child.once("close", (code, signal) => onEnd(code, signal));
  }

  private line(m: Supervised, child: ChildProcess, line: string, write: (s: string) => void): void {
    if (line === "") return;
    if (line.includes(REMOVED_MESSAGE)) m.removedSeen = true;
    write(`[${m.spec.name}] ${line}\n`);
    if (m.child === child && m.state === "starting" && line.includes(SERVING_MESSAGE)) {
      m.servingAt = Date.now();
      this.setState(m, "running");
    }
  }

  private exited(
    m: Supervised,
    child: ChildProcess,
    code: number | null,
    signal: NodeJS.Signals | null,
    error: Error | undefined,
  ): void {
    if (m.child !== child) return;
    m.child = undefined;
    const now = Date.now();
    const reason = error !== undefined ? error.message : (signal ?? `code ${code}`);
    m.lastExit = { reason, at: new Date(now).toISOString() };
    const name = m.spec.name;
    const o = this.options;
    if (m.state === "stopping") {
      if (!this.shuttingDown) o.stderr(`[${name}] stopped (${reason})\n`);
      this.setState(m, "stopped");
      return;
    }
    if (this.shuttingDown) {
      this.setState(m, "stopped");
      return;
    }
    if (m.removedSeen && code === 0) {
      o.stderr(`[${name}] stopped: removed from the cluster (not restarted)\n`);
      this.setState(m, "removed");
      this.checkAllDown();
      return;
    }
    const up = now - m.startedAt;
    m.crashes = [...m.crashes.filter((t) => now - t < o.crashWindowMs), now];
    const what = `[${name}] exited (${reason}) after ${seconds(up)}`;
    if (!o.restart) {
      o.stderr(
        `${what}; not restarted (--no-restart): the others keep serving; \`ordo cluster start ${name}\` starts it\n`,
      );
      this.setState(m, "exited");
      this.checkAllDown();
      return;
    }
    if (m.crashes.length >= o.maxCrashes) {
      o.stderr(
        `${what}; it crashed ${m.crashes.length} times within ${seconds(o.crashWindowMs)}: ` +
          `given up, not restarted (see its errors above; \`ordo cluster start ${name}\` tries again)\n`,
      );
      this.setState(m, "failed");
      this.checkAllDown();
      return;
    }
    if (up >= o.stableMs) m.delayMs = o.backoffMs;
    const delay = m.delayMs;
    m.delayMs = Math.min(delay * 2, o.maxBackoffMs);
    m.restartAt = now + delay;
    o.stderr(`${what}; the others keep serving; restarting it in ${seconds(delay)}\n`);
    m.timer = setTimeout(() => this.spawn(m), delay);
    this.setState(m, "backoff");
  }

  /** Every member down for good (none running, restarting or stopped on request): done. */
  private checkAllDown(): void {
    const states = [...this.members.values()].map((m) => m.state);
    if (!states.every((s) => s === "exited" || s === "failed" || s === "removed")) return;
    this.options.stderr("no member left to run; the supervisor exits\n");
    this.shuttingDown = true;
    this.server?.close();
    this.removeControlFile();
    this.resolveDone(states.every((s) => s === "removed") ? 0 : 1);
  }

  private removeControlFile(): void {
    try {
      const info = JSON.parse(readFileSync(this.controlFile, "utf8")) as ControlInfo;
      if (info.token === this.token) rmSync(this.controlFile, { force: true });
    } catch {
      // Already gone.
    }
  }

  // ---- stop / start / restart by name -------------------------------------------------------

  private member(name: string): Supervised {
    const m = this.members.get(name);
    if (m === undefined)
      throw new ControlError(
        404,
        `no member named "${name}" (members: ${[...this.members.keys()].join(", ")})`,
      );
    return m;
  }

  private serialized<T>(m: Supervised, work: () => Promise<T>): Promise<T> {
    const run = m.queue.then(work, work);
    m.queue = run.catch(() => {});
    return run;
  }

  async stopMember(name: string): Promise<string> {
    const m = this.member(name);
    return this.serialized(m, async () => {
      if (this.shuttingDown) throw new ControlError(409, "the cluster is shutting down");
      if (m.state === "removed")
        throw new ControlError(409, `${name} was removed from the cluster; it is not running`);
      if (m.state === "stopped") return `${name} is already stopped`;
      if (m.timer !== undefined) clearTimeout(m.timer);
      m.timer = undefined;
      const child = m.child;
      if (child === undefined) {
        this.setState(m, "stopped");
        return `${name} stopped (it was not running)`;
      }
      this.setState(m, "stopping");
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await this.until(m, () => m.child !== child);
      clearTimeout(killer);
      return `${name} stopped`;
    });
  }

  async startMember(name: string): Promise<string> {
    const m = this.member(name);
    return this.serialized(m, async () => {
      if (this.shuttingDown) throw new ControlError(409, "the cluster is shutting down");
      if (m.state === "removed")
        throw new ControlError(
          409,
          `${name} was removed from the cluster; add it back with ordo member add (and a new data directory)`,
        );
      if (m.state === "running") return `${name} is already running (pid ${m.child?.pid})`;
      if (m.state !== "starting") {
        if (m.timer !== undefined) clearTimeout(m.timer);
        m.crashes = [];
        m.delayMs = this.options.backoffMs;
        this.spawn(m);
      }
      const generation = m.generation;
      let slow: NodeJS.Timeout | undefined;
      const bounded = await Promise.race([
        this.until(m, () => m.generation !== generation || m.state !== "starting"),
        new Promise<"slow">((resolve) => {
          slow = setTimeout(() => resolve("slow"), START_REPLY_MS);
        }),
      ]);
      clearTimeout(slow);
      if (bounded === "slow")
        return `${name} started (pid ${m.child?.pid}) but does not serve clients yet; see ordo cluster status`;
      if (m.generation === generation && (m.state as MemberState) === "running")
        return `${name} started (pid ${m.child?.pid}), serving clients on ${m.spec.endpoint}`;
      throw new ControlError(
        500,
        `${name} exited before serving (${m.lastExit?.reason ?? "unknown"}); now ${m.state}`,
      );
    });
  }

  async restartMember(name: string): Promise<string> {
    await this.stopMember(name);
    return (await this.startMember(name)).replace(" started ", " restarted ");
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const reply = (status: number, body: unknown): void => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(`${JSON.stringify(body)}\n`);
    };
    try {
      req.resume();
      if (req.headers.authorization !== `Bearer ${this.token}`)
        throw new ControlError(401, "bad or missing token");
      const url = new URL(req.url ?? "/", "http://localhost");
      if (req.method === "GET" && url.pathname === "/v1/status") return reply(200, this.status());
      const action = /^\/v1\/members\/([^/]+)\/(stop|start|restart)$/.exec(url.pathname);
      if (req.method === "POST" && action !== null) {
        const name = decodeURIComponent(action[1] as string);
        const run =
          action[2] === "stop"
            ? this.stopMember(name)
            : action[2] === "start"
              ? this.startMember(name)
              : this.restartMember(name);
        const message = await run;
        return reply(200, { message, status: this.status() });
      }
      throw new ControlError(404, `no such request: ${req.method} ${url.pathname}`);
    } catch (e) {
      const status = e instanceof ControlError ? e.status : 500;
      reply(status, { error: e instanceof Error ? e.message : String(e) });
    }
  }
}
