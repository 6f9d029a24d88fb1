// `ordo user | role | auth`: etcd's Auth service, with etcdctl's commands and output.
//   ordo user add NAME[:PASSWORD] [--new-user-password PW] [--no-password]
//   ordo user get NAME | list | delete NAME | passwd NAME --new-user-password PW
//   ordo user grant-role NAME ROLE | revoke-role NAME ROLE
//   ordo role add NAME | get NAME | list | delete NAME
//   ordo role grant-permission ROLE read|write|readwrite KEY [RANGE_END] [--prefix] [--from-key]
//   ordo role revoke-permission ROLE KEY [RANGE_END] [--prefix] [--from-key]
//   ordo auth enable | disable | status
// Every command takes --endpoints and --user NAME:PASSWORD (or --user NAME --password PW).
import { parseArgs } from "node:util";
import { AuthClient, type PermissionType, prefixRangeEnd } from "../client/index.js";
import { authOf, type ClientFlags, common, endpointsOf, timeoutOf, tlsOf } from "./kv-commands.js";
import type { Output } from "./output.js";

export const USER_USAGE = `usage: ordo user add NAME[:PASSWORD] [--new-user-password PW] [--no-password]
       ordo user get NAME | list | delete NAME | passwd NAME --new-user-password PW
       ordo user grant-role NAME ROLE | revoke-role NAME ROLE
  (all take --endpoints LIST and --user NAME:PASSWORD)`;

export const ROLE_USAGE = `usage: ordo role add NAME | get NAME | list | delete NAME
       ordo role grant-permission ROLE read|write|readwrite KEY [RANGE_END] [--prefix | --from-key]
       ordo role revoke-permission ROLE KEY [RANGE_END] [--prefix | --from-key]
  (all take --endpoints LIST and --user NAME:PASSWORD)`;

export const AUTH_USAGE = `usage: ordo auth enable | disable | status   (--endpoints LIST, --user NAME:PASSWORD)`;

function authClient(values: ClientFlags): AuthClient {
  const auth = authOf(values);
  const endpoints = endpointsOf(values);
  return new AuthClient(endpoints, {
    timeoutMs: timeoutOf(values),
    tls: tlsOf(values, endpoints),
    ...(auth !== undefined ? { auth } : {}),
  });
}

async function withClient(
  values: ClientFlags,
  run: (c: AuthClient) => Promise<string>,
  out: Output,
): Promise<number> {
  const c = authClient(values);
  try {
    out.stdout(await run(c));
    return 0;
  } finally {
    c.close();
  }
}

function need(positionals: string[], count: number, usage: string): string[] {
  if (positionals.length !== count) throw new Error(usage);
  return positionals;
}

/** What one command asks of the Auth service, and the text it prints. */
type AuthJob = (c: AuthClient) => Promise<string>;

const userOptions = {
  ...common,
  "new-user-password": { type: "string" },
  "no-password": { type: "boolean", default: false },
} as const;

export async function runUser(args: string[], out: Output): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: userOptions,
    allowPositionals: true,
    strict: true,
  });
  const [sub, ...rest] = positionals;
  // The arguments are checked before a client is made.
  const job = userJob(sub, rest, values["new-user-password"], values["no-password"]);
  return withClient(values, job, out);
}

function userJob(
  sub: string | undefined,
  rest: string[],
  newPassword: string | undefined,
  noPassword: boolean,
): AuthJob {
  switch (sub) {
    case "add": {
      const [spec] = need(rest, 1, USER_USAGE) as [string];
      const colon = spec.indexOf(":");
      const name = colon < 0 ? spec : spec.slice(0, colon);
      const password = colon < 0 ? newPassword : spec.slice(colon + 1);
      if (!noPassword && password === undefined) {
        throw new Error("ordo user add: give NAME:PASSWORD, --new-user-password or --no-password");
      }
      return async (c) => {
        await c.userAdd(name, password ?? "", { noPassword });
        return `User ${name} created\n`;
      };
    }
    case "get": {
      const [name] = need(rest, 1, USER_USAGE) as [string];
      return async (c) => `User: ${name}\nRoles: ${(await c.userGet(name)).join(" ")}\n`;
    }
    case "list":
      need(rest, 0, USER_USAGE);
      return async (c) => (await c.userList()).map((u) => `${u}\n`).join("");
    case "delete": {
      const [name] = need(rest, 1, USER_USAGE) as [string];
      return async (c) => {
        await c.userDelete(name);
        return `User ${name} deleted\n`;
      };
    }
    case "passwd": {
      const [name] = need(rest, 1, USER_USAGE) as [string];
      const password = newPassword;
      if (password === undefined) throw new Error("ordo user passwd: give --new-user-password");
      return async (c) => {
        await c.userChangePassword(name, password);
        return "Password updated\n";
      };
    }
    case "grant-role": {
      const [name, role] = need(rest, 2, USER_USAGE) as [string, string];
      return async (c) => {
        await c.userGrantRole(name, role);
        return `Role ${role} is granted to user ${name}\n`;
      };
    }
    case "revoke-role": {
      const [name, role] = need(rest, 2, USER_USAGE) as [string, string];
      return async (c) => {
        await c.userRevokeRole(name, role);
        return `Role ${role} is revoked from user ${name}\n`;
      };
    }
    default:
      throw new Error(USER_USAGE);
  }
}

/** etcdctl's key range of a permission: KEY, KEY RANGE_END, --prefix or --from-key. */
function rangeOf(
  key: string,
  end: string | undefined,
  prefix: boolean,
  fromKey: boolean,
): { key: string; rangeEnd: string | Buffer } {
  if (prefix && fromKey) throw new Error("--prefix and --from-key cannot be used together");
  if ((prefix || fromKey) && end !== undefined) {
    throw new Error("a range end cannot be given with --prefix or --from-key");
  }
  if (prefix) return { key, rangeEnd: key === "" ? "\0" : prefixRangeEnd(Buffer.from(key)) };
  if (fromKey) return { key, rangeEnd: "\0" };
  return { key, rangeEnd: end ?? "" };
}

function describePermission(key: string, end: string | Buffer): string {
  const rangeEnd = end.toString();
  if (rangeEnd === "") return key;
  if (rangeEnd === "\0") return `[${key}, <open ended>`;
  return `[${key}, ${rangeEnd})`;
}

const roleOptions = {
  ...common,
  prefix: { type: "boolean", default: false },
  "from-key": { type: "boolean", default: false },
} as const;

export async function runRole(args: string[], out: Output): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: roleOptions,
    allowPositionals: true,
    strict: true,
  });
  const [sub, ...rest] = positionals;
  // The arguments are checked before a client is made.
  const job = roleJob(sub, rest, values.prefix, values["from-key"]);
  return withClient(values, job, out);
}

function roleJob(
  sub: string | undefined,
  rest: string[],
  prefix: boolean,
  fromKey: boolean,
): AuthJob {
  switch (sub) {
    case "add": {
      const [name] = need(rest, 1, ROLE_USAGE) as [string];
      return async (c) => {
        await c.roleAdd(name);
        return `Role ${name} created\n`;
      };
    }
    case "get": {
      const [name] = need(rest, 1, ROLE_USAGE) as [string];
      return async (c) => roleText(name, await c.roleGet(name));
    }
    case "list":
      need(rest, 0, ROLE_USAGE);
      return async (c) => (await c.roleList()).map((r) => `${r}\n`).join("");
    case "delete": {
      const [name] = need(rest, 1, ROLE_USAGE) as [string];
      return async (c) => {
        await c.roleDelete(name);
        return `Role ${name} deleted\n`;
      };
    }
    case "grant-permission": {
      if (rest.length < 3 || rest.length > 4) throw new Error(ROLE_USAGE);
      const [role, type, key, end] = rest as [string, string, string, string | undefined];
      if (type !== "read" && type !== "write" && type !== "readwrite") {
        throw new Error(`permission type must be read, write or readwrite, not "${type}"`);
      }
      const range = rangeOf(key, end, prefix, fromKey);
      return async (c) => {
        await c.roleGrantPermission(role, { permType: type, ...range });
        return `Role ${role} updated\n`;
      };
    }
    case "revoke-permission": {
      if (rest.length < 2 || rest.length > 3) throw new Error(ROLE_USAGE);
      const [role, key, end] = rest as [string, string, string | undefined];
      const range = rangeOf(key, end, prefix, fromKey);
      return async (c) => {
        await c.roleRevokePermission(role, range.key, range.rangeEnd);
        return `Permission of range ${describePermission(range.key, range.rangeEnd)} is revoked from role ${role}\n`;
      };
    }
    default:
      throw new Error(ROLE_USAGE);
  }
}

/** etcdctl's role get: the role's read and write ranges (readwrite in both). */
function roleText(name: string, perms: Awaited<ReturnType<AuthClient["roleGet"]>>): string {
  const of = (t: PermissionType) =>
    perms
      .filter((p) => p.permType === t || p.permType === "readwrite")
      .map((p) => `\t${describePermission(p.key, p.rangeEnd)}\n`)
      .join("");
  return `Role ${name}\nKV Read:\n${of("read")}KV Write:\n${of("write")}`;
}

export async function runAuth(args: string[], out: Output): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: common,
    allowPositionals: true,
    strict: true,
  });
  const [sub, ...rest] = positionals;
  need(rest, 0, AUTH_USAGE);
  switch (sub) {
    case "enable":
      return withClient(
        values,
        async (c) => {
          try {
            await c.authEnable();
          } catch (e) {
            // As etcdctl: a root user without the root role gets the role, then auth.
            if (!(e instanceof Error && /root user does not have root role/.test(e.message))) {
              throw e;
            }
            const roles = await c.roleList();
            if (!roles.includes("root")) await c.roleAdd("root");
            await c.userGrantRole("root", "root");
            await c.authEnable();
          }
          return "Authentication Enabled\n";
        },
        out,
      );
    case "disable":
      return withClient(
        values,
        async (c) => {
          await c.authDisable();
          return "Authentication Disabled\n";
        },
        out,
      );
    case "status":
      return withClient(
        values,
        async (c) => {
          const s = await c.authStatus();
          return values.json
            ? `${JSON.stringify(s)}\n`
            : `Authentication Status: ${s.enabled}\nAuthRevision: ${s.authRevision}\n`;
        },
        out,
      );
    default:
      throw new Error(AUTH_USAGE);
  }
}
