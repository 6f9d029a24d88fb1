// Exactly-once writes (KvClientOptions.exactlyOnce, Ordo servers only): put, delete and txn run
// one at a time in a client session of Ordo's runtime, registered through the log (POST
// /ordo/v1/session on the client port). The session and a sequence number travel as gRPC
// metadata (`ordo-session`, `ordo-seq`, read by kv-service); every retry carries the same pair,
// so the server applies the write at most once and answers a retry with the first result.
import * as grpc from "@grpc/grpc-js";
import { needsReauthentication } from "./auth.js";
import { ClientConnection } from "./connection.js";
import { errorOf } from "./errors.js";

export class SessionConnection extends ClientConnection {
  /** Exactly-once writes: the session, its last sequence number, and the queue of writes. */
  private sessionId: string | undefined;
  private sessionSeq = 0;
  private writeQueue: Promise<unknown> = Promise.resolve();

  /** A KV write: plain, or in the session with its own sequence number (exactlyOnce). */
  protected write(method: "Put" | "DeleteRange" | "Txn", request: unknown): Promise<unknown> {
    if (this.options.exactlyOnce !== true) return this.call("KV", method, request);
    const run = async (): Promise<unknown> => {
      const clientId = this.sessionId ?? (await this.registerSession());
      for (let authAttempt = 0; ; authAttempt++) {
        const metadata = new grpc.Metadata();
        metadata.set("ordo-session", clientId);
        metadata.set("ordo-seq", String(++this.sessionSeq));
        // Every retry carries the same (session, seq): the server applies the write at most
        // once. An auth refusal was not applied but is kept under its seq: after
        // authenticating again the write goes out under the next seq.
        try {
          return await this.withRetries((endpoint) =>
            this.callOn(endpoint, "KV", method, request, metadata),
          );
        } catch (e) {
          const err = errorOf(e);
          if (authAttempt >= 2 || this.authenticator === undefined || !needsReauthentication(err))
            throw err;
          this.authenticator.invalidate();
        }
      }
    };
    const result = this.writeQueue.then(run, run);
    this.writeQueue = result.catch(() => {});
    return result;
  }

  /** Registers a session on any endpoint (POST /ordo/v1/session on the client port). */
  private async registerSession(): Promise<string> {
    const id = await this.withRetries(async (endpoint) => {
      const host = (this.endpoints[endpoint % this.endpoints.length] as string)
        .replace(/^https?:\/\//, "")
        .replace(/\/$/, "");
      let res: Response;
      try {
        res = await fetch(`http://${host}/ordo/v1/session`, {
          method: "POST",
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000),
        });
      } catch (e) {
        throw {
          code: grpc.status.UNAVAILABLE,
          details: `cannot register a session at ${host}: ${String(e)}`,
        };
      }
      const body = (await res.json().catch(() => ({}))) as { id?: string; message?: string };
      if (res.status === 503 || res.status === 504)
        throw { code: grpc.status.UNAVAILABLE, details: body.message ?? `HTTP ${res.status}` };
      if (!res.ok || typeof body.id !== "string")
        throw {
          code: grpc.status.FAILED_PRECONDITION,
          details: body.message ?? `HTTP ${res.status}`,
        };
      return body.id;
    });
    this.sessionId = id;
    this.sessionSeq = 0;
    return id;
  }
}
