// Member records (the replicated per-member context), member.json, and the bootstrap fallback.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { asNodeId, type NodeId } from "../../src/raft/index.js";
import { parseInitialCluster, stableId } from "../../src/server/cluster-config.js";
import { MemberFileError, readMemberFile, writeMemberFile } from "../../src/server/member-file.js";
import {
  canonicalUrl,
  decodeMemberRecord,
  encodeMemberRecord,
  generatedNodeId,
  generateMemberId,
  MemberRecordError,
  membersOf,
  recordConflict,
  recordToPublish,
} from "../../src/server/member-records.js";

const n = asNodeId;
const enc = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test("a record round-trips as fixed JSON; anything else is refused", () => {
  const record = {
    id: "18446744073709551615",
    name: "n4",
    peerURLs: ["http://127.0.0.1:2380"],
    clientURLs: [],
  };
  const bytes = encodeMemberRecord(record);
  assert.equal(
    new TextDecoder().decode(bytes),
    '{"id":"18446744073709551615","name":"n4","peerURLs":["http://127.0.0.1:2380"],"clientURLs":[]}',
  );
  assert.deepEqual(decodeMemberRecord(bytes), record);
  for (const bad of [
    new Uint8Array([0xff, 0xfe]),
    enc([]),
    enc({ ...record, id: "0" }),
    enc({ ...record, id: "18446744073709551616" }),
    enc({ ...record, id: 5 }),
    enc({ ...record, name: "has space" }),
    enc({ ...record, peerURLs: [] }),
    enc({ ...record, peerURLs: ["ftp://h:1"] }),
    enc({ ...record, peerURLs: ["http://h:1", "http://h:1"] }),
    enc({ ...record, clientURLs: "http://h:1" }),
  ]) {
    assert.throws(() => decodeMemberRecord(bad), MemberRecordError);
  }
});

test("URLs: http(s), host and port, no path; compared in canonical form", () => {
  assert.equal(canonicalUrl("http://127.0.0.1:2380/"), "http://127.0.0.1:2380");
  assert.equal(canonicalUrl("HTTP://Example.com:080"), "http://example.com:80");
  assert.equal(canonicalUrl("https://[::1]:2380"), "https://[::1]:2380");
  for (const bad of [
    "127.0.0.1:2380",
    "http://h",
    "http://h:1/x",
    "http://u:p@h:1",
    "unix:/x",
    "http://h:0",
    "http://h:70000",
  ])
    assert.throws(() => canonicalUrl(bad), MemberRecordError, bad);
});

test("members without a record fall back to the bootstrap list; records win; learners marked", () => {
  const fallback = new Map<NodeId, string[]>([
    [n("n1"), ["http://10.0.0.1:2380"]],
    [n("n2"), ["http://10.0.0.2:2380"]],
  ]);
  const published = {
    id: "7",
    name: "n2",
    peerURLs: ["http://10.9.9.2:2380"],
    clientURLs: ["http://c:1"],
  };
  const members = membersOf(
    {
      confState: { voters: [n("n1"), n("n2")], votersOutgoing: [], learners: [n("mabc")] },
      contexts: new Map([
        [n("n2"), encodeMemberRecord(published)],
        [
          n("mabc"),
          encodeMemberRecord({
            id: "2748",
            name: "",
            peerURLs: ["http://10.0.0.4:2380"],
            clientURLs: [],
          }),
        ],
      ]),
      index: 9,
    },
    fallback,
  );
  assert.deepEqual(
    members.map((m) => [m.nodeId, m.id, m.name, m.peerURLs[0], m.isLearner, m.replicated]),
    [
      ["n2", "7", "n2", "http://10.9.9.2:2380", false, true],
      ["mabc", "2748", "", "http://10.0.0.4:2380", true, true],
      ["n1", stableId("n1"), "n1", "http://10.0.0.1:2380", false, false],
    ].sort((a, b) => (BigInt(a[1] as string) < BigInt(b[1] as string) ? -1 : 1)),
  );
});

test("publish: only when the replicated record differs; keeps the id and peer URLs the cluster has", () => {
  const own = { name: "n4", peerURL: "http://127.0.0.1:9", clientURL: "http://127.0.0.1:8" };
  const fresh = recordToPublish(undefined, own, n("n4"));
  assert.deepEqual(fresh, {
    id: stableId("n4"),
    name: "n4",
    peerURLs: ["http://127.0.0.1:9"],
    clientURLs: ["http://127.0.0.1:8"],
  });
  const added = {
    id: "99",
    name: "",
    peerURLs: ["http://10.0.0.4:2380"],
    clientURLs: [],
    nodeId: n("m63"),
    isLearner: true,
    replicated: true,
  };
  assert.deepEqual(recordToPublish(added, own, n("m63")), {
    id: "99",
    name: "n4",
    peerURLs: ["http://10.0.0.4:2380"],
    clientURLs: ["http://127.0.0.1:8"],
  });
  const done = { ...added, name: "n4", clientURLs: ["http://127.0.0.1:8"] };
  assert.equal(recordToPublish(done, own, n("m63")), undefined);
  // A bootstrap member's fallback view is not a replicated record: it publishes once.
  const fallbackView = { ...done, replicated: false };
  assert.notEqual(recordToPublish(fallbackView, own, n("m63")), undefined);
});

test("generated ids are fresh: taken ones are re-drawn; node ids are m + hex", () => {
  let nonce = 0;
  const first = generateMemberId(
    "c",
    ["http://h:1"],
    5,
    () => false,
    () => "a",
  );
  const again = generateMemberId(
    "c",
    ["http://h:1"],
    5,
    (id) => id === first,
    () => String(nonce++),
  );
  assert.notEqual(again, first);
  assert.throws(() =>
    generateMemberId(
      "c",
      ["http://h:1"],
      5,
      () => true,
      () => "x",
    ),
  );
  assert.equal(generatedNodeId("255"), "mff");
});

test("member.json: written atomically, read back; damage is a clear error", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ordo-member-file-"));
  dirs.push(dir);
  assert.equal(await readMemberFile(dir), undefined);
  const file = {
    clusterId: "123",
    nodeId: n("m1f"),
    memberId: "31",
    bootstrap: false,
    peers: [{ nodeId: n("n1"), peerURLs: ["http://127.0.0.1:1"] }],
  };
  await writeMemberFile(dir, file);
  assert.deepEqual(await readMemberFile(dir), file);
  assert.deepEqual(readdirSync(dir), ["member.json"], "no temp file left behind");
  await writeMemberFile(dir, { ...file, memberId: "32" });
  assert.equal((await readMemberFile(dir))?.memberId, "32");
  writeFileSync(join(dir, "member.json"), "{not json");
  await assert.rejects(
    readMemberFile(dir),
    (e: unknown) => e instanceof MemberFileError && /not JSON/.test(String(e)),
  );
  writeFileSync(
    join(dir, "member.json"),
    JSON.stringify({ version: 1, clusterId: "", nodeId: "x" }),
  );
  await assert.rejects(readMemberFile(dir), MemberFileError);
  assert.ok(existsSync(join(dir, "member.json")));
});

test("--initial-cluster: unnamed entries (etcdctl's unstarted members) are skipped only when asked", () => {
  const text = "n1=http://127.0.0.1:1,=http://127.0.0.1:2,n4=http://127.0.0.1:4";
  assert.throws(() => parseInitialCluster(text), /expected name=http/);
  assert.deepEqual(
    parseInitialCluster(text, { skipUnnamed: true }).map((p) => `${p.name}:${p.port}`),
    ["n1:1", "n4:4"],
  );
});

test("apply-time check: a record's peer URLs, id and name must not be another member's", () => {
  const rec = (id: string, name: string, url: string) =>
    encodeMemberRecord({ id, name, peerURLs: [url], clientURLs: [] });
  const current = {
    confState: { voters: [n("n1"), n("n2")], votersOutgoing: [], learners: [] },
    contexts: new Map([
      [n("n1"), rec("11", "n1", "http://10.0.0.1:2380")],
      [n("n2"), rec("12", "n2", "http://10.0.0.2:2380")],
      // A removed member's record no longer claims anything.
      [n("old"), rec("13", "old", "http://10.0.0.3:2380")],
    ]),
    index: 5,
  };
  const check = (id: string, bytes: Uint8Array) =>
    recordConflict(current, new Map([[n(id), bytes]]));
  assert.equal(check("n4", rec("14", "n4", "http://10.0.0.4:2380")), undefined);
  assert.equal(
    check("n4", rec("14", "n4", "HTTP://10.0.0.2:2380/")),
    "etcdserver: Peer URLs already exists",
  );
  assert.equal(
    check("n4", rec("11", "n4", "http://10.0.0.4:2380")),
    "etcdserver: member ID already exist",
  );
  assert.equal(
    check("n4", rec("14", "n1", "http://10.0.0.4:2380")),
    'etcdserver: member name "n1" already exists',
  );
  // A member updating its own record, and an unnamed (unstarted) member, conflict with nobody.
  assert.equal(check("n2", rec("12", "n2", "http://10.0.0.9:2380")), undefined);
  assert.equal(check("m1", rec("15", "", "http://10.0.0.3:2380")), undefined);
  assert.match(check("n4", enc({ id: "x" })) ?? "", /bad member record for n4/);
});
