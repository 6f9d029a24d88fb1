// Client compatibility: Debian's etcdctl (etcd-client 3.4, the real Go clientv3) against the KV
// service on 127.0.0.1. Skipped, with the reason printed, when /usr/bin/etcdctl is absent
// (install it with `apt-get install etcd-client`).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { NotLeader } from "../../src/rsm/errors.js";
import { etcdctlMissing, etcdctl as runEtcdctl } from "../cluster/etcdctl.js";
import {
  CLUSTER_ID,
  type KvTestServer,
  MEMBER_ID,
  StateMachineBackend,
  startKvServer,
} from "./kv-harness.js";

const skip = etcdctlMissing;

interface Outcome {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs etcdctl (API v3) against `address`, with `input` on stdin; bounded by a timeout. */
async function etcdctl(address: string, args: readonly string[], input = ""): Promise<Outcome> {
  const r = await runEtcdctl(address, args, {
    global: ["--dial-timeout=3s", "--command-timeout=5s"],
    input,
    killAfterMs: 20_000,
  });
  return { exitCode: r.code, stdout: r.stdout, stderr: r.stderr };
}

/** The last line etcdctl prints on failure: "Error: <the server's message>". */
function errorLine(outcome: Outcome): string {
  const lines = outcome.stderr.trim().split("\n");
  return lines[lines.length - 1] ?? "";
}

describe("etcdctl 3.4 against the KV service", { skip }, () => {
  let server: KvTestServer;

  before(async () => {
    server = await startKvServer(new StateMachineBackend());
  });
  after(async () => {
    await server.close();
  });

  const ok = async (args: readonly string[], input?: string): Promise<string> => {
    const outcome = await etcdctl(server.address, args, input);
    assert.equal(outcome.exitCode, 0, `etcdctl ${args.join(" ")}: ${outcome.stderr}`);
    return outcome.stdout;
  };

  test("put, get, get --prefix", async () => {
    assert.equal(await ok(["put", "foo", "bar"]), "OK\n");
    assert.equal(await ok(["get", "foo"]), "foo\nbar\n");
    assert.equal(await ok(["put", "fa", "1"]), "OK\n");
    assert.equal(await ok(["get", "--prefix", "f"]), "fa\n1\nfoo\nbar\n");
    assert.equal(await ok(["get", "--prefix", "f", "--keys-only"]), "fa\n\nfoo\n\n");
    assert.equal(await ok(["get", "nothing"]), "");
  });

  test("the JSON output shows the header: uint64 ids digit for digit", async () => {
    const out = await ok(["-w", "json", "get", "foo"]);
    // JSON.parse would round the ids; read them from the text.
    assert.match(out, new RegExp(`"cluster_id":${CLUSTER_ID}[,}]`));
    assert.match(out, new RegExp(`"member_id":${MEMBER_ID}[,}]`));
    assert.match(out, /"raft_term":3[,}]/);
    const parsed = JSON.parse(out) as { kvs: { key: string; value: string }[]; count: number };
    assert.equal(Buffer.from(parsed.kvs[0]!.value, "base64").toString(), "bar");
    assert.equal(parsed.count, 1);
  });

  test("txn from stdin: compare-and-swap succeeds once, then takes the failure branch", async () => {
    const swap = 'value("foo") = "bar"\n\nput foo baz\n\nget foo\n\n';
    assert.equal(await ok(["txn"], swap), "SUCCESS\n\nOK\n");
    assert.equal(await ok(["txn"], swap), "FAILURE\n\nfoo\nbaz\n");
    assert.equal(await ok(["get", "foo"]), "foo\nbaz\n");
  });

  test("del, then compact and read a compacted revision", async () => {
    assert.equal(await ok(["del", "foo"]), "1\n");
    assert.equal(await ok(["get", "foo"]), "");
    assert.equal(await ok(["del", "foo"]), "0\n");
    assert.equal(await ok(["compact", "3"]), "compacted revision 3\n");
    const old = await etcdctl(server.address, ["get", "fa", "--rev=2"]);
    assert.notEqual(old.exitCode, 0);
    assert.equal(errorLine(old), "Error: etcdserver: mvcc: required revision has been compacted");
  });

  test("an empty key is etcd's 'key is not provided'", async () => {
    const empty = await etcdctl(server.address, ["put", "", "x"]);
    assert.notEqual(empty.exitCode, 0);
    assert.equal(errorLine(empty), "Error: etcdserver: key is not provided");
  });
});

describe("etcdctl against a member without a leader", { skip }, () => {
  test("put fails with etcd's 'no leader'", async () => {
    const server = await startKvServer({
      propose: () => Promise.reject(new NotLeader("")),
      read: () => Promise.reject(new NotLeader("")),
      header: () => ({ clusterId: CLUSTER_ID, memberId: MEMBER_ID, raftTerm: 1 }),
    });
    try {
      const outcome = await etcdctl(server.address, ["put", "foo", "bar"]);
      assert.notEqual(outcome.exitCode, 0);
      assert.equal(errorLine(outcome), "Error: etcdserver: no leader");
    } finally {
      await server.close();
    }
  });
});
