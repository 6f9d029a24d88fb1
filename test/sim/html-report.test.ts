// The simulator's story and its page, without a browser (the page in Chromium:
// test/browser/sim-page.test.ts): recording does not change the run; a history that cannot be
// linearized gets a violation panel naming its key and operations, highlighted in the bars;
// text from the run is escaped; dense messages are sampled with the rare kinds kept.
import assert from "node:assert/strict";
import { test } from "node:test";
import { checkLinearizable, type HistoryOp } from "../../src/check/index.js";
import { sampleMessages } from "../../src/sim/html-report.js";
import {
  renderSimReport,
  runSeed,
  type SimStory,
  type StoryMessage,
  StoryRecorder,
} from "../../src/sim/index.js";

test("a recorded run is the same run: same trace hash, and the story covers it", () => {
  const plain = runSeed({ seed: 5, stack: "core", nodes: 3 });
  const recorder = new StoryRecorder(5, "core");
  const recorded = runSeed({ seed: 5, stack: "core", nodes: 3, observer: recorder });
  assert.equal(recorded.traceHash, plain.traceHash);
  assert.equal(recorded.events, plain.events);
  const story = recorder.story();
  assert.deepEqual([...story.nodes].sort(), ["n1", "n2", "n3"]);
  assert.equal(story.endMs, recorded.virtualMs);
  assert.ok(story.states.some((s) => s.role === "Leader"));
  assert.ok(story.messages.length > 1000);
  assert.ok(story.messages.every((m) => m.delivered >= m.sent));
  assert.ok(story.faults.length > 0);
  assert.equal(story.history.length, recorded.ops);
  const html = renderSimReport(story);
  assert.match(html, /^<!doctype html>/);
  assert.equal((html.match(/<g class="lane[^"]*" data-node=/g) ?? []).length, 3);
});

test("a history that cannot be linearized: the panel names the key and proves it", () => {
  const history: HistoryOp[] = [
    {
      client: "c1",
      op: "put",
      key: "k1",
      value: "a",
      invoke: 0,
      complete: 10,
      status: "ok",
      output: null,
    },
    { client: "c2", op: "get", key: "k1", invoke: 20, complete: 30, status: "ok", output: "<b>" },
    {
      client: "c1",
      op: "put",
      key: "k2",
      value: "x",
      invoke: 12,
      complete: 14,
      status: "ok",
      output: null,
    },
  ];
  const linearizability = checkLinearizable(history);
  assert.equal(linearizability.ok, false);
  const story: SimStory = {
    seed: 1,
    stack: "core",
    nodes: ["n1", "n2"],
    endMs: 40,
    healMs: Number.POSITIVE_INFINITY,
    states: [
      { t: 0, node: "n1", role: "Leader", term: 2, status: "up" },
      { t: 0, node: "n2", role: "Follower", term: 2, status: "up" },
      { t: 15, node: "n2", role: "Follower", term: 2, status: "crashed" },
    ],
    links: [],
    messages: [],
    messagesDropped: 0,
    faults: [{ t: 15, text: "fault crash n2" }],
    history,
    violations: [],
    linearizability,
    livenessFailures: [],
    traceTail: ["   15.000ms fault crash n2 <x>"],
    ok: false,
  };
  const html = renderSimReport(story);
  assert.match(html, /<section id="violation"/);
  assert.match(html, /history of key <b>k1<\/b> cannot be linearized/);
  assert.match(html, /impossible next/);
  // The get that saw a value never written is listed and its bar marked; k2's put is not.
  assert.match(html, /<tr class="proof-op" data-op="1">/);
  assert.match(html, /class="op op-ok proof" data-op="1"/);
  assert.doesNotMatch(html, /class="op op-ok proof" data-op="2"/);
  assert.match(html, /class="band crashed"/);
  // Text from the run is escaped, never markup.
  assert.match(html, /&quot;&lt;b&gt;&quot;/);
  assert.match(html, /fault crash n2 &lt;x&gt;/);
  assert.doesNotMatch(html, /<x>/);
});

test("dense messages are sampled: the rare kinds first, in time order", () => {
  const messages: StoryMessage[] = [];
  for (let i = 0; i < 10_000; i++)
    messages.push({
      sent: i,
      delivered: i + 1,
      from: "n1",
      to: "n2",
      type: i % 1000 === 0 ? "VoteRequest" : "Heartbeat",
      term: 1,
      text: "",
    });
  const kept = sampleMessages(messages, 100);
  assert.equal(kept.length, 100);
  assert.equal(kept.filter((m) => m.type === "VoteRequest").length, 10);
  assert.ok(kept.every((m, i) => i === 0 || (kept[i - 1] as StoryMessage).sent <= m.sent));
  assert.equal(sampleMessages(messages.slice(0, 50), 100).length, 50);
});
