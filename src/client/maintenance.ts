// etcd's Maintenance service (clientv3 maintenance.go): status and health per endpoint,
// defragment, HashKV, snapshot to a file, and moving leadership, with the leader found by
// endpoint status (which the membership calls in cluster.ts use too).
import { createHash } from "node:crypto";
import { type FileHandle, open, readFile, rename, unlink } from "node:fs/promises";
import * as grpc from "@grpc/grpc-js";
import { readSnapshotFile, SNAPSHOT_SHA_BYTES } from "../api/index.js";
import { errorOf, KvClientError } from "./errors.js";
import { LeaseApi } from "./lease.js";
import { rangeRequest } from "./txn.js";
import type { RawHeader } from "./wire.js";

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

/** The data a snapshot stream brought, its SHA-256 checked. */
interface ReceivedSnapshot {
  /** Bytes received: the data and the 32-byte digest after it. */
  readonly total: number;
  readonly revision: number;
  readonly sha256: string;
}

/** An alarm raised on a member (etcd's AlarmMember): NOSPACE (the space quota) or CORRUPT. */
export interface AlarmMember {
  /** The member's id (decimal). */
  readonly memberId: string;
  readonly alarm: "NOSPACE" | "CORRUPT";
}

/** The proto's AlarmType (the vendored proto spells it None, Nospace, Corrupt) as etcd names it. */
function alarmTypeOf(value: unknown): AlarmMember["alarm"] | undefined {
  const text = String(value).toUpperCase();
  if (text === "1" || text === "NOSPACE") return "NOSPACE";
  if (text === "2" || text === "CORRUPT") return "CORRUPT";
  return undefined;
}

function alarmsOf(response: unknown): AlarmMember[] {
  const raw = (response as { alarms?: { memberID?: unknown; alarm?: unknown }[] }).alarms ?? [];
  const out: AlarmMember[] = [];
  for (const a of raw) {
    const alarm = alarmTypeOf(a.alarm);
    if (alarm !== undefined) out.push({ memberId: String(a.memberID ?? "0"), alarm });
  }
  return out;
}

export class MaintenanceApi extends LeaseApi {
  /** Maintenance.Alarm GET: every alarm raised in the cluster (etcdctl alarm list). */
  async alarms(): Promise<AlarmMember[]> {
    return alarmsOf(
      await this.call("Maintenance", "Alarm", { action: 0, memberID: "0", alarm: 0 }),
    );
  }

  /**
   * Maintenance.Alarm DEACTIVATE of each alarm raised (etcdctl alarm disarm, clientv3's
   * AlarmDisarm with an empty member): the alarms it cleared. NOSPACE goes through the log;
   * writes are accepted again once no member's NOSPACE is left (after compact and defrag, or
   * the next write raises it again).
   */
  async disarmAlarms(): Promise<AlarmMember[]> {
    const cleared: AlarmMember[] = [];
    for (const a of await this.alarms()) {
      const response = await this.call("Maintenance", "Alarm", {
        action: 2,
        memberID: a.memberId,
        alarm: a.alarm === "NOSPACE" ? 1 : 2,
      });
      cleared.push(...alarmsOf(response));
    }
    return cleared;
  }

  /**
   * Moves leadership to the member with this id (decimal): asks the current leader (found by
   * endpoint status), which answers once it sees the target lead. Resolves with the member ids
   * of the old and the new leader.
   */
  async moveLeader(targetId: string): Promise<{ from: string; to: string }> {
    const attempts = this.attempts();
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
  protected async leaderEndpoint(): Promise<{ index: number; memberId: string } | undefined> {
    const statuses = await this.status();
    const index = statuses.findIndex((s) => s.ok && s.value.isLeader);
    const leader = statuses[index];
    if (leader === undefined || !leader.ok) return undefined;
    return { index, memberId: leader.value.memberId };
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
   * Saves the endpoint's snapshot to `path`, as etcdctl does: written to path.part, fsynced,
   * renamed; the file holds the streamed data followed by its 32-byte SHA-256, which is checked
   * here, as is the framing (readSnapshotFile, api/, reads the KV snapshot back out). Asks the
   * first endpoint unless `endpoint` (an index) says otherwise. onProgress hears the bytes
   * received so far and the stream's total (from remaining_bytes).
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
    let ok = false;
    try {
      const stream = openStream.call(client, {}, new grpc.Metadata());
      const received = await receiveSnapshot(stream, file, options.onProgress);
      await file.sync();
      const snapshotBytes = readSnapshotFile(await readFile(part)).length;
      ok = true;
      return {
        path,
        endpoint,
        dataBytes: received.total - SNAPSHOT_SHA_BYTES,
        snapshotBytes,
        sha256: received.sha256,
        revision: received.revision,
      };
    } finally {
      await file.close();
      if (ok) await rename(part, path);
      else await unlink(part).catch(() => {});
    }
  }
}

/** Writes a Snapshot stream into `file` and checks the SHA-256 that ends it. */
async function receiveSnapshot(
  stream: grpc.ClientReadableStream<unknown>,
  file: FileHandle,
  onProgress: ((bytes: number, totalBytes: number) => void) | undefined,
): Promise<ReceivedSnapshot> {
  const hash = createHash("sha256");
  let tail: Buffer = Buffer.alloc(0);
  let total = 0;
  let revision = 0;
  let dataDone = false;
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
      onProgress?.(total, total + remaining + (dataDone ? 0 : SNAPSHOT_SHA_BYTES));
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
  return { total, revision, sha256: digest.toString("hex") };
}
