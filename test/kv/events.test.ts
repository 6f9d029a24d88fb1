// Events for watch: listeners hear every write synchronously with its revision; the events API
// replays [startRevision, now] for a key range (watch resume), whole revisions at a time under a
// limit; a listener that throws breaks nothing.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type EventBatch, type KvEvent, KvStore } from "../../src/kv/index.js";
import { b, kvString, s, throwsKv } from "./helpers.js";

const show = (e: KvEvent) =>
  `${e.type} ${kvString(e.kv)}${e.prevKv === undefined ? "" : ` prev=${kvString(e.prevKv)}`}`;

describe("listeners", () => {
  test("every changing write delivers its events once, tagged with its revision", () => {
    const kv = new KvStore();
    const batches: EventBatch[] = [];
    const stop = kv.subscribe((batch) => batches.push(batch));
    kv.put({ key: b("a"), value: b("1") });
    kv.put({ key: b("a"), value: b("2") });
    kv.deleteRange({ key: b("a") });
    kv.deleteRange({ key: b("a") }); // changes nothing: no batch
    kv.range({ key: b("a") });
    assert.deepEqual(
      batches.map((x) => [x.revision, x.events.map(show)]),
      [
        [2, ["PUT a=1@2/2/1"]],
        [3, ["PUT a=2@2/3/2 prev=a=1@2/2/1"]],
        [4, ["DELETE a=@0/4/0 prev=a=2@2/3/2"]],
      ],
    );
    stop();
    kv.put({ key: b("a"), value: b("3") });
    assert.equal(batches.length, 3);
  });

  test("a listener that throws is counted and skipped; the write and other listeners go on", () => {
    const kv = new KvStore();
    let heard = 0;
    kv.subscribe(() => {
      throw new Error("listener bug");
    });
    kv.subscribe(() => heard++);
    kv.put({ key: b("a"), value: b("1") });
    assert.equal(heard, 1);
    assert.equal(kv.listenerErrors, 1);
    assert.equal(kv.revision, 2);
  });

  test("a listener may read the store but not write to it", () => {
    const kv = new KvStore();
    const reads: number[] = [];
    kv.subscribe(() => {
      reads.push(kv.range({ key: b("a") }).count);
      kv.put({ key: b("b"), value: b("sneaky") });
    });
    kv.put({ key: b("a"), value: b("1") });
    assert.deepEqual(reads, [1]);
    assert.equal(kv.range({ key: b("b") }).count, 0);
    assert.equal(kv.listenerErrors, 1);
  });

  test("listeners are bounded", () => {
    const kv = new KvStore({ listenersMax: 2 });
    kv.subscribe(() => {});
    const stop = kv.subscribe(() => {});
    throwsKv(() => kv.subscribe(() => {}), "TOO_MANY_LISTENERS");
    stop();
    kv.subscribe(() => {});
  });
});

describe("events API (watch resume)", () => {
  function busy(): KvStore {
    const kv = new KvStore();
    kv.put({ key: b("a"), value: b("1") }); // 2
    kv.put({ key: b("b"), value: b("1") }); // 3
    kv.txn({
      success: [
        { type: "put", request: { key: b("a"), value: b("2") } },
        { type: "put", request: { key: b("c"), value: b("1") } },
        { type: "deleteRange", request: { key: b("b") } },
      ],
    }); // 4
    kv.put({ key: b("z"), value: b("1") }); // 5
    kv.deleteRange({ key: b("a"), rangeEnd: b("d") }); // 6: a, c
    return kv;
  }

  test("replays [start, now] for a key range, in revision then sub-revision order", () => {
    const kv = busy();
    const r = kv.events({ key: b("a"), rangeEnd: b("d"), startRevision: 3 });
    assert.deepEqual(r.events.map(show), [
      "PUT b=1@3/3/1",
      "PUT a=2@2/4/2 prev=a=1@2/2/1",
      "PUT c=1@4/4/1",
      "DELETE b=@0/4/0 prev=b=1@3/3/1",
      "DELETE a=@0/6/0 prev=a=2@2/4/2",
      "DELETE c=@0/6/0 prev=c=1@4/4/1",
    ]);
    assert.equal(r.nextRevision, 7);
    assert.equal(r.header.revision, 6);
    assert.deepEqual(kv.events({ key: b("z"), startRevision: 1 }).events.map(show), [
      "PUT z=1@5/5/1",
    ]);
    assert.deepEqual(kv.events({ key: b("q"), startRevision: 1 }).events, []);
  });

  test("the replay equals what a listener heard from the same revision", () => {
    const kv = new KvStore();
    const heard: KvEvent[] = [];
    kv.subscribe((batch) => heard.push(...batch.events));
    const fresh = busy();
    // Re-run busy's commands on the listened store.
    for (const e of fresh.events({
      key: Uint8Array.of(0),
      rangeEnd: Uint8Array.of(0),
      startRevision: 1,
    }).events) {
      if (e.type === "PUT") kv.put({ key: e.kv.key, value: e.kv.value });
      else kv.deleteRange({ key: e.kv.key });
    }
    const replay = kv.events({
      key: Uint8Array.of(0),
      rangeEnd: Uint8Array.of(0),
      startRevision: 1,
    });
    assert.deepEqual(replay.events.map(show), heard.map(show));
  });

  test("start 0 or beyond now: nothing yet, resume at the next revision", () => {
    const kv = busy();
    assert.deepEqual(kv.events({ key: b("a"), startRevision: 0 }), {
      header: { revision: 6 },
      events: [],
      nextRevision: 7,
    });
    assert.equal(kv.events({ key: b("a"), startRevision: 10 }).nextRevision, 10);
  });

  test("a limit cuts between revisions, never inside one (unless one alone exceeds it)", () => {
    const kv = busy();
    const all = { key: Uint8Array.of(0), rangeEnd: Uint8Array.of(0) };
    const page = (startRevision: number, limit: number) => {
      const r = kv.events({ ...all, startRevision, limit });
      return [r.events.map((e) => `${e.kv.modRevision}${s(e.kv.key)}`).join(" "), r.nextRevision];
    };
    assert.deepEqual(page(1, 2), ["2a 3b", 4]);
    assert.deepEqual(page(4, 2), ["4a 4c 4b", 5], "revision 4 alone exceeds the limit: whole");
    assert.deepEqual(page(4, 4), ["4a 4c 4b 5z", 6]);
    assert.deepEqual(page(4, 5), ["4a 4c 4b 5z", 6], "6 would be split: it waits");
    assert.deepEqual(page(6, 5), ["6a 6c", 7]);
    // Resuming page by page covers everything exactly once.
    const seen: string[] = [];
    let next = 1;
    for (let guard = 0; guard < 10 && next <= kv.revision; guard++) {
      const r = kv.events({ ...all, startRevision: next, limit: 1 });
      seen.push(...r.events.map(show));
      next = r.nextRevision;
    }
    assert.deepEqual(seen, kv.events({ ...all, startRevision: 1 }).events.map(show));
  });
});
