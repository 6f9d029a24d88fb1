// Child processes of the etcd benchmark: every command runs with a timeout, every process it
// starts is remembered by PID so that a failure or Ctrl-C stops exactly those, and /proc gives
// the CPU time and resident memory of a PID.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";

/** Children still running (commands and cluster members), killed by killAll() on exit. */
const live = new Set<ChildProcess>();

export interface CommandResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion; after timeoutMs it is killed (TERM, then KILL) and this throws. */
export function runCommand(
  command: string,
  args: readonly string[],
  timeoutMs: number,
  env?: NodeJS.ProcessEnv,
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: env ?? process.env,
    });
    live.add(child);
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => stdout.push(c));
    child.stderr.on("data", (c: Buffer) => stderr.push(c));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGTERM");
      setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      }, 2000).unref();
    }, timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      live.delete(child);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      const result = {
        code,
        signal,
        stdout: Buffer.concat(stdout).toString(),
        stderr: Buffer.concat(stderr).toString(),
      };
      if (timedOut) {
        reject(
          new Error(
            `timed out after ${timeoutMs} ms: ${command} ${args.join(" ")}\n${tail(result.stderr)}`,
          ),
        );
      } else resolve(result);
    });
  });
}

/** Like runCommand, but a non-zero exit throws with the command's stderr. */
export async function runChecked(
  command: string,
  args: readonly string[],
  timeoutMs: number,
): Promise<string> {
  const r = await runCommand(command, args, timeoutMs);
  if (r.code !== 0) {
    throw new Error(
      `${command} ${args.join(" ")} exited ${r.signal ?? r.code}:\n${tail(r.stderr || r.stdout)}`,
    );
  }
  return r.stdout;
}

/** The path of a command on PATH; a clear error naming the installer when it is missing. */
export function which(name: string): string {
  try {
    return execFileSync("sh", ["-c", `command -v ${name}`])
      .toString()
      .trim();
  } catch {
    throw new Error(`${name} not found; run bash bench/etcd/install.sh`);
  }
}

/** A long-running child (a cluster member), tracked until it exits. */
export function startDaemon(
  command: string,
  args: readonly string[],
  logFd: number,
  env?: NodeJS.ProcessEnv,
): ChildProcess {
  const child = spawn(command, args, { stdio: ["ignore", logFd, logFd], env: env ?? process.env });
  live.add(child);
  child.on("exit", () => live.delete(child));
  return child;
}

export function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** SIGTERM, then SIGKILL after graceMs; resolves when the child has exited. */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (!isRunning(child)) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => {
    if (isRunning(child)) child.kill("SIGKILL");
  }, graceMs);
  await exited;
  clearTimeout(timer);
}

/** Last resort (exit handler): SIGKILL every child still running, by PID. */
export function killAll(): void {
  for (const child of live) if (isRunning(child)) child.kill("SIGKILL");
}

export function liveChildren(): number {
  return [...live].filter(isRunning).length;
}

let ticks: number | undefined;

/** Clock ticks per second of /proc/PID/stat's times (getconf CLK_TCK). */
export function clockTicks(): number {
  if (ticks === undefined) {
    const n = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim());
    ticks = Number.isFinite(n) && n > 0 ? n : 100;
  }
  return ticks;
}

/** utime + stime of a process, in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // rest[0] is field 3 (state); utime is field 14, stime field 15.
  return (Number(rest[11]) + Number(rest[12])) / clockTicks();
}

/** Resident set size (VmRSS) of a process, in bytes. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (m === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

export function tail(text: string, lines = 15): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}
