// The shared progress reporter (src/cli/progress.ts): when it shows, how often, and its format.
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatAmount, progressEnabled, progressReporter } from "../../src/cli/progress.js";

function sink(tty: boolean, enabled = true) {
  let now = 0;
  const written: string[] = [];
  return {
    written,
    advance: (ms: number) => {
      now += ms;
    },
    sink: { write: (t: string) => void written.push(t), tty, enabled, now: () => now },
  };
}

test("shown on a terminal unless --json; --progress forces it", () => {
  assert.equal(progressEnabled({ isTty: true }), true);
  assert.equal(progressEnabled({ isTty: true, json: true }), false);
  assert.equal(progressEnabled({ isTty: false }), false);
  assert.equal(progressEnabled({ isTty: false, json: true, progress: true }), true);
});

test("not a terminal: whole lines, at most one a second, and always the last", () => {
  const s = sink(false);
  const p = progressReporter(s.sink, "job", "bytes");
  for (let i = 0; i <= 100; i++) {
    p.update(i * 1024, 100 * 1024);
    s.advance(50); // 5 s in all
  }
  p.done("fine");
  assert.ok(s.written.length >= 5 && s.written.length <= 7, String(s.written.length));
  assert.ok(s.written.every((l) => l.endsWith("\n") && !l.includes("\r")));
  assert.equal(s.written[0], "job: 0 B / 100.0 KiB (0%)\n");
  assert.match(
    s.written.at(-1) as string,
    /^job: 100\.0 KiB \/ 100\.0 KiB \(100%\), 19\.\d KiB\/s — done: fine\n$/,
  );
});

test("a terminal: one line rewritten in place; disabled: nothing", () => {
  const s = sink(true);
  const p = progressReporter(s.sink, "seeds");
  p.update(1, 10, "first");
  s.advance(200);
  p.update(2, 10);
  p.done();
  assert.deepEqual(s.written, [
    "\r\x1b[Kseeds: 1 / 10 (10%), first",
    "\r\x1b[Kseeds: 2 / 10 (20%)",
    "\r\x1b[Kseeds: 2 / 10 (20%) — done\n",
  ]);
  const off = sink(true, false);
  const q = progressReporter(off.sink, "x");
  q.update(1);
  q.done();
  assert.deepEqual(off.written, []);
  assert.equal(formatAmount(3 * 1024 * 1024, "bytes"), "3.0 MiB");
  assert.equal(formatAmount(42, "count"), "42");
});
