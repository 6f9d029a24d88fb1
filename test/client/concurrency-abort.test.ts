// Election.observe and Mutex.lock given up by an AbortSignal that fires while they await a get,
// not a watch: the watch they open after must be closed at once. (An "abort" listener added to a
// signal that has already aborted never runs: `ordo elect -l` hung on Ctrl-C when the leader
// resigned just before, and the real-process test of it failed now and then under load.)
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Election, KvClient, Mutex, Session } from "../../src/client/index.js";
import { type RunningMember, startMember, withTimeout } from "./harness.js";

let m: RunningMember;
let c: KvClient;
before(async () => {
  m = await startMember();
  c = new KvClient([m.endpoint]);
});
after(async () => {
  c?.close();
  await m?.close();
});

test("observe of an election with no leader ends when aborted during its first get", async () => {
  const abort = new AbortController();
  const events = Election.observe(c, "nobody-leads", abort.signal)[Symbol.asyncIterator]();
  const first = events.next(); // runs to the get's await
  abort.abort();
  const r = await withTimeout(first, "observe ends");
  assert.equal(r.done, true);
});

test("a lock waiting for its holder gives up when aborted, and takes its key away", async () => {
  const holder = await Session.open(c, 60);
  const waiter = await Session.open(c, 60);
  try {
    await new Mutex(holder, "abort-lock").lock();
    const abort = new AbortController();
    const waiting = new Mutex(waiter, "abort-lock").lock(abort.signal);
    // Abort once the waiter's key exists: it is reading who holds the lock, or watching them.
    for (let i = 0; i < 200; i++) {
      if ((await c.get("abort-lock/", { prefix: true })).count === 2) break;
    }
    abort.abort();
    await assert.rejects(withTimeout(waiting, "the lock gives up"));
    assert.equal((await c.get("abort-lock/", { prefix: true })).count, 1, "its key is gone");
  } finally {
    await waiter.close();
    await holder.close();
  }
});
