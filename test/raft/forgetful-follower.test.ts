// A follower whose durable state went backwards (its data directory wiped, restarted under its
// old id) rejects every AppendRequest at prevLogIndex ≥ the match the leader holds for it: the
// leader cannot back up below match (the follower acknowledged those entries), so before the
// fix each rejection sent the same probe again at once, an unbounded probe/reject loop (seen as
// ~14 million messages in 35 minutes on real processes). The leader must stay bounded: while
// probing, a rejection that does not move nextIndex back waits for the next heartbeat
// response, so the follower gets at most one probe per heartbeat interval.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Message } from "../../src/raft/index.js";
import { between, emptyDisk, Network } from "./harness.js";

describe("a follower that forgot its log", () => {
  test("gets a bounded number of messages per tick however it answers", () => {
    const net = new Network({ size: 3, heartbeatTicks: 1 });
    const leader = net.elect("n1");
    for (let i = 0; i < 5; i++) net.propose("n1", `p${i}`);
    net.stabilize();
    const match = leader.status().progress.find((p) => p.id === "n3")?.match ?? 0;
    assert.ok(match >= 6, `n3 matched the log (match ${match})`);
    // Wipe n3's disk and restart it under its old id: term 0, no vote, empty log.
    net.crash("n3");
    net.disks.set("n3" as never, emptyDisk());
    net.restart("n3");
    assert.equal(net.node("n3").log.lastIndex(), 0);
    const perTick: number[] = [];
    for (let tick = 0; tick < 30; tick++) {
      // New entries keep the leader wanting to send; every round of messages is delivered.
      if (tick % 3 === 0) net.propose("n1", `q${tick}`);
      net.tick("n1");
      let sentToN3 = 0;
      for (let round = 0; round < 1000; round++) {
        const batch = net.pending();
        if (batch.length === 0) break;
        sentToN3 += batch.filter((m: Message) => m.from === "n1" && m.to === "n3").length;
        net.deliver();
      }
      assert.equal(net.pending().length, 0, "the network quiesces within a tick");
      perTick.push(sentToN3);
    }
    const most = Math.max(...perTick);
    // A heartbeat, the broadcast of a proposal and one probe; the first tick also has the
    // fall from Replicate back to Probe. Before the fix: hundreds of thousands.
    assert.ok(most <= 5, `at most a few messages per tick to n3, got ${perTick.join(",")}`);
    assert.ok(
      perTick.slice(1).every((n) => n <= 3),
      `steady state: heartbeat, broadcast, one probe; got ${perTick.join(",")}`,
    );
    assert.ok(leader.status().progress.some((p) => p.id === "n3" && p.regressions > 0));
    // The others keep committing.
    net.stabilize(between("n1", "n2"));
    assert.equal(net.node("n2").log.lastIndex(), leader.log.lastIndex());
  });

  test("every rejection at index 0 is answered by at most one probe per heartbeat", () => {
    const net = new Network({ size: 3, heartbeatTicks: 2 });
    const leader = net.elect("n1");
    for (let i = 0; i < 3; i++) net.propose("n1", `p${i}`);
    net.stabilize();
    net.crash("n3");
    net.disks.set("n3" as never, emptyDisk());
    net.restart("n3");
    let appends = 0;
    const ticks = 40;
    for (let tick = 0; tick < ticks; tick++) {
      net.propose("n1", `q${tick}`);
      net.tick("n1");
      for (let round = 0; round < 1000 && net.pending().length > 0; round++) {
        appends += net.pending(
          (m) => m.from === "n1" && m.to === "n3" && m.type === "AppendRequest",
        ).length;
        net.deliver();
      }
    }
    // One broadcast per proposal plus one probe per heartbeat response (every 2 ticks).
    assert.ok(appends <= ticks + ticks / 2 + 2, `appends to n3: ${appends}`);
    assert.ok(leader.log.committed >= leader.log.lastIndex() - 1);
  });
});
