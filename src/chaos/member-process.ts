// Process control of one chaos member: a real `ordo serve` child process, with its data on
// disk. Started and waited for by a signal (the "serving clients" line it prints once its
// client port is bound), killed with SIGKILL, paused with SIGSTOP / SIGCONT, stopped with
// SIGTERM. Only the PIDs this object spawned are ever signalled.
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ORDO = fileURLToPath(new URL("../../../bin/ordo.js", import.meta.url));
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const READY_LINE = /serving clients on /;

export type MemberState = "down" | "running" | "paused";

export interface MemberProcessOptions {
  readonly name: string;
  readonly dataDir: string;
  readonly logDir: string;
  readonly clientPort: number;
  /** Where the member accepts peers (only its proxy dials it). */
  readonly peerPort: number;
  readonly initialCluster: string;
  readonly tickMs: number;
  readonly extraArgs?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

/** The member's `ordo serve` command line. */
function serveArgs(o: MemberProcessOptions): string[] {
  return [
    ORDO,
    "serve",
    "--name",
    o.name,
    "--data-dir",
    o.dataDir,
    "--listen-client-urls",
    `127.0.0.1:${o.clientPort}`,
    "--listen-peer-urls",
    `127.0.0.1:${o.peerPort}`,
    "--initial-cluster",
    o.initialCluster,
    "--tick-ms",
    String(o.tickMs),
    "--log-level",
    "warn",
    ...(o.extraArgs ?? []),
  ];
}

/**
 * Resolves when the child prints its "serving clients" line; rejects when it exits first or
 * does not serve within READY_TIMEOUT_MS (with the tail of its stderr). Both streams go to
 * the member's log.
 */
function servingSignal(child: ChildProcess, log: WriteStream, name: string): Promise<void> {
  let out = "";
  let errTail = "";
  const said = (): string => (errTail.trim() === "" ? "" : `; it said: ${errTail.trim()}`);
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} did not serve within ${READY_TIMEOUT_MS} ms${said()}`)),
      READY_TIMEOUT_MS,
    );
    child.stdout?.on("data", (c: Buffer) => {
      log.write(c);
      if (out.length < 4096) {
        out += c.toString();
        if (READY_LINE.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      }
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited before serving (${signal ?? `code ${code}`})${said()}`));
    });
  });
  child.stderr?.on("data", (c: Buffer) => {
    log.write(c);
    errTail = (errTail + c.toString()).slice(-1000);
  });
  return ready;
}

export class MemberProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private log: WriteStream | undefined;
  state: MemberState = "down";
  starts = 0;
  /** Every PID this object spawned (the report lists them; tests check none is left). */
  readonly pids: number[] = [];
  /** Exits this object did not cause (a crash): reason text for the report. */
  readonly unexpectedExits: string[] = [];
  private expectingExit = false;

  constructor(readonly options: MemberProcessOptions) {}

  get name(): string {
    return this.options.name;
  }

  get endpoint(): string {
    return `127.0.0.1:${this.options.clientPort}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Spawns the member and resolves once it serves clients (or rejects when it exits first). */
  async start(): Promise<void> {
    if (this.state !== "down") throw new Error(`${this.name} is already running`);
    const o = this.options;
    this.log ??= createWriteStream(join(o.logDir, `${o.name}.log`), { flags: "a" });
    const child = spawn(process.execPath, serveArgs(o), {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...o.env },
    });
    this.child = child;
    this.starts++;
    if (child.pid !== undefined) this.pids.push(child.pid);
    this.expectingExit = false;
    const log = this.log;
    log.write(`--- start #${this.starts} pid ${child.pid} ${new Date().toISOString()}\n`);
    const ready = servingSignal(child, log, o.name);
    this.exited = new Promise<void>((resolve) =>
      child.once("exit", (code, signal) => {
        log.write(`--- exit ${signal ?? `code ${code}`} ${new Date().toISOString()}\n`);
        if (!this.expectingExit) this.unexpectedExits.push(signal ?? `code ${code}`);
        if (this.child === child) {
          this.child = undefined;
          this.state = "down";
        }
        resolve();
      }),
    );
    this.state = "running";
    try {
      await ready;
    } catch (e) {
      this.kill();
      await this.exited;
      throw e;
    }
  }

  /** kill -9; resolves once the process is gone. */
  async kill9(): Promise<void> {
    if (this.child === undefined) return;
    this.expectingExit = true;
    this.kill();
    await this.exited;
  }

  pause(): void {
    if (this.child === undefined || this.state !== "running") return;
    this.child.kill("SIGSTOP");
    this.state = "paused";
  }

  resume(): void {
    if (this.child === undefined || this.state !== "paused") return;
    this.child.kill("SIGCONT");
    this.state = "running";
  }

  /** A graceful stop (SIGTERM), SIGKILL if it does not exit in time. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    this.expectingExit = true;
    if (this.state === "paused") this.resume();
    child.kill("SIGTERM");
    const timer = setTimeout(() => this.kill(), STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
  }

  /** Synchronous last resort (process exit): SIGKILL works on a stopped process too. */
  kill(): void {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    this.expectingExit = true;
    child.kill("SIGKILL");
  }

  async close(): Promise<void> {
    await this.stop();
    await new Promise<void>((resolve) => {
      if (this.log === undefined) return resolve();
      this.log.end(() => resolve());
    });
    this.log = undefined;
  }
}
