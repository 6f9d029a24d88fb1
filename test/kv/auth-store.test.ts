// The replicated auth store (kv/auth-store.ts) and what apply checks with it
// (kv/auth-apply.ts): permission ranges and their union, the auth revision, etcd's refusals,
// root, txns refused whole, snapshot round trips and determinism across replicas.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  type AuthInfo,
  type AuthRequest,
  AuthStore,
  decodeResult,
  encodeCommand,
  intervalsCover,
  type KvCommand,
  type KvResult,
  KvStateMachine,
  type PlainKvCommand,
} from "../../src/kv/index.js";
import { prefixEnd } from "../../src/lib/index.js";
import { asIndex } from "../../src/raft/index.js";
import { b, ctx, throwsKv } from "./helpers.js";

const OPEN = new Uint8Array([0]);
const ivl = (start: string, end?: string) => ({
  start: b(start),
  end: end === undefined ? undefined : b(end),
});

describe("permission ranges", () => {
  test("the union of intervals must cover the whole request, gaps refuse", () => {
    assert.equal(intervalsCover([ivl("a", "c")], ivl("a", "b")), true);
    assert.equal(intervalsCover([ivl("a", "c")], ivl("a", "c")), true);
    assert.equal(intervalsCover([ivl("a", "c")], ivl("a", "d")), false);
    assert.equal(intervalsCover([ivl("a", "b"), ivl("b", "d")], ivl("a", "d")), true);
    assert.equal(intervalsCover([ivl("b", "d"), ivl("a", "b")], ivl("a", "d")), true);
    assert.equal(intervalsCover([ivl("a", "b"), ivl("c", "d")], ivl("a", "d")), false);
    assert.equal(intervalsCover([ivl("a")], ivl("zzz", "zzzz")), true);
    assert.equal(intervalsCover([ivl("b")], ivl("a", "c")), false);
    assert.equal(intervalsCover([], ivl("a", "b")), false);
  });

  test("points, prefixes and open ends as etcd reads a permission", () => {
    const store = new AuthStore();
    store.userAdd("root", "h", false);
    store.userGrantRole("root", "root");
    store.userAdd("u", "h", false);
    store.roleAdd("r");
    store.userGrantRole("u", "r");
    store.roleGrantPermission("r", {
      permType: "READ",
      key: b("/app/"),
      rangeEnd: prefixEnd(b("/app/")),
    });
    store.roleGrantPermission("r", {
      permType: "WRITE",
      key: b("/one"),
      rangeEnd: new Uint8Array(),
    });
    store.roleGrantPermission("r", { permType: "READWRITE", key: b("/z/"), rangeEnd: OPEN });
    store.authEnable();
    const u: AuthInfo = { username: "u", revision: store.revision };
    store.checkRange(u, b("/app/x"));
    store.checkRange(u, b("/app/"), prefixEnd(b("/app/")));
    store.checkRange(u, b("/app/a"), b("/app/b"));
    throwsKv(() => store.checkRange(u, b("/app"), prefixEnd(b("/app"))), "AUTH_PERMISSION_DENIED");
    throwsKv(() => store.checkWrite(u, b("/app/x")), "AUTH_PERMISSION_DENIED");
    store.checkWrite(u, b("/one"));
    throwsKv(() => store.checkWrite(u, b("/one0")), "AUTH_PERMISSION_DENIED");
    throwsKv(() => store.checkRange(u, b("/one")), "AUTH_PERMISSION_DENIED");
    // "\0" as range end: every key from /z/ on, for both read and write.
    store.checkRange(u, b("/z/"), OPEN);
    store.checkWrite(u, b("\xff\xff"));
    throwsKv(() => store.checkRange(u, b(""), OPEN), "AUTH_PERMISSION_DENIED");
    // root may do anything; nobody else may do admin things.
    const root: AuthInfo = { username: "root", revision: store.revision };
    store.checkRange(root, b(""), OPEN);
    store.checkAdmin(root);
    throwsKv(() => store.checkAdmin(u), "AUTH_PERMISSION_DENIED");
    throwsKv(() => store.checkAdmin({ username: "", revision: 0 }), "AUTH_USER_EMPTY");
    throwsKv(() => store.checkAdmin({ username: "ghost", revision: 9 }), "AUTH_USER_NOT_FOUND");
  });
});

describe("auth revision and etcd's refusals", () => {
  test("every change bumps the revision; old revisions, no user, unknown users are refused", () => {
    const store = new AuthStore();
    assert.equal(store.revision, 1);
    throwsKv(
      () => store.authEnable(),
      "AUTH_ROOT_USER_NOT_EXIST",
      "etcdserver: root user does not exist",
    );
    store.userAdd("root", "h", false);
    throwsKv(() => store.authEnable(), "AUTH_ROOT_ROLE_NOT_EXIST");
    throwsKv(() => store.userGrantRole("root", "nope"), "AUTH_ROLE_NOT_FOUND");
    store.userGrantRole("root", "root"); // root needs no role record
    const before = store.revision;
    store.userGrantRole("root", "root"); // a duplicate grant changes nothing
    assert.equal(store.revision, before);
    store.authEnable();
    assert.equal(store.revision, before + 1);
    const info: AuthInfo = { username: "root", revision: store.revision };
    store.checkWrite(info, b("k"));
    store.roleAdd("x");
    throwsKv(
      () => store.checkWrite(info, b("k")),
      "AUTH_OLD_REVISION",
      "etcdserver: revision of auth store is old",
    );
    throwsKv(() => store.checkWrite({ username: "", revision: 0 }, b("k")), "AUTH_USER_EMPTY");
    throwsKv(
      () => store.checkWrite({ username: "ghost", revision: store.revision }, b("k")),
      "AUTH_PERMISSION_DENIED",
    );
    throwsKv(() => store.userAdd("", "h", false), "AUTH_USER_EMPTY");
    throwsKv(() => store.userAdd("root", "h", false), "AUTH_USER_ALREADY_EXIST");
    throwsKv(() => store.roleAdd("x"), "AUTH_ROLE_ALREADY_EXIST");
    throwsKv(() => store.userDelete("root"), "AUTH_INVALID_MGMT");
    throwsKv(() => store.userRevokeRole("root", "root"), "AUTH_INVALID_MGMT");
    throwsKv(
      () => store.roleRevokePermission("x", b("a"), new Uint8Array()),
      "AUTH_PERMISSION_NOT_GRANTED",
    );
    throwsKv(() => store.userRevokeRole("nobody", "x"), "AUTH_USER_NOT_FOUND");
    store.authDisable();
    // Disabled: everything is allowed, whoever asks.
    store.checkWrite({ username: "", revision: 0 }, b("k"));
    store.userDelete("root");
  });

  test("deleting a role takes it from its users; tokens hear deletions and password changes", () => {
    const store = new AuthStore();
    const heard: string[] = [];
    store.subscribe({
      userInvalidated: (u) => heard.push(`invalid ${u}`),
      disabled: () => heard.push("disabled"),
    });
    store.userAdd("u", "h", false);
    store.roleAdd("r");
    store.userGrantRole("u", "r");
    store.roleDelete("r");
    assert.deepEqual(store.user("u")?.roles, []);
    store.userChangePassword("u", "h2");
    store.userDelete("u");
    assert.deepEqual(heard, ["invalid u", "invalid u"]);
  });
});

// ---- through the state machine ------------------------------------------------------------

function run(sm: KvStateMachine, command: KvCommand, index = 1): KvResult {
  return decodeResult(sm.apply(encodeCommand(command), { ...ctx(), index: asIndex(index) }));
}

function auth(request: AuthRequest, as?: AuthInfo): KvCommand {
  const command: PlainKvCommand = { type: "Auth", request };
  return as === undefined ? command : { type: "WithAuth", auth: as, command };
}

function setUp(sm: KvStateMachine): void {
  const steps: AuthRequest[] = [
    { op: "UserAdd", name: "root", passwordHash: "$2a$04$hash", noPassword: false },
    { op: "RoleAdd", name: "root" },
    { op: "UserGrantRole", user: "root", role: "root" },
    { op: "UserAdd", name: "alice", passwordHash: "$2a$04$other", noPassword: false },
    { op: "RoleAdd", name: "app" },
    {
      op: "RoleGrantPermission",
      name: "app",
      perm: { permType: "READ", key: b("/app/"), rangeEnd: prefixEnd(b("/app/")) },
    },
    { op: "UserGrantRole", user: "alice", role: "app" },
    { op: "AuthEnable" },
  ];
  for (const request of steps) {
    const r = run(sm, auth(request));
    assert.equal(r.ok, true, JSON.stringify(r));
  }
}

describe("apply", () => {
  test("a txn with a forbidden op in the branch it will not take is refused whole", () => {
    const sm = new KvStateMachine();
    run(sm, { type: "Put", request: { key: b("/app/a"), value: b("1") } });
    setUp(sm);
    const alice: AuthInfo = { username: "alice", revision: sm.store.auth.revision };
    const before = sm.hash();
    const txn: PlainKvCommand = {
      type: "Txn",
      request: {
        compare: [{ key: b("/app/a"), target: "VALUE", result: "EQUAL", value: b("1") }],
        success: [{ type: "range", request: { key: b("/app/a") } }],
        failure: [{ type: "put", request: { key: b("/app/a"), value: b("evil") } }],
      },
    };
    const r = run(sm, { type: "WithAuth", auth: alice, command: txn });
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.error.message, "etcdserver: permission denied");
    assert.equal(sm.hash(), before);
    // The same reads alone are fine; a plain command (no user) is "user name is empty".
    const read: PlainKvCommand = { type: "Range", request: { key: b("/app/a") } };
    assert.equal(run(sm, { type: "WithAuth", auth: alice, command: read }).ok, true);
    const anon = run(sm, read);
    assert.equal(!anon.ok && anon.error.message, "etcdserver: user name is empty");
    // Admin commands need root; alice may read her own user and role.
    const list = run(sm, auth({ op: "UserList" }, alice));
    assert.equal(!list.ok && list.error.message, "etcdserver: permission denied");
    const self = run(sm, auth({ op: "UserGet", name: "alice" }, alice));
    assert.ok(self.ok && self.response.type === "Auth");
    assert.deepEqual(self.ok && self.response.type === "Auth" && self.response.response.names, [
      "app",
    ]);
    assert.equal(run(sm, auth({ op: "RoleGet", role: "app" }, alice)).ok, true);
    assert.equal(run(sm, auth({ op: "RoleGet", role: "root" }, alice)).ok, false);
  });

  test("Authenticate appends the entry index and is refused when the auth state moved", () => {
    const sm = new KvStateMachine();
    setUp(sm);
    const tokens: string[] = [];
    sm.store.auth.subscribe({ tokenAssigned: (t, u) => tokens.push(`${u}=${t}`) });
    const rev = sm.store.auth.revision;
    const r = run(
      sm,
      auth({ op: "Authenticate", name: "alice", token: "tok", checkedRevision: rev }),
      42,
    );
    assert.ok(r.ok && r.response.type === "Auth" && r.response.response.token === "tok.42");
    assert.deepEqual(tokens, ["alice=tok.42"]);
    const stale = run(
      sm,
      auth({ op: "Authenticate", name: "alice", token: "t2", checkedRevision: rev - 1 }),
    );
    assert.equal(!stale.ok && stale.error.code, "AUTH_OLD_REVISION");
    const ghost = run(
      sm,
      auth({ op: "Authenticate", name: "ghost", token: "t3", checkedRevision: rev }),
    );
    assert.equal(
      !ghost.ok && ghost.error.message,
      "etcdserver: authentication failed, invalid user ID or password",
    );
  });

  test("snapshot round trip and determinism: replicas agree, restore keeps auth, pristine is unchanged", () => {
    const plain = new KvStateMachine();
    run(plain, { type: "Put", request: { key: b("k"), value: b("v") } });
    const plainSnapshot = plain.snapshot();
    assert.equal(plainSnapshot[3], 1); // no auth state: the format before auth existed
    const one = new KvStateMachine();
    const two = new KvStateMachine();
    for (const sm of [one, two]) {
      run(sm, { type: "Put", request: { key: b("k"), value: b("v") } });
      setUp(sm);
    }
    assert.equal(one.hash(), two.hash());
    assert.notEqual(one.hash(), plain.hash());
    const snap = one.snapshot();
    assert.equal(snap[3], 2);
    const restored = new KvStateMachine();
    restored.restore(snap);
    assert.equal(restored.hash(), one.hash());
    assert.deepEqual(restored.snapshot(), snap);
    assert.equal(restored.store.auth.enabled, true);
    assert.deepEqual(restored.store.auth.userNames(), ["alice", "root"]);
    assert.equal(restored.store.auth.revision, one.store.auth.revision);
    const perm = restored.store.auth.role("app")?.permissions[0];
    assert.deepEqual(perm?.key, b("/app/"));
    // A change on one replica only makes the hashes differ.
    run(
      two,
      auth(
        { op: "RoleAdd", name: "extra" },
        { username: "root", revision: two.store.auth.revision },
      ),
    );
    assert.notEqual(one.hash(), two.hash());
    // Corrupt auth bytes are refused, not half restored.
    const bad = Uint8Array.from(snap);
    bad[bad.length - 1] = 0xff;
    assert.throws(() => new KvStateMachine().restore(bad));
  });
});
