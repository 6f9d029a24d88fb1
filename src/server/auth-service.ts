// etcd v3's Auth service (etcdserverpb.Auth) over the replicated auth state (kv/auth-store.ts),
// the way etcd's EtcdServer serves it (etcdserver/v3_server.go):
//
//   AuthEnable, AuthDisable, UserAdd, UserGet, UserList, UserDelete, UserChangePassword,
//   UserGrantRole, UserRevokeRole, RoleAdd, RoleGet, RoleList, RoleDelete,
//   RoleGrantPermission, RoleRevokePermission: commands through the log, with who sent them;
//   apply checks root (or, for UserGet/RoleGet, oneself / one's own role).
//   UserAdd and UserChangePassword hash the password with bcrypt HERE, before the command is
//   proposed, so apply never hashes and the log holds no clear-text password.
//   Authenticate: the password is compared (bcrypt) with the applied state at this member, then
//   a random token is announced through the log (so every member knows it); if the auth state
//   changed in between, the check runs again.
//   AuthStatus (etcd 3.5's, in the vendored proto): this member's applied enabled flag and auth
//   revision.
//
// adminOnly wraps other services' handlers (Maintenance, Cluster) with etcd's
// IsAdminPermitted check.
import type * as grpc from "@grpc/grpc-js";
import {
  type AuthInfo,
  type AuthRequest,
  type AuthResponse,
  authError,
  DEFAULT_KV_LIMITS,
  encodeCommand,
  KvError,
  PERMISSION_TYPES,
  type Permission,
  type PermissionType,
} from "../kv/index.js";
import { type AuthGate, credentialsOfCall } from "./auth-gate.js";
import { headerToEtcd, messageFromEtcd } from "./etcd-mapping.js";
import { type KvBackend, responseOf, statusOf, unary } from "./kv-service.js";

type Message = Readonly<Record<string, unknown>>;

const messageOf = (value: unknown): Message => messageFromEtcd(value, "request");

function stringOf(value: unknown, name: string): string {
  if (value === undefined || value === null) return "";
  if (typeof value !== "string") {
    throw new KvError("INVALID_ARGUMENT", `etcdserver: ${name} must be a string`);
  }
  return value;
}

function bytesOf(value: unknown, name: string): Uint8Array {
  if (value === undefined || value === null) return new Uint8Array(0);
  if (value instanceof Uint8Array) return Uint8Array.from(value);
  if (typeof value === "string") return Buffer.from(value, "base64");
  throw new KvError("INVALID_ARGUMENT", `etcdserver: ${name} must be bytes`);
}

/** authpb.Permission.Type as proto-loader gives it (the vendored names), or its number. */
function permTypeOf(value: unknown): PermissionType {
  if (value === undefined || value === null) return "READ";
  if (typeof value === "number") {
    const t = PERMISSION_TYPES[value];
    if (t !== undefined) return t;
  }
  if (typeof value === "string") {
    const upper = value.toUpperCase();
    if ((PERMISSION_TYPES as readonly string[]).includes(upper)) return upper as PermissionType;
  }
  throw new KvError("INVALID_ARGUMENT", "etcdserver: unknown permission type");
}

/** The vendored auth.proto's enum names (Read, Write, Readwrite). */
const PERM_TYPE_NAMES: Readonly<Record<PermissionType, string>> = {
  READ: "Read",
  WRITE: "Write",
  READWRITE: "Readwrite",
};

export function permissionToEtcd(p: Permission): object {
  return {
    permType: PERM_TYPE_NAMES[p.permType],
    key: Buffer.from(p.key),
    range_end: Buffer.from(p.rangeEnd),
  };
}

const requestTooLarge = () => new KvError("REQUEST_TOO_LARGE", "etcdserver: request is too large");

/** How many times Authenticate checks again when the auth state moved under it. */
const AUTHENTICATE_ATTEMPTS_MAX = 5;

export interface AuthServiceOptions {
  readonly onInternalError?: (method: string, error: unknown) => void;
  /** Largest encoded command (etcd's --max-request-bytes); default kv/'s. */
  readonly requestBytesMax?: number;
}

type AuthHandle = (m: unknown, s: unknown, a: AuthInfo | undefined) => Promise<object>;

/** How Auth calls reach the backend: size-checked proposals, with who sent them. */
interface AuthAccess {
  readonly gate: AuthGate;
  readonly backend: KvBackend;
  propose(request: AuthRequest, auth: AuthInfo | undefined): Promise<AuthResponse>;
  header(r: AuthResponse): object;
}

function authAccess(backend: KvBackend, gate: AuthGate, options: AuthServiceOptions): AuthAccess {
  const requestBytesMax = options.requestBytesMax ?? DEFAULT_KV_LIMITS.requestBytesMax;
  return {
    gate,
    backend,
    propose: async (request, auth) => {
      const command = encodeCommand(gate.withAuth({ type: "Auth", request }, auth));
      if (command.length > requestBytesMax) throw requestTooLarge();
      return responseOf(await backend.propose(command), "Auth");
    },
    header: (r) => headerToEtcd(r.header, backend.header()),
  };
}

/** A call that proposes one request and answers with the header alone. */
function simple(
  access: AuthAccess,
  toRequest: (m: Message) => AuthRequest | Promise<AuthRequest>,
): AuthHandle {
  return async (message, _s, auth) => {
    const r = await access.propose(await toRequest(messageOf(message)), auth);
    return { header: access.header(r) };
  };
}

async function authenticate(access: AuthAccess, message: unknown): Promise<object> {
  const m = messageOf(message);
  const name = stringOf(m.name, "name");
  const password = stringOf(m.password, "password");
  for (let attempt = 1; ; attempt++) {
    const checkedRevision = await access.gate.checkPassword(name, password);
    try {
      const r = await access.propose(
        { op: "Authenticate", name, token: access.gate.newTokenPrefix(), checkedRevision },
        undefined,
      );
      return { header: access.header(r), token: r.token };
    } catch (e) {
      const stale = e instanceof KvError && e.code === "AUTH_OLD_REVISION";
      if (!stale || attempt >= AUTHENTICATE_ATTEMPTS_MAX) throw e;
    }
  }
}

/** AuthEnable, AuthDisable, AuthStatus and Authenticate. */
function authStateHandles(access: AuthAccess): Record<string, AuthHandle> {
  return {
    AuthEnable: simple(access, () => ({ op: "AuthEnable" })),
    AuthDisable: simple(access, () => ({ op: "AuthDisable" })),
    AuthStatus: async () => {
      const store = access.gate.store;
      return {
        header: headerToEtcd({ revision: 0 }, access.backend.header()),
        enabled: store.enabled,
        authRevision: String(store.revision),
      };
    },
    Authenticate: (m) => authenticate(access, m),
  };
}

function userHandles(access: AuthAccess): Record<string, AuthHandle> {
  const { gate, propose, header } = access;
  return {
    UserAdd: simple(access, async (m) => {
      const name = stringOf(m.name, "name");
      if (name === "") throw authError("AUTH_USER_EMPTY");
      const options = m.options as { no_password?: unknown } | null | undefined;
      const noPassword = options?.no_password === true;
      const passwordHash = noPassword
        ? ""
        : await gate.hashPassword(stringOf(m.password, "password"));
      return { op: "UserAdd", name, passwordHash, noPassword };
    }),
    UserGet: async (message, _s, auth) => {
      const r = await propose(
        { op: "UserGet", name: stringOf(messageOf(message).name, "name") },
        auth,
      );
      return { header: header(r), roles: [...r.names] };
    },
    UserList: async (_m, _s, auth) => {
      const r = await propose({ op: "UserList" }, auth);
      return { header: header(r), users: [...r.names] };
    },
    UserDelete: simple(access, (m) => ({ op: "UserDelete", name: stringOf(m.name, "name") })),
    UserChangePassword: simple(access, async (m) => ({
      op: "UserChangePassword",
      name: stringOf(m.name, "name"),
      passwordHash: await gate.hashPassword(stringOf(m.password, "password")),
    })),
    UserGrantRole: simple(access, (m) => ({
      op: "UserGrantRole",
      user: stringOf(m.user, "user"),
      role: stringOf(m.role, "role"),
    })),
    UserRevokeRole: simple(access, (m) => ({
      op: "UserRevokeRole",
      name: stringOf(m.name, "name"),
      role: stringOf(m.role, "role"),
    })),
  };
}

function roleHandles(access: AuthAccess): Record<string, AuthHandle> {
  const { propose, header } = access;
  return {
    RoleAdd: simple(access, (m) => ({ op: "RoleAdd", name: stringOf(m.name, "name") })),
    RoleGet: async (message, _s, auth) => {
      const role = stringOf(messageOf(message).role, "role");
      const r = await propose({ op: "RoleGet", role }, auth);
      return { header: header(r), perm: r.permissions.map(permissionToEtcd) };
    },
    RoleList: async (_m, _s, auth) => {
      const r = await propose({ op: "RoleList" }, auth);
      return { header: header(r), roles: [...r.names] };
    },
    RoleDelete: simple(access, (m) => ({ op: "RoleDelete", role: stringOf(m.role, "role") })),
    RoleGrantPermission: simple(access, (m) => {
      const perm = messageOf(m.perm);
      return {
        op: "RoleGrantPermission",
        name: stringOf(m.name, "name"),
        perm: {
          permType: permTypeOf(perm.permType),
          key: bytesOf(perm.key, "key"),
          rangeEnd: bytesOf(perm.range_end, "range_end"),
        },
      };
    }),
    RoleRevokePermission: simple(access, (m) => ({
      op: "RoleRevokePermission",
      role: stringOf(m.role, "role"),
      key: bytesOf(m.key, "key"),
      rangeEnd: bytesOf(m.range_end, "range_end"),
    })),
  };
}

/** The Auth service's handlers, for `server.addService(serviceDefinition("Auth"), ...)`. */
export function authServiceHandlers(
  backend: KvBackend,
  gate: AuthGate,
  options: AuthServiceOptions = {},
): grpc.UntypedServiceImplementation {
  const access = authAccess(backend, gate, options);
  const handlers = {
    ...authStateHandles(access),
    ...userHandles(access),
    ...roleHandles(access),
  };
  const serve = { auth: gate, ...options };
  const out: grpc.UntypedServiceImplementation = {};
  for (const [method, handle] of Object.entries(handlers)) {
    // Authenticate and AuthStatus need no caller identity; a bad token must not stop a login.
    const needsCaller = method !== "Authenticate" && method !== "AuthStatus";
    out[method] = unary(method, handle, needsCaller ? serve : options);
  }
  return out;
}

/**
 * `handlers` with etcd's IsAdminPermitted check in front of `methods` (unary or server
 * streaming): refused with etcd's status unless the caller has the root role (auth on).
 */
export function adminOnly(
  handlers: grpc.UntypedServiceImplementation,
  methods: readonly string[],
  gate: AuthGate,
): grpc.UntypedServiceImplementation {
  const out: grpc.UntypedServiceImplementation = { ...handlers };
  for (const method of methods) {
    const inner = handlers[method] as ((call: unknown, callback?: unknown) => void) | undefined;
    if (inner === undefined) continue;
    const wrapped = (call: grpc.ServerUnaryCall<unknown, unknown>, callback?: unknown): void => {
      try {
        gate.checkAdmin(gate.authInfo(credentialsOfCall(call)));
      } catch (e) {
        const status = statusOf(e);
        try {
          if (typeof callback === "function") {
            (callback as grpc.sendUnaryData<unknown>)({
              code: status.code,
              details: status.details,
            });
          } else {
            call.emit("error", { code: status.code, details: status.details });
          }
        } catch {
          // The call is already gone.
        }
        return;
      }
      inner(call, callback);
    };
    out[method] = wrapped as grpc.UntypedHandleCall;
  }
  return out;
}
