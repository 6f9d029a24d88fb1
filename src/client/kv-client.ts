// Ordo's TypeScript client for etcd's v3 API: an endpoint list, leader-independent requests
// (any member serves any request), and retries on another endpoint when a member is
// unavailable. Keys and values are strings (UTF-8) or bytes (Uint8Array/Buffer), and come back
// as both (KeyValue's key/value and keyBytes/valueBytes); 64-bit ids (leases, members) are
// decimal strings, and leaseIdToHex gives etcdctl's hexadecimal form.
//
// Services, one file each as in etcd's clientv3 (whose Client embeds them): KV (kv.ts: get,
// put, delete, txn), Lease (lease.ts: grant, revoke, keep-alive, time-to-live, list), Watch
// (watch.ts: an async iterator that survives a member going away), Cluster (cluster.ts:
// memberList, memberAdd, memberRemove, memberUpdate, memberPromote), Maintenance
// (maintenance.ts: status per endpoint, health, snapshot to a file, moveLeader); Auth is a
// client of its own (auth.ts: AuthClient). Each service's class extends the one before it
// (connection.ts ← session.ts ← kv ← lease ← maintenance ← cluster ← KvClient), so every
// method has one definition and KvClient's API is their union.
//
// Retries and exactly-once: a request that failed with UNAVAILABLE or DEADLINE_EXCEEDED is
// sent again to the next endpoint. For reads that is harmless. For writes (put, delete, txn,
// lease grant/revoke/keep-alive) it is etcd's own client semantics: the first attempt may have
// been committed before the connection broke, so the write can apply twice (a put twice makes
// two revisions; a txn's compare may then see its own first effect). With `exactlyOnce` (Ordo
// servers only) put, delete and txn go in a client session of Ordo's runtime instead: the
// session and a sequence number travel as gRPC metadata (`ordo-session`, `ordo-seq`, read by
// kv-service), every retry carries the same pair, and the server applies the write at most
// once, answering a retry with the first result. Lease calls keep etcd's semantics.
import * as grpc from "@grpc/grpc-js";
import { ClusterApi } from "./cluster.js";
import { Watch, type WatchOptions } from "./watch.js";
import type { Bytes } from "./wire.js";

export type { MemberAddResult, MemberInfo } from "./cluster.js";
export { KvClientError } from "./errors.js";
export { type Bytes, type KeyValue, prefixRangeEnd } from "./wire.js";

export class KvClient extends ClusterApi {
  private readonly watches = new Set<Watch>();

  override close(): void {
    for (const w of this.watches) w.close();
    this.watches.clear();
    super.close();
  }

  /**
   * Watches a key (or a prefix / range). Iterate the result with `for await`; `created`
   * resolves once the server registered the watch; close() (or leaving the loop) ends it.
   */
  watch(key: Bytes, options: WatchOptions = {}): Watch {
    const watch = new Watch(
      (endpoint) => {
        const client = this.clientOf("Watch", endpoint) as unknown as Record<
          string,
          (meta: grpc.Metadata) => grpc.ClientDuplexStream<unknown, unknown>
        >;
        const open = client.Watch as (
          meta: grpc.Metadata,
        ) => grpc.ClientDuplexStream<unknown, unknown>;
        return open.call(client, new grpc.Metadata());
      },
      key,
      options,
      {
        reconnectAttempts: this.attempts(),
        bufferEventsMax: 10_000,
        endpointCount: this.channels.length,
        firstEndpoint: this.current,
      },
    );
    this.watches.add(watch);
    return watch;
  }
}
