// The house rules of DESIGN.md's folder table, as a test:
//  - a folder imports only the folders its row allows;
//  - it reaches another folder only through that folder's index.ts;
//  - the pure folders (raft/, check/, lib/, sim/ but for its worker-thread runner) name no
//    clock, global randomness, timer, environment or Node built-in, so that the core, the
//    checkers and the simulator stay deterministic (kv/ has its own, stricter test in
//    test/kv/tidy.test.ts).
// Known exceptions are listed with their reason; the test fails on any new one and on a listed
// one that no longer exists, so the list only shrinks.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { posix } from "node:path";
import { describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { codeOf, importsOf, NONDETERMINISTIC_APIS } from "./rules.js";

// dist/test/tidy → the repository's src/; when built out of tree, the working directory's.
const besideDist = new URL("../../../src/", import.meta.url);
const srcDir = existsSync(new URL("raft/index.ts", besideDist))
  ? besideDist
  : pathToFileURL(`${process.cwd()}/src/`);

/** DESIGN.md's "may import" column. `*`: anything (the CLI wires everything). */
const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  lib: [],
  api: ["lib"],
  raft: ["lib"],
  check: ["lib"],
  storage: ["raft", "lib"],
  transport: ["raft", "lib"],
  rsm: ["raft", "storage", "transport", "lib"],
  kv: ["rsm", "raft", "lib"],
  server: ["api", "rsm", "kv", "raft", "storage", "transport", "lib"],
  client: ["api", "lib"],
  sim: ["raft", "rsm", "kv", "check", "lib", "storage"],
  chaos: ["api", "check", "client", "lib", "kv", "raft", "rsm", "server", "storage", "transport"],
  cli: ["*"],
};

/** Imports that break a rule today, each with why; `file → target`. */
const KNOWN_EXCEPTIONS: Readonly<Record<string, string>> = {
  "kv/kv-store.ts → ../rsm/state-machine.js":
    "types only (test/kv/tidy.test.ts): rsm/index.ts would pull the runtime into kv/'s graph",
  "kv/kv-state-machine.ts → ../rsm/state-machine.js": "the same",
};

/** Files of a pure folder that are allowed Node: the simulator's worker-thread runner. */
const PURE_EXEMPT = new Set(["sim/runner.ts", "sim/worker.ts"]);
const PURE = ["raft", "check", "lib", "sim"];

const BANNED = NONDETERMINISTIC_APIS;

function sourcesOf(folder: string): { file: string; source: string }[] {
  const dir = new URL(`${folder}/`, srcDir);
  const out: { file: string; source: string }[] = [];
  const walk = (rel: string) => {
    for (const entry of readdirSync(new URL(rel, dir), { withFileTypes: true })) {
      if (entry.isDirectory()) walk(`${rel}${entry.name}/`);
      else if (entry.name.endsWith(".ts"))
        out.push({
          file: `${folder}/${rel}${entry.name}`,
          source: readFileSync(new URL(`${rel}${entry.name}`, dir), "utf8"),
        });
    }
  };
  walk("");
  return out;
}

const folders = readdirSync(srcDir, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort();

describe("folder boundaries (DESIGN.md)", () => {
  test("every folder has a row in the table", () => {
    for (const f of folders) assert.ok(f in MAY_IMPORT, `src/${f} is missing from MAY_IMPORT`);
  });

  test("imports follow the table and go through index.ts, but for the known exceptions", () => {
    const found: string[] = [];
    for (const folder of folders) {
      const allowed = MAY_IMPORT[folder] ?? [];
      for (const { file, source } of sourcesOf(folder)) {
        for (const from of importsOf(source)) {
          if (!from.startsWith(".")) continue; // a package or node:
          // Resolved from the file's own directory, so a sub-folder (server/gateway/) reaching
          // a sibling (../grpc/) stays inside its folder and ../../api/ is still checked.
          const resolved = posix.normalize(posix.join(posix.dirname(file), from));
          const [target = "", ...restParts] = resolved.split("/");
          if (target === folder) continue; // own folder
          const rest = restParts.join("/");
          const ok = (allowed.includes("*") || allowed.includes(target)) && rest === "index.js";
          if (!ok) found.push(`${file} → ${from}`);
        }
      }
    }
    const unexpected = found.filter((f) => !(f in KNOWN_EXCEPTIONS));
    assert.deepEqual(unexpected, [], "imports that break DESIGN.md's table");
    const gone = Object.keys(KNOWN_EXCEPTIONS).filter((k) => !found.includes(k));
    assert.deepEqual(gone, [], "fixed: remove them from KNOWN_EXCEPTIONS");
  });

  test("the pure folders use no clock, randomness, timers, environment or Node API", () => {
    for (const folder of PURE) {
      for (const { file, source } of sourcesOf(folder)) {
        if (PURE_EXEMPT.has(file)) continue;
        const code = codeOf(source);
        for (const pattern of BANNED) assert.doesNotMatch(code, pattern, `${file} uses ${pattern}`);
        for (const from of importsOf(source)) {
          assert.ok(!from.startsWith("node:"), `${file} imports ${from}`);
        }
      }
    }
  });

  test("the rules can fail: a forbidden import and a clock are caught", () => {
    const bad = 'import { x } from "../server/member.js";\nconst t = Date.now();\n';
    assert.deepEqual(importsOf(bad), ["../server/member.js"]);
    assert.ok(BANNED.some((p) => p.test(codeOf(bad))));
    assert.ok(!BANNED.some((p) => p.test(codeOf('// Date.now() is banned\nconst s = "Date";\n'))));
  });
});
