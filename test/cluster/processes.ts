// Starts `ordo serve` member processes on loopback for tests, and stops them by PID. Readiness
// is waited for by signals, never by time: a member is ready once it prints that it serves
// clients (it does after its client port listens), and a cluster once every member answers a
// Status call naming the same leader. A member that exits before it is ready fails the wait at
// once, with what it printed.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { KvClient } from "../../src/client/index.js";
import { freePort } from "./ports.js";

const ordo = fileURLToPath(new URL("../../../bin/ordo.js", import.meta.url));

/** The Raft tick of test members: elections time out after 10 ticks. */
export const TEST_TICK_MS = 50;

/** What `ordo serve` prints once its client port listens. */
export const SERVING_LINE = /^ordo member \S+ serving clients on /m;

/** Upper bounds on the waits below: they end by a signal, these only bound a failure. */
const READY_BOUND_MS = 60_000;
const LEADER_BOUND_MS = 60_000;

/**
 * Polls `probe` (20 ms apart, backing off to 200 ms) until it yields a value; fails after
 * `timeoutMs`. A probe that throws fails the wait at once.
 */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; ; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, Math.min(20 * 2 ** i, 200)));
  }
}

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

/** A member process started by a test, with what it printed. */
export interface MemberProcess {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  readonly exited: Promise<number | string>;
  /** Resolves once the member serves clients; rejects if it exits first. */
  readonly ready: Promise<void>;
  stdout(): string;
  stderr(): string;
}

/** Starts one `ordo serve` member without waiting for it (see `ready`). */
export function launchMember(
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
    // Every real member under test checks the runtime's invariants after each Ready round.
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ORDO_CHECK_INVARIANTS: "1" } },
  );
  let out = "";
  let err = "";
  let onOutput = (): void => {};
  child.stdout?.on("data", (c: Buffer) => {
    out += c.toString();
    onOutput();
  });
  child.stderr?.on("data", (c: Buffer) => {
    err += c.toString();
    if (process.env.ORDO_TEST_LOG !== undefined) process.stderr.write(`[${name}] ${c}`);
  });
  const exited = new Promise<number | string>((resolve) =>
    child.once("close", (code, signal) => resolve(code ?? signal ?? -1)),
  );
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} did not report serving within ${READY_BOUND_MS} ms: ${err}`)),
      READY_BOUND_MS,
    );
    onOutput = () => {
      if (!SERVING_LINE.test(out)) return;
      clearTimeout(timer);
      resolve();
    };
    void exited.then((how) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${how}) before serving; stderr: ${err}; stdout: ${out}`));
    });
  });
  ready.catch(() => {}); // observed by whoever awaits it
  return { name, clientPort, peerPort, child, exited, ready, stdout: () => out, stderr: () => err };
}

/**
 * Starts one `ordo serve` member (e.g. a member joining with --initial-cluster-state existing)
 * and waits until it serves clients.
 */
export async function spawnMember(
  name: string,
  dataDir: string,
  clientPort: number,
  peerPort: number,
  initialCluster: string,
  extraArgs: readonly string[] = [],
): Promise<MemberProcess> {
  const m = launchMember(name, dataDir, clientPort, peerPort, initialCluster, extraArgs);
  try {
    await m.ready;
  } catch (e) {
    if (m.child.exitCode === null && m.child.signalCode === null) m.child.kill("SIGKILL");
    throw e;
  }
  return m;
}

/**
 * Waits until every member on `clientPorts` answers a Status call naming the same leader, one
 * of them; resolves with the leader's client port.
 */
export async function waitForLeader(
  clientPorts: readonly number[],
  boundMs = LEADER_BOUND_MS,
): Promise<number> {
  const client = new KvClient(
    clientPorts.map((p) => `127.0.0.1:${p}`),
    { timeoutMs: 1000, attempts: 1 },
  );
  const deadline = Date.now() + boundMs;
  let last = "";
  try {
    for (;;) {
      const all = await client.status();
      last = JSON.stringify(all);
      const leaders = new Set(all.map((s) => (s.ok ? s.value.leaderId : "none")));
      const [leader] = leaders;
      if (leaders.size === 1 && leader !== "none" && leader !== "0") {
        const i = all.findIndex((s) => s.ok && s.value.memberId === leader);
        if (i >= 0) return clientPorts[i] as number;
      }
      if (Date.now() > deadline)
        throw new Error(`no leader agreed on by every member within ${boundMs} ms: ${last}`);
      // Between two polls of a signal (not a wait for time to pass): a tenth of an election.
      await new Promise((r) => setTimeout(r, TEST_TICK_MS));
    }
  } finally {
    client.close();
  }
}

export interface ProcessCluster {
  readonly root: string;
  readonly clientPorts: readonly number[];
  readonly peerPorts: readonly number[];
  readonly members: readonly MemberProcess[];
  readonly processes: readonly ChildProcess[];
  /** "127.0.0.1:p1,127.0.0.1:p2,..." */
  readonly endpoints: string[];
  stop(): void;
}

/**
 * Waits until the member list names every member with its client URL: each member publishes
 * its name and URL through the log once it sees a leader, and until then etcdctl's `--cluster`
 * forms (which dial the listed client URLs) do not reach it.
 */
export async function waitForPublished(
  clientPorts: readonly number[],
  boundMs = LEADER_BOUND_MS,
): Promise<void> {
  const client = new KvClient(
    clientPorts.map((p) => `127.0.0.1:${p}`),
    { timeoutMs: 1000, attempts: 1 },
  );
  try {
    await waitForPublishedBy(client, clientPorts.length, boundMs);
  } finally {
    client.close();
  }
}

/** waitForPublished through a client of the caller's (a TLS cluster's), for `size` members. */
export async function waitForPublishedBy(
  client: KvClient,
  size: number,
  boundMs = LEADER_BOUND_MS,
): Promise<void> {
  const deadline = Date.now() + boundMs;
  let last = "";
  for (;;) {
    try {
      const { members } = await client.memberList();
      last = JSON.stringify(members.map((m) => [m.name, m.clientUrls]));
      if (members.length === size && members.every((m) => m.clientUrls.length > 0)) return;
    } catch (e) {
      last = String(e);
    }
    if (Date.now() > deadline)
      throw new Error(`not every member published its client URL within ${boundMs} ms: ${last}`);
    // Between two polls of a signal (not a wait for time to pass): a tenth of an election.
    await new Promise((r) => setTimeout(r, TEST_TICK_MS));
  }
}

/**
 * Starts `size` members and returns once every one of them serves clients and they all agree
 * on a leader.
 */
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
  const members = names.map((name, i) =>
    launchMember(
      name,
      join(root, name),
      clientPorts[i] as number,
      peerPorts[i] as number,
      initialCluster,
      extraArgs,
    ),
  );
  const processes = members.map((m) => m.child);
  const cluster: ProcessCluster = {
    root,
    clientPorts,
    peerPorts,
    members,
    processes,
    endpoints: clientPorts.map((p) => `127.0.0.1:${p}`),
    stop: () => {
      for (const p of processes)
        if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
      rmSync(root, { recursive: true, force: true });
    },
  };
  try {
    await Promise.all(members.map((m) => m.ready));
    await waitForLeader(clientPorts);
    await waitForPublished(clientPorts);
  } catch (e) {
    cluster.stop();
    throw e;
  }
  return cluster;
}
