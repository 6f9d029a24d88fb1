// The JSON gateway's routes beyond KV (gateway/), against a real single-member Member: Lease
// (grant → timetolive → keepalive stream → revoke), Watch (a chunked stream that sees later
// writes and frees its watches when the client hangs up), Cluster, Maintenance (snapshot as a
// stream), Auth (a token in `Authorization` is the caller; without it the call is refused as
// over gRPC), and the errors of bad requests, each answered as etcd 3.4's gateway answers.
import assert from "node:assert/strict";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { GATEWAY_ROUTES } from "../../src/server/gateway/routes.js";
import { openStream, settlesTo } from "./gateway-stream.js";
import { b64, postJson, type SingleMember, startSingleMember, unb64 } from "./http-harness.js";

const HEADER_FIELDS = ["cluster_id", "member_id", "raft_term", "revision"];

function assertHeader(header: unknown): void {
  assert.ok(header !== null && typeof header === "object", "a response header");
  for (const [name, value] of Object.entries(header)) {
    assert.ok(HEADER_FIELDS.includes(name), `header field ${name}`);
    assert.match(String(value), /^[0-9]+$/, `${name} is a decimal string`);
    assert.equal(typeof value, "string", `${name} is a string (int64 in JSON)`);
  }
}

async function post(
  base: string,
  path: string,
  body: unknown,
  token?: string,
): Promise<{ status: number; body: Record<string, unknown> & { header?: unknown } }> {
  const res = await fetch(`${base}${path}`, {
    method: "POST",
    body: typeof body === "string" ? body : JSON.stringify(body),
    headers: token === undefined ? {} : { authorization: token },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("the route table is etcd's", () => {
  it("every route is an RPC of rpc.proto at one of its google.api.http paths", () => {
    const proto = readFileSync(new URL("../../../proto/etcd/rpc.proto", import.meta.url), "utf8");
    const paths = new Map<string, string[]>();
    let rpc = "";
    for (const line of proto.split("\n")) {
      const r = /^\s*rpc (\w+)\(/.exec(line);
      if (r !== null) rpc = r[1] as string;
      const p = /post: "([^"]+)"/.exec(line);
      if (p !== null) paths.set(rpc, [...(paths.get(rpc) ?? []), p[1] as string]);
    }
    // 3.4's HashKV shares Hash's path (and loses to it); it is served at 3.5's path instead.
    const moved = new Map([["/v3/maintenance/hashkv", "HashKV"]]);
    for (const [path, route] of GATEWAY_ROUTES) {
      if (moved.get(path) === route.method) continue;
      assert.ok(paths.get(route.method)?.includes(path), `${path} → ${route.method}`);
    }
    const served = new Set([...GATEWAY_ROUTES.values()].map((r) => r.method));
    const unserved = [...paths.keys()].filter((m) => !served.has(m));
    // AuthStatus and Downgrade are etcd 3.5's, not 3.4's.
    assert.deepEqual(unserved.sort(), ["AuthStatus", "Downgrade"]);
  });
});

describe("JSON gateway: Watch, Lease, Cluster, Maintenance, Auth", () => {
  let m: SingleMember;

  before(async () => {
    m = await startSingleMember();
  });
  after(async () => {
    await m?.close();
  });

  it("lease: grant → timetolive → keepalive stream → revoke, shaped as etcd's gateway", async () => {
    const grant = await post(m.base, "/v3/lease/grant", { TTL: 60 });
    assert.equal(grant.status, 200);
    assertHeader(grant.body.header);
    assert.match(String(grant.body.ID), /^[1-9][0-9]*$/);
    assert.equal(grant.body.TTL, "60");
    assert.equal("error" in grant.body, false, "an empty error is left out");
    const id = String(grant.body.ID);
    await postJson(m.base, "/v3/kv/put", { key: b64("leased"), value: b64("v"), lease: id });

    const ttl = await post(m.base, "/v3/kv/lease/timetolive", { ID: id, keys: true });
    assert.equal(ttl.status, 200);
    assert.equal(ttl.body.ID, id);
    assert.equal(ttl.body.grantedTTL, "60");
    assert.ok(Number(ttl.body.TTL) > 0 && Number(ttl.body.TTL) <= 60);
    assert.deepEqual(ttl.body.keys, [b64("leased")]);

    const leases = await post(m.base, "/v3/lease/leases", {});
    assert.deepEqual(leases.body.leases, [{ ID: id }]);

    // Two requests in one body, newline-delimited: two results, then the stream ends (etcd's
    // LeaseKeepAlive ends once the client's side is done).
    const body = `${JSON.stringify({ ID: id })}\n${JSON.stringify({ ID: Number(id) })}`;
    const ka = await openStream(`${m.base}/v3/lease/keepalive`, body);
    assert.equal(ka.status, 200);
    assert.match(ka.headers.get("content-type") ?? "", /application\/json/);
    await ka.ended();
    assert.equal(ka.objects.length, 2);
    for (const o of ka.objects) {
      const result = o.result as Record<string, unknown>;
      assertHeader(result.header);
      assert.equal(result.ID, id);
      assert.equal(result.TTL, "60");
    }

    const revoke = await post(m.base, "/v3/lease/revoke", { ID: id });
    assert.equal(revoke.status, 200);
    assert.deepEqual(Object.keys(revoke.body), ["header"]);
    const gone = await post(m.base, "/v3/lease/timetolive", { ID: id });
    assert.equal(gone.body.TTL, "-1", "etcd answers a revoked lease with TTL -1");
    const range = await postJson(m.base, "/v3/kv/range", { key: b64("leased") });
    assert.equal(range.body.kvs, undefined, "the lease's key went with it");
    const again = await post(m.base, "/v3/kv/lease/revoke", { ID: id });
    assert.equal(again.status, 404);
    assert.deepEqual(again.body, {
      error: "etcdserver: requested lease not found",
      message: "etcdserver: requested lease not found",
      code: 5,
    });
  });

  it("keepalive is a true bidi stream: each request sent on an open body is answered at once", async () => {
    const grant = await post(m.base, "/v3/lease/grant", { TTL: 30 });
    const id = String(grant.body.ID);
    const socket = connect(m.member.clientPort, "127.0.0.1");
    await once(socket, "connect");
    let text = "";
    socket.on("data", (c: Buffer) => {
      text += c.toString("latin1");
    });
    const chunk = (body: string): string =>
      `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n`;
    const answers = (): number => (text.match(/"result"/g) ?? []).length;
    try {
      // A chunked body that stays open: the second request goes only after the first answer.
      socket.write(
        "POST /v3/lease/keepalive HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n",
      );
      socket.write(chunk(`${JSON.stringify({ ID: id })}\n`));
      await settlesTo(answers, 1);
      socket.write(chunk(JSON.stringify({ ID: id })));
      await settlesTo(answers, 2);
      assert.match(text, /^HTTP\/1\.1 200 /);
      assert.match(text, /"TTL":"30"/);
    } finally {
      socket.destroy(); // hangs up mid-stream
    }
    const ttl = await post(m.base, "/v3/lease/timetolive", { ID: id });
    assert.equal(ttl.body.grantedTTL, "30", "the member serves on");
  });

  it("keepalive of an unknown lease answers TTL 0 (left out), as etcd does", async () => {
    const ka = await openStream(`${m.base}/v3/lease/keepalive`, JSON.stringify({ ID: "12345" }));
    await ka.ended();
    const result = ka.objects[0]?.result as Record<string, unknown>;
    assert.equal(result.ID, "12345");
    assert.equal(result.TTL, undefined);
  });

  it("watch: a chunked stream sees writes made after it started, and frees its watch on hang-up", async () => {
    assert.equal(m.member.watchCount, 0);
    const w = await openStream(
      `${m.base}/v3/watch`,
      JSON.stringify({ create_request: { key: b64("w/"), range_end: b64("w0"), prev_kv: true } }),
    );
    assert.equal(w.status, 200);
    const created = (await w.next((o) => o.result !== undefined)).result as Record<string, unknown>;
    assert.equal(created.created, true);
    assert.equal(created.watch_id, undefined, "watch id 0 is left out");
    assertHeader(created.header);
    assert.equal(m.member.watchCount, 1);

    await postJson(m.base, "/v3/kv/put", { key: b64("w/a"), value: b64("1") });
    await postJson(m.base, "/v3/kv/deleterange", { key: b64("w/a") });
    const hasEvents = (o: Record<string, unknown>): boolean =>
      Array.isArray((o.result as { events?: unknown } | undefined)?.events);
    const put = await w.next(hasEvents);
    const [event] = (put.result as { events: Record<string, unknown>[] }).events;
    assert.equal(event?.type, undefined, "PUT is the enum's zero: left out");
    const kv = event?.kv as Record<string, unknown>;
    assert.equal(unb64(kv.key), "w/a");
    assert.equal(unb64(kv.value), "1");
    assert.equal(kv.version, "1");
    const deleted = await w.next(
      (o) => (o.result as { events?: { type?: string }[] })?.events?.[0]?.type === "DELETE",
    );
    const del = (deleted.result as { events: Record<string, unknown>[] }).events[0];
    assert.equal(unb64((del?.prev_kv as Record<string, unknown> | undefined)?.value), "1");

    w.close();
    await settlesTo(() => m.member.watchCount, 0);
  });

  it("watch: several requests in one body, and a malformed one ends the stream with an error", async () => {
    const body = [
      JSON.stringify({ create_request: { key: b64("x") } }),
      JSON.stringify({ createRequest: { key: b64("y"), filters: ["NOPUT"] } }),
      '{"create_request": {"key": "not base64!"}}',
    ].join("\n");
    const w = await openStream(`${m.base}/v3/watch`, body);
    assert.equal(w.status, 200);
    await w.ended();
    const results = w.objects.filter((o) => o.result !== undefined);
    assert.equal(results.length, 2);
    assert.equal((results[1]?.result as Record<string, unknown> | undefined)?.watch_id, "1");
    assert.deepEqual(w.objects[2], {
      error: {
        grpc_code: 3,
        http_code: 400,
        message: "etcdserver: key must be a base64 string",
        http_status: "Bad Request",
      },
    });
    await settlesTo(() => m.member.watchCount, 0);
  });

  it("watch: a malformed first message is refused with the HTTP status of its code", async () => {
    const w = await openStream(`${m.base}/v3/watch`, '{"create_request": ');
    assert.equal(w.status, 400);
    await w.ended();
    const error = w.objects[0]?.error as Record<string, unknown>;
    assert.equal(error.grpc_code, 3);
    assert.match(String(error.message), /malformed JSON body/);
    await settlesTo(() => m.member.watchCount, 0);
  });

  it("watch: a client that stops reading gets every event once it reads again (drain)", async () => {
    const body = JSON.stringify({ create_request: { key: b64("bp") } });
    const socket = connect(m.member.clientPort, "127.0.0.1");
    await once(socket, "connect");
    let text = "";
    const count = (): number => (text.match(/"mod_revision"/g) ?? []).length;
    try {
      socket.write(
        `POST /v3/watch HTTP/1.1\r\nhost: t\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
      );
      socket.on("data", (c: Buffer) => {
        text += c.toString("latin1");
      });
      await settlesTo(() => text.includes('"created":true'), true);
      socket.pause(); // the client stops reading: the member's writes fill the socket
      const value = b64("v".repeat(60_000));
      for (let i = 0; i < 100; i++) {
        await postJson(m.base, "/v3/kv/put", { key: b64("bp"), value });
      }
      socket.resume();
      await settlesTo(count, 100, 10_000);
    } finally {
      socket.destroy();
    }
    await settlesTo(() => m.member.watchCount, 0);
  });

  it("cluster: member/list and the errors of member/remove and member/update", async () => {
    const list = await post(m.base, "/v3/cluster/member/list", {});
    assert.equal(list.status, 200);
    assertHeader(list.body.header);
    const [member] = list.body.members as Record<string, unknown>[];
    assert.equal(member?.name, "n1");
    assert.match(String(member?.ID), /^[0-9]+$/);
    assert.ok(Array.isArray(member?.peerURLs) && Array.isArray(member?.clientURLs));
    assert.equal(member?.isLearner, undefined, "false is left out");
    const remove = await post(m.base, "/v3/cluster/member/remove", { ID: "42" });
    assert.equal(remove.status, 404);
    assert.equal(remove.body.message, "etcdserver: member not found");
    const update = await post(m.base, "/v3/cluster/member/update", {
      ID: "42",
      peerURLs: ["http://127.0.0.1:1"],
    });
    assert.equal(update.status, 404);
    const promote = await post(m.base, "/v3/cluster/member/promote", { ID: member?.ID });
    assert.equal(promote.status, 400, JSON.stringify(promote.body));
  });

  it("maintenance: status, alarm, defragment, hash, hashkv and a snapshot stream", async () => {
    await postJson(m.base, "/v3/kv/put", { key: b64("m"), value: b64("v") });
    const status = await post(m.base, "/v3/maintenance/status", {});
    assert.equal(status.status, 200);
    assert.equal(status.body.version, "3.4.0");
    assert.match(String(status.body.leader), /^[0-9]+$/);
    assert.match(String(status.body.raftIndex), /^[0-9]+$/);
    const alarm = await post(m.base, "/v3/maintenance/alarm", { action: "GET" });
    assert.equal(alarm.status, 200);
    assert.equal(alarm.body.alarms, undefined, "no alarm: the list is left out");
    const badAction = await post(m.base, "/v3/maintenance/alarm", { action: "EXPLODE" });
    assert.equal(badAction.status, 400);
    assert.match(String(badAction.body.message), /action must be one of GET, ACTIVATE, DEACTIVATE/);
    assert.deepEqual(Object.keys((await post(m.base, "/v3/maintenance/defragment", {})).body), [
      "header",
    ]);
    const hash = await post(m.base, "/v3/maintenance/hash", {});
    assert.equal(typeof hash.body.hash, "number", "uint32 is a JSON number");
    const hashKv = await post(m.base, "/v3/maintenance/hashkv", { revision: 0 });
    assert.equal(hashKv.status, 200);
    assert.equal(typeof hashKv.body.hash, "number");

    const snapshot = await openStream(`${m.base}/v3/maintenance/snapshot`, "{}");
    assert.equal(snapshot.status, 200);
    await snapshot.ended();
    const chunks = snapshot.objects.map((o) => o.result as Record<string, unknown>);
    assert.ok(chunks.length >= 1);
    assert.equal(chunks.at(-1)?.remaining_bytes, undefined, "the last chunk has 0 remaining");
    const blob = Buffer.concat(chunks.map((c) => Buffer.from(String(c.blob ?? ""), "base64")));
    assert.ok(blob.length > 0);
  });

  it("auth: users and roles, enable, a token in Authorization, refusals as over gRPC", async () => {
    const ok = async (path: string, body: unknown, token?: string) => {
      const r = await post(m.base, path, body, token);
      assert.equal(r.status, 200, `${path}: ${JSON.stringify(r.body)}`);
      assertHeader(r.body.header);
      return r.body;
    };
    await ok("/v3/auth/user/add", { name: "root", password: "rootpw" });
    await ok("/v3/auth/role/add", { name: "root" });
    await ok("/v3/auth/user/grant", { user: "root", role: "root" });
    await ok("/v3/auth/user/add", { name: "alice", password: "alicepw" });
    await ok("/v3/auth/role/add", { name: "reader" });
    await ok("/v3/auth/role/grant", {
      name: "reader",
      perm: { permType: "READWRITE", key: b64("a/"), range_end: b64("a0") },
    });
    await ok("/v3/auth/user/grant", { user: "alice", role: "reader" });
    const role = await ok("/v3/auth/role/get", { role: "reader" });
    assert.deepEqual(role.perm, [{ permType: "READWRITE", key: b64("a/"), range_end: b64("a0") }]);
    assert.deepEqual((await ok("/v3/auth/role/list", {})).roles, ["reader", "root"]);
    await ok("/v3/auth/enable", {});
    try {
      const refused = await post(m.base, "/v3/auth/user/list", {});
      assert.equal(refused.status, 400);
      assert.deepEqual(refused.body, {
        error: "etcdserver: user name is empty",
        message: "etcdserver: user name is empty",
        code: 3,
      });
      const bogus = await post(m.base, "/v3/auth/user/list", {}, "not-a-token");
      assert.equal(bogus.status, 401);
      assert.equal(bogus.body.message, "etcdserver: invalid auth token");
      const wrong = await post(m.base, "/v3/auth/authenticate", { name: "root", password: "x" });
      assert.equal(wrong.status, 400);
      assert.match(String(wrong.body.message), /authentication failed/);

      const root = String(
        (await ok("/v3/auth/authenticate", { name: "root", password: "rootpw" })).token,
      );
      assert.match(root, /.+/);
      assert.deepEqual((await ok("/v3/auth/user/list", {}, root)).users, ["alice", "root"]);
      assert.deepEqual((await ok("/v3/auth/user/get", { name: "alice" }, root)).roles, ["reader"]);
      assert.equal((await post(m.base, "/v3/maintenance/defragment", {})).status, 400);
      await ok("/v3/maintenance/defragment", {}, root);

      const alice = String(
        (await ok("/v3/auth/authenticate", { name: "alice", password: "alicepw" })).token,
      );
      const denied = await post(m.base, "/v3/auth/user/list", {}, alice);
      assert.equal(denied.status, 403);
      assert.equal(denied.body.message, "etcdserver: permission denied");
      // Alice's watch on her range is created; on another range it is created and canceled.
      const w = await openStream(
        `${m.base}/v3/watch`,
        `${JSON.stringify({ create_request: { key: b64("a/x") } })}\n${JSON.stringify({ create_request: { key: b64("b") } })}`,
        { authorization: alice },
      );
      const canceled = await w.next((o) => (o.result as { canceled?: boolean })?.canceled === true);
      assert.match(
        String((canceled.result as Record<string, unknown>).cancel_reason),
        /permission denied/,
      );
      w.close();
      await settlesTo(() => m.member.watchCount, 0);

      await ok("/v3/auth/user/changepw", { name: "alice", password: "newpw" }, root);
      await ok("/v3/auth/user/revoke", { name: "alice", role: "reader" }, root);
      await ok(
        "/v3/auth/role/revoke",
        { role: "reader", key: b64("a/"), range_end: b64("a0") },
        root,
      );
      await ok("/v3/auth/role/delete", { role: "reader" }, root);
      await ok("/v3/auth/user/delete", { name: "alice" }, root);
      await ok("/v3/auth/disable", {}, root);
    } finally {
      // Whatever failed above, the next test must not meet an auth-enabled member.
      const root = await post(m.base, "/v3/auth/authenticate", {
        name: "root",
        password: "rootpw",
      });
      if (root.status === 200) await post(m.base, "/v3/auth/disable", {}, String(root.body.token));
    }
    assert.equal((await post(m.base, "/v3/auth/user/list", {})).status, 200);
  });

  it("gateway calls count in grpc_server_*_total as gRPC calls do; a refused body does not", async () => {
    const handled = async (code: string): Promise<number> => {
      const text = await (await fetch(`${m.base}/metrics`)).text();
      const line = text
        .split("\n")
        .find(
          (l) =>
            l.startsWith("grpc_server_handled_total{") &&
            l.includes('grpc_method="LeaseGrant"') &&
            l.includes(`grpc_code="${code}"`),
        );
      return line === undefined ? 0 : Number(line.split(" ").at(-1));
    };
    const ok = await handled("OK");
    const invalid = await handled("InvalidArgument");
    assert.equal((await post(m.base, "/v3/lease/grant", { TTL: 5 })).status, 200);
    assert.equal((await post(m.base, "/v3/lease/grant", "{bad")).status, 400);
    assert.equal((await post(m.base, "/v3/lease/grant", { TTL: 5, ID: "-5" })).status, 400);
    assert.equal(await handled("OK"), ok + 1);
    assert.equal(
      await handled("InvalidArgument"),
      invalid + 1,
      "only the call the handler refused",
    );
  });

  it("etcd 3.4's deprecated /v3beta/ prefix reaches the same routes", async () => {
    const put = await post(m.base, "/v3beta/kv/put", { key: b64("beta"), value: b64("v") });
    assert.equal(put.status, 200);
    const range = await post(m.base, "/v3beta/kv/range", { key: b64("beta") });
    assert.equal(unb64((range.body.kvs as { value: string }[])[0]?.value), "v");
    const grant = await post(m.base, "/v3beta/lease/grant", { TTL: 5 });
    assert.equal(grant.body.TTL, "5");
    assert.equal((await post(m.base, "/v3alpha/kv/range", {})).status, 404);
  });

  it("bad requests on the new routes get clear errors and the member keeps serving", async () => {
    const malformed = await post(m.base, "/v3/lease/grant", "{not json");
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.code, 3);
    assert.match(String(malformed.body.message), /malformed JSON body/);
    const unknown = await post(m.base, "/v3/lease/grant", { TTL: 5, ttl_seconds: 1 });
    assert.equal(unknown.status, 400);
    assert.match(
      String(unknown.body.message),
      /unknown field "ttl_seconds" in etcdserverpb\.LeaseGrantRequest/,
    );
    const notInt = await post(m.base, "/v3/lease/grant", { TTL: "soon" });
    assert.equal(notInt.status, 400);
    assert.match(String(notInt.body.message), /TTL must be an integer/);
    const outOfRange = await post(m.base, "/v3/lease/revoke", { ID: "9223372036854775808" });
    assert.equal(outOfRange.status, 400);
    const notObject = await post(m.base, "/v3/maintenance/status", "[1, 2]");
    assert.equal(notObject.status, 400);
    const deep = await post(
      m.base,
      "/v3/auth/role/grant",
      `{"perm":${"[".repeat(100)}${"]".repeat(100)}}`,
    );
    assert.equal(deep.status, 400);

    const route = await post(m.base, "/v3/lease/nope", {});
    assert.equal(route.status, 404);
    assert.equal(route.body.code, 5);
    const get = await fetch(`${m.base}/v3/watch`);
    assert.equal(get.status, 405);
    assert.equal(get.headers.get("allow"), "POST");
    await get.text();

    const big = JSON.stringify({ name: "x".repeat(2 * 1024 * 1024) });
    const tooLarge = await post(m.base, "/v3/auth/user/add", big);
    assert.equal(tooLarge.status, 413);
    assert.match(String(tooLarge.body.message), /request is too large/);
    const bigWatch = await openStream(
      `${m.base}/v3/watch`,
      JSON.stringify({ create_request: { key: b64("x".repeat(2 * 1024 * 1024)) } }),
    );
    assert.equal(bigWatch.status, 413);
    await bigWatch.ended();
    assert.equal(
      (bigWatch.objects[0]?.error as { http_code?: number } | undefined)?.http_code,
      413,
    );

    const status = await post(m.base, "/v3/maintenance/status", {});
    assert.equal(status.status, 200, "the member still serves");
    await settlesTo(() => m.member.watchCount, 0);
  });
});

describe("JSON gateway streams when the member stops", () => {
  it("an open watch stream ends (the response completes) and the member stops promptly", async () => {
    const m = await startSingleMember("n9");
    try {
      const w = await openStream(
        `${m.base}/v3/watch`,
        JSON.stringify({ create_request: { key: b64("s") } }),
      );
      await w.next((o) => (o.result as { created?: boolean } | undefined)?.created === true);
      const started = Date.now();
      await m.member.stop();
      await w.ended(5_000);
      assert.ok(Date.now() - started < 5_000, "the stream did not hold the stop");
    } finally {
      await m.close();
    }
  });
});
