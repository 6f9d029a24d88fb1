// Keys and values are bytes: KvClient takes and returns Uint8Array/Buffer beside strings, and
// the `ordo` CLI stores what was typed (raw argv bytes, or --hex-input) and prints it exactly.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { ArgBytes, bytesFromHex, hexOf } from "../../src/cli/argv-bytes.js";
import { runGet, runPut } from "../../src/cli/kv-commands.js";
import { capturedOutput } from "../../src/cli/output.js";
import { KvClient } from "../../src/client/index.js";
import { type RunningMember, startMember, withTimeout } from "../client/harness.js";

const ordo = fileURLToPath(new URL("../../../bin/ordo.js", import.meta.url));

/** Runs a bash script (bash's $'\xff' passes raw bytes as arguments); stdout as bytes. */
function bash(script: string): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-c", script], { stdio: ["ignore", "pipe", "pipe"] });
    const chunks: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => chunks.push(c));
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`bash -c ${script}: still running after 30 s`));
    }, 30_000);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(chunks), stderr });
    });
  });
}

describe("bytes, not only strings", () => {
  let m: RunningMember;
  let c: KvClient;
  before(async () => {
    m = await startMember();
    c = new KvClient([m.endpoint]);
  });
  after(async () => {
    c?.close();
    await m?.close();
  });

  test("KvClient: Uint8Array keys and values go in and come back byte for byte", async () => {
    const key = new Uint8Array([0x62, 0xff, 0x00, 0x01]);
    const value = Buffer.from([0xfe, 0x00, 0x80]);
    await c.put(key, value);
    const res = await c.get(key);
    assert.equal(res.count, 1);
    const kv = res.kvs[0];
    assert.ok(kv !== undefined);
    assert.deepEqual([...kv.keyBytes], [...key]);
    assert.deepEqual([...kv.valueBytes], [...value]);
    // The string view is the lossy UTF-8 decoding; JSON of a KeyValue is as before (no Buffers).
    assert.equal(kv.key, "b\uFFFD\u0000\u0001");
    assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(kv))).sort(), [
      "createRevision",
      "key",
      "lease",
      "modRevision",
      "value",
      "version",
    ]);
    // A string key with the same (lossy) text is another key: bytes are not confused.
    assert.equal((await c.get("b\uFFFD\u0000\u0001")).count, 0);
    // Prefix, range end, compare-and-swap, txn and delete take bytes too.
    assert.equal((await c.get(Buffer.from([0x62, 0xff]), { prefix: true })).count, 1);
    assert.equal(
      (await c.get(Buffer.from([0x62]), { rangeEnd: Buffer.from([0x62, 0xff, 0x01]) })).count,
      1,
    );
    assert.equal(await c.compareAndSwap(key, Buffer.from([0x00]), "never"), false);
    assert.equal(await c.compareAndSwap(key, value, Buffer.from([0x01])), true);
    const t = await c.txn({
      compare: [{ key, target: "value", op: "==", value: Buffer.from([0x01]) }],
      success: [{ type: "get", key }],
    });
    const got = t.responses[0];
    assert.ok(t.succeeded && got?.type === "get");
    assert.deepEqual([...(got.kvs[0]?.valueBytes ?? [])], [0x01]);
    assert.equal((await c.delete(key)).deleted, 1);
  });

  test("KvClient: watch events carry the bytes", async () => {
    const key = Buffer.from([0x77, 0xc3]); // a truncated UTF-8 sequence
    const w = c.watch(key);
    try {
      await withTimeout(w.created, "watch created");
      await c.put(key, Buffer.from([0xc3, 0x28]));
      for await (const e of w) {
        assert.deepEqual([...e.kv.keyBytes], [...key]);
        assert.deepEqual([...e.kv.valueBytes], [0xc3, 0x28]);
        break;
      }
    } finally {
      w.close();
    }
  });

  test("ordo put/get: argv bytes that are not UTF-8 are stored and printed exactly", async () => {
    const ep = `--endpoints ${m.endpoint}`;
    const r = await bash(
      `node ${ordo} put $'k\\xff\\x01' $'v\\xfe' ${ep} && node ${ordo} get $'k\\xff\\x01' ${ep}`,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([...r.stdout], [...Buffer.from("OK\nk\xff\x01\nv\xfe\n", "latin1")]);
    // Stored as those bytes, not U+FFFD.
    const res = await c.get(Buffer.from([0x6b, 0xff, 0x01]));
    assert.deepEqual([...(res.kvs[0]?.valueBytes ?? [])], [0x76, 0xfe]);
    // --hex prints etcdctl's \xNN form; a key that does not exist prints nothing, exit 0 (etcdctl).
    const hex = await bash(
      `node ${ordo} get $'k\\xff\\x01' --hex ${ep}; node ${ordo} get $'k\\xfe' ${ep}; echo "rc=$?"`,
    );
    assert.equal(hex.stdout.toString(), "\\x6b\\xff\\x01\n\\x76\\xfe\nrc=0\n");
  });

  test("ordo put/get --hex-input: any bytes, NUL too", async () => {
    const out = capturedOutput();
    assert.equal(
      await runPut(["--hex-input", "6e00ff", "0x00", "--endpoints", m.endpoint], out),
      0,
    );
    const got = capturedOutput();
    assert.equal(await runGet(["6e00ff", "--hex-input", "--endpoints", m.endpoint], got), 0);
    assert.deepEqual([...got.outBytes()], [0x6e, 0x00, 0xff, 0x0a, 0x00, 0x0a]);
    await assert.rejects(
      runGet(["6e0", "--hex-input", "--endpoints", m.endpoint], capturedOutput()),
      /KEY "6e0" is not hexadecimal bytes/,
    );
  });

  test("without the raw bytes an argument that decoded to U+FFFD is refused, not changed", async () => {
    await assert.rejects(
      runPut([`k\uFFFD`, "v", "--endpoints", m.endpoint], capturedOutput()),
      /KEY holds U\+FFFD: bytes that are not UTF-8 were lost before ordo saw them; pass it with --hex-input/,
    );
    // Raw bytes that do not match the parsed strings are not used.
    const args = ["k\uFFFD"];
    assert.throws(() => new ArgBytes(args, [Buffer.from("other")]).at(0, "KEY"), /U\+FFFD/);
    assert.deepEqual(
      [...new ArgBytes(args, [Buffer.from([0x6b, 0xff])]).at(0, "KEY")],
      [0x6b, 0xff],
    );
    assert.equal(hexOf(bytesFromHex("\\x6b\\xff", "KEY")), "\\x6b\\xff");
  });
});
