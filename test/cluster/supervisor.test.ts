// `ordo cluster` as a supervisor, on a real local cluster (the command npm start runs, started
// as its own process on free ports): kill -9 of a member (its PID from `ordo cluster status`)
// leaves the other two serving writes and the member comes back by itself with all its data;
// `ordo cluster stop|start|restart NAME` act on one member while the others serve; a member
// whose data directory is unusable crashes in a loop and is given up on; under --no-restart a
// killed member stays down until started by name; a member removed from the cluster is not
// restarted; SIGTERM (Ctrl-C) stops every member and the supervisor waits for them; members
// of a supervisor killed with SIGKILL stop by themselves.
//
// Every wait ends on a signal: a line the supervisor prints, the state `ordo cluster status`
// reports, a member's Status answer (leader known, index applied); the bounds only fail a test
// that would otherwise hang.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { runClusterCommand } from "../../src/cli/cluster-command.js";
import { runMember } from "../../src/cli/maintenance-commands.js";
import { capturedOutput } from "../../src/cli/output.js";
import type { MemberStatus, SupervisorStatus } from "../../src/cli/supervisor.js";
import { KvClient } from "../../src/client/index.js";
import { freePort } from "./ports.js";
import { waitForLeader } from "./processes.js";

const ordo = fileURLToPath(new URL("../../../bin/ordo.js", import.meta.url));
const BOUND_MS = 60_000;

interface Running {
  readonly dataDir: string;
  readonly child: ChildProcess;
  readonly clientPorts: readonly number[];
  readonly endpoints: readonly string[];
  readonly exited: Promise<number | string>;
  stdout(): string;
  stderr(): string;
}

const supervisors: Running[] = [];
const pids = new Set<number>();
after(() => {
  for (const s of supervisors) {
    if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill("SIGKILL");
    rmSync(s.dataDir, { recursive: true, force: true });
  }
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls `probe` (a signal: status, a line printed) until it yields a value. */
async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + BOUND_MS;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${BOUND_MS} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts `ordo cluster` on free ports; resolves once it reports its control file. */
async function startSupervisor(extra: string[] = []): Promise<Running> {
  const dataDir = mkdtempSync(join(tmpdir(), "ordo-supervisor-"));
  const clientPorts: number[] = [];
  const peerPorts: number[] = [];
  for (let i = 0; i < 3; i++) {
    clientPorts.push(await freePort());
    peerPorts.push(await freePort());
  }
  const child = spawn(
    process.execPath,
    [
      ordo,
      "cluster",
      "--data-dir",
      dataDir,
      "--client-ports",
      clientPorts.join(","),
      "--peer-ports",
      peerPorts.join(","),
      ...extra,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
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
    onOutput();
  });
  const exited = new Promise<number | string>((resolve) =>
    child.once("close", (code, signal) => resolve(code ?? signal ?? -1)),
  );
  const s: Running = {
    dataDir,
    child,
    clientPorts,
    endpoints: clientPorts.map((p) => `127.0.0.1:${p}`),
    exited,
    stdout: () => out,
    stderr: () => err,
  };
  supervisors.push(s);
  await new Promise<void>((resolve, reject) => {
    onOutput = () => {
      if (/^supervisor: pid \d+, control in /m.test(out)) resolve();
    };
    void exited.then((how) =>
      reject(new Error(`ordo cluster exited (${how}) before it ran: ${out}\n${err}`)),
    );
  });
  return s;
}

/** Runs `ordo cluster ARGS --data-dir DIR` in-process. */
async function ctl(
  s: Running,
  ...args: string[]
): Promise<{ code: number; out: string; err: string }> {
  const out = capturedOutput();
  const code = await runClusterCommand([...args, "--data-dir", s.dataDir], out);
  return { code, out: out.out, err: out.err };
}

async function status(s: Running): Promise<SupervisorStatus> {
  const r = await ctl(s, "status", "--json");
  assert.equal(r.code, 0, r.err);
  const st = JSON.parse(r.out) as SupervisorStatus;
  for (const m of st.members) if (m.pid !== null) pids.add(m.pid);
  return st;
}

const member = (st: SupervisorStatus, name: string): MemberStatus => {
  const m = st.members.find((x) => x.name === name);
  assert.ok(m, name);
  return m;
};

/** Waits until `ordo cluster status` shows `name` as `check` wants it. */
function memberUntil(
  s: Running,
  name: string,
  what: string,
  check: (m: MemberStatus) => boolean,
): Promise<MemberStatus> {
  return until(`${name} ${what}`, async () => {
    const m = member(await status(s), name);
    return check(m) ? m : undefined;
  });
}

async function allRunning(s: Running): Promise<SupervisorStatus> {
  return until("every member running", async () => {
    const st = await status(s);
    return st.members.every((m) => m.state === "running") ? st : undefined;
  });
}

async function writeKeys(endpoints: readonly string[], from: number, to: number): Promise<void> {
  const client = new KvClient(endpoints, { timeoutMs: 3000, attempts: 20 });
  try {
    for (let i = from; i < to; i++) await client.put(`k/${String(i).padStart(3, "0")}`, `v${i}`);
  } finally {
    client.close();
  }
}

/** Waits until the member on `port` has applied the leader's log, then reads it alone. */
async function localKeys(s: Running, port: number): Promise<Map<string, string>> {
  const leaderPort = await waitForLeader(s.clientPorts);
  const leader = new KvClient([`127.0.0.1:${leaderPort}`], { timeoutMs: 3000, attempts: 3 });
  const one = new KvClient([`127.0.0.1:${port}`], { timeoutMs: 3000, attempts: 3 });
  try {
    const [l] = await leader.status();
    assert.ok(l?.ok, JSON.stringify(l));
    const commit = l.value.raftIndex;
    await until(`member on ${port} to apply index ${commit}`, async () => {
      const [m] = await one.status();
      return m?.ok && m.value.raftAppliedIndex >= commit ? true : undefined;
    });
    const res = await one.get("k/", { prefix: true, serializable: true });
    return new Map(res.kvs.map((kv) => [kv.key, kv.value]));
  } finally {
    leader.close();
    one.close();
  }
}

function assertHasKeys(got: Map<string, string>, count: number, where: string): void {
  for (let i = 0; i < count; i++)
    assert.equal(got.get(`k/${String(i).padStart(3, "0")}`), `v${i}`, `k/${i} on ${where}`);
}

/** The name of the member serving on `port`. */
const nameOn = (s: Running, port: number): string => `n${s.clientPorts.indexOf(port) + 1}`;
const endpointOf = (s: Running, name: string): string =>
  s.endpoints[Number(name.slice(1)) - 1] as string;

async function stopSupervisor(s: Running): Promise<void> {
  const seen = [...pids];
  s.child.kill("SIGTERM");
  assert.equal(await s.exited, 0, s.stderr());
  assert.match(s.stderr(), /stopping the cluster/);
  for (const pid of seen) assert.equal(alive(pid), false, `member pid ${pid} still running`);
  assert.equal(existsSync(join(s.dataDir, "supervisor.json")), false);
}

test("ordo cluster supervises: kill -9 of the leader → the others serve, it comes back with its data; stop/start/restart by name; a crash loop is given up on; SIGTERM stops all", {
  timeout: 240_000,
}, async () => {
  const s = await startSupervisor(["--restart-backoff-ms", "200"]);
  const first = await allRunning(s);
  assert.ok(first.members.every((m) => m.starts === 1 && m.pid !== null));
  const a = await ctl(s, "status");
  assert.match(a.out, /^NAME\s+STATE\s+PID\s+ENDPOINT/m);
  assert.match(a.out, /^n1\s+running\s+\d+\s+127\.0\.0\.1:\d+/m);
  // It printed the dashboard's URL, and the dashboard is there.
  const dashboard = /^ {2}dashboard: +(http:\S+)/m.exec(s.stdout())?.[1];
  assert.equal(dashboard, `http://127.0.0.1:${s.clientPorts[0]}/dashboard`, s.stdout());
  const page = await fetch(dashboard as string);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<title>Ordo dashboard<\/title>/);
  await writeKeys(s.endpoints, 0, 20);

  // kill -9 the leader, by the PID the supervisor reports.
  const victim = nameOn(s, await waitForLeader(s.clientPorts));
  const before = member(await status(s), victim);
  process.kill(before.pid as number, "SIGKILL");
  const others = s.endpoints.filter((e) => e !== endpointOf(s, victim));
  await writeKeys(others, 20, 40); // the other two elect a leader and keep serving writes
  const back = await memberUntil(
    s,
    victim,
    "back after kill -9",
    (m) => m.starts === 2 && m.state === "running",
  );
  assert.notEqual(back.pid, before.pid);
  assert.equal(back.lastExit?.reason, "SIGKILL");
  assert.match(
    s.stderr(),
    new RegExp(`^\\[${victim}\\] exited \\(SIGKILL\\) after .*restarting it in 0\\.2 s$`, "m"),
  );
  assertHasKeys(
    await localKeys(s, s.clientPorts[Number(victim.slice(1)) - 1] as number),
    40,
    victim,
  );

  // stop one member by name: it stays stopped while the other two serve; start brings it back.
  const other = victim === "n2" ? "n3" : "n2";
  const otherPid = member(await status(s), other).pid as number;
  const stopped = await ctl(s, "stop", other);
  assert.equal(stopped.code, 0, stopped.err);
  assert.equal(stopped.out, `${other} stopped\n`);
  assert.equal(alive(otherPid), false);
  assert.equal((await ctl(s, "stop", other)).out, `${other} is already stopped\n`);
  await writeKeys(
    s.endpoints.filter((e) => e !== endpointOf(s, other)),
    40,
    50,
  );
  const still = member(await status(s), other);
  assert.equal(still.state, "stopped");
  assert.equal(still.pid, null);
  const started = await ctl(s, "start", other);
  assert.equal(started.code, 0, started.err);
  assert.match(started.out, new RegExp(`^${other} started \\(pid \\d+\\), serving clients on `));
  assert.equal(member(await status(s), other).state, "running");
  assertHasKeys(await localKeys(s, s.clientPorts[Number(other.slice(1)) - 1] as number), 50, other);

  // restart by name: a new process.
  const pidBefore = member(await status(s), victim).pid;
  const restarted = await ctl(s, "restart", victim);
  assert.equal(restarted.code, 0, restarted.err);
  assert.match(restarted.out, new RegExp(`^${victim} restarted \\(pid \\d+\\)`));
  const afterRestart = member(await status(s), victim);
  assert.equal(afterRestart.state, "running");
  assert.notEqual(afterRestart.pid, pidBefore);

  // Unknown member, missing name.
  const unknown = await ctl(s, "stop", "n9");
  assert.equal(unknown.code, 1);
  assert.match(unknown.err, /no member named "n9" \(members: n1, n2, n3\)/);

  // A crash loop: a member whose data directory is a file fails at every start; after 5
  // crashes within a minute it is given up on, and the others keep serving.
  const broken = "n3";
  const dir = join(s.dataDir, broken);
  assert.equal((await ctl(s, "stop", broken)).code, 0);
  renameSync(dir, `${dir}.saved`);
  writeFileSync(dir, "not a directory\n");
  const failing = await ctl(s, "start", broken);
  assert.equal(failing.code, 1);
  assert.match(failing.err, new RegExp(`${broken} exited before serving \\(code \\d+\\)`));
  const gaveUp = await memberUntil(s, broken, "given up on", (m) => m.state === "failed");
  assert.equal(gaveUp.recentCrashes, 5);
  assert.match(
    s.stderr(),
    new RegExp(
      `^\\[${broken}\\] exited \\(code \\d+\\) after .*crashed 5 times within 60 s: given up, not restarted`,
      "m",
    ),
  );
  await writeKeys(s.endpoints.slice(0, 2), 50, 60);
  assert.equal(member(await status(s), broken).state, "failed");
  // Repaired, it starts again by name, with all its data.
  rmSync(dir);
  renameSync(`${dir}.saved`, dir);
  const repaired = await ctl(s, "start", broken);
  assert.equal(repaired.code, 0, repaired.err);
  assertHasKeys(await localKeys(s, s.clientPorts[2] as number), 60, broken);

  await stopSupervisor(s);
});

test("ordo cluster --no-restart leaves a killed member down until started by name; a removed member is not restarted; a killed supervisor's members stop", {
  timeout: 180_000,
}, async () => {
  const s = await startSupervisor(["--no-restart"]);
  await allRunning(s);
  await writeKeys(s.endpoints, 0, 20);
  const pid = member(await status(s), "n2").pid as number;
  process.kill(pid, "SIGKILL");
  const down = await memberUntil(s, "n2", "exited", (m) => m.state === "exited");
  assert.equal(down.lastExit?.reason, "SIGKILL");
  assert.equal(down.pid, null);
  assert.match(s.stderr(), /^\[n2\] exited \(SIGKILL\) after .*; not restarted \(--no-restart\)/m);
  await writeKeys([s.endpoints[0] as string, s.endpoints[2] as string], 20, 40);
  const stillDown = member(await status(s), "n2");
  assert.equal(stillDown.state, "exited");
  assert.equal(stillDown.starts, 1);
  const started = await ctl(s, "start", "n2");
  assert.equal(started.code, 0, started.err);
  assertHasKeys(await localKeys(s, s.clientPorts[1] as number), 40, "n2");

  // Removed from the cluster: it stops by itself (exit 0) and the supervisor leaves it so.
  const out = capturedOutput();
  const code = await runMember(
    ["remove", "n3", "--endpoints", s.endpoints.join(","), "--timeout-ms", "5000"],
    out,
  );
  assert.equal(code, 0, out.err);
  await memberUntil(s, "n3", "removed", (m) => m.state === "removed");
  assert.match(s.stderr(), /^\[n3\] stopped: removed from the cluster \(not restarted\)$/m);
  const refused = await ctl(s, "start", "n3");
  assert.equal(refused.code, 1);
  assert.match(refused.err, /n3 was removed from the cluster/);
  await writeKeys(s.endpoints.slice(0, 2), 40, 45);

  // The supervisor killed with SIGKILL: its members notice (their IPC channel closes) and stop
  // rather than run on orphaned.
  const orphans = (await status(s)).members.flatMap((m) => (m.pid === null ? [] : [m.pid]));
  assert.equal(orphans.length, 2);
  s.child.kill("SIGKILL");
  assert.equal(await s.exited, "SIGKILL");
  await until("the members of a killed supervisor to stop", async () =>
    orphans.every((pid) => !alive(pid)) ? true : undefined,
  );
});
