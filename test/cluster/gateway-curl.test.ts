// The JSON gateway's watch stream and lease calls from curl, against real member processes:
// `curl -N` on /v3/watch at one member sees a put that etcdctl makes at another, line by line
// as etcd's gateway streams it; a lease is granted, kept alive, asked about and revoked with
// curl, and its key goes with it. Waits are for the lines themselves, each with a deadline.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { etcdctlMissing, etcdctlOk } from "./etcdctl.js";
import { startProcessCluster } from "./processes.js";

const CURL = "/usr/bin/curl";
const curlMissing: false | string = existsSync(CURL) ? false : `${CURL} not installed`;
const b64 = (text: string): string => Buffer.from(text).toString("base64");

/** Runs curl to its end (bounded) and parses its stdout as JSON lines. */
function curl(url: string, body: string): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(CURL, [
      "-sS",
      "--max-time",
      "20",
      "-X",
      "POST",
      "--data-binary",
      body,
      url,
    ]);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    child.on("close", (code) => {
      if (code !== 0) reject(new Error(`curl ${url}: exit ${code}: ${stderr}`));
      else resolve(linesOf(stdout));
    });
  });
}

const linesOf = (text: string): Record<string, unknown>[] =>
  text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** `curl -N` left running: its output lines as they come, until stopped. */
interface CurlStream {
  readonly child: ChildProcess;
  /** Resolves with the first line matching `match`; rejects after `ms` or if curl exits. */
  line(
    match: (o: Record<string, unknown>) => boolean,
    ms: number,
  ): Promise<Record<string, unknown>>;
}

function curlStream(url: string, body: string): CurlStream {
  const child = spawn(CURL, ["-sS", "-N", "-X", "POST", "--data-binary", body, url]);
  let text = "";
  let exited = false;
  const listeners = new Set<() => void>();
  child.stdout?.on("data", (c: Buffer) => {
    text += c.toString();
    for (const l of listeners) l();
  });
  child.on("close", () => {
    exited = true;
    for (const l of listeners) l();
  });
  return {
    child,
    line: (match, ms) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const complete = text.slice(0, text.lastIndexOf("\n") + 1);
          const found = linesOf(complete).find(match);
          if (found !== undefined) done(() => resolve(found));
          else if (exited) done(() => reject(new Error(`curl exited; it printed: ${text}`)));
        };
        const timer = setTimeout(
          () => done(() => reject(new Error(`no such line within ${ms} ms: ${text}`))),
          ms,
        );
        const done = (then: () => void): void => {
          clearTimeout(timer);
          listeners.delete(check);
          then();
        };
        listeners.add(check);
        check();
      }),
  };
}

test("curl: a watch stream on one member sees an etcdctl put made at another; a lease's whole life", {
  timeout: 120_000,
  skip: curlMissing || etcdctlMissing,
}, async () => {
  const cluster = await startProcessCluster(3);
  let watch: CurlStream | undefined;
  try {
    const [first, second] = cluster.clientPorts.map((p) => `http://127.0.0.1:${p}`) as [
      string,
      string,
    ];
    watch = curlStream(
      `${first}/v3/watch`,
      JSON.stringify({ create_request: { key: b64("curl/"), range_end: b64("curl0") } }),
    );
    const created = await watch.line(
      (o) => (o.result as { created?: boolean })?.created === true,
      10_000,
    );
    assert.match(
      String((created.result as { header: { revision: string } }).header.revision),
      /^\d+$/,
    );

    await etcdctlOk(second, ["put", "curl/k", "from-etcdctl"]);
    const event = await watch.line(
      (o) => Array.isArray((o.result as { events?: unknown[] })?.events),
      10_000,
    );
    const [e] = (event.result as { events: { type?: string; kv: Record<string, string> }[] })
      .events;
    assert.equal(e?.type, undefined, "a PUT, the enum's zero, is left out as etcd's gateway does");
    assert.equal(e?.kv.key, b64("curl/k"));
    assert.equal(e?.kv.value, b64("from-etcdctl"));
    assert.equal(e?.kv.version, "1");
    watch.child.kill("SIGTERM");

    // A lease from start to end with curl, the key attached with etcdctl (hex lease id).
    const [grant] = await curl(`${first}/v3/lease/grant`, JSON.stringify({ TTL: 60 }));
    const id = String(grant?.ID);
    assert.match(id, /^[1-9]\d*$/);
    assert.equal(grant?.TTL, "60");
    const hex = BigInt(id).toString(16);
    await etcdctlOk(second, ["put", "curl/leased", "v", `--lease=${hex}`]);

    const keepalive = await curl(`${second}/v3/lease/keepalive`, JSON.stringify({ ID: id }));
    assert.equal(keepalive.length, 1);
    const ka = keepalive[0]?.result as Record<string, string>;
    assert.equal(ka.ID, id);
    assert.equal(ka.TTL, "60");

    const [ttl] = await curl(
      `${first}/v3/kv/lease/timetolive`,
      JSON.stringify({ ID: id, keys: true }),
    );
    assert.equal(ttl?.grantedTTL, "60");
    assert.deepEqual(ttl?.keys, [b64("curl/leased")]);

    const [revoke] = await curl(`${first}/v3/lease/revoke`, JSON.stringify({ ID: id }));
    assert.deepEqual(Object.keys(revoke ?? {}), ["header"]);
    assert.equal((await etcdctlOk(second, ["get", "curl/leased"])).trim(), "");
    const [after] = await curl(`${first}/v3/lease/timetolive`, JSON.stringify({ ID: id }));
    assert.equal(after?.TTL, "-1");
  } finally {
    if (watch !== undefined && watch.child.exitCode === null) watch.child.kill("SIGKILL");
    cluster.stop();
  }
});
