// ordo lock / elect (etcd's concurrency recipes, client-side) against etcdctl's own lock and
// elect on one member, as real processes; ordo check perf's bounded load and verdict.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { runCheck } from "../../src/cli/check-command.js";
import { capturedOutput } from "../../src/cli/output.js";
import { KvClient } from "../../src/client/index.js";
import { type RunningMember, startMember, withTimeout } from "../client/harness.js";
import { etcdctlMissing, spawnEtcdctl } from "../cluster/etcdctl.js";

const ordo = fileURLToPath(new URL("../../../bin/ordo.js", import.meta.url));
const skip = etcdctlMissing;

interface Proc {
  child: ChildProcess;
  out(): string;
  /** Resolves once stdout matches. */
  printed(pattern: RegExp): Promise<void>;
  exited: Promise<number | null>;
}

const started: ChildProcess[] = [];

/** `ordo ARGS` (or another command), tracked. */
function start(cmd: string, args: string[]): Proc {
  return track(spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] }), `${cmd} ${args.join(" ")}`);
}

/** `etcdctl --endpoints=E ARGS`, tracked. */
function startEtcdctl(endpoint: string, args: string[]): Proc {
  return track(spawnEtcdctl(endpoint, args, { global: [] }), `etcdctl ${args.join(" ")}`);
}

function track(child: ChildProcess, what: string): Proc {
  started.push(child);
  let out = "";
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  child.stdout?.on("data", (c: Buffer) => {
    out += c.toString();
    for (const w of waiters) if (w.pattern.test(out)) w.resolve();
  });
  const exited = new Promise<number | null>((resolve) => child.once("close", (c) => resolve(c)));
  return {
    child,
    out: () => out,
    exited,
    printed: (pattern) =>
      withTimeout(
        new Promise<void>((resolve, reject) => {
          if (pattern.test(out)) return resolve();
          waiters.push({ pattern, resolve });
          void exited.then(() => reject(new Error(`${what} exited; printed ${out}`)));
        }),
        `${what} printing ${pattern}`,
      ),
  };
}

describe("lock and elect interoperate with etcdctl's", { skip }, () => {
  let m: RunningMember;
  let c: KvClient;
  before(async () => {
    m = await startMember();
    c = new KvClient([m.endpoint]);
  });
  after(async () => {
    for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
    c?.close();
    await m?.close();
  });
  const ep = (): string[] => ["--endpoints", m.endpoint];

  /** Resolves with the next key put under `prefix` from `revision` on, other than `except`. */
  async function nextPut(prefix: string, revision: number, except: string[]): Promise<string> {
    const w = c.watch(prefix, { prefix: true, startRevision: revision });
    try {
      for await (const e of w) if (e.type === "put" && !except.includes(e.kv.key)) return e.kv.key;
      throw new Error("watch ended");
    } finally {
      w.close();
    }
  }

  test("ordo lock waits for etcdctl's holder, then runs its command holding the lock", async () => {
    const holder = startEtcdctl(m.endpoint, ["lock", "L"]);
    await holder.printed(/^L\/[0-9a-f]+\n\n$/);
    const holderKey = holder.out().split("\n")[0] as string;
    const from = (await c.get("L/", { prefix: true })).revision + 1;
    const waiter = start(process.execPath, [
      ordo,
      "lock",
      "L",
      ...ep(),
      "sh",
      "-c",
      'echo "got $ETCD_LOCK_KEY $ETCD_LOCK_REV"',
    ]);
    const waiterKey = await withTimeout(nextPut("L/", from, [holderKey]), "ordo's lock key");
    assert.equal(waiter.child.exitCode, null, "ordo lock must wait while etcdctl holds the lock");
    assert.equal(waiter.out(), "");
    holder.child.kill("SIGINT");
    assert.equal(await withTimeout(waiter.exited, "ordo lock exits"), 0);
    assert.match(waiter.out(), new RegExp(`^got ${waiterKey} \\d+\\n$`));
    assert.equal((await c.get("L/", { prefix: true })).count, 0, "both released the lock");
    await holder.exited;
  });

  test("ordo elect campaigns after etcdctl's leader; both observers see each leader", async () => {
    const first = startEtcdctl(m.endpoint, ["elect", "E", "p1"]);
    await first.printed(/^E\/[0-9a-f]+\np1\n$/);
    const ourObserver = start(process.execPath, [ordo, "elect", "-l", "E", ...ep()]);
    const theirObserver = startEtcdctl(m.endpoint, ["elect", "-l", "E"]);
    await ourObserver.printed(/p1\n$/);
    await theirObserver.printed(/p1\n$/);
    const from = (await c.get("E/", { prefix: true })).revision + 1;
    const second = start(process.execPath, [ordo, "elect", "E", "p2", ...ep()]);
    const secondKey = await withTimeout(nextPut("E/", from, []), "ordo's campaign key");
    assert.equal(second.out(), "", "not leader while etcdctl's candidate leads");
    first.child.kill("SIGINT");
    await second.printed(new RegExp(`^${secondKey}\\np2\\n$`));
    await ourObserver.printed(new RegExp(`${secondKey}\\np2\\n$`));
    await theirObserver.printed(new RegExp(`${secondKey}\\np2\\n$`));
    for (const p of [second, ourObserver]) p.child.kill("SIGINT");
    assert.equal(await withTimeout(second.exited, "ordo elect resigns and exits"), 0);
    assert.equal(await withTimeout(ourObserver.exited, "ordo elect -l exits"), 0);
    theirObserver.child.kill("SIGINT");
    assert.equal((await c.get("E/", { prefix: true })).count, 0, "resigned");
  });

  test("check perf: a bounded load, etcdctl's PASS/FAIL lines, its keys deleted", async () => {
    const o = capturedOutput();
    const code = await runCheck(["perf", "--duration", "1", ...ep()], o);
    const lines = o.out.trimEnd().split("\n");
    assert.match(
      lines[0] as string,
      /^(PASS: Throughput is|FAIL: Throughput too low:) \d+ writes\/s$/,
    );
    assert.match(
      lines[1] as string,
      /^(PASS: Slowest request took|Slowest request took too long:) \d+\.\d{6}s$/,
    );
    assert.match(lines[2] as string, /^(PASS: Stddev is|Stddev too high:) \d+\.\d{6}s$/);
    assert.equal(lines[3], code === 0 ? "PASS" : "FAIL");
    assert.equal(lines.length, 4);
    assert.equal((await c.get("/etcdctl-check-perf/", { prefix: true })).count, 0);
    await assert.rejects(
      runCheck(["perf", "--load", "huge", ...ep()], capturedOutput()),
      /unknown load option huge/,
    );
  });
});
