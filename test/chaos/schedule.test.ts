// The chaos fault schedule: one seed, one schedule; every selected kind in a round; faults
// that must stay within the minority do.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  buildSchedule,
  FAULT_KINDS,
  type FaultKind,
  parseFaultKinds,
} from "../../src/chaos/schedule.js";

const all = [...FAULT_KINDS];

test("the same seed gives the same schedule, another seed another", () => {
  const a = buildSchedule({ seed: 42, nodes: 5, durationMs: 300_000, kinds: all });
  const b = buildSchedule({ seed: 42, nodes: 5, durationMs: 300_000, kinds: all });
  const c = buildSchedule({ seed: 43, nodes: 5, durationMs: 300_000, kinds: all });
  assert.ok(a.length > 20);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

test("steps are in order, within the duration, and never overlap", () => {
  for (let seed = 0; seed < 50; seed++) {
    const s = buildSchedule({ seed, nodes: 3, durationMs: 60_000, kinds: all });
    let end = 0;
    for (const { atMs, step } of s) {
      assert.ok(atMs >= end, `seed ${seed}: step at ${atMs} before the previous ended at ${end}`);
      end = atMs + step.holdMs;
      assert.ok(end <= 60_000);
    }
  }
});

test("every selected kind appears once a round's worth of time has passed", () => {
  for (let seed = 0; seed < 200; seed++) {
    for (const nodes of [3, 5]) {
      const s = buildSchedule({ seed, nodes, durationMs: 48_000, kinds: all });
      const kinds = new Set(s.map((x) => x.step.kind));
      assert.equal(kinds.size, all.length, `seed ${seed} nodes ${nodes}: ${[...kinds]}`);
    }
  }
  const only: FaultKind[] = ["pause", "transfer"];
  const s = buildSchedule({ seed: 1, nodes: 3, durationMs: 60_000, kinds: only });
  assert.ok(s.every((x) => only.includes(x.step.kind)));
});

test("kills and pauses stay within the minority; quorum loss takes a majority", () => {
  for (let seed = 0; seed < 100; seed++) {
    for (const nodes of [3, 5]) {
      const minority = Math.floor((nodes - 1) / 2);
      for (const { step } of buildSchedule({ seed, nodes, durationMs: 120_000, kinds: all })) {
        if (step.kind === "kill" || step.kind === "pause") {
          assert.ok(step.targets.length >= 1 && step.targets.length <= minority);
          assert.ok(step.holdMs > 10 * 50 * 2, "a pause outlasts the election timeout");
        }
        if (step.kind === "quorum-loss") {
          assert.equal(new Set(step.members).size, minority + 1);
          assert.ok(step.members.every((m) => m >= 0 && m < nodes));
        }
        if (step.kind === "partition" && step.shape === "bridge") assert.equal(nodes, 5);
      }
    }
  }
});

test("--faults parses kinds and refuses unknown ones", () => {
  assert.deepEqual(parseFaultKinds("all"), all);
  assert.deepEqual(parseFaultKinds("kill, pause,kill"), ["kill", "pause"]);
  assert.throws(() => parseFaultKinds("kill,fire"), /unknown fault kind "fire"/);
  assert.throws(() => parseFaultKinds(","), /names no fault kind/);
  assert.throws(() => buildSchedule({ seed: 1, nodes: 4, durationMs: 1000, kinds: all }), /3 or 5/);
});
