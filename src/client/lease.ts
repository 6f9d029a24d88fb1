// etcd's Lease service (clientv3 lease.go): grant, revoke, one keep-alive, time-to-live, list.
// Lease calls keep etcd's retry semantics (no session): a retried grant may grant twice.
import * as grpc from "@grpc/grpc-js";
import { KvClientError } from "./errors.js";
import { KvApi } from "./kv.js";
import type { RawHeader } from "./wire.js";

export interface LeaseGrant {
  /** int64 as a decimal string (leaseIdToHex: etcdctl's 16-digit hexadecimal form). */
  readonly id: string;
  readonly ttl: number;
  readonly header?: RawHeader;
}

export interface LeaseTimeToLive {
  readonly id: string;
  /** Seconds left; -1 when the lease does not exist (expired or revoked). */
  readonly ttl: number;
  readonly grantedTtl: number;
  readonly keys: string[];
  /** The attached keys as stored (keys are their UTF-8 decoding). */
  readonly keyBytes?: Buffer[];
  readonly header?: RawHeader;
}

const KEEPALIVE_TTL_NOT_FOUND = 0;

/** A lease answer with its response header, not enumerable: {id, ttl} compares as before. */
function withHeader<T extends object>(value: T, header: RawHeader): T & { header: RawHeader } {
  return Object.defineProperty(value, "header", { value: header, enumerable: false }) as T & {
    header: RawHeader;
  };
}

export class LeaseApi extends KvApi {
  async leaseGrant(ttlSeconds: number, id = "0"): Promise<LeaseGrant> {
    const res = (await this.call("Lease", "LeaseGrant", { TTL: String(ttlSeconds), ID: id })) as {
      ID: string;
      TTL: string;
      header: RawHeader;
    };
    return withHeader({ id: res.ID, ttl: Number(res.TTL) }, res.header);
  }

  async leaseRevoke(id: string): Promise<{ header: RawHeader }> {
    const res = (await this.call("Lease", "LeaseRevoke", { ID: id })) as { header: RawHeader };
    return { header: res.header };
  }

  /** One keep-alive over a LeaseKeepAlive stream; TTL 0 when the lease is gone. */
  async leaseKeepAliveOnce(id: string): Promise<LeaseGrant> {
    return this.withRetries(async (endpoint) => {
      const client = this.clientOf("Lease", endpoint) as unknown as Record<
        string,
        (meta: grpc.Metadata, opts: grpc.CallOptions) => grpc.ClientDuplexStream<unknown, unknown>
      >;
      const open = client.LeaseKeepAlive as (
        meta: grpc.Metadata,
        opts: grpc.CallOptions,
      ) => grpc.ClientDuplexStream<unknown, unknown>;
      const stream = open.call(client, new grpc.Metadata(), { deadline: this.deadline() });
      return new Promise<LeaseGrant>((resolve, reject) => {
        let answered = false;
        stream.on("data", (r: { ID: string; TTL: string; header: RawHeader }) => {
          if (answered) return;
          answered = true;
          resolve(withHeader({ id: r.ID, ttl: Number(r.TTL) }, r.header));
          stream.end();
        });
        stream.on("error", (e) => {
          if (!answered) reject(e);
        });
        stream.on("status", (s: grpc.StatusObject) => {
          if (!answered && s.code === grpc.status.OK) {
            reject(new KvClientError(grpc.status.UNAVAILABLE, "keep-alive stream ended"));
          }
        });
        stream.write({ ID: id });
      });
    });
  }

  async leaseTimeToLive(id: string, options: { keys?: boolean } = {}): Promise<LeaseTimeToLive> {
    const res = (await this.call("Lease", "LeaseTimeToLive", {
      ID: id,
      keys: options.keys ?? false,
    })) as { ID: string; TTL: string; grantedTTL: string; keys: Buffer[]; header: RawHeader };
    return {
      id: res.ID,
      ttl: Number(res.TTL),
      grantedTtl: Number(res.grantedTTL),
      keys: res.keys.map((k) => k.toString()),
      keyBytes: res.keys,
      header: res.header,
    };
  }

  async leaseList(): Promise<string[]> {
    return (await this.leaseLeases()).ids;
  }

  /** The lease ids (decimal strings) with the response header. */
  async leaseLeases(): Promise<{ ids: string[]; header: RawHeader }> {
    const res = (await this.call("Lease", "LeaseLeases", {})) as {
      leases: { ID: string }[];
      header: RawHeader;
    };
    return { ids: res.leases.map((l) => l.ID), header: res.header };
  }

  /** Whether a keep-alive answer means the lease is gone (expired or revoked). */
  static leaseGone(answer: LeaseGrant): boolean {
    return answer.ttl <= KEEPALIVE_TTL_NOT_FOUND;
  }
}
