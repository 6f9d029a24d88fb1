// A real 3-member cluster (processes) with TLS everywhere, as etcd's secure setup: client ports
// https with --client-cert-auth, mutual TLS between members. Certificates are made here, with
// the library the server uses. Clients: Debian's etcdctl 3.4 (--cacert/--cert/--key), the npm
// etcd3 client, Ordo's client, node's https for /health and /metrics. Refusals: a client
// without a certificate, a 4th member whose certificate another CA signed (it cannot join and
// the cluster keeps serving), and garbage, truncated TLS hellos and plaintext clients on both
// ports (bounded), after which every member still serves.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { fileURLToPath } from "node:url";
import { Etcd3 } from "etcd3";
import { KvClient } from "../../src/client/index.js";
import { asNodeId } from "../../src/raft/index.js";
import {
  createCertificateAuthority,
  createSignedCertificate,
  writePemFiles,
} from "../../src/server/index.js";
import { encodeFrame, encodeHello } from "../../src/transport/index.js";
import { etcdctl, etcdctlMissing, outputUntil, spawnEtcdctl } from "./etcdctl.js";
import { freePort } from "./ports.js";
import {
  launchMember,
  type MemberProcess,
  SERVING_LINE,
  TEST_TICK_MS,
  waitForPublishedBy,
} from "./processes.js";

interface Files {
  ca: string;
  client: { cert: string; key: string };
  member: (name: string) => { cert: string; key: string };
}

async function makeFiles(dir: string): Promise<Files> {
  const ca = await createCertificateAuthority("tls test CA");
  const other = await createCertificateAuthority("another CA");
  await writePemFiles(join(dir, "ca.pem"), join(dir, "ca-key.pem"), ca);
  await writePemFiles(join(dir, "other-ca.pem"), join(dir, "other-ca-key.pem"), other);
  const hosts = ["127.0.0.1", "localhost"];
  for (const n of ["n1", "n2", "n3"])
    await writePemFiles(
      join(dir, `${n}.pem`),
      join(dir, `${n}-key.pem`),
      await createSignedCertificate(ca, { commonName: n, hosts }),
    );
  // The intruder: a perfectly good certificate, from the wrong CA.
  await writePemFiles(
    join(dir, "n4.pem"),
    join(dir, "n4-key.pem"),
    await createSignedCertificate(other, { commonName: "n4", hosts }),
  );
  await writePemFiles(
    join(dir, "client.pem"),
    join(dir, "client-key.pem"),
    await createSignedCertificate(ca, { commonName: "root", usages: ["client"] }),
  );
  return {
    ca: join(dir, "ca.pem"),
    client: { cert: join(dir, "client.pem"), key: join(dir, "client-key.pem") },
    member: (n) => ({ cert: join(dir, `${n}.pem`), key: join(dir, `${n}-key.pem`) }),
  };
}

function tlsArgs(cert: string, key: string, ca: string): string[] {
  return [
    "--cert-file",
    cert,
    "--key-file",
    key,
    "--trusted-ca-file",
    ca,
    "--client-cert-auth",
    "--peer-cert-file",
    cert,
    "--peer-key-file",
    key,
    "--peer-trusted-ca-file",
    ca,
    "--peer-client-cert-auth",
  ];
}

const ordoBin = fileURLToPath(new URL("../../../bin/ordo.js", import.meta.url));

function runOrdo(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [ordoBin, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

function httpsGet(
  port: number,
  path: string,
  tls: { ca: string; cert: string; key: string },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: "127.0.0.1",
        port,
        path,
        ca: readFileSync(tls.ca),
        cert: readFileSync(tls.cert),
        key: readFileSync(tls.key),
        agent: false,
        timeout: 5000,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

/**
 * Sends `bytes`, then ends its side, and resolves once the other end closes (or resets) the
 * connection. (A hello left hanging is closed by the handshake bound: client-listener-tls.test.)
 */
function sendAndAwaitClose(port: number, bytes: Buffer): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () => s.end(bytes));
    s.on("data", () => {});
    s.on("error", () => {});
    s.on("close", () => resolve());
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`port ${port} kept a bad connection open`));
    }, 12_000);
    timer.unref();
  });
}

/** What a TLS client's first flight looks like: a real ClientHello, caught on a TCP port. */
async function clientHello(): Promise<Buffer> {
  const { createServer } = await import("node:net");
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  try {
    return await new Promise<Buffer>((resolve) => {
      server.once("connection", (s) =>
        s.once("data", (c: Buffer) => {
          s.destroy();
          resolve(c);
        }),
      );
      tlsConnect({ host: "127.0.0.1", port, rejectUnauthorized: false }).on("error", () => {});
    });
  } finally {
    server.close();
  }
}

/** Sum of a counter over every member's /metrics. */
async function metricSum(ports: readonly number[], name: string, files: Files): Promise<number> {
  let sum = 0;
  for (const p of ports) {
    const { body } = await httpsGet(p, "/metrics", { ca: files.ca, ...files.client });
    const line = body.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
    sum += line === undefined ? 0 : Number(line.split(" ").pop());
  }
  return sum;
}

describe("a 3-member cluster with TLS everywhere (processes)", {
  timeout: 120_000,
  skip: etcdctlMissing,
}, () => {
  let root: string;
  let files: Files;
  const clientPorts: number[] = [];
  const peerPorts: number[] = [];
  const members: MemberProcess[] = [];
  const extra: ChildProcess[] = [];
  let client: KvClient;
  let endpoints: string;
  let tlsFlags: string[];
  const ctl = (args: string[], input?: string) =>
    etcdctl(endpoints, args, {
      global: ["--command-timeout=5s", ...tlsFlags],
      input,
      killAfterMs: 15_000,
    });

  before(async () => {
    root = mkdtempSync(join(tmpdir(), "ordo-tls-"));
    files = await makeFiles(root);
    for (let i = 0; i < 4; i++) {
      clientPorts.push(await freePort());
      peerPorts.push(await freePort());
    }
    const initialCluster = [0, 1, 2]
      .map((i) => `n${i + 1}=https://127.0.0.1:${peerPorts[i]}`)
      .join(",");
    for (const i of [0, 1, 2]) {
      const name = `n${i + 1}`;
      const m = files.member(name);
      members.push(
        launchMember(
          name,
          join(root, name),
          clientPorts[i] as number,
          peerPorts[i] as number,
          initialCluster,
          [
            "--listen-client-urls",
            `https://127.0.0.1:${clientPorts[i]}`,
            ...tlsArgs(m.cert, m.key, files.ca),
          ],
        ),
      );
    }
    await Promise.all(members.map((m) => m.ready));
    endpoints = clientPorts
      .slice(0, 3)
      .map((p) => `https://127.0.0.1:${p}`)
      .join(",");
    tlsFlags = [`--cacert=${files.ca}`, `--cert=${files.client.cert}`, `--key=${files.client.key}`];
    client = new KvClient(endpoints.split(","), {
      timeoutMs: 2000,
      tls: { caFile: files.ca, certFile: files.client.cert, keyFile: files.client.key },
    });
    // Ready once every member names the same leader (a signal, polled).
    const deadline = Date.now() + 60_000;
    for (;;) {
      const all = await client.status();
      const leaders = new Set(all.map((s) => (s.ok ? s.value.leaderId : "none")));
      if (leaders.size === 1 && !leaders.has("none") && !leaders.has("0")) break;
      if (Date.now() > deadline) throw new Error(`no leader: ${JSON.stringify(all)}`);
      await new Promise((r) => setTimeout(r, TEST_TICK_MS));
    }
    // And once every member has published its client URL (through the log, after it sees the
    // leader): until then the member list shows it without one (a CI run caught that).
    await waitForPublishedBy(client, 3, Math.max(0, deadline - Date.now()));
  });

  after(() => {
    client?.close();
    for (const c of extra) if (c.exitCode === null) c.kill("SIGKILL");
    for (const m of members) if (m.child.exitCode === null) m.child.kill("SIGTERM");
    if (root !== undefined) rmSync(root, { recursive: true, force: true });
  });

  test("etcdctl with --cacert/--cert/--key on https endpoints: put, get, del, txn, watch, lease, member list, endpoint status", async () => {
    assert.equal((await ctl(["put", "tls/a", "1"])).stdout.trim(), "OK");
    assert.equal((await ctl(["put", "tls/b", "2"])).stdout.trim(), "OK");
    assert.equal((await ctl(["get", "tls/", "--prefix"])).stdout, "tls/a\n1\ntls/b\n2\n");
    assert.equal((await ctl(["del", "tls/b"])).stdout.trim(), "1");
    const txn = await ctl(
      ["txn"],
      'value("tls/a") = "1"\n\nput tls/a swapped\n\nput tls/a never\n\n',
    );
    assert.equal(txn.code, 0, txn.stderr);
    assert.match(txn.stdout, /^SUCCESS/);
    assert.equal((await ctl(["get", "tls/a", "--print-value-only"])).stdout.trim(), "swapped");

    // watch from a past revision replays at once: bounded by the first event.
    const rev = JSON.parse((await ctl(["get", "tls/a", "-w", "json"])).stdout).header.revision;
    const watcher = spawnEtcdctl(endpoints, ["watch", "tls/a", `--rev=${rev - 1}`], {
      global: tlsFlags,
    });
    extra.push(watcher);
    const seen = await outputUntil(watcher, (out) => out.includes("swapped"), 10_000);
    watcher.kill("SIGTERM");
    assert.match(seen, /PUT\ntls\/a\nswapped/);

    const grant = await ctl(["lease", "grant", "30"]);
    const id = /lease ([0-9a-f]+) granted/.exec(grant.stdout)?.[1];
    assert.ok(id, grant.stdout + grant.stderr);
    const keep = await ctl(["lease", "keep-alive", "--once", id]);
    assert.match(keep.stdout, new RegExp(`lease ${id} keepalived with TTL\\(\\d+\\)`));

    const list = (await ctl(["member", "list"])).stdout.trim().split("\n");
    assert.equal(list.length, 3);
    for (const [i, line] of list
      .sort((a, b) => a.split(", ")[2]!.localeCompare(b.split(", ")[2]!))
      .entries())
      assert.match(
        line,
        new RegExp(
          `, started, n${i + 1}, https://127.0.0.1:${peerPorts[i]}, https://127.0.0.1:${clientPorts[i]}, false$`,
        ),
      );
    const status = await ctl(["endpoint", "status"]);
    assert.equal(status.code, 0, status.stderr);
    assert.equal(status.stdout.trim().split("\n").length, 3);
    for (const p of clientPorts.slice(0, 3))
      assert.match(status.stdout, new RegExp(`https://127.0.0.1:${p}, `));
  });

  test("client-cert-auth: a client without a certificate is refused, and the member keeps serving", async () => {
    const one = `https://127.0.0.1:${clientPorts[0]}`;
    const refused = await etcdctl(one, ["get", "tls/a"], {
      global: ["--command-timeout=2s", `--cacert=${files.ca}`],
      killAfterMs: 15_000,
    });
    assert.notEqual(refused.code, 0);
    assert.equal(refused.stdout, "");
    // Plaintext gRPC on the TLS port: refused too.
    const plain = new KvClient([`127.0.0.1:${clientPorts[0]}`], { timeoutMs: 1000, attempts: 1 });
    try {
      await assert.rejects(plain.get("tls/a"));
    } finally {
      plain.close();
    }
    const ok = await etcdctl(one, ["get", "tls/a", "--print-value-only"], {
      global: ["--command-timeout=5s", ...tlsFlags],
      killAfterMs: 15_000,
    });
    assert.equal(ok.stdout.trim(), "swapped");
  });

  test("with auth on, a verified certificate's common name is the user (etcd's --client-cert-auth)", async () => {
    for (const args of [
      ["role", "add", "root"],
      ["user", "add", "root:root-password"],
      ["user", "grant-role", "root", "root"],
      ["auth", "enable"],
    ]) {
      const r = await ctl(args);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
    }
    try {
      // No --user, no token: the client certificate (CN root) says who this is.
      const put = await ctl(["put", "tls/cn", "by-certificate"]);
      assert.equal(put.code, 0, put.stderr);
      assert.equal(put.stdout.trim(), "OK");
      const get = await ctl(["get", "tls/cn", "--print-value-only"]);
      assert.equal(get.stdout.trim(), "by-certificate");
      // A root-only call too (etcd: the common name's user, with its roles).
      const roles = await ctl(["role", "list"]);
      assert.equal(roles.code, 0, roles.stderr);
      assert.match(roles.stdout, /^root$/m);
    } finally {
      const off = await ctl(["auth", "disable"]);
      assert.equal(off.code, 0, off.stderr);
    }
  });

  test("the npm etcd3 client, Ordo's client and node's https (/health) over TLS", async () => {
    const etcd = new Etcd3({
      hosts: endpoints.split(","),
      credentials: {
        rootCertificate: readFileSync(files.ca),
        certChain: readFileSync(files.client.cert),
        privateKey: readFileSync(files.client.key),
      },
      dialTimeout: 3000,
    });
    try {
      await etcd.put("tls/e3").value("from etcd3");
      assert.equal(await etcd.get("tls/e3").string(), "from etcd3");
    } finally {
      etcd.close();
    }
    await client.put("tls/ordo", "from ordo");
    assert.equal((await client.get("tls/ordo")).kvs[0]?.value.toString(), "from ordo");
    const health = await httpsGet(clientPorts[1] as number, "/health", {
      ca: files.ca,
      ...files.client,
    });
    assert.equal(health.status, 200);
    assert.equal(JSON.parse(health.body).health, "true");
  });

  test("peers: another CA's member cannot join (refused at the TLS handshake) and the cluster keeps serving", async () => {
    const before = await metricSum(
      clientPorts.slice(0, 3),
      "ordo_peer_tls_handshake_failures_total",
      files,
    );
    // Directly: a TLS connection with the other CA's certificate sends a valid hello; it is
    // closed by an alert, with no Accepted reply.
    const n4 = files.member("n4");
    const reply = await new Promise<string>((resolve) => {
      const s = tlsConnect({
        host: "127.0.0.1",
        port: peerPorts[0] as number,
        ca: readFileSync(files.ca),
        cert: readFileSync(n4.cert),
        key: readFileSync(n4.key),
      });
      let got = "";
      s.on("secureConnect", () =>
        s.write(
          encodeFrame(encodeHello({ clusterId: "x", from: asNodeId("n4"), to: asNodeId("n1") })),
        ),
      );
      s.on("data", (c: Buffer) => {
        got += c.toString("hex");
      });
      s.on("error", (e) => {
        got += `error:${e.message}`;
      });
      s.on("close", () => resolve(got));
    });
    // No reply frame: nothing decrypted arrived, only (at most) the alert that closed it.
    assert.ok(reply === "" || reply.startsWith("error:"), `a reply came: ${reply}`);

    // The real thing: added as a voter, started with the wrong CA's certificate.
    // Added with Ordo's own CLI and its etcdctl-style TLS flags.
    const add = await runOrdo([
      "member",
      "add",
      "n4",
      "--peer-urls",
      `https://127.0.0.1:${peerPorts[3]}`,
      "--endpoints",
      endpoints,
      "--cacert",
      files.ca,
      "--cert",
      files.client.cert,
      "--key",
      files.client.key,
    ]);
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stdout, new RegExp(`n4=https://127\\.0\\.0\\.1:${peerPorts[3]}`));
    const cluster4 = [0, 1, 2, 3]
      .map((i) => `n${i + 1}=https://127.0.0.1:${peerPorts[i]}`)
      .join(",");
    const intruder = launchMember(
      "n4",
      join(root, "n4"),
      clientPorts[3] as number,
      peerPorts[3] as number,
      cluster4,
      [
        "--listen-client-urls",
        `https://127.0.0.1:${clientPorts[3]}`,
        "--initial-cluster-state",
        "existing",
        ...tlsArgs(n4.cert, n4.key, join(root, "other-ca.pem")),
      ],
    );
    extra.push(intruder.child);
    // Its discovery hellos are refused at the members' TLS handshake: the counter rises.
    const deadline = Date.now() + 30_000;
    while (
      (await metricSum(clientPorts.slice(0, 3), "ordo_peer_tls_handshake_failures_total", files)) <
      before + 2
    ) {
      if (Date.now() > deadline) throw new Error("no TLS refusal counted");
      await new Promise((r) => setTimeout(r, 100));
    }
    // Writes still succeed with 3 of the 4 voters, and n4 never served.
    for (let i = 0; i < 5; i++)
      assert.equal((await ctl(["put", `tls/after${i}`, "ok"])).stdout.trim(), "OK");
    assert.equal(SERVING_LINE.test(intruder.stdout()), false);
    intruder.child.kill("SIGKILL");
    await intruder.exited;
    const id = (await ctl(["member", "list"])).stdout
      .split("\n")
      .find((l) => l.includes(`:${peerPorts[3]}`))
      ?.split(",")[0];
    assert.ok(id);
    assert.equal((await ctl(["member", "remove", id])).code, 0);
  });

  test("garbage, truncated hellos, bytes after a hello and plaintext on both ports: members keep serving (bounded)", async () => {
    const hello = await clientHello();
    const payloads: Buffer[] = [];
    for (let i = 0; i < 50; i++) {
      const k = i % 5;
      if (k === 0) payloads.push(randomBytes(1 + ((i * 37) % 500)));
      else if (k === 1) payloads.push(hello.subarray(0, 1 + (i % (hello.length - 1))));
      else if (k === 2) payloads.push(Buffer.concat([hello, randomBytes(100)]));
      else if (k === 3) payloads.push(Buffer.concat([randomBytes(7), hello]));
      else payloads.push(Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0"));
    }
    const ports = [clientPorts[0], peerPorts[0], clientPorts[1], peerPorts[1]] as number[];
    for (let i = 0; i < payloads.length; i += 10) {
      const batch = payloads.slice(i, i + 10);
      // Each payload to a client port and a peer port.
      await Promise.all(
        batch.flatMap((b, j) => [
          sendAndAwaitClose(ports[(j % 2) * 2] as number, b),
          sendAndAwaitClose(ports[(j % 2) * 2 + 1] as number, b),
        ]),
      );
    }
    for (let i = 0; i < 3; i++)
      assert.equal((await ctl(["put", `tls/fuzz${i}`, "ok"])).stdout.trim(), "OK");
    const status = await client.status();
    assert.equal(status.filter((s) => s.ok).length, 3);
    for (const m of members)
      assert.equal(m.child.exitCode, null, `${m.name} exited: ${m.stderr()}`);
  });
});
