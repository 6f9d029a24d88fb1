// Debian's etcdctl 3.4, run as a child process by the tests that check Ordo against the real
// etcd tool (one helper: the tests wrote this spawn-and-collect loop once each).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
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
}

export interface EtcdctlOptions {
  /** Written to etcdctl's stdin, which is then closed (default: empty). */
  readonly input?: string | undefined;
  /** Added after `--endpoints` (default `--command-timeout=5s`). */
  readonly global?: readonly string[];
  /** A bound on the whole run: the process is killed after it (default 30 s). */
  readonly killAfterMs?: number;
}

/** Runs `etcdctl --endpoints=E [global] ARGS` and collects its output and exit code. */
export function etcdctl(
  endpoints: string,
  args: readonly string[],
  options: EtcdctlOptions = {},
): Promise<EtcdctlRun> {
  const global = options.global ?? ["--command-timeout=5s"];
  return new Promise((resolve) => {
    const child = spawn(ETCDCTL, [`--endpoints=${endpoints}`, ...global, ...args], {
      env: { ...process.env, ETCDCTL_API: "3" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
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
      resolve({ code: code ?? -1, stdout, stderr, out: stdout + stderr });
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
