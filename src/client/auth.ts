// Authentication for the TypeScript client, as etcd's clientv3 does it: with a user name and
// password, the client calls Auth.Authenticate (on the first endpoint that answers), keeps the
// token, and sends it as the gRPC metadata `token` on every call (a grpc-js interceptor, so
// every service and stream carries it). When a member answers "invalid auth token" (it expired
// or that member restarted) or "revision of auth store is old" (users or roles changed since
// the call was checked), the client forgets the token; KvClient retries the call, which
// authenticates again.
//
// AuthClient is etcd's Auth service for tools (ordo user/role/auth): users, roles,
// permissions, enable/disable/status.
import * as grpc from "@grpc/grpc-js";
import { errorOf, KvClientError, unreachable } from "./errors.js";
import { callUnary, stubsOf } from "./grpc-call.js";
import { type ClientTlsOptions, channelsOf } from "./tls.js";

export interface AuthOptions {
  readonly username: string;
  readonly password: string;
}

/** etcd's rpctypes messages that mean "authenticate again and retry". */
export const REAUTHENTICATE_MESSAGES: readonly string[] = [
  "etcdserver: invalid auth token",
  "etcdserver: revision of auth store is old",
];

export function needsReauthentication(e: { grpcCode: number; message: string }): boolean {
  return REAUTHENTICATE_MESSAGES.includes(e.message);
}

/** Holds one token for a user, fetched on demand, shared by every call of one client. */
export class Authenticator {
  private token: string | undefined;
  private pending: Promise<string> | undefined;
  private readonly clients: grpc.Client[];

  constructor(
    channels: readonly grpc.Channel[],
    private readonly auth: AuthOptions,
    private readonly timeoutMs = 5000,
  ) {
    this.clients = stubsOf("Auth", channels);
  }

  /** The token, authenticating first if there is none. */
  getToken(): Promise<string> {
    if (this.token !== undefined) return Promise.resolve(this.token);
    this.pending ??= this.authenticate().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /** Forgets the token: the next call authenticates again. */
  invalidate(): void {
    this.token = undefined;
  }

  private async authenticate(): Promise<string> {
    let last: KvClientError | undefined;
    for (const client of this.clients) {
      try {
        const res = (await callUnary(
          client,
          "Authenticate",
          { name: this.auth.username, password: this.auth.password },
          new grpc.Metadata(),
          Date.now() + this.timeoutMs,
        )) as { token: string };
        this.token = res.token;
        return res.token;
      } catch (e) {
        last = errorOf(e);
        // Only an unreachable member sends us to the next one; a refusal is final.
        if (!unreachable(last)) throw last;
      }
    }
    throw last ?? new KvClientError(grpc.status.UNAVAILABLE, "no endpoint answered");
  }

  /** A grpc-js interceptor adding `token` to every call's metadata. */
  interceptor(): grpc.Interceptor {
    return (options, nextCall) =>
      new grpc.InterceptingCall(nextCall(options), {
        start: (metadata, listener, next) => {
          this.getToken().then(
            (token) => {
              metadata.set("token", token);
              next(metadata, listener);
            },
            (e: unknown) => {
              // The call is not sent: it ends with the authentication's status.
              const err = errorOf(e);
              listener.onReceiveStatus?.({
                code: err.grpcCode,
                details: err.message,
                metadata: new grpc.Metadata(),
              });
            },
          );
        },
      });
  }

  close(): void {
    for (const c of this.clients) c.close();
  }
}

/** What every client of a cluster starts with: its endpoints' channels and, with a user, its token. */
export interface Connected {
  readonly channels: grpc.Channel[];
  readonly authenticator: Authenticator | undefined;
  /** The interceptor that puts the token on every call, with a user. */
  readonly interceptors: grpc.Interceptor[];
}

/** One channel per endpoint (TLS as asked) and an Authenticator on them when a user is given. */
export function connect(
  endpoints: readonly string[],
  options: {
    readonly auth?: AuthOptions;
    readonly timeoutMs?: number;
    readonly tls?: ClientTlsOptions;
  },
): Connected {
  if (endpoints.length === 0) throw new Error("no endpoints");
  const channels = channelsOf(endpoints, options.tls);
  const authenticator =
    options.auth === undefined
      ? undefined
      : new Authenticator(channels, options.auth, options.timeoutMs);
  const interceptors = authenticator === undefined ? [] : [authenticator.interceptor()];
  return { channels, authenticator, interceptors };
}

export type PermissionType = "read" | "write" | "readwrite";

export interface RolePermission {
  readonly permType: PermissionType;
  readonly key: string;
  /** "" for the key alone, "\0" for every key from `key` on. */
  readonly rangeEnd: string;
}

/** etcd's Auth service, for tools. Calls go to the first endpoint that answers. */
export class AuthClient {
  private readonly channels: grpc.Channel[];
  private readonly clients: grpc.Client[];
  private readonly authenticator: Authenticator | undefined;

  constructor(
    endpoints: readonly string[],
    options: {
      readonly auth?: AuthOptions;
      readonly timeoutMs?: number;
      /** TLS, as KvClient's (etcdctl's --cacert, --cert, --key; https:// endpoints). */
      readonly tls?: ClientTlsOptions;
    } = {},
  ) {
    const { channels, authenticator, interceptors } = connect(endpoints, options);
    this.channels = channels;
    this.authenticator = authenticator;
    this.clients = stubsOf("Auth", channels, interceptors);
    this.timeoutMs = options.timeoutMs ?? 5000;
  }

  private readonly timeoutMs: number;

  close(): void {
    this.authenticator?.close();
    for (const c of this.clients) c.close();
    for (const c of this.channels) c.close();
  }

  private async call(method: string, request: object): Promise<Record<string, unknown>> {
    let last: KvClientError | undefined;
    for (let attempt = 0; attempt < this.clients.length * 2; attempt++) {
      const client = this.clients[attempt % this.clients.length] as grpc.Client;
      try {
        return (await callUnary(
          client,
          method,
          request,
          new grpc.Metadata(),
          Date.now() + this.timeoutMs,
        )) as Record<string, unknown>;
      } catch (e) {
        last = errorOf(e);
        if (needsReauthentication(last)) {
          this.authenticator?.invalidate();
          continue;
        }
        if (!unreachable(last)) throw last;
      }
    }
    throw last ?? new KvClientError(grpc.status.UNAVAILABLE, "no endpoint answered");
  }

  async authEnable(): Promise<void> {
    await this.call("AuthEnable", {});
  }
  async authDisable(): Promise<void> {
    await this.call("AuthDisable", {});
  }
  async authStatus(): Promise<{ enabled: boolean; authRevision: number }> {
    const r = await this.call("AuthStatus", {});
    return { enabled: r.enabled === true, authRevision: Number(r.authRevision) };
  }
  async userAdd(name: string, password: string, options: { noPassword?: boolean } = {}) {
    await this.call("UserAdd", {
      name,
      password,
      options: { no_password: options.noPassword === true },
    });
  }
  async userGet(name: string): Promise<string[]> {
    return (await this.call("UserGet", { name })).roles as string[];
  }
  async userList(): Promise<string[]> {
    return (await this.call("UserList", {})).users as string[];
  }
  async userDelete(name: string): Promise<void> {
    await this.call("UserDelete", { name });
  }
  async userChangePassword(name: string, password: string): Promise<void> {
    await this.call("UserChangePassword", { name, password });
  }
  async userGrantRole(user: string, role: string): Promise<void> {
    await this.call("UserGrantRole", { user, role });
  }
  async userRevokeRole(name: string, role: string): Promise<void> {
    await this.call("UserRevokeRole", { name, role });
  }
  async roleAdd(name: string): Promise<void> {
    await this.call("RoleAdd", { name });
  }
  async roleGet(role: string): Promise<RolePermission[]> {
    const r = await this.call("RoleGet", { role });
    return (r.perm as { permType: string; key: Buffer; range_end: Buffer }[]).map((p) => ({
      permType: p.permType.toLowerCase() as PermissionType,
      key: p.key.toString(),
      rangeEnd: p.range_end.toString(),
    }));
  }
  async roleList(): Promise<string[]> {
    return (await this.call("RoleList", {})).roles as string[];
  }
  async roleDelete(role: string): Promise<void> {
    await this.call("RoleDelete", { role });
  }
  /** Key and range end as text (UTF-8) or bytes. */
  async roleGrantPermission(
    name: string,
    perm: {
      readonly permType: PermissionType;
      readonly key: string | Uint8Array;
      readonly rangeEnd: string | Uint8Array;
    },
  ): Promise<void> {
    const names = { read: "Read", write: "Write", readwrite: "Readwrite" } as const;
    await this.call("RoleGrantPermission", {
      name,
      perm: {
        permType: names[perm.permType],
        key: Buffer.from(perm.key),
        range_end: Buffer.from(perm.rangeEnd),
      },
    });
  }
  async roleRevokePermission(
    role: string,
    key: string | Uint8Array,
    rangeEnd: string | Uint8Array,
  ): Promise<void> {
    await this.call("RoleRevokePermission", {
      role,
      key: Buffer.from(key),
      range_end: Buffer.from(rangeEnd),
    });
  }
}
