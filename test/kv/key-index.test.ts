// The key index against a sorted array of the same keys: order, spans (single, [start, end),
// open-ended, empty and inverted), point lookups, and forgetting keys compaction emptied.
import assert from "node:assert/strict";
import { test } from "node:test";
import { KeyIndex, spanOf } from "../../src/kv/key-index.js";
import { compareBytes } from "../../src/lib/index.js";
import { Xoshiro128 } from "../../src/raft/prng.js";

const text = (b: Uint8Array): string => Array.from(b, (c) => String.fromCharCode(c)).join("");
const bytesOf = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

function randomKey(prng: Xoshiro128): Uint8Array {
  const out = new Uint8Array(1 + prng.int(4));
  for (let i = 0; i < out.length; i++) out[i] = 0x61 + prng.int(6) - (prng.int(8) === 0 ? 0x61 : 0);
  return out;
}

test("a thousand random keys: order, lookups and every kind of span agree with a sorted array", () => {
  const prng = new Xoshiro128(11);
  const index = new KeyIndex();
  const reference = new Map<string, Uint8Array>();
  for (let i = 0; i < 1000; i++) {
    const key = randomKey(prng);
    const h = index.getOrCreate(key);
    assert.equal(index.getOrCreate(key), h, "the same key finds the same history");
    reference.set(text(key), key);
  }
  const sorted = [...reference.values()].sort(compareBytes).map(text);
  assert.equal(index.size, sorted.length);
  assert.deepEqual(
    [...index.all()].map((h) => text(h.key)),
    sorted,
  );
  for (let i = 0; i < 300; i++) {
    const a = randomKey(prng);
    const b = randomKey(prng);
    const openEnded = b.length === 1 && b[0] === 0; // etcd's "\0": every key from a on
    const inRange = sorted.filter(
      (k) => compareBytes(bytesOf(k), a) >= 0 && (openEnded || compareBytes(bytesOf(k), b) < 0),
    );
    assert.deepEqual(
      index.histories(spanOf(a, b)).map((h) => text(h.key)),
      inRange,
      `[${text(a)}, ${text(b)})`,
    );
    const open = sorted.filter((k) => compareBytes(bytesOf(k), a) >= 0);
    assert.deepEqual(
      index.histories(spanOf(a, new Uint8Array([0]))).map((h) => text(h.key)),
      open,
    );
    const single = index.histories(spanOf(a, undefined)).map((h) => text(h.key));
    assert.deepEqual(single, reference.has(text(a)) ? [text(a)] : []);
    assert.equal(index.get(a)?.key !== undefined, reference.has(text(a)));
  }
});

test("dropEmpty forgets exactly the keys without history", () => {
  const index = new KeyIndex();
  for (const k of ["a", "b", "c", "d"]) index.getOrCreate(bytesOf(k));
  const kept = index.get(bytesOf("c"));
  assert.ok(kept);
  kept.records.push({ main: 1, sub: 0, tombstone: true } as never);
  index.dropEmpty();
  assert.deepEqual(
    [...index.all()].map((h) => text(h.key)),
    ["c"],
  );
  assert.equal(index.get(bytesOf("a")), undefined);
  assert.equal(index.size, 1);
});
