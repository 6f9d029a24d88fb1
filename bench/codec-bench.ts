// Encode/decode cost of the hot binary formats, in ns per operation:
//   put       a kv Put command (16-byte key, 100-byte value), encodeCommand / decodeCommand;
//   envelope  that command in the runtime's entry envelope, encodeEnvelope / decodeEnvelope;
//   append    an AppendRequest of 8 such entries, the transport's encodeMessage / decodeMessage;
//   hashkv    KvStore.hashKV over 1000 keys.
//
//   npm run build && node dist/bench/codec-bench.js
//
// Each case runs in rounds after a warm-up; the median round is printed. Numbers, not a test.

import { stderrProgress } from "../src/cli/progress.js";
import { decodeCommand, encodeCommand, type KvCommand, KvStore } from "../src/kv/index.js";
import { asIndex, asNodeId, asTerm, type Message } from "../src/raft/index.js";
import { decodeEnvelope, type Envelope, encodeEnvelope } from "../src/rsm/envelope.js";
import { decodeMessage, encodeMessage } from "../src/transport/index.js";

const ROUNDS = 15;

function nsPerOp(iterations: number, run: () => void): number {
  for (let i = 0; i < iterations; i++) run(); // warm-up
  const rounds: number[] = [];
  for (let k = 0; k < ROUNDS; k++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) run();
    rounds.push(Number(process.hrtime.bigint() - start) / iterations);
  }
  rounds.sort((a, b) => a - b);
  return rounds[Math.floor(ROUNDS / 2)] as number;
}

const key = new TextEncoder().encode("/registry/pods/a");
const value = Uint8Array.from({ length: 100 }, (_, i) => i);
const put: KvCommand = { type: "Put", request: { key, value, lease: 0 } };
const putBytes = encodeCommand(put);
const envelope: Envelope = {
  kind: "Command",
  proposer: "run-7f3a",
  requestId: 123_456,
  timestampMs: 1_764_700_000_000.5,
  seed: 0xdeadbeef,
  clientId: "s-42",
  seq: 17,
  command: putBytes,
};
const envelopeBytes = encodeEnvelope(envelope);
const append: Message = {
  type: "AppendRequest",
  from: asNodeId("n1"),
  to: asNodeId("n2"),
  term: asTerm(7),
  prevLogIndex: asIndex(1000),
  prevLogTerm: asTerm(7),
  commit: asIndex(999),
  entries: Array.from({ length: 8 }, (_, i) => ({
    index: asIndex(1001 + i),
    term: asTerm(7),
    type: "Normal" as const,
    data: envelopeBytes,
  })),
};
const appendBytes = encodeMessage(append);
const store = new KvStore();
for (let i = 0; i < 1000; i++) {
  store.put({ key: new TextEncoder().encode(`key-${i}`), value });
}

let sink = 0;
const cases: [string, number, () => void][] = [
  ["put encode", 200_000, () => (sink += encodeCommand(put).byteLength)],
  ["put decode", 200_000, () => (sink += decodeCommand(putBytes).type.length)],
  ["envelope encode", 200_000, () => (sink += encodeEnvelope(envelope).byteLength)],
  ["envelope decode", 200_000, () => (sink += decodeEnvelope(envelopeBytes).kind.length)],
  ["append(8) encode", 50_000, () => (sink += encodeMessage(append).byteLength)],
  ["append(8) decode", 50_000, () => (sink += decodeMessage(appendBytes).term)],
  ["hashKV(1000 keys)", 200, () => (sink += store.hashKV().hash)],
];
// Progress on stderr on a terminal, or with --progress.
const progress = stderrProgress("bench:codec cases", "count", {
  progress: process.argv.includes("--progress"),
});
const results: [string, number][] = [];
for (const [i, [name, n, op]] of cases.entries()) {
  results.push([name, nsPerOp(n, op)]);
  progress.update(i + 1, cases.length, name);
}
progress.done();
for (const [name, ns] of results)
  console.log(`${name.padEnd(20)} ${ns.toFixed(0).padStart(9)} ns/op`);
if (sink === 0.5) console.log(sink);
