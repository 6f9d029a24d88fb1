// Properties of the MVCC history under a random workload: a read at any revision not yet
// compacted returns exactly the state the store had when that revision was current; the event
// replay from any such revision equals what a listener heard live (prevKv aside where history
// no longer holds it); and replaying the events onto a map rebuilds the current state.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { encodeCommand, type KvEvent, KvStateMachine, type KvStore } from "../../src/kv/index.js";
import { ctx, kvString } from "./helpers.js";
import { Workload } from "./workload.js";

const all = { key: Uint8Array.of(0), rangeEnd: Uint8Array.of(0) };
const state = (kv: KvStore, revision = 0) =>
  kv
    .range({ ...all, revision })
    .kvs.map(kvString)
    .join(" ");
const show = (e: KvEvent) => `${e.type} ${kvString(e.kv)}`;

describe("history", () => {
  for (const seed of [101, 102, 103]) {
    test(`seed=${seed}: reads at every retained revision, event replay, rebuild`, () => {
      const sm = new KvStateMachine();
      const kv = sm.store;
      const stateAt = new Map<number, string>([[1, ""]]);
      const heard: KvEvent[] = [];
      kv.subscribe((batch) => {
        assert.equal(batch.revision, kv.revision);
        assert.ok(batch.events.every((e) => e.kv.modRevision === batch.revision));
        heard.push(...batch.events);
      });
      const w = new Workload(seed);
      for (let i = 0; i < 1200; i++) {
        const step = w.next();
        sm.apply(encodeCommand(step.command), ctx(step.timestampMs, step.seed));
        stateAt.set(kv.revision, state(kv));
      }
      assert.ok(kv.compactRevision > 1, "the workload compacts");
      for (const [revision, expected] of stateAt) {
        if (revision < kv.compactRevision) continue;
        assert.equal(state(kv, revision), expected, `seed=${seed} revision ${revision}`);
      }

      const start = kv.compactRevision;
      const replay = kv.events({ ...all, startRevision: start, limit: 1_000_000 }).events;
      const live = heard.filter((e) => e.kv.modRevision >= start);
      assert.deepEqual(replay.map(show), live.map(show));
      for (const [i, e] of replay.entries()) {
        if (e.prevKv !== undefined) assert.equal(kvString(e.prevKv), kvString(live[i]!.prevKv!));
      }

      // Rebuild the current state from the state at the compaction point plus the events.
      const rebuilt = new Map<string, string>();
      for (const kv0 of kv.range({ ...all, revision: start }).kvs) {
        rebuilt.set(Buffer.from(kv0.key).toString("hex"), kvString(kv0));
      }
      for (const e of replay) {
        if (e.kv.modRevision === start) continue; // already in the state at `start`
        const id = Buffer.from(e.kv.key).toString("hex");
        if (e.type === "PUT") rebuilt.set(id, kvString(e.kv));
        else rebuilt.delete(id);
      }
      const sorted = [...rebuilt.entries()].sort(([a], [c]) => (a < c ? -1 : a > c ? 1 : 0));
      assert.equal(sorted.map(([, v]) => v).join(" "), state(kv));
    });
  }
});
