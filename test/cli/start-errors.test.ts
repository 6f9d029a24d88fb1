// Start-up and output errors of real `ordo` processes: one clear line on stderr, exit 1 (0 for
// a closed output pipe, as other Unix tools), no stack trace, nothing left behind.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { freePort } from "../cluster/ports.js";
import { serveArgs, spawnMember } from "../cluster/processes.js";
import { entryRange, hardState, openAndLoad } from "../storage/wal-helpers.js";

const ordo = fileURLToPath(new URL("../../../bin/ordo.js", import.meta.url));
const BOUND_MS = 30_000;

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node args…` to its end (killed, and failing the test, if it outlives BOUND_MS). */
function runNode(args: readonly string[]): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`ordo ${args.slice(1).join(" ")} still running after ${BOUND_MS} ms`));
    }, BOUND_MS);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** One line on stderr, no stack trace. */
function assertOneLine(r: Ran, pattern: RegExp): void {
  assert.equal(r.code, 1, r.stderr);
  const lines = r.stderr.split("\n").filter((l) => l !== "");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0] as string, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
}

function holdPort(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(port, "127.0.0.1", () => resolve(s));
  });
}

describe("ordo serve refuses to start, clearly and without leaving anything", () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), "ordo-start-errors-"));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  for (const which of ["clients", "peers"] as const) {
    test(`a ${which === "clients" ? "client" : "peer"} port already in use`, async () => {
      const clientPort = await freePort();
      const peerPort = await freePort();
      const held = await holdPort(which === "clients" ? clientPort : peerPort);
      try {
        const dataDir = join(root, `busy-${which}`, "n1");
        const r = await runNode(
          serveArgs("n1", dataDir, clientPort, `n1=http://127.0.0.1:${peerPort}`),
        );
        assertOneLine(
          r,
          new RegExp(
            `^ordo serve: cannot listen for ${which}: listen tcp 127\\.0\\.0\\.1:${which === "clients" ? clientPort : peerPort}: bind: address already in use$`,
          ),
        );
        assert.equal(existsSync(join(root, `busy-${which}`)), false, "nothing is left behind");
      } finally {
        held.close();
      }
    });
  }

  test("a failure after the peer transport started ends the process and removes what it wrote", async () => {
    // Clients and peers on one port: both are free when checked, the transport takes it, and
    // the client listener then fails.
    const port = await freePort();
    const dataDir = join(root, "same-port");
    const r = await runNode(serveArgs("n1", dataDir, port, `n1=http://127.0.0.1:${port}`));
    assertOneLine(r, /^ordo serve: cannot listen for clients: .*address already in use$/);
    assert.equal(existsSync(dataDir), false);
  });

  test("a second member on a locked data directory is refused and changes nothing", async () => {
    const clientPort = await freePort();
    const peerPort = await freePort();
    const dataDir = join(root, "locked");
    const cluster = `n1=http://127.0.0.1:${peerPort}`;
    const first = await spawnMember("n1", dataDir, clientPort, peerPort, cluster);
    try {
      const listing = readdirSync(dataDir).sort();
      const memberJson = readFileSync(join(dataDir, "member.json"), "utf8");
      const r = await runNode(
        serveArgs("n1", dataDir, await freePort(), `n1=http://127.0.0.1:${await freePort()}`),
      );
      assertOneLine(
        r,
        new RegExp(`^ordo serve: .*locked is in use by process ${first.child.pid}; two processes`),
      );
      assert.deepEqual(readdirSync(dataDir).sort(), listing);
      assert.equal(readFileSync(join(dataDir, "member.json"), "utf8"), memberJson);
      assert.equal(first.child.exitCode, null, "the first member still runs");
    } finally {
      first.child.kill("SIGTERM");
      await first.exited;
    }
    assert.equal(existsSync(join(dataDir, "LOCK")), false, "a stopped member releases its lock");
  });

  test("a data directory under /proc is refused at once (Node's recursive mkdir hangs there)", async () => {
    const r = await runNode(
      serveArgs(
        "n1",
        "/proc/ordo-test/n1",
        await freePort(),
        `n1=http://127.0.0.1:${await freePort()}`,
      ),
    );
    assertOneLine(r, /^ordo serve: cannot create the data directory \/proc\/ordo-test\/n1: ENOENT/);
  });
});

test("output to a closed pipe ends the command quietly with exit 0 (ordo wal dump | head)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ordo-epipe-"));
  try {
    const { wal } = await openAndLoad(dir);
    await wal.append(entryRange(1, 3000, 1), hardState(1, 3000));
    await wal.close();
    const child = spawn(process.execPath, [ordo, "wal", "dump", dir], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    let firstChunk = 0;
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    // Like head: read the first chunk, then close the pipe while the dump (far more than a pipe
    // buffer) is still being written.
    child.stdout.once("data", (c: Buffer) => {
      firstChunk = c.length;
      child.stdout.destroy();
    });
    const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
    assert.ok(firstChunk > 0);
    assert.equal(stderr, "");
    assert.equal(code, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
