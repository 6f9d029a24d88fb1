// The small parts: reconnect backoff (exponential, jittered, capped) and the bounded queue.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Xoshiro128 } from "../../src/raft/index.js";
import { BoundedQueue, ReconnectBackoff } from "../../src/transport/index.js";

test("backoff doubles from min to max with jitter in [ceiling/2, ceiling], and resets", () => {
  const rng = new Xoshiro128(11);
  const backoff = new ReconnectBackoff(50, 2000, () => rng.float());
  const ceilings = [50, 100, 200, 400, 800, 1600, 2000, 2000, 2000];
  for (let round = 0; round < 50; round++) {
    for (const ceiling of ceilings) {
      const delay = backoff.nextDelayMs();
      assert.ok(delay >= ceiling / 2 && delay <= ceiling, `delay ${delay} for ceiling ${ceiling}`);
    }
    backoff.reset();
  }
  const afterRefusal = backoff.longestDelayMs();
  assert.ok(afterRefusal >= 1000 && afterRefusal <= 2000);
  assert.ok(backoff.nextDelayMs() >= 1000, "a refusal keeps the delay long");
});

test("the bounded queue keeps FIFO order and refuses beyond its capacity", () => {
  const queue = new BoundedQueue<number>(3000);
  for (let i = 0; i < 3000; i++) assert.ok(queue.push(i));
  assert.ok(queue.full);
  assert.equal(queue.push(3000), false);
  // Interleave to cross the compaction threshold.
  for (let i = 0; i < 2500; i++) assert.equal(queue.shift(), i);
  for (let i = 3000; i < 5500; i++) assert.ok(queue.push(i));
  assert.equal(queue.length, 3000);
  for (let i = 2500; i < 5500; i++) assert.equal(queue.shift(), i);
  assert.equal(queue.shift(), undefined);
  assert.equal(queue.peek(), undefined);
});
