// Starts `ordo serve` member processes on loopback for tests, and stops them by PID.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./ports.js";

const ordo = fileURLToPath(new URL("../../../bin/ordo.js", import.meta.url));

/** The Raft tick of test members: elections time out after 10 ticks. */
export const TEST_TICK_MS = 50;

/** The arguments of one `ordo serve` test member (node's path first). */
export function serveArgs(
  name: string,
  dataDir: string,
  clientPort: number,
  initialCluster: string,
  extraArgs: readonly string[] = [],
): string[] {
  return [
    ordo,
    "serve",
    "--name",
    name,
    "--data-dir",
    dataDir,
    "--listen-client-urls",
    `127.0.0.1:${clientPort}`,
    "--initial-cluster",
    initialCluster,
    "--tick-ms",
    String(TEST_TICK_MS),
    "--log-level",
    "error",
    ...extraArgs,
  ];
}

/** A member process started by a test, with what it printed on stdout. */
export interface MemberProcess {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  readonly exited: Promise<number | string>;
  stdout(): string;
  /** What it printed on stderr (also passed on to the test's stderr). */
  stderr(): string;
}

/**
 * Starts one `ordo serve` member (e.g. a member joining with --initial-cluster-state existing),
 * keeping its stdout and stderr; stderr also goes to the test's stderr.
 */
export function spawnMember(
  name: string,
  dataDir: string,
  clientPort: number,
  peerPort: number,
  initialCluster: string,
  extraArgs: readonly string[] = [],
): MemberProcess {
  const child = spawn(
    process.execPath,
    serveArgs(name, dataDir, clientPort, initialCluster, extraArgs),
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  let err = "";
  child.stdout?.on("data", (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on("data", (c: Buffer) => {
    err += c.toString();
    process.stderr.write(c);
  });
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal ?? -1)),
  );
  return { name, clientPort, peerPort, child, exited, stdout: () => out, stderr: () => err };
}

export interface ProcessCluster {
  readonly root: string;
  readonly clientPorts: readonly number[];
  readonly peerPorts: readonly number[];
  readonly processes: readonly ChildProcess[];
  /** "127.0.0.1:p1,127.0.0.1:p2,..." */
  readonly endpoints: string[];
  stop(): void;
}

export async function startProcessCluster(
  size = 3,
  extraArgs: string[] = [],
): Promise<ProcessCluster> {
  const root = mkdtempSync(join(tmpdir(), "ordo-procs-"));
  const names = Array.from({ length: size }, (_, i) => `n${i + 1}`);
  const clientPorts: number[] = [];
  const peerPorts: number[] = [];
  for (let i = 0; i < size; i++) {
    clientPorts.push(await freePort());
    peerPorts.push(await freePort());
  }
  const initialCluster = names.map((n, i) => `${n}=http://127.0.0.1:${peerPorts[i]}`).join(",");
  const processes = names.map((name, i) =>
    spawn(
      process.execPath,
      serveArgs(name, join(root, name), clientPorts[i] as number, initialCluster, extraArgs),
      { stdio: ["ignore", "ignore", "ignore"] },
    ),
  );
  return {
    root,
    clientPorts,
    peerPorts,
    processes,
    endpoints: clientPorts.map((p) => `127.0.0.1:${p}`),
    stop: () => {
      for (const p of processes)
        if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
      rmSync(root, { recursive: true, force: true });
    },
  };
}
