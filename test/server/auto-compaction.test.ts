// Auto-compaction (etcd 3.4's periodic and revision compactors) on an injected clock: what is
// compacted when, only on the leader, failures retried, and the flags as etcd reads them.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  AutoCompactor,
  type CompactorClock,
  parseAutoCompaction,
} from "../../src/server/auto-compaction.js";

class FakeClock implements CompactorClock {
  ms = 0;
  every = 0;
  now(): number {
    return this.ms;
  }
  setInterval(_f: () => void, ms: number) {
    this.every = ms;
    return { cancel: () => {} };
  }
}

function rig(policy: Parameters<typeof parseAutoCompaction>, leader = true) {
  const clock = new FakeClock();
  const state = { revision: 1, leader, fail: undefined as unknown, compacted: [] as number[] };
  const parsed = parseAutoCompaction(...policy);
  assert.ok(parsed !== undefined);
  const c = new AutoCompactor({
    policy: parsed,
    isLeader: () => state.leader,
    revision: () => state.revision,
    compact: async (revision) => {
      if (state.fail !== undefined) {
        const e = state.fail;
        state.fail = undefined;
        throw e;
      }
      state.compacted.push(revision);
    },
    clock,
    checkIntervalMs: 1000,
  });
  c.start();
  /** Advances by one interval, with `writes` revisions made during it, and runs a round. */
  const step = async (writes = 1) => {
    state.revision += writes;
    clock.ms += clock.every;
    await c.round();
  };
  return { clock, state, step };
}

describe("auto-compaction", () => {
  test("the flags as etcd 3.4 reads them", () => {
    assert.equal(parseAutoCompaction(undefined, undefined), undefined);
    assert.equal(parseAutoCompaction("periodic", "0"), undefined);
    assert.deepEqual(parseAutoCompaction(undefined, "1h"), {
      mode: "periodic",
      retentionMs: 3_600_000,
    });
    assert.deepEqual(parseAutoCompaction("periodic", "72"), {
      mode: "periodic",
      retentionMs: 72 * 3_600_000,
    });
    assert.deepEqual(parseAutoCompaction("periodic", "1h30m"), {
      mode: "periodic",
      retentionMs: 5_400_000,
    });
    assert.deepEqual(parseAutoCompaction("periodic", "500ms"), {
      mode: "periodic",
      retentionMs: 500,
    });
    assert.deepEqual(parseAutoCompaction("revision", "1000"), {
      mode: "revision",
      retention: 1000,
    });
    assert.throws(() => parseAutoCompaction("daily", "1"), /periodic or revision/);
    assert.throws(() => parseAutoCompaction("revision", "1h"), /number of revisions/);
    assert.throws(() => parseAutoCompaction("periodic", "1 hour"), /a duration/);
  });

  test("periodic: samples every retention/10, compacts to the revision of one retention ago", async () => {
    const { clock, state, step } = rig(["periodic", "10s"]);
    assert.equal(clock.every, 1000);
    for (let i = 0; i < 9; i++) await step(); // 9 s: not yet a retention since the start
    assert.deepEqual(state.compacted, []);
    await step(); // 10 s: revision 11; the oldest sample kept (at 0 s) saw revision 2
    assert.deepEqual(state.compacted, [2]);
    for (let i = 0; i < 9; i++) await step(); // samples start afresh after a compaction
    assert.deepEqual(state.compacted, [2]);
    await step(); // 20 s: revision 21; the oldest of the new samples (at 11 s) saw 12
    assert.deepEqual(state.compacted, [2, 12]);
  });

  test("revision: keeps the last N revisions; a follower never compacts; failures are retried", async () => {
    const { state, step } = rig(["revision", "5"]);
    await step(3); // revision 4: 4 - 5 < 1, nothing
    assert.deepEqual(state.compacted, []);
    await step(6); // revision 10 → 5
    assert.deepEqual(state.compacted, [5]);
    await step(0); // nothing new
    assert.deepEqual(state.compacted, [5]);
    state.fail = Object.assign(new Error("no leader"), { code: "NO_LEADER" });
    await step(5); // revision 15 → 10 fails
    assert.deepEqual(state.compacted, [5]);
    await step(0); // retried
    assert.deepEqual(state.compacted, [5, 10]);
    state.leader = false;
    await step(10);
    assert.deepEqual(state.compacted, [5, 10], "followers do not compact");
  });
});
