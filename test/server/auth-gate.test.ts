// The member's auth gate (server/auth-gate.ts): tokens announced through apply, their TTL
// (renewed by use), garbage and oversized tokens, tokens voided by a password change or by
// disabling auth, the TLS common name path, and a nested WithAuth envelope refused by the codec.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  type AuthRequest,
  decodeCommand,
  decodeResult,
  encodeCommand,
  KvError,
  type KvResult,
  KvStateMachine,
} from "../../src/kv/index.js";
import { asIndex, asTerm } from "../../src/raft/index.js";
import { AuthGate, commonNameOf } from "../../src/server/auth-gate.js";

let index = 0;
function apply(sm: KvStateMachine, request: AuthRequest, username = "root"): KvResult {
  index++;
  const bytes = encodeCommand({
    type: "WithAuth",
    auth: { username, revision: sm.store.auth.revision },
    command: { type: "Auth", request },
  });
  return decodeResult(
    sm.apply(bytes, {
      index: asIndex(index),
      term: asTerm(1),
      timestampMs: 0,
      random: { int: () => 0 },
    }),
  );
}

function invalidToken(f: () => unknown): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof KvError);
    assert.equal(e.code, "AUTH_INVALID_TOKEN");
    assert.equal(e.message, "etcdserver: invalid auth token");
    return true;
  });
}

function setUp(): { sm: KvStateMachine; gate: AuthGate; clock: { now: number } } {
  const sm = new KvStateMachine();
  const clock = { now: 1_000_000 };
  const gate = new AuthGate({
    auth: () => sm.store.auth,
    tokenTtlSeconds: 300,
    now: () => clock.now,
    clientCertAuth: true,
  });
  for (const request of [
    { op: "UserAdd", name: "root", passwordHash: "h", noPassword: false },
    { op: "UserGrantRole", user: "root", role: "root" },
    { op: "UserAdd", name: "alice", passwordHash: "h", noPassword: false },
    { op: "AuthEnable" },
  ] as AuthRequest[]) {
    assert.equal(apply(sm, request).ok, true);
  }
  return { sm, gate, clock };
}

function login(sm: KvStateMachine, name: string): string {
  const r = apply(sm, {
    op: "Authenticate",
    name,
    token: "tok",
    checkedRevision: sm.store.auth.revision,
  });
  assert.ok(r.ok && r.response.type === "Auth");
  return r.response.response.token;
}

describe("auth gate", () => {
  test("a token announced by apply names its user until the TTL passes without use", () => {
    const { sm, gate, clock } = setUp();
    const token = login(sm, "alice");
    assert.deepEqual(gate.authInfo({ token }), {
      username: "alice",
      revision: sm.store.auth.revision,
    });
    clock.now += 299_000;
    assert.equal(gate.authInfo({ token })?.username, "alice"); // use renews the TTL
    clock.now += 299_000;
    assert.equal(gate.authInfo({ token })?.username, "alice");
    clock.now += 300_001;
    invalidToken(() => gate.authInfo({ token }));
    invalidToken(() => gate.authInfo({ token })); // and it stays gone
  });

  test("garbage and oversized tokens are refused; no credentials is no user", () => {
    const { gate } = setUp();
    for (const token of ["garbage", "tok.1", "x".repeat(100_000), "\u0000"]) {
      invalidToken(() => gate.authInfo({ token }));
    }
    assert.equal(gate.authInfo({}), undefined);
  });

  test("a password change or auth disable voids tokens; with auth off tokens are ignored", () => {
    const { sm, gate } = setUp();
    const alice = login(sm, "alice");
    const root = login(sm, "root");
    assert.equal(
      apply(sm, { op: "UserChangePassword", name: "alice", passwordHash: "h2" }).ok,
      true,
    );
    invalidToken(() => gate.authInfo({ token: alice }));
    assert.equal(gate.authInfo({ token: root })?.username, "root");
    assert.equal(apply(sm, { op: "AuthDisable" }).ok, true);
    assert.equal(gate.authInfo({ token: root }), undefined);
    assert.equal(gate.tokenCount, 0);
  });

  test("a snapshot restore keeps the gate listening to the new state", () => {
    const { sm, gate } = setUp();
    const copy = new KvStateMachine();
    copy.restore(sm.snapshot());
    sm.restore(copy.snapshot()); // drops every token, keeps the listener
    const token = login(sm, "alice");
    assert.equal(gate.authInfo({ token })?.username, "alice");
  });

  test("with client-cert-auth the certificate's common name is the user; a token wins", () => {
    const { sm, gate } = setUp();
    const call = { tlsCommonName: () => "alice" };
    const cn = commonNameOf(call);
    assert.equal(cn, "alice");
    assert.equal(gate.authInfo({ commonName: cn })?.username, "alice");
    assert.equal(gate.authInfo({ token: login(sm, "root"), commonName: cn })?.username, "root");
    assert.equal(commonNameOf({}), undefined);
    assert.equal(
      commonNameOf({
        tlsCommonName: () => {
          throw new Error("no certificate");
        },
      }),
      undefined,
    );
  });

  test("the codec refuses a WithAuth inside a WithAuth without recursing", () => {
    const inner = encodeCommand({
      type: "WithAuth",
      auth: { username: "u", revision: 1 },
      command: { type: "Put", request: { key: new Uint8Array([1]) } },
    });
    // Many envelopes deep: one MALFORMED error, not a stack overflow.
    const head = inner.subarray(0, 5); // version, tag, user "u", revision 1
    const parts: Uint8Array[] = [];
    for (let i = 0; i < 200_000; i++) parts.push(head);
    parts.push(inner);
    const deep = Buffer.concat(parts);
    assert.throws(
      () => decodeCommand(deep),
      (e: unknown) => e instanceof KvError && e.code === "MALFORMED",
    );
  });
});
