// The binary form of auth commands and their responses inside kv's codec (codec.ts): an op
// number (AUTH_OPS order, only append), then the op's fields in etcd's order.
import type { ByteReader, ByteWriter } from "../lib/index.js";
import { assertNever } from "../lib/index.js";
import { type AuthInfo, PERMISSION_TYPES, type Permission } from "./auth-store.js";
import type { ResponseHeader } from "./types.js";

export const AUTH_OPS = [
  "AuthEnable",
  "AuthDisable",
  "Authenticate",
  "UserAdd",
  "UserGet",
  "UserList",
  "UserDelete",
  "UserChangePassword",
  "UserGrantRole",
  "UserRevokeRole",
  "RoleAdd",
  "RoleGet",
  "RoleList",
  "RoleDelete",
  "RoleGrantPermission",
  "RoleRevokePermission",
] as const;
export type AuthOp = (typeof AUTH_OPS)[number];

/** One auth command. Passwords are bcrypt hashes made by the server, never clear text. */
export type AuthRequest =
  | { readonly op: "AuthEnable" }
  | { readonly op: "AuthDisable" }
  | {
      readonly op: "Authenticate";
      readonly name: string;
      /** Random, made by the serving member; apply appends ".<entry index>". */
      readonly token: string;
      /** The auth revision the server checked the password against. */
      readonly checkedRevision: number;
    }
  | {
      readonly op: "UserAdd";
      readonly name: string;
      readonly passwordHash: string;
      readonly noPassword: boolean;
    }
  | { readonly op: "UserGet"; readonly name: string }
  | { readonly op: "UserList" }
  | { readonly op: "UserDelete"; readonly name: string }
  | { readonly op: "UserChangePassword"; readonly name: string; readonly passwordHash: string }
  | { readonly op: "UserGrantRole"; readonly user: string; readonly role: string }
  | { readonly op: "UserRevokeRole"; readonly name: string; readonly role: string }
  | { readonly op: "RoleAdd"; readonly name: string }
  | { readonly op: "RoleGet"; readonly role: string }
  | { readonly op: "RoleList" }
  | { readonly op: "RoleDelete"; readonly role: string }
  | { readonly op: "RoleGrantPermission"; readonly name: string; readonly perm: Permission }
  | {
      readonly op: "RoleRevokePermission";
      readonly role: string;
      readonly key: Uint8Array;
      readonly rangeEnd: Uint8Array;
    };

export interface AuthResponse {
  readonly header: ResponseHeader;
  /** The auth revision after the command. */
  readonly authRevision: number;
  /** Authenticate: the token. Otherwise "". */
  readonly token: string;
  /** UserGet: the roles; UserList: the users; RoleList: the roles. Otherwise empty. */
  readonly names: readonly string[];
  /** RoleGet: the permissions. Otherwise empty. */
  readonly permissions: readonly Permission[];
}

export function writeAuthInfo(w: ByteWriter, info: AuthInfo): void {
  w.stringVarint(info.username);
  w.uvarint(info.revision);
}

export function readAuthInfo(r: ByteReader): AuthInfo {
  return { username: r.stringVarint("user name"), revision: r.uvarint() };
}

function writePermission(w: ByteWriter, p: Permission): void {
  const type = PERMISSION_TYPES.indexOf(p.permType);
  if (type < 0) throw new RangeError(`unknown permission type ${String(p.permType)}`);
  w.u8(type);
  w.bytesVarint(p.key);
  w.bytesVarint(p.rangeEnd);
}

function readPermission(r: ByteReader): Permission {
  const permType = PERMISSION_TYPES[r.u8()];
  if (permType === undefined) r.fail("unknown permission type");
  return { permType, key: r.bytesVarint(), rangeEnd: r.bytesVarint() };
}

export function writeAuthRequest(w: ByteWriter, req: AuthRequest): void {
  w.u8(AUTH_OPS.indexOf(req.op));
  switch (req.op) {
    case "AuthEnable":
    case "AuthDisable":
    case "UserList":
    case "RoleList":
      break;
    case "Authenticate":
      w.stringVarint(req.name);
      w.stringVarint(req.token);
      w.uvarint(req.checkedRevision);
      break;
    case "UserAdd":
      w.stringVarint(req.name);
      w.stringVarint(req.passwordHash);
      w.bool(req.noPassword);
      break;
    case "UserGet":
    case "UserDelete":
    case "RoleAdd":
      w.stringVarint(req.name);
      break;
    case "UserChangePassword":
      w.stringVarint(req.name);
      w.stringVarint(req.passwordHash);
      break;
    case "UserGrantRole":
      w.stringVarint(req.user);
      w.stringVarint(req.role);
      break;
    case "UserRevokeRole":
      w.stringVarint(req.name);
      w.stringVarint(req.role);
      break;
    case "RoleGet":
    case "RoleDelete":
      w.stringVarint(req.role);
      break;
    case "RoleGrantPermission":
      w.stringVarint(req.name);
      writePermission(w, req.perm);
      break;
    case "RoleRevokePermission":
      w.stringVarint(req.role);
      w.bytesVarint(req.key);
      w.bytesVarint(req.rangeEnd);
      break;
    default:
      assertNever(req, "auth op");
  }
}

export function readAuthRequest(r: ByteReader): AuthRequest {
  const op = AUTH_OPS[r.u8()];
  if (op === undefined) r.fail("unknown auth op");
  const s = (what: string): string => r.stringVarint(what);
  switch (op) {
    case "AuthEnable":
    case "AuthDisable":
    case "UserList":
    case "RoleList":
      return { op };
    case "Authenticate":
      return { op, name: s("name"), token: s("token"), checkedRevision: r.uvarint() };
    case "UserAdd":
      return { op, name: s("name"), passwordHash: s("password"), noPassword: r.bool() };
    case "UserGet":
    case "UserDelete":
    case "RoleAdd":
      return { op, name: s("name") };
    case "UserChangePassword":
      return { op, name: s("name"), passwordHash: s("password") };
    case "UserGrantRole":
      return { op, user: s("user"), role: s("role") };
    case "UserRevokeRole":
      return { op, name: s("name"), role: s("role") };
    case "RoleGet":
    case "RoleDelete":
      return { op, role: s("role") };
    case "RoleGrantPermission":
      return { op, name: s("name"), perm: readPermission(r) };
    case "RoleRevokePermission":
      return { op, role: s("role"), key: r.bytesVarint(), rangeEnd: r.bytesVarint() };
    default:
      return assertNever(op, "auth op");
  }
}

export function writeAuthResponse(w: ByteWriter, res: AuthResponse): void {
  w.uvarint(res.header.revision);
  w.uvarint(res.authRevision);
  w.stringVarint(res.token);
  w.list(res.names, (n) => w.stringVarint(n));
  w.list(res.permissions, (p) => writePermission(w, p));
}

export function readAuthResponse(r: ByteReader): AuthResponse {
  const header = { revision: r.uvarint() };
  const authRevision = r.uvarint();
  const token = r.stringVarint("token");
  const names = r.list("names", Number.MAX_SAFE_INTEGER, 1, () => r.stringVarint("name"));
  const permissions = r.list("permissions", Number.MAX_SAFE_INTEGER, 3, () => readPermission(r));
  return { header, authRevision, token, names, permissions };
}
