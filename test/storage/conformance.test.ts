// Storage conformance: the durable WAL and the simulator's MemoryStorage implement one
// contract (src/raft/storage.ts). The same script of appends, truncations, snapshots and
// installs must leave both in the same recovered state; the WAL must also after reopening.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  asIndex,
  asNodeId,
  asTerm,
  type ConfState,
  type DurableState,
  type Entry,
  type LogStorage,
  NO_NODE,
  type Snapshot,
} from "../../src/raft/index.js";
import { MemoryStorage } from "../../src/sim/index.js";
import { WalStorage } from "../../src/storage/index.js";

const conf: ConfState = {
  voters: [asNodeId("n1"), asNodeId("n2"), asNodeId("n3")],
  votersOutgoing: [],
  learners: [],
};

const entry = (index: number, term: number, text = `e${index}t${term}`): Entry => ({
  index: asIndex(index),
  term: asTerm(term),
  type: "Normal",
  data: new TextEncoder().encode(text),
});

const snapshot = (index: number, term: number): Snapshot => ({
  meta: { index: asIndex(index), term: asTerm(term), confState: conf },
  data: new TextEncoder().encode(`state@${index}`),
});

const range = (lo: number, hi: number, term: number): Entry[] =>
  Array.from({ length: hi - lo + 1 }, (_, i) => entry(lo + i, term));

type Step = (s: LogStorage) => Promise<void>;

const script: { name: string; step: Step }[] = [
  {
    name: "append 1..5",
    step: (s) =>
      s.append(range(1, 5, 1), { term: asTerm(1), vote: asNodeId("n1"), commit: asIndex(2) }),
  },
  {
    name: "hard state only",
    step: (s) => s.append([], { term: asTerm(2), vote: NO_NODE, commit: asIndex(3) }),
  },
  { name: "truncate at 4 and append", step: (s) => s.append(range(4, 7, 2), undefined) },
  { name: "compact to 5", step: (s) => s.saveSnapshot(snapshot(5, 2)) },
  {
    name: "append 8..9",
    step: (s) => s.append(range(8, 9, 2), { term: asTerm(2), vote: NO_NODE, commit: asIndex(8) }),
  },
  { name: "install snapshot at 20", step: (s) => s.installSnapshot(snapshot(20, 3)) },
  {
    name: "append after install",
    step: (s) =>
      s.append(range(21, 23, 3), { term: asTerm(3), vote: NO_NODE, commit: asIndex(21) }),
  },
  {
    name: "truncate right after the snapshot",
    step: (s) =>
      s.append(range(21, 22, 4), { term: asTerm(4), vote: asNodeId("n2"), commit: asIndex(21) }),
  },
];

function view(d: DurableState): unknown {
  return {
    hardState: d.hardState,
    snapshot:
      d.snapshot === undefined ? null : { meta: d.snapshot.meta, data: [...d.snapshot.data] },
    entries: d.entries.map((e) => ({
      index: e.index,
      term: e.term,
      type: e.type,
      data: [...e.data],
    })),
  };
}

test("WalStorage and MemoryStorage recover the same state after every step of the script", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ordo-conformance-"));
  try {
    const memory = new MemoryStorage();
    await memory.load();
    let wal = await WalStorage.open(dir, { segmentBytesMax: 1024 });
    await wal.load();
    for (const { name, step } of script) {
      await step(memory);
      await step(wal);
      const expected = view(await memory.load());
      // Reopen the WAL: the state must come back from disk.
      await wal.close();
      wal = await WalStorage.open(dir, { segmentBytesMax: 1024 });
      assert.deepEqual(view(await wal.load()), expected, `after "${name}"`);
    }
    const final = (await memory.load()) as DurableState;
    assert.equal(final.snapshot?.meta.index, 20);
    assert.deepEqual(
      final.entries.map((e) => [e.index, e.term]),
      [
        [21, 4],
        [22, 4],
      ],
    );
    await wal.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
