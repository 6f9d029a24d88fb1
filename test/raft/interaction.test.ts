// Runs every scripted interaction in test/raft/testdata/*.txt (the format: interaction.ts) and
// compares what each command prints with the file. ORDO_REWRITE=1 writes the output instead.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import type { TestingFaults } from "../../src/raft/index.js";
import { Interaction, parseScript, renderScript } from "./interaction.js";

// dist/test/raft → the repository's test/raft/testdata; when built out of tree, the cwd's.
const besideDist = new URL("../../../test/raft/testdata/", import.meta.url);
const dataDir = existsSync(besideDist)
  ? besideDist
  : pathToFileURL(`${process.cwd()}/test/raft/testdata/`);
const rewrite = process.env.ORDO_REWRITE === "1";

describe("scripted interactions (test/raft/testdata)", () => {
  const files = readdirSync(dataDir)
    .filter((f) => f.endsWith(".txt"))
    .sort();
  test("the scripts are there", () => {
    assert.ok(files.length >= 5, `only ${files.length} scripts in ${dataDir.pathname}`);
  });
  for (const file of files) {
    test(file, () => {
      const url = new URL(file, dataDir);
      const script = parseScript(readFileSync(url, "utf8"));
      const run = new Interaction();
      const outputs: string[] = [];
      for (const block of script.blocks) {
        let out: string;
        try {
          out = run.run(block.command);
        } catch (e) {
          out = `error: ${(e as Error).message}`;
        }
        outputs.push(out);
        if (!rewrite) {
          assert.equal(out, block.expected, `${file}:${block.line}: ${block.command}`);
        }
      }
      if (rewrite) writeFileSync(url, renderScript(script, outputs));
      assert.ok(!outputs.some((o) => o.includes("VIOLATION")), `${file}: a safety check failed`);
    });
  }
});

/** Runs a script against a core broken by `faults`; returns the first block that prints otherwise. */
function firstDifference(file: string, faults: TestingFaults): string | undefined {
  const script = parseScript(readFileSync(new URL(file, dataDir), "utf8"));
  const run = new Interaction(faults);
  for (const block of script.blocks) {
    let out: string;
    try {
      out = run.run(block.command);
    } catch (e) {
      out = `error: ${(e as Error).message}`;
    }
    if (out !== block.expected) return `${file}:${block.line} ${block.command}\n${out}`;
  }
  return undefined;
}

describe("each script fails against a core broken in the rule it shows", () => {
  const cases: [string, TestingFaults, RegExp][] = [
    // The leader commits "old" (2:1) by counting n1, n2, n3: status n1 shows commit=2.
    ["figure8.txt", { commitPriorTermByCounting: true }, /n1 Leader t3 .*commit=2/],
    // n3, behind, wins term 3 when votes skip the up-to-date check.
    ["elections.txt", { skipVoteUpToDateCheck: true }, /VoteResponse t3 granted/],
    // Without the joint step n1 is out of the configuration as soon as the change applies, and
    // hands leadership over (TimeoutNow) instead of leading the joint configuration.
    ["joint-conf-change.txt", { skipJointConsensus: true }, /n1->n2 TimeoutNow/],
  ];
  for (const [file, faults, shows] of cases) {
    test(`${file} with ${Object.keys(faults).join(", ")}`, () => {
      const diff = firstDifference(file, faults);
      assert.ok(diff !== undefined, `${file} passed against a broken core`);
      assert.match(diff, shows, diff);
    });
  }
});

describe("the script format", () => {
  test("parses blocks and prose, and renders them back unchanged", () => {
    const source = "# prose\n\ncluster voters=1\n----\nok\n\n# more\nstatus\n----\nn1 a\nn1 b\n";
    const script = parseScript(source);
    assert.deepEqual(
      script.blocks.map((b) => [b.command, b.expected]),
      [
        ["cluster voters=1", "ok"],
        ["status", "n1 a\nn1 b"],
      ],
    );
    assert.equal(renderScript(script, ["ok", "n1 a\nn1 b"]), source);
  });

  test("a command without ---- is an error naming its line", () => {
    assert.throws(() => parseScript("cluster voters=3\nstatus\n"), /line 1: "cluster voters=3"/);
  });

  test("an output that differs fails the comparison", () => {
    const run = new Interaction();
    assert.equal(run.run("cluster voters=3"), "ok");
    assert.notEqual(run.run("status n1"), "n1 Leader t1");
  });
});
