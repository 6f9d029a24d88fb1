// The one place a member decides who a client is and what it may do, shared by every gRPC
// service and the JSON gateway (etcd's AuthInfoFromCtx, doSerialize and IsAdminPermitted).
//
// Who: a call's token (gRPC metadata `token`, the gateway's `Authorization` header) names a
// user in this member's token table, or, with --client-cert-auth, the common name of the
// client's TLS certificate does (etcd's AuthInfoFromTLS; a token wins when both are there).
// The result is an AuthInfo {username, revision}: the revision is this member's applied auth
// revision when the call arrived (etcd's simple tokens do the same). With auth disabled, a
// token is ignored (there is nothing to check).
//
// What: writes and txns carry the AuthInfo into the log (withAuth) and are checked when
// applied (kv/auth-apply.ts), against the auth state every replica has at that index. Reads
// served here (Range, Watch creation) are checked here against the applied state, and refused
// with "revision of auth store is old" if the auth state changed while they were served;
// admin calls (Maintenance, member changes) need the root role (checkAdmin).
//
// Tokens are etcd's simple tokens: random (node:crypto) at the serving member, announced
// through the log by an Authenticate command so every member knows them (apply appends the
// entry index), kept only in memory with a TTL (--auth-token-ttl, default 300 s) that each use
// renews, forgotten when the user is deleted or changes password, or auth is disabled.

import { randomBytes } from "node:crypto";
import bcrypt from "bcryptjs";
import {
  type AuthInfo,
  type AuthListener,
  type AuthStore,
  authError,
  type KvCommand,
  NO_AUTH_INFO,
  type PlainKvCommand,
} from "../kv/index.js";
import { EMPTY_BYTES } from "../lib/index.js";

/** What a call presents: a token, the common name of a verified client certificate. */
export interface Credentials {
  readonly token?: string | undefined;
  readonly commonName?: string | undefined;
}

export interface AuthGateOptions {
  /** The member's applied auth state (it is replaced by a snapshot restore: read it anew). */
  readonly auth: () => AuthStore;
  /** etcd's --auth-token-ttl, in seconds. Default 300. */
  readonly tokenTtlSeconds?: number;
  /** etcd's --bcrypt-cost. Default 10 (bcrypt.DefaultCost). */
  readonly bcryptCost?: number;
  /** Whether client certificates name users (--client-cert-auth). Default false. */
  readonly clientCertAuth?: boolean;
  /** The wall clock for token expiry; default Date.now. */
  readonly now?: () => number;
}

/** Tokens longer than this are refused without a lookup. */
const TOKEN_BYTES_MAX = 256;
/** The table never holds more than this many tokens (oldest expiry first out). */
const TOKENS_MAX = 100_000;

interface TokenEntry {
  readonly username: string;
  expiresAtMs: number;
}

/** The bcrypt cost etcd uses by default. */
export const DEFAULT_BCRYPT_COST = 10;
export const DEFAULT_TOKEN_TTL_SECONDS = 300;

export class AuthGate {
  readonly tokenTtlMs: number;
  readonly bcryptCost: number;
  private readonly tokens = new Map<string, TokenEntry>();
  private readonly now: () => number;
  private readonly clientCertAuth: boolean;
  private subscribedTo: AuthStore | undefined;
  private readonly listener: AuthListener = {
    tokenAssigned: (token, username) => this.assign(token, username),
    userInvalidated: (username) => {
      for (const [t, e] of this.tokens) if (e.username === username) this.tokens.delete(t);
    },
    disabled: () => this.tokens.clear(),
  };

  constructor(private readonly options: AuthGateOptions) {
    const ttl = options.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
    if (!Number.isSafeInteger(ttl) || ttl < 1) {
      throw new RangeError("auth: the token TTL must be a positive number of seconds");
    }
    this.tokenTtlMs = ttl * 1000;
    this.bcryptCost = options.bcryptCost ?? DEFAULT_BCRYPT_COST;
    if (!Number.isInteger(this.bcryptCost) || this.bcryptCost < 4 || this.bcryptCost > 31) {
      throw new RangeError("auth: the bcrypt cost must be between 4 and 31");
    }
    this.now = options.now ?? Date.now;
    this.clientCertAuth = options.clientCertAuth ?? false;
    this.listen();
  }

  /** Whether auth is on: while it is off every call is anonymous and nothing is read from it. */
  get enabled(): boolean {
    return this.store.enabled;
  }

  /** The auth state, making sure the token table hears its changes. */
  get store(): AuthStore {
    this.listen();
    return this.options.auth();
  }

  private listen(): void {
    const store = this.options.auth();
    if (this.subscribedTo === store) return;
    // A restore moves the listeners onto the new state (KvStore.restore), so this runs once
    // unless the store itself was swapped.
    this.subscribedTo = store;
    store.subscribe(this.listener); // once per store: subscribe ignores a listener it has
  }

  private assign(token: string, username: string): void {
    const now = this.now();
    if (this.tokens.size >= TOKENS_MAX) {
      for (const [t, e] of this.tokens) if (e.expiresAtMs <= now) this.tokens.delete(t);
      // Still full: drop the oldest (Map order is insertion order).
      for (const t of this.tokens.keys()) {
        if (this.tokens.size < TOKENS_MAX) break;
        this.tokens.delete(t);
      }
    }
    this.tokens.set(token, { username, expiresAtMs: now + this.tokenTtlMs });
  }

  /** How many live tokens this member holds (for tests and /metrics). */
  get tokenCount(): number {
    return this.tokens.size;
  }

  /**
   * Who the call is: undefined without credentials (or with auth off); throws "invalid auth
   * token" (UNAUTHENTICATED) for a token this member does not know or that expired.
   */
  authInfo(credentials: Credentials): AuthInfo | undefined {
    const store = this.store;
    if (!store.enabled) return undefined;
    const token = credentials.token;
    if (token !== undefined && token !== "") {
      if (token.length > TOKEN_BYTES_MAX) throw authError("AUTH_INVALID_TOKEN");
      const entry = this.tokens.get(token);
      const now = this.now();
      if (entry === undefined || entry.expiresAtMs <= now) {
        if (entry !== undefined) this.tokens.delete(token);
        throw authError("AUTH_INVALID_TOKEN");
      }
      entry.expiresAtMs = now + this.tokenTtlMs; // etcd's simple tokens renew on use
      return { username: entry.username, revision: store.revision };
    }
    const cn = credentials.commonName;
    if (this.clientCertAuth && cn !== undefined && cn !== "") {
      return { username: cn, revision: store.revision };
    }
    return undefined;
  }

  /** A client's command as proposed: with who sent it when we know. */
  withAuth(command: PlainKvCommand, info: AuthInfo | undefined): KvCommand {
    return info === undefined ? command : { type: "WithAuth", auth: info, command };
  }

  /** etcd's IsRangePermitted for a read served by this member. */
  checkRange(info: AuthInfo | undefined, key: Uint8Array, rangeEnd?: Uint8Array): void {
    this.store.checkRange(info ?? NO_AUTH_INFO, key, rangeEnd ?? EMPTY_BYTES);
  }

  /** etcd's doSerialize tail: the auth state must not have changed while a read was served. */
  checkUnchanged(info: AuthInfo | undefined): void {
    if (info !== undefined && info.revision !== 0 && info.revision !== this.store.revision) {
      throw authError("AUTH_OLD_REVISION");
    }
  }

  /** etcd's IsAdminPermitted: the root role, when auth is on. */
  checkAdmin(info: AuthInfo | undefined): void {
    this.store.checkAdmin(info ?? NO_AUTH_INFO);
  }

  /** A bcrypt hash of `password`, made here, before the command enters the log. */
  hashPassword(password: string): Promise<string> {
    return bcrypt.hash(password, this.bcryptCost);
  }

  /**
   * Authenticate's check at this member (etcd's CheckPassword): the auth revision it checked
   * against, or the refusal. bcrypt compares against the applied state's hash.
   */
  async checkPassword(name: string, password: string): Promise<number> {
    const store = this.store;
    if (!store.enabled) throw authError("AUTH_NOT_ENABLED");
    const revision = store.revision;
    const user = store.user(name);
    if (user === undefined || user.noPassword || user.password === "") {
      throw authError("AUTH_FAILED");
    }
    let ok = false;
    try {
      ok = await bcrypt.compare(password, user.password);
    } catch {
      ok = false; // a hash bcrypt cannot read matches nothing
    }
    if (!ok) throw authError("AUTH_FAILED");
    return revision;
  }

  /** The random part of a new simple token (apply appends the entry index). */
  newTokenPrefix(): string {
    return randomBytes(12).toString("base64url");
  }
}

/**
 * The common name of a call's verified TLS client certificate, if the transport knows one
 * (the TLS side adds tlsCommonName() to the project's gRPC calls).
 */
export function commonNameOf(call: unknown): string | undefined {
  if (call === null || typeof call !== "object") return undefined;
  const f = (call as { tlsCommonName?: () => string | undefined }).tlsCommonName;
  if (typeof f !== "function") return undefined;
  try {
    const cn = f.call(call);
    return typeof cn === "string" ? cn : undefined;
  } catch {
    return undefined;
  }
}

/** The gRPC metadata key etcd clients send their token under (rpctypes.TokenFieldNameGRPC). */
export const TOKEN_METADATA_KEY = "token";

/** A gRPC call's credentials: metadata `token` and its TLS common name. */
export function credentialsOfCall(call: {
  readonly metadata?: { get(key: string): unknown[] } | undefined;
}): Credentials {
  const has = (call as { hasHeader?: (name: string) => boolean }).hasHeader;
  let token: string | undefined;
  if (has === undefined || has.call(call, TOKEN_METADATA_KEY)) {
    const value = call.metadata?.get(TOKEN_METADATA_KEY)[0];
    if (typeof value === "string") token = value;
    else if (value instanceof Uint8Array) token = Buffer.from(value).toString("latin1");
  }
  return { token, commonName: commonNameOf(call) };
}

/**
 * An HTTP request's credentials, as etcd's gateway takes them: the token is the whole
 * `Authorization` header (etcd's gateway forwards it as the token; a "Bearer " prefix is
 * accepted too).
 */
export function credentialsOfHttp(
  headers: Record<string, string | string[] | undefined>,
  commonName?: string,
): Credentials {
  const raw = headers.authorization;
  const value = Array.isArray(raw) ? raw[0] : raw;
  const cn = commonName !== undefined ? { commonName } : {};
  if (value === undefined) return cn;
  const token = value.startsWith("Bearer ") ? value.slice(7) : value;
  return { token, ...cn };
}
