// Ordo's TypeScript client for etcd's v3 API: an endpoint list, leader-independent requests
// (any member serves any request), and retries on another endpoint when a member is
// unavailable. Keys and values are strings (UTF-8) or bytes (Uint8Array/Buffer), and come back
// as both (KeyValue's key/value and keyBytes/valueBytes); 64-bit ids (leases, members) are
// decimal strings, and leaseIdToHex gives etcdctl's hexadecimal form.
//
// Services: KV (get, put, delete, txn), Lease (grant, revoke, keep-alive, time-to-live, list),
// Watch (watch: an async iterator that survives a member going away), Cluster (memberList,
// memberAdd, memberRemove, memberUpdate, memberPromote), Maintenance (status per endpoint,
// health, snapshot to a file, moveLeader).
//
// Membership changes go to the leader when one is known (a follower would forward them and
// hear the leader's refusal back, at the cost of a round through the log). They
// are retried only when the failure says nothing was applied (no leader, leader changed, a
// change in progress); after an ambiguous failure (a timeout) a retry that finds the change
// already made (the peer URLs exist, the member is gone, the learner is a voter) succeeds.
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
import { createHash } from "node:crypto";
import { open, readFile, rename, unlink } from "node:fs/promises";
import * as grpc from "@grpc/grpc-js";
import {
  MEMBER_NAME_METADATA_KEY,
  readSnapshotFile,
  SNAPSHOT_SHA_BYTES,
  serviceClient,
} from "../api/index.js";
import { Authenticator, type AuthOptions, needsReauthentication } from "./auth.js";
import { KvClientError } from "./errors.js";
import { type ClientTlsOptions, channelsOf } from "./tls.js";
import {
  deleteRequest,
  putRequest,
  type RawRange,
  type RawTxn,
  rangeRequest,
  rangeResult,
  type TxnRequest,
  type TxnResult,
  txnResult,
  txnToEtcd,
} from "./txn.js";
import { Watch, type WatchOptions } from "./watch.js";
import { type Bytes, type KeyValue, type RawHeader, type RawKv, toKv } from "./wire.js";

export { KvClientError } from "./errors.js";
export { type Bytes, type KeyValue, prefixRangeEnd } from "./wire.js";

export interface GetOptions {
  readonly prefix?: boolean;
  readonly rangeEnd?: Bytes;
  readonly limit?: number;
  readonly revision?: number;
  readonly keysOnly?: boolean;
  readonly countOnly?: boolean;
  readonly serializable?: boolean;
  /** Every key from `key` on (etcd's range_end "\0"; an empty key means all keys). */
  readonly fromKey?: boolean;
  /** etcd's sort: order (NONE by default) by target (KEY by default). */
  readonly sortOrder?: "NONE" | "ASCEND" | "DESCEND";
  readonly sortTarget?: "KEY" | "VERSION" | "CREATE" | "MOD" | "VALUE";
}

export interface GetResult {
  readonly kvs: KeyValue[];
  readonly count: number;
  readonly more: boolean;
  readonly revision: number;
  /** The response header: cluster and member id, revision, raft term (decimal strings). */
  readonly header: RawHeader;
}

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

export interface MemberInfo {
  /** uint64 as a decimal string. */
  readonly id: string;
  readonly name: string;
  readonly peerUrls: string[];
  readonly clientUrls: string[];
  readonly isLearner: boolean;
}

export interface MemberAddResult {
  readonly member: MemberInfo;
  readonly members: MemberInfo[];
  readonly header: RawHeader;
}

export interface EndpointStatus {
  readonly endpoint: string;
  readonly memberId: string;
  readonly clusterId: string;
  readonly leaderId: string;
  readonly isLeader: boolean;
  readonly version: string;
  readonly dbSize: number;
  /** The store's size in use now (etcd 3.4's dbSizeInUse); dbSize is its size at its largest. */
  readonly dbSizeInUse: number;
  readonly raftTerm: number;
  readonly raftIndex: number;
  readonly raftAppliedIndex: number;
  readonly revision: number;
  readonly errors: string[];
  readonly isLearner: boolean;
}

export type EndpointResult<T> =
  | { readonly endpoint: string; readonly ok: true; readonly value: T }
  | { readonly endpoint: string; readonly ok: false; readonly error: string };

export interface EndpointHealth {
  readonly healthy: boolean;
  readonly tookMs: number;
}

export interface SnapshotInfo {
  readonly path: string;
  readonly endpoint: string;
  /** Bytes of streamed data (the file holds these plus the 32-byte SHA-256 after them). */
  readonly dataBytes: number;
  /** Bytes of the KV snapshot inside (see readSnapshotFile). */
  readonly snapshotBytes: number;
  readonly sha256: string;
  readonly revision: number;
}

type Service = "KV" | "Watch" | "Lease" | "Cluster" | "Maintenance";

interface RawMember {
  ID: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

const toMember = (m: RawMember): MemberInfo => ({
  id: m.ID,
  name: m.name,
  peerUrls: m.peerURLs,
  clientUrls: m.clientURLs,
  isLearner: m.isLearner,
});

/** A failure after which the change certainly was not applied, and may be tried again. */
function retryableChange(e: KvClientError): boolean {
  if (e.grpcCode === grpc.status.UNAVAILABLE || e.grpcCode === grpc.status.DEADLINE_EXCEEDED)
    return true;
  return (
    e.grpcCode === grpc.status.FAILED_PRECONDITION &&
    /in progress|not yet applied|not yet committed an entry/.test(e.message)
  );
}

/** A failure after which the change may or may not have been applied. */
const ambiguous = (e: KvClientError): boolean =>
  e.grpcCode === grpc.status.DEADLINE_EXCEEDED ||
  (e.grpcCode === grpc.status.UNAVAILABLE &&
    e.message !== "etcdserver: no leader" &&
    e.message !== "etcdserver: leader changed");

type Unary = (
  req: unknown,
  meta: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: (e: grpc.ServiceError | null, res: unknown) => void,
) => void;

const SERVICES: readonly Service[] = ["KV", "Watch", "Lease", "Cluster", "Maintenance"];
const KEEPALIVE_TTL_NOT_FOUND = 0;

const toRaw = (m: MemberInfo): RawMember => ({
  ID: m.id,
  name: m.name,
  peerURLs: m.peerUrls,
  clientURLs: m.clientUrls,
  isLearner: m.isLearner,
});

/** A lease answer with its response header, not enumerable: {id, ttl} compares as before. */
function withHeader<T extends object>(value: T, header: RawHeader): T & { header: RawHeader } {
  return Object.defineProperty(value, "header", { value: header, enumerable: false }) as T & {
    header: RawHeader;
  };
}

function errorOf(e: unknown): KvClientError {
  if (e instanceof KvClientError) return e;
  const err = e as Partial<grpc.ServiceError>;
  return new KvClientError(err.code ?? grpc.status.UNKNOWN, err.details || String(err.message));
}

export class KvClient {
  private readonly channels: grpc.Channel[];
  private readonly clients: Map<Service, grpc.Client[]>;
  private readonly watches = new Set<Watch>();
  private current = 0;
  /** Exactly-once writes: the session, its last sequence number, and the queue of writes. */
  private sessionId: string | undefined;
  private sessionSeq = 0;
  private writeQueue: Promise<unknown> = Promise.resolve();
  private readonly authenticator: Authenticator | undefined;

  constructor(
    readonly endpoints: readonly string[],
    private readonly options: KvClientOptions = {},
  ) {
    if (endpoints.length === 0) throw new Error("no endpoints");
    this.channels = channelsOf(endpoints, options.tls);
    this.authenticator =
      options.auth === undefined
        ? undefined
        : new Authenticator(this.channels, options.auth, options.timeoutMs);
    const interceptors = this.authenticator === undefined ? [] : [this.authenticator.interceptor()];
    this.clients = new Map(
      SERVICES.map((s) => {
        const Ctor = serviceClient(s);
        return [
          s,
          this.channels.map(
            (channel) =>
              new Ctor("unused", grpc.credentials.createInsecure(), {
                channelOverride: channel,
                interceptors,
              }),
          ),
        ];
      }),
    );
  }

  close(): void {
    for (const w of this.watches) w.close();
    this.watches.clear();
    this.authenticator?.close();
    for (const c of this.channels) c.close();
  }

  // ---- KV -------------------------------------------------------------------------------------

  async put(
    key: Bytes,
    value: Bytes,
    options: { lease?: string; prevKv?: boolean } = {},
  ): Promise<{ revision: number; prevKv: KeyValue | undefined; header: RawHeader }> {
    const res = (await this.write("Put", putRequest(key, value, options))) as {
      header: RawHeader;
      prev_kv: RawKv | null;
    };
    return {
      revision: Number(res.header.revision),
      prevKv: res.prev_kv ? toKv(res.prev_kv) : undefined,
      header: res.header,
    };
  }

  async get(key: Bytes, options: GetOptions = {}): Promise<GetResult> {
    return rangeResult((await this.call("KV", "Range", rangeRequest(key, options))) as RawRange);
  }

  async delete(
    key: Bytes,
    options: { prefix?: boolean; rangeEnd?: Bytes; prevKv?: boolean } = {},
  ): Promise<{ deleted: number; revision: number; prevKvs: KeyValue[]; header: RawHeader }> {
    const res = (await this.write("DeleteRange", deleteRequest(key, options))) as {
      header: RawHeader;
      deleted: string;
      prev_kvs: RawKv[];
    };
    return {
      deleted: Number(res.deleted),
      revision: Number(res.header.revision),
      prevKvs: res.prev_kvs.map(toKv),
      header: res.header,
    };
  }

  /**
   * Compacts the history up to `revision` (etcd's Compact); with `physical` it returns once the
   * compaction is applied (Ordo compacts while applying, so it always is).
   */
  async compact(revision: number, options: { physical?: boolean } = {}): Promise<RawHeader> {
    const res = (await this.call("KV", "Compact", {
      revision: String(revision),
      physical: options.physical ?? false,
    })) as { header: RawHeader };
    return res.header;
  }

  /** One transaction: if every compare holds, the success ops run, otherwise the failure ops. */
  async txn(request: TxnRequest): Promise<TxnResult> {
    return txnResult((await this.write("Txn", txnToEtcd(request))) as RawTxn);
  }

  /** Compare-and-swap in one Txn: put `value` if the key's value is `expected` (null: absent). */
  async compareAndSwap(key: Bytes, expected: Bytes | null, value: Bytes): Promise<boolean> {
    const res = await this.txn({
      compare: [
        expected === null
          ? { key, target: "version", op: "==", value: 0 }
          : { key, target: "value", op: "==", value: expected },
      ],
      success: [{ type: "put", key, value }],
    });
    return res.succeeded;
  }

  // ---- Lease ----------------------------------------------------------------------------------

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

  // ---- Watch ----------------------------------------------------------------------------------

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
        reconnectAttempts: this.options.attempts ?? this.channels.length * 3,
        bufferEventsMax: 10_000,
        endpointCount: this.channels.length,
        firstEndpoint: this.current,
      },
    );
    this.watches.add(watch);
    return watch;
  }

  // ---- Cluster and Maintenance ----------------------------------------------------------------

  async memberList(): Promise<{ members: MemberInfo[]; header: RawHeader }> {
    const res = (await this.call("Cluster", "MemberList", {})) as {
      header: RawHeader;
      members: RawMember[];
    };
    return { header: res.header, members: res.members.map(toMember) };
  }

  /**
   * Adds a member (a learner with `learner`) with these peer URLs. With `name` (Ordo servers)
   * the name is the new member's node id and shows in the member list before it starts.
   */
  async memberAdd(
    peerUrls: readonly string[],
    options: { learner?: boolean; name?: string } = {},
  ): Promise<MemberAddResult> {
    const metadata = new grpc.Metadata();
    if (options.name !== undefined) metadata.set(MEMBER_NAME_METADATA_KEY, options.name);
    const res = (await this.changeMembership(
      "MemberAdd",
      { peerURLs: [...peerUrls], isLearner: options.learner === true },
      metadata,
      async (e) => {
        // The first attempt may have added it: then the member with these peer URLs is it.
        if (!/Peer URLs already exists/.test(e.message)) return undefined;
        const { members, header } = await this.memberList();
        const member = members.find((m) => peerUrls.every((u) => m.peerUrls.includes(u)));
        return member === undefined
          ? undefined
          : { header, member: toRaw(member), members: members.map(toRaw) };
      },
    )) as { header: RawHeader; member: RawMember; members: RawMember[] };
    return { header: res.header, member: toMember(res.member), members: res.members.map(toMember) };
  }

  /** Removes the member with this id (decimal); resolves with the members left. */
  async memberRemove(id: string): Promise<MemberInfo[]> {
    const res = (await this.changeMembership("MemberRemove", { ID: id }, undefined, async (e) => {
      if (!/member not found/.test(e.message)) return undefined;
      return { members: (await this.memberList()).members.map(toRaw) };
    })) as { members: RawMember[] };
    return res.members.map(toMember);
  }

  /** Replaces the peer URLs of the member with this id. */
  async memberUpdate(id: string, peerUrls: readonly string[]): Promise<MemberInfo[]> {
    const res = (await this.changeMembership(
      "MemberUpdate",
      { ID: id, peerURLs: [...peerUrls] },
      undefined,
      async () => undefined,
    )) as { members: RawMember[] };
    return res.members.map(toMember);
  }

  /** Promotes the learner with this id to a voter (refused while it lags the leader). */
  async memberPromote(id: string): Promise<MemberInfo[]> {
    const res = (await this.changeMembership("MemberPromote", { ID: id }, undefined, async (e) => {
      if (!/can only promote a learner member$/.test(e.message)) return undefined;
      const { members } = await this.memberList();
      const m = members.find((x) => x.id === id);
      return m !== undefined && !m.isLearner ? { members: members.map(toRaw) } : undefined;
    })) as { members: RawMember[] };
    return res.members.map(toMember);
  }

  /**
   * Moves leadership to the member with this id (decimal): asks the current leader (found by
   * endpoint status), which answers once it sees the target lead. Resolves with the member ids
   * of the old and the new leader.
   */
  async moveLeader(targetId: string): Promise<{ from: string; to: string }> {
    const attempts = this.options.attempts ?? this.channels.length * 3;
    let last: KvClientError = new KvClientError(grpc.status.UNAVAILABLE, "etcdserver: no leader");
    for (let i = 0; i < attempts; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** i, 1000)));
      const leader = await this.leaderEndpoint();
      if (leader === undefined) continue;
      if (leader.memberId === targetId) return { from: targetId, to: targetId };
      try {
        await this.callOn(leader.index, "Maintenance", "MoveLeader", { targetID: targetId });
        return { from: leader.memberId, to: targetId };
      } catch (e) {
        last = errorOf(e);
        const notLeader =
          last.grpcCode === grpc.status.FAILED_PRECONDITION &&
          last.message === "etcdserver: not leader";
        if (!notLeader && last.grpcCode !== grpc.status.UNAVAILABLE) throw last;
      }
    }
    throw last;
  }

  /** The endpoint of the member that leads, by Maintenance.Status; undefined when none does. */
  private async leaderEndpoint(): Promise<{ index: number; memberId: string } | undefined> {
    const statuses = await this.status();
    const index = statuses.findIndex((s) => s.ok && s.value.isLeader);
    const leader = statuses[index];
    if (leader === undefined || !leader.ok) return undefined;
    return { index, memberId: leader.value.memberId };
  }

  /**
   * One membership change on the leader (or, when none is known, the next endpoint), retried
   * while the failure says nothing was applied. After an ambiguous failure, `recover` reads a
   * later refusal: it returns the answer when the change turns out to be made already.
   */
  private async changeMembership(
    method: string,
    request: unknown,
    metadata: grpc.Metadata | undefined,
    recover: (e: KvClientError) => Promise<unknown>,
  ): Promise<unknown> {
    const attempts = this.options.attempts ?? this.channels.length * 3;
    let maybeApplied = false;
    let last: KvClientError | undefined;
    for (let i = 0; i < attempts; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** i, 2000)));
      const leader = await this.leaderEndpoint().catch(() => undefined);
      const endpoint = leader?.index ?? this.current % this.channels.length;
      try {
        return await this.callOn(endpoint, "Cluster", method, request, metadata);
      } catch (e) {
        last = errorOf(e);
        if (maybeApplied) {
          const answer = await recover(last);
          if (answer !== undefined) return answer;
        }
        if (!retryableChange(last)) throw last;
        if (ambiguous(last)) maybeApplied = true;
        if (leader === undefined) this.current++;
      }
    }
    throw last ?? new KvClientError(grpc.status.UNAVAILABLE, "no endpoint answered");
  }

  /** Maintenance.Status of every endpoint (each asked once; failures reported, not thrown). */
  async status(): Promise<EndpointResult<EndpointStatus>[]> {
    return Promise.all(
      this.endpoints.map(async (endpoint, i): Promise<EndpointResult<EndpointStatus>> => {
        try {
          const r = (await this.callOn(i, "Maintenance", "Status", {})) as {
            header: RawHeader;
            version: string;
            dbSize: string;
            dbSizeInUse?: string;
            leader: string;
            raftIndex: string;
            raftTerm: string;
            raftAppliedIndex: string;
            errors: string[];
            isLearner?: boolean;
          };
          return {
            endpoint,
            ok: true,
            value: {
              endpoint,
              memberId: r.header.member_id,
              clusterId: r.header.cluster_id,
              leaderId: r.leader,
              isLeader: r.leader !== "0" && r.leader === r.header.member_id,
              version: r.version,
              dbSize: Number(r.dbSize),
              dbSizeInUse: Number(r.dbSizeInUse ?? 0),
              raftTerm: Number(r.raftTerm),
              raftIndex: Number(r.raftIndex),
              raftAppliedIndex: Number(r.raftAppliedIndex),
              revision: Number(r.header.revision),
              errors: r.errors,
              isLearner: r.isLearner === true,
            },
          };
        } catch (e) {
          return { endpoint, ok: false, error: errorOf(e).message };
        }
      }),
    );
  }

  /** Maintenance.Defragment of one endpoint (an index into the endpoint list), no retry. */
  async defragment(endpoint: number): Promise<RawHeader> {
    if (!Number.isInteger(endpoint) || endpoint < 0 || endpoint >= this.endpoints.length)
      throw new RangeError(`no endpoint ${endpoint}`);
    try {
      const r = (await this.callOn(endpoint, "Maintenance", "Defragment", {})) as {
        header: RawHeader;
      };
      return r.header;
    } catch (e) {
      throw errorOf(e);
    }
  }

  /**
   * Maintenance.HashKV of one endpoint (an index into the endpoint list), no retry: the digest
   * of the MVCC history up to `revision` (0: the member's current revision), with the revision
   * it covers. Members that applied the same log agree on it.
   */
  async hashKv(
    endpoint: number,
    revision = 0,
  ): Promise<{ hash: number; revision: number; compactRevision: number }> {
    if (!Number.isInteger(endpoint) || endpoint < 0 || endpoint >= this.endpoints.length)
      throw new RangeError(`no endpoint ${endpoint}`);
    try {
      const r = (await this.callOn(endpoint, "Maintenance", "HashKV", {
        revision: String(revision),
      })) as { header: RawHeader; hash: number; compact_revision: string };
      return {
        hash: Number(r.hash),
        revision: Number(r.header.revision),
        compactRevision: Number(r.compact_revision),
      };
    } catch (e) {
      throw errorOf(e);
    }
  }

  /**
   * etcdctl's health check per endpoint: a linearizable get of the key "health" succeeds (a
   * permission error would count as healthy too, as in etcd) and the member reports no alarm.
   */
  async health(): Promise<EndpointResult<EndpointHealth>[]> {
    return Promise.all(
      this.endpoints.map(async (endpoint, i): Promise<EndpointResult<EndpointHealth>> => {
        const started = performance.now();
        try {
          await this.callOn(i, "KV", "Range", rangeRequest("health", {}));
          const s = (await this.callOn(i, "Maintenance", "Status", {})) as { errors: string[] };
          const tookMs = performance.now() - started;
          if (s.errors.length > 0) {
            return { endpoint, ok: false, error: `alarm: ${s.errors.join("; ")}` };
          }
          return { endpoint, ok: true, value: { healthy: true, tookMs } };
        } catch (e) {
          return { endpoint, ok: false, error: errorOf(e).message };
        }
      }),
    );
  }

  /**
   * Streams a member's snapshot into `path` (written to path.part, fsynced, renamed), as
   * etcdctl does: the file holds the streamed data followed by its 32-byte SHA-256, which is
   * checked here, as is the framing (readSnapshotFile in server/maintenance-service.ts reads
   * the KV snapshot back out). Asks the first endpoint unless `endpoint` (an index) says otherwise.
   */
  /**
   * Saves the endpoint's snapshot to `path` (written to path.part, checked, then renamed).
   * onProgress hears the bytes received so far and the stream's total (from remaining_bytes).
   */
  async snapshotSave(
    path: string,
    options: { endpoint?: number; onProgress?: (bytes: number, totalBytes: number) => void } = {},
  ): Promise<SnapshotInfo> {
    const index = options.endpoint ?? 0;
    const endpoint = this.endpoints[index];
    if (endpoint === undefined) throw new RangeError(`no endpoint ${index}`);
    const client = this.clientOf("Maintenance", index) as unknown as Record<
      string,
      (req: unknown, meta: grpc.Metadata) => grpc.ClientReadableStream<unknown>
    >;
    const openStream = client.Snapshot as (
      req: unknown,
      meta: grpc.Metadata,
    ) => grpc.ClientReadableStream<unknown>;
    const part = `${path}.part`;
    const file = await open(part, "w");
    const hash = createHash("sha256");
    let tail: Buffer = Buffer.alloc(0);
    let total = 0;
    let revision = 0;
    let dataDone = false;
    let ok = false;
    try {
      const stream = openStream.call(client, {}, new grpc.Metadata());
      try {
        for await (const message of stream) {
          const m = message as {
            header: RawHeader | null;
            blob: Buffer;
            remaining_bytes?: string | number;
          };
          if (m.header) revision = Number(m.header.revision);
          await file.write(m.blob);
          total += m.blob.length;
          // The digest comes in the message after the one that says no data remains.
          const remaining = Number(m.remaining_bytes ?? 0);
          options.onProgress?.(total, total + remaining + (dataDone ? 0 : SNAPSHOT_SHA_BYTES));
          if (remaining === 0) dataDone = true;
          // Hash everything except the last SNAPSHOT_SHA_BYTES seen so far.
          const combined = Buffer.concat([tail, m.blob]);
          const cut = Math.max(0, combined.length - SNAPSHOT_SHA_BYTES);
          hash.update(combined.subarray(0, cut));
          tail = combined.subarray(cut);
        }
      } catch (e) {
        throw errorOf(e);
      }
      if (tail.length !== SNAPSHOT_SHA_BYTES) {
        throw new KvClientError(grpc.status.DATA_LOSS, "snapshot stream too short for its digest");
      }
      const digest = hash.digest();
      if (!digest.equals(tail)) {
        throw new KvClientError(grpc.status.DATA_LOSS, "snapshot SHA-256 mismatch");
      }
      await file.sync();
      const snapshotBytes = readSnapshotFile(await readFile(part)).length;
      ok = true;
      return {
        path,
        endpoint,
        dataBytes: total - SNAPSHOT_SHA_BYTES,
        snapshotBytes,
        sha256: digest.toString("hex"),
        revision,
      };
    } finally {
      await file.close();
      if (ok) await rename(part, path);
      else await unlink(part).catch(() => {});
    }
  }

  // ---- transport ------------------------------------------------------------------------------

  private clientOf(service: Service, endpoint: number): grpc.Client {
    const list = this.clients.get(service) as grpc.Client[];
    return list[endpoint % list.length] as grpc.Client;
  }

  private deadline(): number {
    return Date.now() + (this.options.timeoutMs ?? 5000);
  }

  /** One unary call on one endpoint, no retry. */
  private callOn(
    endpoint: number,
    service: Service,
    method: string,
    request: unknown,
    metadata: grpc.Metadata = new grpc.Metadata(),
  ): Promise<unknown> {
    const client = this.clientOf(service, endpoint);
    return new Promise((resolve, reject) => {
      const fn = (client as unknown as Record<string, Unary>)[method] as Unary;
      fn.call(client, request, metadata, { deadline: this.deadline() }, (e, res) =>
        e ? reject(e) : resolve(res),
      );
    });
  }

  /** A KV write: plain, or in the session with its own sequence number (exactlyOnce). */
  private write(method: "Put" | "DeleteRange" | "Txn", request: unknown): Promise<unknown> {
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

  /** Sends a unary request, moving to the next endpoint when one is unavailable. */
  private call(service: Service, method: string, request: unknown): Promise<unknown> {
    return this.withRetries((endpoint) => this.callOn(endpoint, service, method, request));
  }

  /** Runs attempt(endpoint) until it succeeds, retrying UNAVAILABLE / DEADLINE_EXCEEDED. */
  private async withRetries<T>(attempt: (endpoint: number) => Promise<T>): Promise<T> {
    const attempts = this.options.attempts ?? this.channels.length * 3;
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
        if (
          err.grpcCode !== grpc.status.UNAVAILABLE &&
          err.grpcCode !== grpc.status.DEADLINE_EXCEEDED
        ) {
          throw err;
        }
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
