// `ordo lock NAME [COMMAND ARGS...]` and `ordo elect NAME [PROPOSAL] | -l NAME`: etcdctl's lock
// and elect, on client/concurrency.ts (etcd's recipes, so they contend with etcdctl's own).
//   lock: once held, prints the lock's key (etcdctl's get output) and holds it until Ctrl-C /
//         SIGTERM; with a command, runs it holding the lock (ETCD_LOCK_KEY, ETCD_LOCK_REV in its
//         environment) and releases the lock when it ends. --ttl: the session's TTL (10 s).
//   elect NAME PROPOSAL: campaigns; once leader, prints the leader key and value and leads
//         until Ctrl-C / SIGTERM, then resigns. elect -l NAME: prints each leader as it changes.
import { spawn } from "node:child_process";
import { parseArgs } from "node:util";
import { Election, type KeyValue, Mutex, Session } from "../client/index.js";
import { nonNegative } from "./int-flags.js";
import { client, common } from "./kv-commands.js";
import type { Output } from "./output.js";

export const LOCK_USAGE = "usage: ordo lock NAME [COMMAND ARGS...] [--ttl SECONDS]";
export const ELECT_USAGE = "usage: ordo elect NAME PROPOSAL | ordo elect -l NAME";

/** Options before NAME, and after it up to the command (whose own flags are left alone). */
function splitCommand(args: readonly string[]): { own: string[]; command: string[] } {
  const withValue = new Set(["--endpoints", "--timeout-ms", "--ttl", "-w", "--write-out"]);
  const own: string[] = [];
  let positionals = 0;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === "--") return { own, command: args.slice(i + 1) };
    if (a.startsWith("-")) {
      own.push(a);
      if (withValue.has(a) && i + 1 < args.length) own.push(args[++i] as string);
      continue;
    }
    if (positionals === 1) return { own, command: args.slice(i) };
    own.push(a);
    positionals++;
  }
  return { own, command: [] };
}

/**
 * Holds what the session holds until Ctrl-C, then gives it up (`release`) and exits 0; if the
 * session ends first (its lease lost), says why and exits 1, as etcdctl does.
 */
async function holdUntilInterrupted(
  stop: { done: Promise<void> },
  session: Session,
  out: Output,
  command: string,
  release: () => Promise<unknown>,
): Promise<number> {
  const why = await Promise.race([stop.done.then(() => undefined), session.done]);
  if (why !== undefined) {
    out.stderr(`ordo ${command}: ${why}\n`);
    return 1;
  }
  await release();
  return 0;
}

/**
 * Resolves `done` and aborts `signal` on Ctrl-C or SIGTERM (a lock or campaign waiting is given
 * up); the handlers go with `off`.
 */
function signalled(): { done: Promise<void>; signal: AbortSignal; off: () => void } {
  let onSignal: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    onSignal = () => resolve();
  });
  const abort = new AbortController();
  void done.then(() => abort.abort(new Error("interrupted")));
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    done,
    signal: abort.signal,
    off: () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}

/** Waits for a lock or a campaign; false when Ctrl-C gave it up. */
async function acquired(waiting: Promise<unknown>, signal: AbortSignal): Promise<boolean> {
  try {
    await waiting;
    return true;
  } catch (e) {
    if (signal.aborted) return false;
    throw e;
  }
}

function positiveTtl(text: string | undefined): number {
  const ttl = nonNegative(text, "--ttl");
  if (ttl === undefined || ttl === 0) throw new Error("--ttl must be positive");
  return ttl;
}

const printKv = (out: Output, kv: KeyValue): void =>
  out.stdout(Buffer.concat([kv.keyBytes, Buffer.from("\n"), kv.valueBytes, Buffer.from("\n")]));

export async function runLock(args: string[], out: Output): Promise<number> {
  const { own, command } = splitCommand(args);
  const { values, positionals } = parseArgs({
    args: own,
    options: { ...common, ttl: { type: "string", default: "10" } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1) throw new Error(LOCK_USAGE);
  const ttl = positiveTtl(values.ttl);
  const c = client(values);
  const stop = signalled();
  let session: Session | undefined;
  try {
    session = await Session.open(c, ttl);
    const mutex = new Mutex(session, positionals[0] as string);
    if (!(await acquired(mutex.lock(stop.signal), stop.signal))) return 1;
    if (command.length > 0) {
      const code = await new Promise<number>((resolve, reject) => {
        const child = spawn(command[0] as string, command.slice(1), {
          stdio: "inherit",
          env: {
            ...process.env,
            ETCD_LOCK_KEY: mutex.key,
            ETCD_LOCK_REV: String(mutex.revision),
          },
        });
        child.once("error", reject);
        child.once("close", (exit, sig) => resolve(exit ?? (sig === null ? 1 : 128)));
      }).finally(() => mutex.unlock());
      if (code !== 0) {
        out.stderr(`ordo lock: exit status ${code}\n`);
        return 1;
      }
      return 0;
    }
    const held = await c.get(mutex.key);
    const kv = held.kvs[0];
    if (kv === undefined) throw new Error("lock lost on init");
    printKv(out, kv);
    return await holdUntilInterrupted(stop, session, out, "lock", () => mutex.unlock());
  } finally {
    stop.off();
    await session?.close();
    c.close();
  }
}

export async function runElect(args: string[], out: Output): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      ...common,
      listen: { type: "boolean", short: "l", default: false },
      ttl: { type: "string", default: "60" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1 && positionals.length !== 2) throw new Error(ELECT_USAGE);
  if (positionals.length === 1 && !values.listen)
    throw new Error("no proposal argument but -l not set");
  if (positionals.length === 2 && values.listen) throw new Error("proposal given but -l is set");
  const name = positionals[0] as string;
  const ttl = positiveTtl(values.ttl);
  const c = client(values);
  const stop = signalled();
  let session: Session | undefined;
  try {
    if (values.listen) {
      for await (const kv of Election.observe(c, name, stop.signal)) printKv(out, kv);
      return stop.signal.aborted ? 0 : 1;
    }
    session = await Session.open(c, ttl);
    const election = new Election(session, name);
    const campaign = election.campaign(positionals[1] as string, stop.signal);
    if (!(await acquired(campaign, stop.signal))) return 1;
    const leader = (await c.get(election.key)).kvs[0];
    if (leader !== undefined) printKv(out, leader);
    return await holdUntilInterrupted(stop, session, out, "elect", () => election.resign());
  } finally {
    stop.off();
    await session?.close();
    c.close();
  }
}
