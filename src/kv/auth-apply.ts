// What applying a command does about auth, as etcd 3.4's authApplierV3 (etcdserver/
// apply_auth.go): before a client's command runs, its AuthInfo is checked against the auth
// state as it is at this point of the log, so every replica refuses or accepts alike.
//
//   Range (through the log)   read on [key, range_end)
//   Put                       write on key; write on every key of its lease (checkLeasePuts);
//                             read on key with prev_kv
//   DeleteRange               write on the range; read too with prev_kv
//   Txn                       read for every compare, and every op of BOTH branches (nested
//                             txns too), checked before anything runs: refused whole
//   LeaseRevoke               write on every key of the lease
//   Compaction                root (etcd 3.4 checks nothing here; Ordo asks for root)
//   Auth admin commands       root (etcd's needAdminPermission); UserGet of oneself and
//                             RoleGet of one's own role need no root
//   LeaseGrant, LeaseKeepAlive, LeaseExpire, LeaseRenewAll, Authenticate: nothing
import { assertNever, EMPTY_BYTES } from "../lib/index.js";
import type { AuthRequest, AuthResponse } from "./auth-codec.js";
import type { AuthInfo, AuthStore } from "./auth-store.js";
import type { PlainKvCommand } from "./codec.js";
import { authError } from "./errors.js";
import type { KvStore } from "./kv-store.js";
import type { RequestOp, TxnRequest } from "./types.js";

function checkLeasePuts(store: KvStore, info: AuthInfo, lease: number | undefined): void {
  if (lease === undefined || lease === 0 || !store.auth.enabled) return;
  for (const key of store.leaseKeys(lease)) store.auth.checkWrite(info, key);
}

function checkOps(store: KvStore, info: AuthInfo, ops: readonly RequestOp[]): void {
  const auth = store.auth;
  for (const op of ops) {
    switch (op.type) {
      case "range":
        auth.checkRange(info, op.request.key, op.request.rangeEnd ?? EMPTY_BYTES);
        break;
      case "put":
        auth.checkWrite(info, op.request.key);
        if (op.request.prevKv === true) auth.checkRange(info, op.request.key);
        break;
      case "deleteRange":
        if (op.request.prevKv === true) {
          auth.checkRange(info, op.request.key, op.request.rangeEnd ?? EMPTY_BYTES);
        }
        auth.checkWrite(info, op.request.key, op.request.rangeEnd ?? EMPTY_BYTES);
        break;
      case "txn":
        checkTxn(store, info, op.request);
        break;
      default:
        assertNever(op, "txn op");
    }
  }
}

/** etcd's checkTxnAuth: every compare and both branches, whatever the compares will say. */
export function checkTxn(store: KvStore, info: AuthInfo, txn: TxnRequest): void {
  for (const c of txn.compare ?? []) {
    store.auth.checkRange(info, c.key, c.rangeEnd ?? EMPTY_BYTES);
  }
  checkOps(store, info, txn.success ?? []);
  checkOps(store, info, txn.failure ?? []);
}

/** Throws the auth refusal for `command` sent by `info`; returns when it may run. */
export function checkPermitted(store: KvStore, info: AuthInfo, command: PlainKvCommand): void {
  const auth = store.auth;
  if (!auth.enabled) return;
  switch (command.type) {
    case "Range":
      auth.checkRange(info, command.request.key, command.request.rangeEnd ?? EMPTY_BYTES);
      return;
    case "Put":
      auth.checkWrite(info, command.request.key);
      checkLeasePuts(store, info, command.request.lease);
      if (command.request.prevKv === true) auth.checkRange(info, command.request.key);
      return;
    case "DeleteRange": {
      const end = command.request.rangeEnd ?? EMPTY_BYTES;
      auth.checkWrite(info, command.request.key, end);
      if (command.request.prevKv === true) auth.checkRange(info, command.request.key, end);
      return;
    }
    case "Txn":
      checkTxn(store, info, command.request);
      return;
    case "LeaseRevoke":
      checkLeasePuts(store, info, command.request.id);
      return;
    case "Compaction":
      auth.checkAdmin(info);
      return;
    case "LeaseGrant":
    case "LeaseKeepAlive":
    case "LeaseExpire":
    case "LeaseRenewAll":
      return;
    // etcd's authApplierV3 does not wrap Alarm: a member raises NOSPACE itself, with no user,
    // and the server checks a client's Alarm call (admin only) before proposing it.
    case "Alarm":
      return;
    case "Auth":
      checkAuthCommand(store, info, command.request);
      return;
    default:
      assertNever(command, "command");
  }
}

function checkAuthCommand(store: KvStore, info: AuthInfo, req: AuthRequest): void {
  const auth = store.auth;
  switch (req.op) {
    case "Authenticate":
      return;
    case "UserGet":
      if (req.name !== info.username) auth.checkAdmin(info);
      return;
    case "RoleGet":
      if (!auth.hasRole(info.username, req.role)) auth.checkAdmin(info);
      return;
    default:
      auth.checkAdmin(info);
  }
}

/** Applies one auth command (permissions already checked). */
export function executeAuth(
  store: KvStore,
  _info: AuthInfo,
  req: AuthRequest,
  /** The entry's log index (a token's unique suffix). */
  index: number,
): AuthResponse {
  const auth = store.auth;
  const output = applyAuthOp(auth, req, index);
  return {
    header: { revision: store.revision },
    authRevision: auth.revision,
    token: output.token ?? "",
    names: output.names ?? [],
    permissions: output.permissions ?? [],
  };
}

/** What an auth command answers besides the revisions: a token, names or permissions. */
interface AuthOutput {
  readonly token?: string;
  readonly names?: readonly string[];
  readonly permissions?: AuthResponse["permissions"];
}

type UserOp = "UserAdd" | "UserGet" | "UserList" | "UserDelete" | "UserChangePassword";
type RoleOp =
  | "UserGrantRole"
  | "UserRevokeRole"
  | "RoleAdd"
  | "RoleGet"
  | "RoleList"
  | "RoleDelete"
  | "RoleGrantPermission"
  | "RoleRevokePermission";

function applyAuthOp(auth: AuthStore, req: AuthRequest, index: number): AuthOutput {
  switch (req.op) {
    case "AuthEnable":
      auth.authEnable();
      return {};
    case "AuthDisable":
      auth.authDisable();
      return {};
    case "Authenticate": {
      const token = `${req.token}.${index}`;
      auth.authenticate(req.name, token, req.checkedRevision);
      return { token };
    }
    case "UserAdd":
    case "UserGet":
    case "UserList":
    case "UserDelete":
    case "UserChangePassword":
      return applyUserOp(auth, req);
    case "UserGrantRole":
    case "UserRevokeRole":
    case "RoleAdd":
    case "RoleGet":
    case "RoleList":
    case "RoleDelete":
    case "RoleGrantPermission":
    case "RoleRevokePermission":
      return applyRoleOp(auth, req);
    default:
      return assertNever(req, "auth op");
  }
}

function applyUserOp(auth: AuthStore, req: Extract<AuthRequest, { op: UserOp }>): AuthOutput {
  switch (req.op) {
    case "UserAdd":
      auth.userAdd(req.name, req.passwordHash, req.noPassword);
      return {};
    case "UserGet": {
      const user = auth.user(req.name);
      if (user === undefined) throw authUserNotFound();
      return { names: [...user.roles] };
    }
    case "UserList":
      return { names: auth.userNames() };
    case "UserDelete":
      auth.userDelete(req.name);
      return {};
    case "UserChangePassword":
      auth.userChangePassword(req.name, req.passwordHash);
      return {};
    default:
      return assertNever(req, "auth op");
  }
}

/** The role commands, and granting and revoking a user's roles. */
function applyRoleOp(auth: AuthStore, req: Extract<AuthRequest, { op: RoleOp }>): AuthOutput {
  switch (req.op) {
    case "UserGrantRole":
      auth.userGrantRole(req.user, req.role);
      return {};
    case "UserRevokeRole":
      auth.userRevokeRole(req.name, req.role);
      return {};
    case "RoleAdd":
      auth.roleAdd(req.name);
      return {};
    case "RoleGet": {
      const role = auth.role(req.role);
      if (role === undefined) throw authRoleNotFound();
      return { permissions: [...role.permissions] };
    }
    case "RoleList":
      return { names: auth.roleNames() };
    case "RoleDelete":
      auth.roleDelete(req.role);
      return {};
    case "RoleGrantPermission":
      auth.roleGrantPermission(req.name, req.perm);
      return {};
    case "RoleRevokePermission":
      auth.roleRevokePermission(req.role, req.key, req.rangeEnd);
      return {};
    default:
      return assertNever(req, "auth op");
  }
}

const authUserNotFound = () => authError("AUTH_USER_NOT_FOUND");
const authRoleNotFound = () => authError("AUTH_ROLE_NOT_FOUND");
