// etcd's Maintenance service: Status (who leads, term, indexes, alarms), Hash (the whole state's
// digest), HashKV (the MVCC history's digest at a revision), Snapshot (the state machine's
// snapshot bytes, streamed), Alarm (the replicated NOSPACE alarms, raised and cleared through
// the log, and this member's divergence alarm as CORRUPT), Defragment (dbSize back down to what
// is in use: Ordo's store lives in memory) and MoveLeader (leadership transfer; the receiving
// member must lead, as in etcd). Downgrade answers UNIMPLEMENTED.
//
// Snapshot follows etcd 3.4's server: the data (api/snapshot-file.ts: snapshotStreamData) in
// chunks of SNAPSHOT_CHUNK_BYTES, each with the bytes still to come in remaining_bytes, then one
// last message whose blob is the SHA-256 of all the data (remaining_bytes 0).
import { createHash } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { snapshotStreamData } from "../api/index.js";
import {
  ALARM_ACTIONS,
  ALARM_TYPES,
  type AlarmAction,
  type AlarmMember,
  type AlarmRequest,
  type AlarmResponse,
  type AlarmType,
  isMemberId,
  KvError,
} from "../kv/index.js";
import { clusterStatusOf, EtcdError, memberIdOf } from "./cluster-service.js";
import { headerToEtcd, type MemberHeader } from "./etcd-mapping.js";
import { statusOf } from "./kv-service.js";

export interface MemberStatus {
  readonly clusterId: string;
  readonly memberId: string;
  /** The leader's member id, "0" when none is known. */
  readonly leaderId: string;
  readonly raftTerm: number;
  readonly raftIndex: number;
  readonly raftAppliedIndex: number;
  readonly revision: number;
  /**
   * etcd's dbSize: the store's size as it was at its largest since this member started or
   * last defragmented (etcd's file only shrinks at defrag); dbSizeInUse: its size now
   * (KvStore.storedBytes).
   */
  readonly dbSize: number;
  readonly dbSizeInUse?: number;
  /**
   * This member's own alarms, as text (the divergence alarm). Any entry is also reported by
   * Alarm as this member's CORRUPT alarm; the replicated ones are `alarms`.
   */
  readonly errors: readonly string[];
  /**
   * The replicated alarms (KvStore.alarms: NOSPACE), every member's. Status lists each in
   * `errors` as etcd does ("memberID:… alarm:NOSPACE "), Alarm lists them beside CORRUPT.
   */
  readonly alarms?: readonly AlarmMember[];
  /** Whether this member is a learner (etcd's Status isLearner). */
  readonly isLearner?: boolean;
}

export interface HashKvResult {
  readonly hash: number;
  readonly compactRevision: number;
  /** The store's current revision (the response header's). */
  readonly revision: number;
}

/**
 * What the service reads. hash, hashKV and snapshot are optional only so a member wired
 * before they existed still compiles: a missing one makes its RPC answer UNIMPLEMENTED.
 */
export interface MaintenanceBackend {
  status(): MemberStatus;
  /** The whole state's digest (KvStateMachine.hash()), an unsigned 32-bit integer. */
  hash?(): number;
  /** store.hashKV({ revision }) (0: the current revision); throws a KvError (COMPACTED, ...). */
  hashKV?(revision: number): HashKvResult;
  /** The state machine's snapshot bytes (KvStateMachine.snapshot()). */
  snapshot?(): Uint8Array;
  /**
   * Moves leadership to the member with etcd id `targetId` (decimal); resolves once this member
   * sees it lead. Rejects with an EtcdError (etcd's "not leader", "bad leader transferee",
   * leader transfer timeout) or a runtime error.
   */
  moveLeader?(targetId: string): Promise<void>;
  /** Maintenance.Defragment: this member's dbSize comes down to dbSizeInUse (DbSize). */
  defragment?(): void;
  /**
   * Proposes an Alarm command (ACTIVATE or DEACTIVATE) through the log and resolves with its
   * response once applied here (etcd 3.4's EtcdServer.Alarm: raftRequestOnce). Missing: those
   * actions answer UNIMPLEMENTED.
   */
  alarm?(request: AlarmRequest): Promise<AlarmResponse>;
}

/**
 * etcd's two sizes for one member: `inUse` is the store's size now; `size` the largest seen
 * since start or the last defragment(), as etcd's bbolt file keeps the pages compaction frees
 * until a defrag. Sampled whenever either is read (Status, metrics, the space quota).
 */
export class DbSize {
  private high = 0;

  constructor(private readonly measure: () => number) {}

  /** [size, inUse] now. */
  sample(): { size: number; inUse: number } {
    const inUse = this.measure();
    if (inUse > this.high) this.high = inUse;
    return { size: this.high, inUse };
  }

  defragment(): void {
    this.high = this.measure();
  }
}

/**
 * The etcd version Ordo answers as, in Maintenance.Status and /version alike: the v3 API level
 * it serves (etcd 3.4's). Ordo's own release is ORDO_RELEASE (package.json's version; /version
 * reports it as "ordo").
 */
export const ORDO_VERSION = "3.4.0";
export const ORDO_RELEASE = "0.1.0";
export const SNAPSHOT_CHUNK_BYTES = 32 * 1024;
const UNIMPLEMENTED = "not implemented by this Ordo version";

function headerOf(s: MemberStatus): object {
  const member: MemberHeader = {
    clusterId: s.clusterId,
    memberId: s.memberId,
    raftTerm: s.raftTerm,
  };
  return headerToEtcd({ revision: s.revision }, member);
}

class UnimplementedError extends Error {
  override readonly name = "UnimplementedError";
}

function failure(e: unknown): Partial<grpc.StatusObject> {
  if (e instanceof UnimplementedError)
    return { code: grpc.status.UNIMPLEMENTED, details: UNIMPLEMENTED };
  if (e instanceof EtcdError) return { code: e.status.code, details: e.status.details };
  const { code, details } = statusOf(e);
  return { code, details };
}

/** etcd's rpc.proto names (proto-loader hands enums over by name), in protobuf order. */
const ALARM_ACTION_NAMES = ["Get", "Activate", "Deactivate"] as const;
const ALARM_TYPE_NAMES = ["None", "Nospace", "Corrupt"] as const;

/** An enum field given by number, by rpc.proto's name or by etcd's upper-case name. */
function enumOf<T>(raw: unknown, names: readonly string[], values: readonly T[], what: string): T {
  if (raw === undefined || raw === null) return values[0] as T;
  const i =
    typeof raw === "number"
      ? raw
      : typeof raw === "string"
        ? names.findIndex((n) => n.toUpperCase() === raw.toUpperCase())
        : -1;
  const value = Number.isInteger(i) ? values[i] : undefined;
  if (value === undefined) {
    throw new KvError("INVALID_ARGUMENT", `etcdserver: unknown ${what} ${String(raw)}`);
  }
  return value;
}

/** An AlarmRequest as etcd's clients send it (memberID a decimal string, 0: any member). */
export function alarmRequestOf(request: unknown): AlarmRequest {
  const m =
    typeof request === "object" && request !== null ? (request as Record<string, unknown>) : {};
  const action: AlarmAction = enumOf(m.action, ALARM_ACTION_NAMES, ALARM_ACTIONS, "alarm action");
  const alarm: AlarmType = enumOf(m.alarm, ALARM_TYPE_NAMES, ALARM_TYPES, "alarm type");
  const raw = m.memberID;
  const memberId = raw === undefined || raw === null || raw === "" ? "0" : String(raw);
  if (!isMemberId(memberId)) {
    throw new KvError("INVALID_ARGUMENT", `etcdserver: member id ${memberId} is not a uint64`);
  }
  return { action, memberId, alarm };
}

/** An alarm as the wire carries it (rpc.proto's enum name). */
const alarmToEtcd = (a: AlarmMember): object => ({
  memberID: a.memberId,
  alarm: ALARM_TYPE_NAMES[ALARM_TYPES.indexOf(a.alarm)],
});

/** etcd's Status errors entry for an alarm: the AlarmMember's protobuf text (a.String()). */
export const alarmErrorText = (a: AlarmMember): string =>
  `memberID:${a.memberId} alarm:${a.alarm} `;

/** A request's int64 field (a decimal string with longs: String) as a safe integer. */
function revisionOf(request: unknown): number {
  const raw =
    typeof request === "object" && request !== null
      ? (request as Record<string, unknown>).revision
      : undefined;
  const n = raw === undefined || raw === null || raw === "" ? 0 : Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new KvError("INVALID_ARGUMENT", "etcdserver: revision must be a non-negative integer");
  }
  return n;
}

/** Streams `data` in chunks then its SHA-256, waiting for the client to read (drain). */
async function streamSnapshot(
  call: grpc.ServerWritableStream<unknown, unknown>,
  data: Uint8Array,
  header: object,
): Promise<void> {
  let gone = false;
  call.on("cancelled", () => {
    gone = true;
  });
  const write = async (message: object): Promise<void> => {
    if (call.write(message)) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        call.off("drain", done);
        call.off("cancelled", done);
        resolve();
      };
      call.on("drain", done);
      call.on("cancelled", done);
    });
  };
  const sha = createHash("sha256").update(data).digest();
  // Bounded: one turn per chunk.
  for (let offset = 0; offset < data.length && !gone; offset += SNAPSHOT_CHUNK_BYTES) {
    const end = Math.min(offset + SNAPSHOT_CHUNK_BYTES, data.length);
    await write({
      header,
      remaining_bytes: String(data.length - end),
      blob: Buffer.from(data.buffer, data.byteOffset + offset, end - offset),
    });
  }
  if (gone) return;
  await write({ header, remaining_bytes: "0", blob: sha });
  if (!gone) call.end();
}

type UnaryHandler = (
  call: grpc.ServerUnaryCall<unknown, unknown>,
  callback: grpc.sendUnaryData<unknown>,
) => void;

/** A unary handler answered at once; what `answer` throws is the call's status (failure). */
function syncUnary(answer: (request: unknown) => object): UnaryHandler {
  return (call, callback) => {
    let response: object;
    try {
      response = answer(call.request);
    } catch (e) {
      callback(failure(e));
      return;
    }
    callback(null, response);
  };
}

/** A unary handler answered by a promise; a rejection is the call's status, by `statusOfError`. */
function asyncUnary(
  answer: (request: unknown) => Promise<object>,
  statusOfError: (e: unknown) => Partial<grpc.StatusObject> = failure,
): UnaryHandler {
  return (call, callback) => {
    const run = async (): Promise<object> => answer(call.request);
    run().then(
      (response) => callback(null, response),
      (e: unknown) => callback(statusOfError(e)),
    );
  };
}

function statusResponse(backend: MaintenanceBackend): object {
  const s = backend.status();
  return {
    header: headerOf(s),
    version: ORDO_VERSION,
    dbSize: String(s.dbSize),
    leader: s.leaderId,
    raftIndex: String(s.raftIndex),
    raftTerm: String(s.raftTerm),
    raftAppliedIndex: String(s.raftAppliedIndex),
    errors: [...s.errors, ...(s.alarms ?? []).map(alarmErrorText)],
    dbSizeInUse: String(s.dbSizeInUse ?? s.dbSize),
    isLearner: s.isLearner === true,
  };
}

function hashResponse(backend: MaintenanceBackend): object {
  if (backend.hash === undefined) throw new UnimplementedError();
  const s = backend.status();
  const hash = backend.hash() >>> 0;
  return { header: headerOf(s), hash };
}

function hashKvResponse(backend: MaintenanceBackend, request: unknown): object {
  if (backend.hashKV === undefined) throw new UnimplementedError();
  const revision = revisionOf(request);
  const s = backend.status();
  const r = backend.hashKV(revision);
  return {
    header: headerOf({ ...s, revision: r.revision }),
    hash: r.hash >>> 0,
    compact_revision: String(r.compactRevision),
  };
}

// GET answers from this member's applied state: the replicated alarms of the asked type (NONE:
// all) and, as CORRUPT, this member's divergence alarm. ACTIVATE and DEACTIVATE go through the
// log (only NOSPACE lives there; clearing CORRUPT finds nothing: the runtime owns it), so every
// member applies them in order.
async function alarmResponse(backend: MaintenanceBackend, message: unknown): Promise<object> {
  const request = alarmRequestOf(message);
  if (request.action === "GET") {
    const s = backend.status();
    const wanted = (a: AlarmType): boolean => request.alarm === "NONE" || request.alarm === a;
    const replicated = (s.alarms ?? []).filter((a) => wanted(a.alarm));
    const corrupt: AlarmMember[] =
      s.errors.length > 0 && wanted("CORRUPT") ? [{ memberId: s.memberId, alarm: "CORRUPT" }] : [];
    return { header: headerOf(s), alarms: [...replicated, ...corrupt].map(alarmToEtcd) };
  }
  if (backend.alarm === undefined) throw new UnimplementedError();
  const r = await backend.alarm(request);
  return {
    header: headerOf({ ...backend.status(), revision: r.header.revision }),
    alarms: r.alarms.map(alarmToEtcd),
  };
}

function snapshotHandler(backend: MaintenanceBackend) {
  return (call: grpc.ServerWritableStream<unknown, unknown>): void => {
    let data: Uint8Array;
    let header: object;
    try {
      if (backend.snapshot === undefined) throw new UnimplementedError();
      header = headerOf(backend.status());
      data = snapshotStreamData(backend.snapshot());
    } catch (e) {
      call.emit("error", failure(e));
      return;
    }
    streamSnapshot(call, data, header).catch((e: unknown) => {
      try {
        call.emit("error", failure(e));
      } catch {
        // The call is already gone.
      }
    });
  };
}

async function moveLeaderResponse(backend: MaintenanceBackend, request: unknown): Promise<object> {
  if (backend.moveLeader === undefined) throw new UnimplementedError();
  await backend.moveLeader(memberIdOf(request, "targetID"));
  return { header: headerOf(backend.status()) };
}

/**
 * A leadership transfer fails like a membership change (clusterStatusOf): the runtime's
 * refusals read as etcd's named errors (no leader, leader changed, member not found).
 */
function moveLeaderFailure(e: unknown): Partial<grpc.StatusObject> {
  return e instanceof UnimplementedError || e instanceof EtcdError
    ? failure(e)
    : clusterStatusOf(e);
}

export function maintenanceHandlers(
  backend: MaintenanceBackend,
): grpc.UntypedServiceImplementation {
  const unimplemented = (_call: unknown, callback: grpc.sendUnaryData<unknown>): void =>
    callback({ code: grpc.status.UNIMPLEMENTED, details: UNIMPLEMENTED });
  return {
    Status: syncUnary(() => statusResponse(backend)),
    Hash: syncUnary(() => hashResponse(backend)),
    HashKV: syncUnary((request) => hashKvResponse(backend, request)),
    Alarm: asyncUnary((request) => alarmResponse(backend, request)),
    // Ordo's store lives in memory, with nothing to move: defragmenting brings dbSize down to
    // what is in use (DbSize).
    Defragment: syncUnary(() => {
      backend.defragment?.();
      return { header: headerOf(backend.status()) };
    }),
    Snapshot: snapshotHandler(backend),
    MoveLeader: asyncUnary((request) => moveLeaderResponse(backend, request), moveLeaderFailure),
    Downgrade: unimplemented,
  };
}
