// Raft.checkInvariants() holds through an election, replication and a leader change (the
// harness calls it after every Ready and records a breach), and it fails for each kind of
// corrupted state it names.

import assert from "node:assert/strict";
import { test } from "node:test";
import { AssertionError } from "../../src/lib/index.js";
import { asIndex, asNodeId } from "../../src/raft/index.js";
import { Network } from "./harness.js";

test("checkInvariants holds through elections, replication and a leader change", () => {
  const net = new Network({ size: 3, seed: 11 });
  net.elect("n1");
  for (let i = 0; i < 20; i++) net.propose("n1", `x${i}`);
  net.stabilize();
  net.crash("n1");
  net.run(40); // n2 or n3 times out, pre-votes and wins
  const leader = net.leaders().find((r) => r.id !== "n1");
  assert.ok(leader !== undefined, "a new leader after n1's crash");
  net.propose(leader.id, "after");
  net.restart("n1");
  net.run(30);
  assert.deepEqual(net.violations, []);
  for (const id of ["n1", "n2", "n3"]) net.node(id).checkInvariants();
});

test("checkInvariants catches each broken invariant", () => {
  const breaks: [string, (net: Network) => void, RegExp][] = [
    [
      "committed past the log",
      (n) => {
        n.node("n1").log.committed = asIndex(99);
      },
      /committed 99 above/,
    ],
    [
      "applied past committed",
      (n) => {
        n.node("n2").log.applied = asIndex(50);
      },
      /applied 50 above committed/,
    ],
    [
      "a leader that voted for another",
      (n) => {
        n.node("n1").vote = asNodeId("n3");
      },
      /voted for n3/,
    ],
    [
      "next not above match",
      (n) => {
        const pr = n.node("n1").tracker.get(asNodeId("n2"))!;
        pr.next = pr.match;
      },
      /not below next/,
    ],
  ];
  for (const [name, corrupt, message] of breaks) {
    const net = new Network({ size: 3, seed: 5 });
    net.elect("n1");
    net.propose("n1", "a");
    net.stabilize();
    corrupt(net);
    const target = name === "applied past committed" ? "n2" : "n1";
    assert.throws(
      () => net.node(target).checkInvariants(),
      (e: unknown) => e instanceof AssertionError && message.test((e as Error).message),
      name,
    );
  }
});
