// Debian's etcdctl 3.4, run as a child process by the tests that check Ordo against the real
// etcd tool (one helper: the tests wrote this spawn-and-collect loop once each): a command run
// to its end (etcdctl, etcdctlOk, etcdctlRefused), or one that runs on, a watch, a lock or an
// election (spawnEtcdctl), read until it prints what the test waits for (outputUntil).
import assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { existsSync } from "node:fs";

export const ETCDCTL = "/usr/bin/etcdctl";

/** For a test's `skip` option: false when etcdctl is installed, else the reason. */
export const etcdctlMissing: false | string = existsSync(ETCDCTL)
  ? false
  : `${ETCDCTL} not installed`;

export interface EtcdctlRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout then stderr, for messages that etcdctl prints on either. */
  readonly out: string;
  /** stdout as etcdctl wrote it (keys and values that are not UTF-8). */
  readonly stdoutBytes: Buffer;
}

export interface EtcdctlOptions {
  /** Written to etcdctl's stdin, which is then closed (default: empty). */
  readonly input?: string | undefined;
  /** Added after `--endpoints` (default `--command-timeout=5s`). */
  readonly global?: readonly string[];
  /** A bound on the whole run: the process is killed after it (default 30 s). */
  readonly killAfterMs?: number;
  /** Environment variables besides ETCDCTL_API=3 (etcdctl's ETCDCTL_* flags, say). */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * Starts `etcdctl --endpoints=E [global] ARGS` and leaves it running (a watch, a lock, an
 * election campaign): the caller reads it (outputUntil) and kills it.
 */
export function spawnEtcdctl(
  endpoints: string,
  args: readonly string[],
  options: Omit<EtcdctlOptions, "input" | "killAfterMs"> = {},
): ChildProcessWithoutNullStreams {
  const global = options.global ?? ["--command-timeout=5s"];
  return spawn(ETCDCTL, [`--endpoints=${endpoints}`, ...global, ...args], {
    env: { ...process.env, ...options.env, ETCDCTL_API: "3" },
    stdio: ["pipe", "pipe", "pipe"],
  });
}

/**
 * What a running process printed on stdout, once `done` holds of it; rejects, saying what it
 * printed, after `boundMs` or when the process exits first.
 */
export function outputUntil(
  child: ChildProcessWithoutNullStreams,
  done: (stdout: string) => boolean,
  boundMs = 10_000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const finish = (error: Error | undefined): void => {
      clearTimeout(timer);
      child.stdout.off("data", onData);
      child.off("close", onClose);
      if (error === undefined) resolve(seen);
      else reject(error);
    };
    const onData = (c: Buffer): void => {
      seen += c.toString();
      if (done(seen)) finish(undefined);
    };
    const onClose = (code: number | null): void =>
      finish(new Error(`etcdctl exited (${code}) having printed only: ${seen}`));
    const timer = setTimeout(
      () => finish(new Error(`within ${boundMs} ms etcdctl printed only: ${seen}`)),
      boundMs,
    );
    child.stdout.on("data", onData);
    child.on("close", onClose);
  });
}

/** Runs `etcdctl --endpoints=E [global] ARGS` and collects its output and exit code. */
export function etcdctl(
  endpoints: string,
  args: readonly string[],
  options: EtcdctlOptions = {},
): Promise<EtcdctlRun> {
  return new Promise((resolve) => {
    const child = spawnEtcdctl(endpoints, args, options);
    const stdout: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout.push(c);
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    // A command that is not refused (a watch, say) would run on: bound it.
    const timer = setTimeout(() => child.kill("SIGKILL"), options.killAfterMs ?? 30_000);
    child.stdin.on("error", () => {}); // etcdctl may exit before reading its input
    child.stdin.end(options.input ?? "");
    child.on("close", (code) => {
      clearTimeout(timer);
      const bytes = Buffer.concat(stdout);
      const text = bytes.toString();
      resolve({ code: code ?? -1, stdout: text, stderr, out: text + stderr, stdoutBytes: bytes });
    });
  });
}

/** etcdctl must succeed; its stdout. */
export async function etcdctlOk(
  endpoints: string,
  args: readonly string[],
  options?: EtcdctlOptions,
): Promise<string> {
  const r = await etcdctl(endpoints, args, options);
  assert.equal(r.code, 0, `etcdctl ${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** etcdctl must fail, saying `message` (on stdout or stderr). */
export async function etcdctlRefused(
  endpoints: string,
  args: readonly string[],
  message: RegExp,
  options?: EtcdctlOptions,
): Promise<EtcdctlRun> {
  const r = await etcdctl(endpoints, args, options);
  assert.notEqual(r.code, 0, `etcdctl ${args.join(" ")} should fail: ${r.stdout}`);
  assert.match(r.out, message);
  return r;
}
