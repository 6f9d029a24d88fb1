// The TLS flags of `ordo serve` and `ordo cluster --tls`, as processes: clear startup errors
// (https without a certificate, TLS flags on http, client-cert-auth without a CA, a missing
// file, mixed peer schemes), --auto-tls / --peer-auto-tls (self-signed certificates under the
// data directory, https served), and `ordo cluster --tls` (certificates made under
// <data-dir>/tls, the etcdctl flags it prints work, and so do ordo's own --cacert/--cert/--key).
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { capturedOutput } from "../../src/cli/output.js";
import { runServeCommand } from "../../src/cli/serve-command.js";
import { KvClient } from "../../src/client/index.js";
import { etcdctl, etcdctlMissing } from "../cluster/etcdctl.js";
import { freePort } from "../cluster/ports.js";

const ordo = fileURLToPath(new URL("../../../bin/ordo.js", import.meta.url));
const roots: string[] = [];
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function tempRoot(): string {
  const r = mkdtempSync(join(tmpdir(), "ordo-tls-cli-"));
  roots.push(r);
  return r;
}

function runOnce(
  command: string,
  args: string[],
  boundMs = 15_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), boundMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts a long-running process and resolves once its stdout matches `ready` `count` times. */
function startUntil(
  args: string[],
  ready: RegExp,
  count: number,
): Promise<{ child: ChildProcess; stdout: () => string }> {
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let out = "";
  let err = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready: ${out} ${err}`)), 60_000);
    child.stderr?.on("data", (c: Buffer) => {
      err += c.toString();
    });
    child.stdout?.on("data", (c: Buffer) => {
      out += c.toString();
      if ((out.match(new RegExp(ready.source, "gm")) ?? []).length >= count) {
        clearTimeout(timer);
        resolve({ child, stdout: () => out });
      }
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code}: ${out} ${err}`));
    });
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("close", () => resolve());
    child.kill("SIGTERM");
  });
}

test("ordo serve: TLS misconfigurations are clear startup errors", async () => {
  const dir = join(tempRoot(), "m");
  const base = ["serve", "--name", "n1", "--data-dir", dir];
  const cases: [string[], RegExp][] = [
    [
      ["--listen-client-urls", "https://127.0.0.1:1", "--initial-cluster", "n1=http://127.0.0.1:2"],
      /--listen-client-urls are https:\/\/ but no certificate is given: set --cert-file and --key-file \(or --auto-tls/,
    ],
    [
      ["--cert-file", "c.pem", "--key-file", "k.pem", "--initial-cluster", "n1=http://127.0.0.1:2"],
      /--cert-file, --key-file given, but the --listen-client-urls are http:\/\//,
    ],
    [
      ["--initial-cluster", "n1=https://127.0.0.1:2"],
      /peer URLs .* are https:\/\/ but no certificate is given: set --peer-cert-file and --peer-key-file \(or --peer-auto-tls/,
    ],
    [
      [
        "--listen-client-urls",
        "https://127.0.0.1:1",
        "--auto-tls",
        "--client-cert-auth",
        "--initial-cluster",
        "n1=http://127.0.0.1:2",
      ],
      /--client-cert-auth needs --trusted-ca-file/,
    ],
    [
      [
        "--listen-client-urls",
        "https://127.0.0.1:1",
        "--cert-file",
        "/nonexistent.pem",
        "--key-file",
        "/nonexistent-key.pem",
        "--initial-cluster",
        "n1=http://127.0.0.1:2",
      ],
      /cannot read certificate file "\/nonexistent.pem"/,
    ],
    [
      ["--initial-cluster", "n1=https://127.0.0.1:2,n2=http://127.0.0.1:3", "--peer-auto-tls"],
      /mix http:\/\/ and https:\/\/ peer URLs/,
    ],
  ];
  // In-process: each is refused before a member starts (the CLI prints the message, exit 2).
  for (const [args, message] of cases) {
    const out = capturedOutput();
    await assert.rejects(
      runServeCommand([...base.slice(1), ...args], out),
      message,
      args.join(" "),
    );
  }
  assert.equal(existsSync(join(dir, "wal")), false, "nothing was started");
});

test("ordo serve --auto-tls --peer-auto-tls: self-signed certificates under the data directory, https served", async () => {
  const root = tempRoot();
  const dataDir = join(root, "n1");
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const { child } = await startUntil(
    [
      ordo,
      "serve",
      "--name",
      "n1",
      "--data-dir",
      dataDir,
      "--listen-client-urls",
      `https://127.0.0.1:${clientPort}`,
      "--initial-cluster",
      `n1=https://127.0.0.1:${peerPort}`,
      "--auto-tls",
      "--peer-auto-tls",
      "--tick-ms",
      "50",
      "--log-level",
      "error",
    ],
    /serving clients on .* \(TLS\)/,
    1,
  );
  try {
    for (const which of ["client", "peer"]) {
      const cert = new X509Certificate(readFileSync(join(dataDir, "fixtures", which, "cert.pem")));
      assert.match(cert.subjectAltName ?? "", /IP Address:127\.0\.0\.1/);
      assert.equal(cert.issuer, cert.subject, "self-signed");
    }
    const served = await new Promise<string>((resolve, reject) => {
      const req = httpsRequest(
        {
          host: "127.0.0.1",
          port: clientPort,
          path: "/health",
          rejectUnauthorized: false,
          agent: false,
        },
        (res) => {
          const peer = (res.socket as import("node:tls").TLSSocket).getPeerCertificate();
          res.resume();
          resolve(peer.fingerprint256);
        },
      );
      req.on("error", reject);
      req.end();
    });
    const onDisk = new X509Certificate(
      readFileSync(join(dataDir, "fixtures", "client", "cert.pem")),
    );
    assert.equal(served, onDisk.fingerprint256);
  } finally {
    await stop(child);
  }
});

test("ordo cluster --tls: certificates under <data-dir>/tls, https everywhere, the printed etcdctl flags work", {
  skip: etcdctlMissing,
}, async () => {
  const root = tempRoot();
  const dataDir = join(root, "data");
  const clientPorts = [await freePort(), await freePort(), await freePort()];
  const peerPorts = [await freePort(), await freePort(), await freePort()];
  const { child, stdout } = await startUntil(
    [
      ordo,
      "cluster",
      "--tls",
      "--data-dir",
      dataDir,
      "--client-ports",
      clientPorts.join(","),
      "--peer-ports",
      peerPorts.join(","),
    ],
    /^\[n\d\] ordo member n\d serving clients on .* \(TLS\)/,
    3,
  );
  try {
    const flagsLine = /etcdctl flags: +(.*)$/m.exec(stdout())?.[1];
    assert.ok(flagsLine, stdout());
    const flags = flagsLine.split(" ");
    assert.deepEqual(flags, [
      `--endpoints=${clientPorts.map((p) => `https://127.0.0.1:${p}`).join(",")}`,
      "--cacert",
      join(dataDir, "tls", "ca.pem"),
      "--cert",
      join(dataDir, "tls", "client.pem"),
      "--key",
      join(dataDir, "tls", "client-key.pem"),
    ]);
    // Wait for a leader (a signal: every member's Status names the same one), over TLS.
    const client = new KvClient(
      clientPorts.map((p) => `https://127.0.0.1:${p}`),
      {
        timeoutMs: 1000,
        attempts: 1,
        tls: {
          caFile: join(dataDir, "tls", "ca.pem"),
          certFile: join(dataDir, "tls", "client.pem"),
          keyFile: join(dataDir, "tls", "client-key.pem"),
        },
      },
    );
    try {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const all = await client.status();
        const leaders = new Set(all.map((x) => (x.ok ? x.value.leaderId : "none")));
        if (leaders.size === 1 && !leaders.has("none") && !leaders.has("0")) break;
        if (Date.now() > deadline) throw new Error(`no leader: ${JSON.stringify(all)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      client.close();
    }
    // The printed flags as they are: --endpoints=… first, then the certificate files.
    const endpoints = (flags[0] as string).slice("--endpoints=".length);
    const etcdctlFlags = flags.slice(1);
    let put = await etcdctl(endpoints, ["put", "greeting", "hello"], {
      global: [...etcdctlFlags, "--command-timeout=10s"],
      killAfterMs: 15_000,
    });
    assert.equal(put.stdout.trim(), "OK", put.stderr);
    const got = await runOnce(process.execPath, [
      ordo,
      "get",
      "greeting",
      "--endpoints",
      `https://127.0.0.1:${clientPorts[1]}`,
      ...flags.slice(1),
    ]);
    assert.equal(got.stdout, "greeting\nhello\n", got.stderr);
    // Without a client certificate the members refuse.
    const refused = await runOnce(process.execPath, [
      ordo,
      "get",
      "greeting",
      "--endpoints",
      `https://127.0.0.1:${clientPorts[1]}`,
      "--cacert",
      join(dataDir, "tls", "ca.pem"),
      "--timeout-ms",
      "1500",
    ]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /certificate required|alert/i);
    put = await etcdctl(endpoints, ["member", "list"], {
      global: etcdctlFlags,
      killAfterMs: 15_000,
    });
    assert.equal(
      put.stdout
        .trim()
        .split("\n")
        .filter((l) => /, https:\/\/127\.0\.0\.1:\d+, https:\/\/127\.0\.0\.1:\d+, false$/.test(l))
        .length,
      3,
      put.stdout,
    );
  } finally {
    await stop(child);
  }
});
