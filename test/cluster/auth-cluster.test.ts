// Authentication and authorization on a real 3-member cluster (three `ordo serve` processes),
// driven by Debian's etcdctl 3.4 and by the npm `etcd3` client, unmodified: `user add root`,
// `auth enable`, a role with a prefix permission, a user who may read /app/ but not write it
// nor read /other/, a txn touching a forbidden key refused whole, a watch on a forbidden range
// refused, a wrong password refused, a garbage token refused while the member keeps serving,
// `auth disable`.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { Etcd3 } from "etcd3";
import { serviceClient } from "../../src/api/index.js";
import { run } from "../../src/cli/main.js";
import { capturedOutput } from "../../src/cli/output.js";
import { KvClient } from "../../src/client/index.js";
import { etcdctlMissing, etcdctlOk, etcdctlRefused, etcdctl as etcdctlRun } from "./etcdctl.js";
import { type ProcessCluster, startProcessCluster } from "./processes.js";

// A watch that is not refused would run on: 15 s bounds every run.
const etcdctl = (endpoints: string, args: string[]) =>
  etcdctlRun(endpoints, args, { killAfterMs: 15_000 });
const ok = (endpoints: string, args: string[], input?: string) =>
  etcdctlOk(endpoints, args, { input, killAfterMs: 15_000 });
const refused = (endpoints: string, args: string[], message: RegExp, input?: string) =>
  etcdctlRefused(endpoints, args, message, { input, killAfterMs: 15_000 });

const DENIED = /etcdserver: permission denied/;

describe("auth on a real 3-member cluster", {
  timeout: 120_000,
  skip: etcdctlMissing,
}, () => {
  let cluster: ProcessCluster;
  let all: string;
  before(async () => {
    cluster = await startProcessCluster(3, ["--bcrypt-cost", "6"]);
    all = cluster.endpoints.join(",");
    // The cluster takes writes once a leader is agreed; wait by a successful write.
    for (let i = 0; ; i++) {
      const r = await etcdctl(all, ["put", "/app/seed", "s"]);
      if (r.code === 0) break;
      if (i >= 50) assert.fail(`the cluster never took a write: ${r.stderr}`);
    }
  });
  after(() => cluster?.stop());

  test("etcdctl 3.4: users, roles, prefix permissions, txn and watch refusals, disable", async () => {
    const root = ["--user", "root:rootpw"];
    const alice = ["--user", "alice:alicepw"];
    await ok(all, ["user", "add", "root:rootpw"]);
    // etcdctl's auth enable adds the root role and grants it when the server asks for it.
    assert.match(await ok(all, ["auth", "enable"]), /Authentication Enabled/);
    await refused(all, ["put", "/app/x", "1"], /etcdserver: user name is empty/);
    await ok(all, [...root, "put", "/app/a", "1"]);
    await ok(all, [...root, "put", "/other/o", "secret"]);
    await ok(all, [...root, "role", "add", "app-reader"]);
    await ok(all, [...root, "role", "grant-permission", "--prefix", "app-reader", "read", "/app/"]);
    await ok(all, [...root, "user", "add", "alice:alicepw"]);
    await ok(all, [...root, "user", "grant-role", "alice", "app-reader"]);
    assert.match(await ok(all, [...root, "role", "get", "app-reader"]), /\[\/app\/, \/app0\)/);
    assert.match(await ok(all, [...root, "user", "get", "alice"]), /Roles: app-reader/);
    assert.deepEqual((await ok(all, [...root, "user", "list"])).trim().split("\n"), [
      "alice",
      "root",
    ]);

    // alice reads /app/ (linearizable and serializable, at every member) ...
    for (const endpoint of cluster.endpoints) {
      assert.equal(await ok(endpoint, [...alice, "get", "/app/a", "--print-value-only"]), "1\n");
      const s = await ok(endpoint, [
        ...alice,
        "get",
        "/app/a",
        "--consistency=s",
        "--print-value-only",
      ]);
      assert.equal(s, "1\n");
    }
    // ... but may not write it, nor read /other/, nor read everything.
    await refused(all, [...alice, "put", "/app/a", "2"], DENIED);
    await refused(all, [...alice, "del", "/app/a"], DENIED);
    await refused(all, [...alice, "get", "/other/o"], DENIED);
    await refused(all, [...alice, "get", "", "--from-key"], DENIED);
    // A txn whose success branch only reads /app/ but whose failure branch writes: refused
    // whole, though the compare would pick the permitted branch.
    await refused(
      all,
      [...alice, "txn"],
      DENIED,
      'value("/app/a") = "1"\n\nget /app/a\n\nput /app/a evil\n\n',
    );
    await refused(
      all,
      [...alice, "txn"],
      DENIED,
      'value("/other/o") = "secret"\n\nget /app/a\n\n\n',
    );
    assert.equal(await ok(all, [...root, "get", "/app/a", "--print-value-only"]), "1\n");
    // A watch on a forbidden range is canceled at once; one on /app/ is not.
    const watch = await etcdctl(all, [...alice, "watch", "--prefix", "/other/"]);
    assert.notEqual(watch.code, 0);
    assert.match(
      watch.stdout + watch.stderr,
      // etcd 3.4's words: the gRPC status error's string (npm run parity:etcd found it)
      /watch was canceled \(rpc error: code = PermissionDenied desc = etcdserver: permission denied\)/,
    );
    // Wrong password, unknown user.
    await refused(all, ["--user", "alice:wrong", "get", "/app/a"], /authentication failed/);
    await refused(all, ["--user", "mallory:x", "get", "/app/a"], /authentication failed/);
    // Admin calls need root.
    await refused(all, [...alice, "user", "list"], DENIED);
    await refused(all, [...alice, "endpoint", "hashkv"], DENIED);
    await refused(all, [...alice, "compaction", "1"], DENIED);
    await ok(cluster.endpoints[0] as string, [...root, "endpoint", "hashkv"]);
    // Granting write lets alice write; revoking the role takes everything away again.
    await ok(all, [
      ...root,
      "role",
      "grant-permission",
      "--prefix",
      "app-reader",
      "readwrite",
      "/app/",
    ]);
    await ok(all, [...alice, "put", "/app/a", "2"]);
    await ok(all, [...root, "user", "revoke-role", "alice", "app-reader"]);
    await refused(all, [...alice, "get", "/app/a"], DENIED);
    // Changing a password voids the old one.
    await ok(all, [...root, "user", "passwd", "alice", "--interactive=false"], "newpw\n");
    await refused(all, [...alice, "get", "/app/a"], /authentication failed/);
    // The root user and role cannot be removed while auth is on.
    await refused(all, [...root, "user", "delete", "root"], /invalid auth management/);
    assert.match(await ok(all, [...root, "auth", "disable"]), /Authentication Disabled/);
    assert.equal(await ok(all, ["get", "/app/a", "--print-value-only"]), "2\n");
    assert.equal(await ok(all, ["get", "/other/o", "--print-value-only"]), "secret\n");
  });

  test("npm etcd3 with auth options; a garbage token is refused and the member keeps serving", async () => {
    const hosts = cluster.endpoints.map((e) => `http://${e}`);
    const admin = new Etcd3({ hosts, auth: { username: "root", password: "rootpw" } });
    const anon = new Etcd3({ hosts });
    try {
      // The etcdctl test left auth off (root user and role still there): turn it on again.
      assert.match(await ok(all, ["auth", "enable"]), /Authentication Enabled/);
      await admin.user("bob").create("bobpw");
      const reader = await admin.role("e3-reader").create();
      await reader.grant({ permission: "Read", range: admin.range({ prefix: "/app/" }) });
      await admin.user("bob").addRole("e3-reader");
      await admin.put("/app/b").value("from-root");
      const bob = new Etcd3({ hosts, auth: { username: "bob", password: "bobpw" } });
      try {
        assert.equal(await bob.get("/app/b").string(), "from-root");
        await assert.rejects(bob.put("/app/b").value("bob").exec(), DENIED);
        await assert.rejects(bob.get("/other/o").string(), DENIED);
        await assert.rejects(
          bob
            .if("/app/b", "Value", "==", "from-root")
            .then(bob.put("/other/o").value("x"))
            .commit(),
          DENIED,
        );
        await assert.rejects(anon.get("/app/b").string(), /user name is empty/);
        // A wrong password.
        const wrong = new Etcd3({ hosts, auth: { username: "bob", password: "nope" } });
        try {
          await assert.rejects(wrong.get("/app/b").string(), /authentication failed/);
        } finally {
          wrong.close();
        }
        // Garbage tokens, raw: refused as UNAUTHENTICATED, and the member answers after.
        const KV = serviceClient("KV");
        const raw = new KV(cluster.endpoints[1] as string, grpc.credentials.createInsecure());
        try {
          for (const token of ["garbage", "x".repeat(10_000), "abc.123", ""]) {
            const md = new grpc.Metadata();
            md.set("token", token);
            const range = raw.Range as (
              request: object,
              metadata: grpc.Metadata,
              callback: (e: grpc.ServiceError | null) => void,
            ) => void;
            const err = await new Promise<grpc.ServiceError | null>((resolve) =>
              range.call(raw, { key: Buffer.from("/app/b") }, md, (e: grpc.ServiceError | null) =>
                resolve(e),
              ),
            );
            assert.ok(err !== null, `token ${JSON.stringify(token.slice(0, 10))} was accepted`);
            if (token !== "") {
              assert.equal(err.code, grpc.status.UNAUTHENTICATED);
              assert.equal(err.details, "etcdserver: invalid auth token");
            } else {
              assert.equal(err.details, "etcdserver: user name is empty");
            }
          }
        } finally {
          raw.close();
        }
        assert.equal(await bob.get("/app/b").string(), "from-root");
        // The JSON gateway takes the token from the Authorization header, as etcd's does.
        const Auth = serviceClient("Auth");
        const authRaw = new Auth(cluster.endpoints[0] as string, grpc.credentials.createInsecure());
        let token = "";
        try {
          const authenticate = authRaw.Authenticate as (
            request: object,
            callback: (e: grpc.ServiceError | null, r: { token: string }) => void,
          ) => void;
          token = await new Promise<string>((resolve, reject) =>
            authenticate.call(authRaw, { name: "bob", password: "bobpw" }, (e, r) =>
              e ? reject(e) : resolve(r.token),
            ),
          );
        } finally {
          authRaw.close();
        }
        const gateway = async (key: string, authorization?: string) => {
          const res = await fetch(`http://${cluster.endpoints[2]}/v3/kv/range`, {
            method: "POST",
            headers: authorization === undefined ? {} : { authorization },
            body: JSON.stringify({ key: Buffer.from(key).toString("base64") }),
          });
          return { status: res.status, body: (await res.json()) as { message?: string } };
        };
        assert.equal((await gateway("/app/b", token)).status, 200);
        const other = await gateway("/other/o", token);
        assert.equal(other.status, 403);
        assert.equal(other.body.message, "etcdserver: permission denied");
        assert.equal((await gateway("/app/b", "garbage")).status, 401);
        assert.equal((await gateway("/app/b")).body.message, "etcdserver: user name is empty");
        // A huge user name is a clear refusal.
        await assert.rejects(admin.user("u".repeat(1_600_000)).create("pw"), /too large/);
        assert.equal(await bob.get("/app/b").string(), "from-root");
        await admin.auth.authDisable({});
        assert.equal(await anon.get("/other/o").string(), "secret");
      } finally {
        bob.close();
      }
    } finally {
      admin.close();
      anon.close();
    }
  });

  test("ordo user/role/auth and the TypeScript client's auth options", async () => {
    const ordo = async (...args: string[]) => {
      const o = capturedOutput();
      const code = await run([...args, "--endpoints", all], o);
      return { code, out: o.out, err: o.err };
    };
    const okOrdo = async (...args: string[]) => {
      const r = await ordo(...args);
      assert.equal(r.code, 0, `ordo ${args.join(" ")}: ${r.err}`);
      return r.out;
    };
    const root = ["--user", "root:rootpw"];
    // Auth is off again (the etcd3 test disabled it); root still has the root role.
    assert.equal(await okOrdo("user", "add", "carol:carolpw"), "User carol created\n");
    await okOrdo("role", "add", "c-rw");
    await okOrdo("role", "grant-permission", "c-rw", "readwrite", "/c/", "--prefix");
    await okOrdo("user", "grant-role", "carol", "c-rw");
    assert.equal(await okOrdo("auth", "enable"), "Authentication Enabled\n");
    assert.match(await okOrdo("auth", "status", ...root), /Authentication Status: true/);
    assert.match(
      await okOrdo("role", "get", "c-rw", ...root),
      /KV Read:\n\t\[\/c\/, \/c0\)\nKV Write:\n\t\[\/c\/, \/c0\)/,
    );
    assert.equal(
      await okOrdo("put", "/c/x", "1", "--user", "carol", "--password", "carolpw"),
      "OK\n",
    );
    const denied = await ordo("get", "/app/a", "--user", "carol:carolpw");
    assert.equal(denied.code, 1);
    assert.match(denied.err, /etcdserver: permission denied/);
    const anonymous = await ordo("put", "/c/x", "2");
    assert.match(anonymous.err, /etcdserver: user name is empty/);
    assert.equal((await ordo("user", "list", "--user", "carol:carolpw")).code, 1);

    const carol = new KvClient(cluster.endpoints, {
      auth: { username: "carol", password: "carolpw" },
    });
    try {
      await carol.put("/c/y", "2");
      assert.equal((await carol.get("/c/y")).kvs[0]?.value, "2");
      await assert.rejects(carol.get("/other/o"), /permission denied/);
      // A token the members no longer know (as after a restart): the client authenticates
      // again and the call goes through.
      (carol as unknown as { authenticator: { token: string } }).authenticator.token = "stale.1";
      assert.equal((await carol.get("/c/y")).kvs[0]?.value, "2");
    } finally {
      carol.close();
    }
    const once = new KvClient(cluster.endpoints, {
      exactlyOnce: true,
      auth: { username: "carol", password: "carolpw" },
    });
    try {
      await once.put("/c/z", "1");
      (once as unknown as { authenticator: { token: string } }).authenticator.token = "stale.2";
      await once.put("/c/z", "2");
      assert.equal((await once.get("/c/z")).kvs[0]?.value, "2");
    } finally {
      once.close();
    }
    const wrong = new KvClient(cluster.endpoints, { auth: { username: "carol", password: "x" } });
    try {
      await assert.rejects(wrong.get("/c/y"), /authentication failed/);
    } finally {
      wrong.close();
    }
    assert.equal(await okOrdo("auth", "disable", ...root), "Authentication Disabled\n");
  });
});
