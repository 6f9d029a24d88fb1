// What every etcd service of KvClient shares, as etcd's clientv3 client.go and retry.go: one
// gRPC channel per endpoint (tls.ts), a stub per service on each, the endpoint in use, retries
// on the next endpoint when one is unavailable, the per-request deadline, and the token of the
// authenticated user (auth.ts), which every call carries by an interceptor.
import * as grpc from "@grpc/grpc-js";
import { type Authenticator, type AuthOptions, connect, needsReauthentication } from "./auth.js";
import { errorOf, KvClientError, unreachable } from "./errors.js";
import { callUnary, stubsOf } from "./grpc-call.js";
import type { ClientTlsOptions } from "./tls.js";

export interface KvClientOptions {
  /** Per-request deadline. Default 5000. */
  readonly timeoutMs?: number;
  /** Attempts per request over all endpoints. Default 3 per endpoint. */
  readonly attempts?: number;
  /**
   * Exactly-once writes (Ordo servers only): put, delete and txn run one at a time in a session
   * registered through the log, each with the next sequence number, and a retry after
   * UNAVAILABLE or a deadline reuses it, so the server applies it at most once and answers a
   * retry with the first result. Off: plain etcd semantics (a retried write may apply twice).
   */
  readonly exactlyOnce?: boolean;
  /** TLS (etcdctl's --cacert, --cert, --key); https:// endpoints use TLS too. See tls.ts. */
  readonly tls?: ClientTlsOptions;
  /** A user and password (client/auth.ts): every call carries its token, renewed as needed. */
  readonly auth?: AuthOptions;
}

export type Service = "KV" | "Watch" | "Lease" | "Cluster" | "Maintenance";

const SERVICES: readonly Service[] = ["KV", "Watch", "Lease", "Cluster", "Maintenance"];

export class ClientConnection {
  protected readonly channels: grpc.Channel[];
  private readonly clients: Map<Service, grpc.Client[]>;
  /** The endpoint requests go to (modulo the count), moved on when one is unavailable. */
  protected current = 0;
  protected readonly authenticator: Authenticator | undefined;

  constructor(
    readonly endpoints: readonly string[],
    protected readonly options: KvClientOptions = {},
  ) {
    const { channels, authenticator, interceptors } = connect(endpoints, options);
    this.channels = channels;
    this.authenticator = authenticator;
    this.clients = new Map(SERVICES.map((s) => [s, stubsOf(s, channels, interceptors)]));
  }

  close(): void {
    this.authenticator?.close();
    for (const c of this.channels) c.close();
  }

  /** Attempts per request over all endpoints (options.attempts; default 3 per endpoint). */
  protected attempts(): number {
    return this.options.attempts ?? this.channels.length * 3;
  }

  protected clientOf(service: Service, endpoint: number): grpc.Client {
    const list = this.clients.get(service) as grpc.Client[];
    return list[endpoint % list.length] as grpc.Client;
  }

  protected deadline(): number {
    return Date.now() + (this.options.timeoutMs ?? 5000);
  }

  /** One unary call on one endpoint, no retry. */
  protected callOn(
    endpoint: number,
    service: Service,
    method: string,
    request: unknown,
    metadata: grpc.Metadata = new grpc.Metadata(),
  ): Promise<unknown> {
    return callUnary(this.clientOf(service, endpoint), method, request, metadata, this.deadline());
  }

  /** Sends a unary request, moving to the next endpoint when one is unavailable. */
  protected call(service: Service, method: string, request: unknown): Promise<unknown> {
    return this.withRetries((endpoint) => this.callOn(endpoint, service, method, request));
  }

  /** Runs attempt(endpoint) until it succeeds, retrying UNAVAILABLE / DEADLINE_EXCEEDED. */
  protected async withRetries<T>(attempt: (endpoint: number) => Promise<T>): Promise<T> {
    const attempts = this.attempts();
    let last: KvClientError | undefined;
    for (let i = 0; i < attempts; i++) {
      try {
        return await attempt(this.current % this.channels.length);
      } catch (e) {
        const err = errorOf(e);
        last = err;
        if (this.authenticator !== undefined && needsReauthentication(err)) {
          this.authenticator.invalidate(); // the next attempt authenticates again
          continue;
        }
        if (!unreachable(err)) throw err;
        this.current++;
        if (i + 1 < attempts) {
          await new Promise((r) =>
            setTimeout(r, Math.min(50 * 2 ** Math.floor(i / this.channels.length), 1000)),
          );
        }
      }
    }
    throw last ?? new KvClientError(grpc.status.UNAVAILABLE, "no endpoint answered");
  }
}
