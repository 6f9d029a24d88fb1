// The "tidy" test for kv/: the state machine must be deterministic, so its source may not name a
// clock, global randomness, timers, the environment or Node built-ins, and may import only its
// own files, the shared leaf (src/lib: codec, bytes, CRC, asserts; held to the same rules and
// importing nothing),
// types from the runtime's StateMachine interface and the Raft core, and the vetted pure
// libraries below.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import { codeOf, NONDETERMINISTIC_APIS } from "../tidy/rules.js";

// dist/test/kv → the repository's src/kv; when built out of tree, the working directory's.
const besideDist = new URL("../../../src/kv/", import.meta.url);
const kvDir = existsSync(new URL("index.ts", besideDist))
  ? besideDist
  : pathToFileURL(`${process.cwd()}/src/kv/`);
const libDir = new URL("../lib/", kvDir);

const banned = [
  ...NONDETERMINISTIC_APIS,
  /\bBuffer\b/,
  /\bTextEncoder\b|\bTextDecoder\b/,
  /\bJSON\.stringify\b/, // object key order is insertion order: a determinism trap in encodings
];

/**
 * Libraries kv/ may use: pure, deterministic data structures whose source was read for clocks,
 * randomness, timers and I/O (none). sorted-btree: the key index's B+ tree.
 */
const vettedLibraries = ["sorted-btree"];

test("src/kv uses no nondeterministic or Node APIs and imports only what it may", () => {
  const files = readdirSync(kvDir).filter((f) => f.endsWith(".ts"));
  assert.ok(files.includes("index.ts") && files.length > 10);
  for (const file of files) {
    assert.match(file, /^[a-z0-9]+(-[a-z0-9]+)*\.ts$/, `${file}: kebab-case file names`);
    const source = readFileSync(new URL(file, kvDir), "utf8");
    const code = codeOf(source);
    for (const pattern of banned) assert.doesNotMatch(code, pattern, `${file} uses ${pattern}`);
    for (const m of source.matchAll(/^(import|export)\b[^;]*?from "([^"]+)"/gms)) {
      const [statement, , from] = m;
      if (from!.startsWith("./") || vettedLibraries.includes(from!)) continue;
      if (from === "../lib/index.js") continue; // deterministic pure code, checked below
      assert.ok(
        from === "../rsm/state-machine.js" || from === "../raft/index.js",
        `${file} imports ${from}`,
      );
      assert.match(statement, /^import type\b/, `${file}: only types from ${from}`);
    }
  }
});

test("src/lib, which kv/ uses, obeys the same bans and imports only its own files", () => {
  const files = readdirSync(libDir).filter((f) => f.endsWith(".ts"));
  assert.ok(files.includes("index.ts"));
  for (const file of files) {
    const source = readFileSync(new URL(file, libDir), "utf8");
    const code = codeOf(source);
    for (const pattern of banned) assert.doesNotMatch(code, pattern, `${file} uses ${pattern}`);
    for (const m of source.matchAll(/^(import|export)\b[^;]*?from "([^"]+)"/gms)) {
      assert.ok(m[2]!.startsWith("./"), `lib/${file} imports ${m[2]}`);
    }
  }
});
