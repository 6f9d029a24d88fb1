// The chaos checks on made-up records: each passes on a good record and fails on a bad one.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  checkAckedWrites,
  checkHashes,
  checkLeases,
  checkVerdicts,
  checkWatches,
  compareStreams,
} from "../../src/chaos/checks.js";
import type { LeaseRecord, SeenEvent } from "../../src/chaos/workload.js";

const ev = (revision: number, key = "k", value = `v${revision}`): SeenEvent => ({
  type: "put",
  key,
  value,
  revision,
  atMs: 0,
});

test("watch streams: a gap, a duplicate, disorder and a short stream are each told", () => {
  const truth = [ev(2), ev(3), ev(4)];
  assert.equal(compareStreams(truth, truth), undefined);
  assert.match(compareStreams([ev(2), ev(4)], truth) ?? "", /gap: revision 3 missing/);
  assert.match(compareStreams([ev(2), ev(3), ev(3), ev(4)], truth) ?? "", /duplicate .* 3/);
  assert.match(compareStreams([ev(3), ev(2), ev(4)], truth) ?? "", /out of order/);
  assert.match(compareStreams([ev(2), ev(3)], truth) ?? "", /gap: stops after 2/);
  assert.match(compareStreams([ev(2), ev(3, "k", "other"), ev(4)], truth) ?? "", /differs/);
  const streams = new Map([
    ["w1", { events: truth, reconnects: 2 }],
    ["w2", { events: [ev(2), ev(4), ev(5)], reconnects: 0 }],
  ]);
  const r = checkWatches(streams, truth, 4);
  assert.equal(r.passed, false);
  assert.match(r.detail, /^w2: gap/);
  assert.equal(checkWatches(new Map([["w1", streams.get("w1")!]]), truth, 4).passed, true);
});

test("acknowledged writes: lost when the history or the read back disagrees", () => {
  const truth = [ev(2), ev(3)];
  const acked = [{ key: "k", value: "v2", revision: 2 }];
  assert.equal(checkAckedWrites(acked, truth, new Map([["k@2", "v2"]])).passed, true);
  assert.equal(
    checkAckedWrites([{ key: "k", value: "v9", revision: 5 }], truth, new Map()).passed,
    false,
  );
  assert.equal(
    checkAckedWrites(acked, truth, new Map<string, string | null>([["k@2", null]])).passed,
    false,
  );
});

test("HashKV: one hash at one revision passes; a difference or an error fails", () => {
  const h = (hash: number, revision = 10) => ({ hash, revision });
  assert.equal(
    checkHashes(
      new Map([
        ["n1", h(5)],
        ["n2", h(5)],
      ]),
      10,
    ).passed,
    true,
  );
  assert.equal(
    checkHashes(
      new Map([
        ["n1", h(5)],
        ["n2", h(6)],
      ]),
      10,
    ).passed,
    false,
  );
  assert.equal(
    checkHashes(
      new Map([
        ["n1", h(5)],
        ["n2", h(5, 9)],
      ]),
      10,
    ).passed,
    false,
  );
  assert.equal(
    checkHashes(
      new Map<string, { hash: number; revision: number } | string>([
        ["n1", h(5)],
        ["n2", "error"],
      ]),
      10,
    ).passed,
    false,
  );
});

test("leases: a key gone before renewal + TTL fails, one gone after passes", () => {
  const lease: LeaseRecord = {
    id: "1",
    key: "l/1",
    ttlSeconds: 2,
    grantSentMs: 1000,
    lastRenewSentMs: 1500,
    keepAlives: 1,
    keepUntilMs: 0,
  };
  assert.equal(checkLeases([lease], new Map([["l/1", 3500]]), 2).passed, true);
  assert.equal(checkLeases([lease], new Map([["l/1", 3400]]), 2).passed, false);
  assert.equal(
    checkLeases([lease], new Map(), 2).passed,
    true,
    "not expired yet: nothing to judge",
  );
});

test("verdicts: no quorum must be said exactly when there is none", () => {
  const s = (expectQuorum: boolean, verdict: string) => ({
    atMs: 0,
    step: "x",
    member: "n1",
    expectQuorum,
    verdict,
  });
  const noQuorum = "no quorum — stopped, refusing writes";
  assert.equal(
    checkVerdicts([s(true, "healthy"), s(false, noQuorum), s(true, "quorum — slow")]).passed,
    true,
  );
  assert.equal(checkVerdicts([s(true, noQuorum)]).passed, false);
  assert.equal(checkVerdicts([s(false, "healthy")]).passed, false);
  assert.equal(checkVerdicts([s(false, "quorum — slow")]).passed, false);
});
