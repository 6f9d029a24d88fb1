// Authentication and authorization state, the way etcd 3.4's auth store keeps it (server/auth/
// store.go): users (a bcrypt hash made by the server before the command entered the log, or no
// password), roles with key permissions (a key, or a range [key, rangeEnd), "\0" meaning every
// key from `key` on; READ, WRITE or READWRITE), the `root` user and role, an enabled flag and
// the auth revision, +1 on every change. It is replicated state like the keys: changed only by
// applying commands, deterministic (no clock, no randomness, no hashing: passwords arrive
// hashed), part of the snapshot and of the state hash.
//
// Checks (isOpPermitted, isAdminPermitted) take the AuthInfo a request carried into the log:
// {username, revision}. With auth disabled everything is allowed. Otherwise revision 0 means no
// user (etcd's "user name is empty"), a revision below the store's means the auth state changed
// since the request was checked ("revision of auth store is old": the client re-authenticates),
// a user with the root role may do anything, and anyone else needs the union of their roles'
// permissions of the wanted type to cover the whole key range.
import {
  assert,
  ByteReader,
  ByteWriter,
  bytesEqual,
  compareBytes,
  copyBytes,
  EMPTY_BYTES,
} from "../lib/index.js";
import { authError, kvCodecError } from "./errors.js";

export const ROOT_USER = "root";
export const ROOT_ROLE = "root";

/** authpb.Permission.Type, in protobuf order. */
export const PERMISSION_TYPES = ["READ", "WRITE", "READWRITE"] as const;
export type PermissionType = (typeof PERMISSION_TYPES)[number];

export interface Permission {
  readonly permType: PermissionType;
  readonly key: Uint8Array;
  /** Empty: just `key`. "\0": every key ≥ key. Otherwise [key, rangeEnd). */
  readonly rangeEnd: Uint8Array;
}

export interface AuthUser {
  readonly name: string;
  /** The bcrypt hash ("" for a user added with noPassword). */
  password: string;
  readonly noPassword: boolean;
  /** Sorted, no duplicates. */
  roles: string[];
}

export interface AuthRole {
  readonly name: string;
  /** Sorted by key, then rangeEnd; one permission per (key, rangeEnd). */
  permissions: Permission[];
}

/** What a request carries into the log about who sent it (etcd's RequestHeader fields). */
export interface AuthInfo {
  readonly username: string;
  /** The auth revision the server checked the user against; 0: no user. */
  readonly revision: number;
}

export const NO_AUTH_INFO: AuthInfo = { username: "", revision: 0 };

/** Hears what the member's token table must know (outside the replicated state). */
export interface AuthListener {
  /** An Authenticate was applied: `token` now names `username`. */
  tokenAssigned?(token: string, username: string): void;
  /** The user was deleted or changed password: its tokens are void. */
  userInvalidated?(username: string): void;
  /** Auth was disabled: every token is void. */
  disabled?(): void;
}

const isOpenEnd = (end: Uint8Array): boolean => end.length === 1 && end[0] === 0;

/** [start, end) with end undefined = +infinity; a point k is [k, k + "\0"). */
interface Interval {
  readonly start: Uint8Array;
  readonly end: Uint8Array | undefined;
}

function pointEnd(key: Uint8Array): Uint8Array {
  const end = new Uint8Array(key.length + 1);
  end.set(key);
  return end;
}

function intervalOf(key: Uint8Array, rangeEnd: Uint8Array): Interval {
  if (rangeEnd.length === 0) return { start: key, end: pointEnd(key) };
  if (isOpenEnd(rangeEnd)) return { start: key, end: undefined };
  // An empty or inverted range selects nothing in a Range; for permissions it is the key.
  if (compareBytes(rangeEnd, key) <= 0) return { start: key, end: pointEnd(key) };
  return { start: key, end: rangeEnd };
}

/** Whether the union of `have` covers all of `want` (etcd's interval tree Contains). */
export function intervalsCover(have: readonly Interval[], want: Interval): boolean {
  const sorted = [...have].sort((a, b) => compareBytes(a.start, b.start));
  let reached: Uint8Array | undefined = want.start; // everything before it is covered
  for (const ivl of sorted) {
    if (compareBytes(ivl.start, reached) > 0) return false; // a gap
    if (ivl.end === undefined) return true;
    if (compareBytes(ivl.end, reached) > 0) reached = ivl.end;
    if (want.end !== undefined && compareBytes(reached, want.end) >= 0) return true;
  }
  return false;
}

function comparePermission(a: Permission, b: Permission): number {
  return compareBytes(a.key, b.key) || compareBytes(a.rangeEnd, b.rangeEnd);
}

function insertSorted(list: string[], item: string): void {
  list.push(item);
  list.sort();
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export class AuthStore {
  private enabledFlag = false;
  private rev = 1; // etcd starts its auth revision at 1
  private readonly users = new Map<string, AuthUser>();
  private readonly roles = new Map<string, AuthRole>();
  private readonly listeners: AuthListener[] = [];

  get enabled(): boolean {
    return this.enabledFlag;
  }

  get revision(): number {
    return this.rev;
  }

  subscribe(listener: AuthListener): () => void {
    if (!this.listeners.includes(listener)) this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  private notify(call: (l: AuthListener) => void): void {
    for (const l of this.listeners) {
      try {
        call(l);
      } catch {
        // A listener's failure must not break apply (the state is already consistent).
      }
    }
  }

  private bump(): void {
    this.rev++;
  }

  /** True for the state a new store starts in (the snapshot then omits the auth section). */
  get pristine(): boolean {
    return !this.enabledFlag && this.rev === 1 && this.users.size === 0 && this.roles.size === 0;
  }

  // ---- reads --------------------------------------------------------------------------------

  user(name: string): AuthUser | undefined {
    return this.users.get(name);
  }

  role(name: string): AuthRole | undefined {
    return this.roles.get(name);
  }

  userNames(): string[] {
    return [...this.users.keys()].sort(compareStrings);
  }

  roleNames(): string[] {
    return [...this.roles.keys()].sort(compareStrings);
  }

  hasRole(username: string, role: string): boolean {
    return this.users.get(username)?.roles.includes(role) ?? false;
  }

  // ---- checks -------------------------------------------------------------------------------

  /** etcd's isOpPermitted: throws the refusal, returns when allowed. */
  checkOp(info: AuthInfo, key: Uint8Array, rangeEnd: Uint8Array, type: "READ" | "WRITE"): void {
    if (!this.enabledFlag) return;
    if (info.revision === 0) throw authError("AUTH_USER_EMPTY");
    if (info.revision < this.rev) throw authError("AUTH_OLD_REVISION");
    const user = this.users.get(info.username);
    if (user === undefined) throw authError("AUTH_PERMISSION_DENIED");
    if (user.roles.includes(ROOT_ROLE)) return;
    const have: Interval[] = [];
    for (const roleName of user.roles) {
      const role = this.roles.get(roleName);
      if (role === undefined) continue;
      for (const p of role.permissions) {
        if (p.permType === type || p.permType === "READWRITE") {
          have.push(intervalOf(p.key, p.rangeEnd));
        }
      }
    }
    if (!intervalsCover(have, intervalOf(key, rangeEnd))) {
      throw authError("AUTH_PERMISSION_DENIED");
    }
  }

  checkRange(info: AuthInfo, key: Uint8Array, rangeEnd: Uint8Array = EMPTY_BYTES): void {
    this.checkOp(info, key, rangeEnd, "READ");
  }

  checkWrite(info: AuthInfo, key: Uint8Array, rangeEnd: Uint8Array = EMPTY_BYTES): void {
    this.checkOp(info, key, rangeEnd, "WRITE");
  }

  /** etcd's IsAdminPermitted: the user must have the root role (when auth is on). */
  checkAdmin(info: AuthInfo): void {
    if (!this.enabledFlag) return;
    if (info.username === "") throw authError("AUTH_USER_EMPTY");
    const user = this.users.get(info.username);
    if (user === undefined) throw authError("AUTH_USER_NOT_FOUND");
    if (!user.roles.includes(ROOT_ROLE)) throw authError("AUTH_PERMISSION_DENIED");
  }

  // ---- changes (each bumps the revision when it changes something) -------------------------

  authEnable(): void {
    if (this.enabledFlag) return;
    const root = this.users.get(ROOT_USER);
    if (root === undefined) throw authError("AUTH_ROOT_USER_NOT_EXIST");
    if (!root.roles.includes(ROOT_ROLE)) throw authError("AUTH_ROOT_ROLE_NOT_EXIST");
    this.enabledFlag = true;
    this.bump();
  }

  authDisable(): void {
    if (!this.enabledFlag) return;
    this.enabledFlag = false;
    this.bump();
    this.notify((l) => l.disabled?.());
  }

  /**
   * The state half of Authenticate: the server checked the password (bcrypt) against this
   * store at `checkedRevision`; if anything changed since, the check is void and the server
   * checks again. Announces the token to the member's token table.
   */
  authenticate(username: string, token: string, checkedRevision: number): void {
    if (!this.enabledFlag) throw authError("AUTH_NOT_ENABLED");
    const user = this.users.get(username);
    if (user === undefined || user.noPassword) throw authError("AUTH_FAILED");
    if (checkedRevision !== this.rev) throw authError("AUTH_OLD_REVISION");
    this.notify((l) => l.tokenAssigned?.(token, username));
  }

  userAdd(name: string, passwordHash: string, noPassword: boolean): void {
    if (name.length === 0) throw authError("AUTH_USER_EMPTY");
    if (this.users.has(name)) throw authError("AUTH_USER_ALREADY_EXIST");
    this.users.set(name, { name, password: noPassword ? "" : passwordHash, noPassword, roles: [] });
    this.bump();
  }

  userDelete(name: string): void {
    if (this.enabledFlag && name === ROOT_USER) throw authError("AUTH_INVALID_MGMT");
    if (!this.users.delete(name)) throw authError("AUTH_USER_NOT_FOUND");
    this.bump();
    this.notify((l) => l.userInvalidated?.(name));
  }

  userChangePassword(name: string, passwordHash: string): void {
    const user = this.users.get(name);
    if (user === undefined) throw authError("AUTH_USER_NOT_FOUND");
    user.password = passwordHash;
    this.bump();
    this.notify((l) => l.userInvalidated?.(name));
  }

  userGrantRole(name: string, role: string): void {
    const user = this.users.get(name);
    if (user === undefined) throw authError("AUTH_USER_NOT_FOUND");
    if (role !== ROOT_ROLE && !this.roles.has(role)) throw authError("AUTH_ROLE_NOT_FOUND");
    if (user.roles.includes(role)) return; // etcd ignores a duplicate grant
    insertSorted(user.roles, role);
    this.bump();
  }

  userRevokeRole(name: string, role: string): void {
    if (this.enabledFlag && name === ROOT_USER && role === ROOT_ROLE) {
      throw authError("AUTH_INVALID_MGMT");
    }
    const user = this.users.get(name);
    if (user === undefined) throw authError("AUTH_USER_NOT_FOUND");
    const i = user.roles.indexOf(role);
    if (i < 0) throw authError("AUTH_ROLE_NOT_GRANTED");
    user.roles.splice(i, 1);
    this.bump();
  }

  roleAdd(name: string): void {
    if (name.length === 0) throw authError("AUTH_ROLE_EMPTY");
    if (this.roles.has(name)) throw authError("AUTH_ROLE_ALREADY_EXIST");
    this.roles.set(name, { name, permissions: [] });
    this.bump();
  }

  roleDelete(name: string): void {
    if (this.enabledFlag && name === ROOT_ROLE) throw authError("AUTH_INVALID_MGMT");
    if (!this.roles.delete(name)) throw authError("AUTH_ROLE_NOT_FOUND");
    for (const user of this.users.values()) {
      const i = user.roles.indexOf(name);
      if (i >= 0) user.roles.splice(i, 1);
    }
    this.bump();
  }

  roleGrantPermission(name: string, permission: Permission): void {
    const role = this.roles.get(name);
    if (role === undefined) throw authError("AUTH_ROLE_NOT_FOUND");
    const perm: Permission = {
      permType: permission.permType,
      key: copyBytes(permission.key),
      rangeEnd: copyBytes(permission.rangeEnd),
    };
    const same = role.permissions.findIndex((p) => comparePermission(p, perm) === 0);
    if (same >= 0) role.permissions[same] = perm;
    else {
      role.permissions.push(perm);
      role.permissions.sort(comparePermission);
    }
    this.bump();
  }

  roleRevokePermission(name: string, key: Uint8Array, rangeEnd: Uint8Array): void {
    const role = this.roles.get(name);
    if (role === undefined) throw authError("AUTH_ROLE_NOT_FOUND");
    const kept = role.permissions.filter(
      (p) => !bytesEqual(p.key, key) || !bytesEqual(p.rangeEnd, rangeEnd),
    );
    if (kept.length === role.permissions.length) throw authError("AUTH_PERMISSION_NOT_GRANTED");
    role.permissions = kept;
    this.bump();
  }

  // ---- snapshot -----------------------------------------------------------------------------

  /** Appends the whole auth state, canonically (names and permissions in order). */
  encode(w: ByteWriter): void {
    w.bool(this.enabledFlag);
    w.uvarint(this.rev);
    const users = this.userNames();
    w.uvarint(users.length);
    for (const name of users) {
      const u = this.users.get(name);
      assert(u !== undefined, "kv: auth user vanished");
      w.stringVarint(u.name);
      w.stringVarint(u.password);
      w.bool(u.noPassword);
      w.uvarint(u.roles.length);
      for (const r of u.roles) w.stringVarint(r);
    }
    const roles = this.roleNames();
    w.uvarint(roles.length);
    for (const name of roles) {
      const role = this.roles.get(name);
      assert(role !== undefined, "kv: auth role vanished");
      w.stringVarint(role.name);
      w.uvarint(role.permissions.length);
      for (const p of role.permissions) {
        w.u8(PERMISSION_TYPES.indexOf(p.permType));
        w.bytesVarint(p.key);
        w.bytesVarint(p.rangeEnd);
      }
    }
  }

  /** Reads what encode wrote, checking its order; a DecodeError for anything else. */
  static decode(r: ByteReader): AuthStore {
    const store = new AuthStore();
    store.enabledFlag = r.bool("auth enabled");
    store.rev = r.uvarint();
    if (store.rev < 1) r.fail("auth revision 0");
    const userCount = r.count("users", Number.MAX_SAFE_INTEGER, 4);
    let prev: string | undefined;
    for (let i = 0; i < userCount; i++) {
      const name = r.stringVarint("user name");
      if (name.length === 0 || (prev !== undefined && compareStrings(prev, name) >= 0)) {
        r.fail("auth users out of order");
      }
      prev = name;
      const password = r.stringVarint("password");
      const noPassword = r.bool("no password");
      const roleCount = r.count("roles", Number.MAX_SAFE_INTEGER, 1);
      const roles: string[] = [];
      for (let j = 0; j < roleCount; j++) {
        const role = r.stringVarint("role name");
        const last = roles[roles.length - 1];
        if (last !== undefined && compareStrings(last, role) >= 0)
          r.fail("user roles out of order");
        roles.push(role);
      }
      store.users.set(name, { name, password, noPassword, roles });
    }
    const roleCount = r.count("roles", Number.MAX_SAFE_INTEGER, 2);
    prev = undefined;
    for (let i = 0; i < roleCount; i++) {
      const name = r.stringVarint("role name");
      if (name.length === 0 || (prev !== undefined && compareStrings(prev, name) >= 0)) {
        r.fail("auth roles out of order");
      }
      prev = name;
      const permCount = r.count("permissions", Number.MAX_SAFE_INTEGER, 3);
      const permissions: Permission[] = [];
      for (let j = 0; j < permCount; j++) {
        const permType = PERMISSION_TYPES[r.u8()];
        if (permType === undefined) r.fail("unknown permission type");
        const perm = {
          permType,
          key: copyBytes(r.bytesVarintView()),
          rangeEnd: copyBytes(r.bytesVarintView()),
        };
        const last = permissions[permissions.length - 1];
        if (last !== undefined && comparePermission(last, perm) >= 0) {
          r.fail("permissions out of order");
        }
        permissions.push(perm);
      }
      store.roles.set(name, { name, permissions });
    }
    if (store.enabledFlag) {
      const root = store.users.get(ROOT_USER);
      if (root === undefined || !root.roles.includes(ROOT_ROLE)) r.fail("auth on without root");
    }
    return store;
  }

  /** This state as standalone bytes (tests, debugging). */
  toBytes(): Uint8Array {
    const w = new ByteWriter(64);
    this.encode(w);
    return w.finishExact();
  }

  static fromBytes(bytes: Uint8Array): AuthStore {
    try {
      const r = new ByteReader(bytes);
      const store = AuthStore.decode(r);
      r.end();
      return store;
    } catch (e) {
      throw kvCodecError(e, "CORRUPT_SNAPSHOT", "auth state");
    }
  }

  /** Tells the token table that every token is void (the state was replaced by a snapshot). */
  forgetTokens(): void {
    this.notify((l) => l.disabled?.());
  }

  /** Moves the listeners of `from` onto this store (a restore replaces the state, not them). */
  adoptListeners(from: AuthStore): void {
    for (const l of from.listeners) if (!this.listeners.includes(l)) this.listeners.push(l);
  }
}
