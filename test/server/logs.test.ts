// A real member's stderr is etcd-style JSON logs: every line one JSON object with a level name,
// an ISO-8601 time, the member's name and a message; no key twice in one object.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { test } from "node:test";
import { KvClient } from "../../src/client/index.js";
import { createLogger } from "../../src/server/logger.js";
import { freePort } from "../cluster/ports.js";
import { spawnMember, waitForLeader } from "../cluster/processes.js";

const LEVELS = new Set(["trace", "debug", "info", "warn", "error", "fatal"]);
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** The keys of a JSON object's top level, in order, duplicates kept. */
function topLevelKeys(json: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < json.length; i++) {
    const ch = json[i];
    if (ch === '"') {
      let j = i + 1;
      while (json[j] !== '"') j += json[j] === "\\" ? 2 : 1;
      if (depth === 1 && expectKey) keys.push(JSON.parse(json.slice(i, j + 1)) as string);
      expectKey = false;
      i = j;
    } else if (ch === "{" || ch === "[") {
      depth++;
      expectKey = ch === "{" && depth === 1;
    } else if (ch === "}" || ch === "]") depth--;
    else if (ch === "," && depth === 1) expectKey = true;
  }
  return keys;
}

function assertLogLine(line: string, member: string): Record<string, unknown> {
  const o = JSON.parse(line) as Record<string, unknown>;
  assert.ok(LEVELS.has(o.level as string), `level name in ${line}`);
  assert.match(o.ts as string, ISO, line);
  assert.ok(Math.abs(Date.parse(o.ts as string) - Date.now()) < 10 * 60_000, line);
  assert.equal(o.member, member, line);
  assert.equal(typeof o.msg, "string", line);
  const keys = topLevelKeys(line);
  assert.deepEqual(keys.slice(0, 2), ["level", "ts"], line);
  assert.equal(new Set(keys).size, keys.length, `a key twice in ${line}`);
  return o;
}

test("every stderr line of a real member is a JSON log object with a level name and an ISO time", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ordo-logs-"));
  const clientPort = await freePort();
  const peerPort = await freePort();
  const m = await spawnMember(
    "n1",
    join(dir, "n1"),
    clientPort,
    peerPort,
    `n1=http://127.0.0.1:${peerPort}`,
    ["--log-level", "debug"],
  );
  try {
    await waitForLeader([clientPort]);
    const c = new KvClient([`127.0.0.1:${clientPort}`]);
    try {
      for (let i = 0; i < 5; i++) await c.put(`k${i}`, "v");
    } finally {
      c.close();
    }
  } finally {
    m.child.kill("SIGTERM");
    await m.exited;
    rmSync(dir, { recursive: true, force: true });
  }
  const lines = m
    .stderr()
    .split("\n")
    .filter((l) => l !== "");
  assert.ok(lines.length >= 5, m.stderr());
  const messages = lines.map((l) => assertLogLine(l, "n1").msg);
  for (const expected of [
    "member started",
    "ready to serve client requests",
    "leader changed",
    "stopping",
  ])
    assert.ok(messages.includes(expected), `"${expected}" among ${JSON.stringify(messages)}`);
});

test("a field named like a log key is renamed, not written twice", () => {
  let text = "";
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  const log = createLogger("n7", "info", sink);
  log("warn", "clash", { msg: "field", member: "other", level: 3, name: "n7" });
  log("debug", "below the level");
  const lines = text.split("\n").filter((l) => l !== "");
  assert.equal(lines.length, 1);
  const o = assertLogLine(lines[0] as string, "n7");
  assert.deepEqual(
    [o.level, o.msg, o.msg_, o.member_, o.level_, o.name],
    ["warn", "clash", "field", "other", 3, "n7"],
  );
});
