// The simulator's wiped-disk fault (issue 11): a member crashed, its disk replaced by an empty
// one with a new incarnation, restarted under its old id and options. Its peers must refuse it
// by its incarnation (the handshake model in simulation.ts): it is fenced (stops for good), no
// vote of its new life is ever counted, and every check passes. With the testing fault
// acceptWipedMember it is let in, and Vote Safety (one vote per voter per term) and Election
// Safety catch its double vote.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RaftInvariants } from "../../src/check/raft-invariants.js";
import { runSeed, runSeeds, type SeedSummary } from "../../src/sim/index.js";

const failures = (results: readonly SeedSummary[]) =>
  results
    .filter((r) => !r.ok)
    .map((r) => ({
      seed: r.seed,
      v: r.violations.slice(0, 2),
      live: r.livenessFailures.slice(0, 2),
    }));

const sum = (results: readonly SeedSummary[], f: (r: SeedSummary) => number): number =>
  results.reduce((a, r) => a + f(r), 0);

describe("wiped disks in the simulator", () => {
  test("Vote Safety: one candidate per voter per term", () => {
    const inv = new RaftInvariants();
    inv.observeVote("n3", 4, "n1");
    inv.observeVote("n3", 4, "n1"); // a duplicate delivery
    inv.observeVote("n3", 5, "n2"); // another term
    assert.ok(inv.ok);
    inv.observeVote("n3", 4, "n2");
    assert.equal(inv.violations[0]?.invariant, "VoteSafety");
    assert.match(inv.violations[0]?.detail ?? "", /voted for n1 and for n2 in term 4/);
  });

  test("same seed, same run with wipes", () => {
    const a = runSeed({ seed: 5, faults: "wipe" });
    const b = runSeed({ seed: 5, faults: "wipe" });
    assert.ok(a.wipes > 0);
    assert.equal(a.traceHash, b.traceHash);
    assert.equal(a.events, b.events);
  });

  test("a wiped member is refused by its peers and fenced; every check passes (core)", async () => {
    const seeds = Array.from({ length: 60 }, (_, i) => 2000 + i);
    const results = await runSeeds({ seeds, base: { faults: "wipe" } });
    assert.deepEqual(failures(results), []);
    const wipes = sum(results, (r) => r.wipes);
    assert.ok(wipes >= 60, `wipes: ${wipes}`);
    assert.ok(sum(results, (r) => r.incarnationRefusals) > wipes, "refusals counted");
    // Nearly every wiped member is caught by a peer that knew it (a wipe of a member no peer
    // ever heard from is a first start, and harmless).
    assert.ok(sum(results, (r) => r.fenced.length) >= wipes * 0.8);
  });

  test("a wiped member is refused by its peers and fenced; every check passes (runtime)", async () => {
    const seeds = Array.from({ length: 20 }, (_, i) => 3000 + i);
    const results = await runSeeds({ seeds, base: { faults: "wipe", stack: "runtime" } });
    assert.deepEqual(failures(results), []);
    assert.ok(sum(results, (r) => r.fenced.length) > 0);
  });

  test("with --reconfig too (runtime)", async () => {
    const seeds = Array.from({ length: 12 }, (_, i) => 3100 + i);
    const results = await runSeeds({
      seeds,
      base: { faults: "wipe", stack: "runtime", reconfig: true },
    });
    assert.deepEqual(failures(results), []);
  });

  test("let in (testing fault acceptWipedMember), its double vote is caught (core)", async () => {
    const seeds = Array.from({ length: 100 }, (_, i) => i + 1);
    const results = await runSeeds({
      seeds,
      base: { faults: "wipe", testingFaults: { acceptWipedMember: true } },
    });
    const votes = results.filter((r) => r.violations.some((v) => v.invariant === "VoteSafety"));
    assert.ok(votes.length > 0, "no seed caught a wiped member voting twice in one term");
    assert.ok(
      results.some((r) => r.violations.some((v) => v.invariant === "ElectionSafety")) ||
        votes.length > 0,
    );
    assert.equal(
      sum(results, (r) => r.fenced.length),
      0,
      "nobody is refused with the fault",
    );
  });

  test("let in (testing fault acceptWipedMember), the checks catch it (runtime)", async () => {
    const seeds = Array.from({ length: 60 }, (_, i) => i + 1);
    const results = await runSeeds({
      seeds,
      base: { faults: "wipe", stack: "runtime", testingFaults: { acceptWipedMember: true } },
    });
    const of = (name: string) =>
      results.filter((r) => r.violations.some((v) => v.invariant === name)).length;
    // Its double vote (Vote Safety) and what its forgotten acknowledgements allow: a leader
    // without committed entries (Leader Completeness).
    assert.ok(of("VoteSafety") > 0, "no runtime seed caught the double vote");
    assert.ok(of("LeaderCompleteness") > 0, "no runtime seed caught a forgotten acknowledgement");
  });
});
