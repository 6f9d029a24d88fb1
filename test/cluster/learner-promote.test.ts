// A learner that never started is listed unstarted with no name (ordo and etcdctl alike) and
// its promotion is refused as etcd refuses it (not in sync with the leader); once it runs and
// has caught up, it is promoted. Real `ordo serve` processes, etcdctl 3.4 and `ordo member`.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { etcdctl, etcdctlMissing } from "./etcdctl.js";
import { freePort } from "./ports.js";
import { spawnMember, startProcessCluster, waitFor } from "./processes.js";

const ORDO = fileURLToPath(new URL("../../../bin/ordo.js", import.meta.url));

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: readonly string[]): Promise<Outcome> {
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
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const ordo = (endpoints: string, args: readonly string[]): Promise<Outcome> =>
  run(process.execPath, [ORDO, "member", ...args, "--endpoints", endpoints]);

test("member promote: an unstarted learner is listed unstarted and refused; once in sync, promoted", {
  timeout: 120_000,
  skip: etcdctlMissing,
}, async () => {
  const cluster = await startProcessCluster(1);
  const stops: (() => void)[] = [];
  try {
    const endpoints = cluster.endpoints.join(",");
    const [client2, peer2] = [await freePort(), await freePort()];
    const peerUrl2 = `http://127.0.0.1:${peer2}`;
    const added = await ordo(endpoints, ["add", "n2", "--peer-urls", peerUrl2, "--learner"]);
    assert.equal(added.code, 0, added.stderr);
    const id2 = /^Member ([0-9a-f]+) added as learner/m.exec(added.stdout)?.[1];
    const initial = /^ORDO_INITIAL_CLUSTER="(.*)"$/m.exec(added.stdout)?.[1];
    assert.ok(id2 !== undefined && initial !== undefined, added.stdout);

    const line = new RegExp(`^${id2}, unstarted, , ${peerUrl2}, , true$`, "m");
    assert.match((await etcdctl(endpoints, ["member", "list"])).stdout, line);
    assert.match((await ordo(endpoints, ["list"])).stdout, line);

    const refused = await etcdctl(endpoints, ["member", "promote", id2]);
    assert.notEqual(refused.code, 0);
    assert.match(
      refused.stderr,
      /etcdserver: can only promote a learner member which is in sync with leader/,
    );
    const refusedOrdo = await ordo(endpoints, ["promote", id2]);
    assert.notEqual(refusedOrdo.code, 0);
    assert.match(refusedOrdo.stderr, /in sync with leader/);
    assert.match((await etcdctl(endpoints, ["member", "list"])).stdout, line, "still a learner");

    const n2 = await spawnMember("n2", join(cluster.root, "n2"), client2, peer2, initial, [
      "--initial-cluster-state",
      "existing",
    ]);
    stops.push(() => n2.child.kill("SIGKILL"));
    await waitFor("n2 published", 20_000, async () => {
      const out = (await etcdctl(endpoints, ["member", "list"])).stdout;
      return new RegExp(`^${id2}, started, n2, ${peerUrl2}, http://`, "m").test(out)
        ? out
        : undefined;
    });
    const promoted = await waitFor("promotion", 20_000, async () => {
      const r = await etcdctl(endpoints, ["member", "promote", id2]);
      if (r.code === 0) return r;
      assert.match(r.stderr, /in sync with leader/);
      return undefined;
    });
    assert.match(promoted.stdout, new RegExp(`^Member\\s+${id2} promoted`, "m"));
    assert.match(
      (await etcdctl(endpoints, ["member", "list"])).stdout,
      new RegExp(
        `^${id2}, started, n2, ${peerUrl2}, http://127\\.0\\.0\\.1:${client2}, false$`,
        "m",
      ),
    );
  } finally {
    for (const stop of stops) stop();
    cluster.stop();
  }
});
