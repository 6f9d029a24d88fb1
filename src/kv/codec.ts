// The wire format between the server and the state machine: commands (proposed through the
// log), queries (read-only, answered locally) and their results. Compact, canonical binary (the
// primitives are src/codec's), decoded strictly: a malformed input is a KvError MALFORMED,
// never an exception of another kind, so apply() can turn it into an error result.
//
//   command := version=1 tag body           tags 1-10, 16, 18 (Range may go through the log too)
//   query   := version=1 tag body           tags 1, 11-15
//   result  := version=1 0 tag response     (success: the response of the same tag)
//            | version=1 1 code message compactRevision
//
// Bodies list the request's fields in etcd's order, every field present (absent optional fields
// travel as their zero value, so decoding gives back complete objects); booleans are packed in
// one flags byte whose unused bits must be zero; enums are their protobuf numbers. Nested txns
// recurse, bounded by TXN_DEPTH_CODEC_MAX.

import { assertNever, ByteReader, ByteWriter, decodeUtf8, EMPTY_BYTES } from "../lib/index.js";
import {
  ALARM_ACTIONS,
  ALARM_TYPES,
  type AlarmMember,
  type AlarmRequest,
  type AlarmResponse,
  isMemberId,
} from "./alarm-store.js";
import {
  type AuthRequest,
  type AuthResponse,
  readAuthInfo,
  readAuthRequest,
  readAuthResponse,
  writeAuthInfo,
  writeAuthRequest,
  writeAuthResponse,
} from "./auth-codec.js";
import type { AuthInfo } from "./auth-store.js";
import {
  invalidArgumentError,
  KV_ERROR_CODES,
  KvError,
  type KvErrorCode,
  kvCodecError,
} from "./errors.js";
import { TXN_DEPTH_CODEC_MAX } from "./limits.js";
import {
  COMPARE_RESULTS,
  COMPARE_TARGETS,
  type CompactionRequest,
  type CompactionResponse,
  type Compare,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  EVENT_TYPES,
  type EventsRequest,
  type EventsResponse,
  type HashKVRequest,
  type HashKVResponse,
  type KeyValue,
  type KvEvent,
  type LeaseExpireRequest,
  type LeaseExpireResponse,
  type LeaseGrantRequest,
  type LeaseGrantResponse,
  type LeaseKeepAliveRequest,
  type LeaseKeepAliveResponse,
  type LeaseLeasesResponse,
  type LeaseRenewAllRequest,
  type LeaseRenewAllResponse,
  type LeaseRevokeRequest,
  type LeaseRevokeResponse,
  type LeaseTimeToLiveRequest,
  type LeaseTimeToLiveResponse,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type RequestOp,
  type ResponseHeader,
  type ResponseOp,
  SORT_ORDERS,
  SORT_TARGETS,
  type StatusResponse,
  type TxnRequest,
  type TxnResponse,
} from "./types.js";

/** A command without the WithAuth envelope. */
export type PlainKvCommand = Exclude<KvCommand, { type: "WithAuth" }>;

/** A write (or a Range that wants to be linearized through the log), as proposed. */
export type KvCommand =
  | { readonly type: "Range"; readonly request: RangeRequest }
  | { readonly type: "Put"; readonly request: PutRequest }
  | { readonly type: "DeleteRange"; readonly request: DeleteRangeRequest }
  | { readonly type: "Txn"; readonly request: TxnRequest }
  | { readonly type: "Compaction"; readonly request: CompactionRequest }
  | { readonly type: "LeaseGrant"; readonly request: LeaseGrantRequest }
  | { readonly type: "LeaseRevoke"; readonly request: LeaseRevokeRequest }
  | { readonly type: "LeaseKeepAlive"; readonly request: LeaseKeepAliveRequest }
  | { readonly type: "LeaseExpire"; readonly request: LeaseExpireRequest }
  | { readonly type: "LeaseRenewAll"; readonly request: LeaseRenewAllRequest }
  | { readonly type: "Auth"; readonly request: AuthRequest }
  /** etcd's Maintenance.Alarm: raise, clear or list the replicated alarms (alarm-store.ts). */
  | { readonly type: "Alarm"; readonly request: AlarmRequest }
  /**
   * A client's command with who sent it (etcd's RequestHeader username and auth revision):
   * apply checks the permissions against the auth state first. Its result is the inner
   * command's. A command without it carries no user (auth on: "user name is empty").
   */
  | {
      readonly type: "WithAuth";
      readonly auth: AuthInfo;
      readonly command: Exclude<KvCommand, { type: "WithAuth" }>;
    };

/** A read-only question for StateMachine.query. */
export type KvQuery =
  | { readonly type: "Range"; readonly request: RangeRequest }
  | { readonly type: "LeaseTimeToLive"; readonly request: LeaseTimeToLiveRequest }
  | { readonly type: "LeaseLeases" }
  | { readonly type: "HashKV"; readonly request: HashKVRequest }
  | { readonly type: "Status" }
  | { readonly type: "Events"; readonly request: EventsRequest };

export type KvResponse =
  | { readonly type: "Range"; readonly response: RangeResponse }
  | { readonly type: "Put"; readonly response: PutResponse }
  | { readonly type: "DeleteRange"; readonly response: DeleteRangeResponse }
  | { readonly type: "Txn"; readonly response: TxnResponse }
  | { readonly type: "Compaction"; readonly response: CompactionResponse }
  | { readonly type: "LeaseGrant"; readonly response: LeaseGrantResponse }
  | { readonly type: "LeaseRevoke"; readonly response: LeaseRevokeResponse }
  | { readonly type: "LeaseKeepAlive"; readonly response: LeaseKeepAliveResponse }
  | { readonly type: "LeaseExpire"; readonly response: LeaseExpireResponse }
  | { readonly type: "LeaseRenewAll"; readonly response: LeaseRenewAllResponse }
  | { readonly type: "LeaseTimeToLive"; readonly response: LeaseTimeToLiveResponse }
  | { readonly type: "LeaseLeases"; readonly response: LeaseLeasesResponse }
  | { readonly type: "HashKV"; readonly response: HashKVResponse }
  | { readonly type: "Status"; readonly response: StatusResponse }
  | { readonly type: "Events"; readonly response: EventsResponse }
  | { readonly type: "Auth"; readonly response: AuthResponse }
  | { readonly type: "Alarm"; readonly response: AlarmResponse };

export type KvMessageType = KvResponse["type"];

/** An error as it travels in a result. */
export interface KvErrorInfo {
  readonly code: KvErrorCode;
  readonly message: string;
  /** For COMPACTED: the compaction revision; otherwise 0. */
  readonly compactRevision: number;
}

export type KvResult =
  | { readonly ok: true; readonly response: KvResponse }
  | { readonly ok: false; readonly error: KvErrorInfo };

const codecVersion = 1;

/** Wire tags; only append. */
const TAG_OF: Readonly<Record<KvMessageType, number>> = {
  Range: 1,
  Put: 2,
  DeleteRange: 3,
  Txn: 4,
  Compaction: 5,
  LeaseGrant: 6,
  LeaseRevoke: 7,
  LeaseKeepAlive: 8,
  LeaseExpire: 9,
  LeaseRenewAll: 10,
  LeaseTimeToLive: 11,
  LeaseLeases: 12,
  HashKV: 13,
  Status: 14,
  Events: 15,
  Auth: 16,
  Alarm: 18,
};

/** The tag of the WithAuth envelope (a command only, never a response). */
const WITH_AUTH_TAG = 17;

const TYPE_OF_TAG: ReadonlyMap<number, KvMessageType> = new Map(
  Object.entries(TAG_OF).map(([type, tag]) => [tag, type as KvMessageType]),
);

const OP_TYPES = ["range", "put", "deleteRange", "txn"] as const;

export function errorInfoOf(error: KvError): KvErrorInfo {
  return { code: error.code, message: error.message, compactRevision: error.compactRevision };
}

export function kvErrorOf(info: KvErrorInfo): KvError {
  return new KvError(info.code, info.message, info.compactRevision);
}

// ---- encoding ---------------------------------------------------------------------------------

export function encodeCommand(command: KvCommand): Uint8Array {
  try {
    return encodeCommandUnmapped(command);
  } catch (e) {
    throw kvCodecError(e, "INVALID_ARGUMENT", "command");
  }
}

/** Throws KvError INVALID_ARGUMENT for values the format cannot hold (unsafe integers, bad enums). */
function encodeCommandUnmapped(command: KvCommand): Uint8Array {
  const w = new ByteWriter();
  w.u8(codecVersion);
  if (command.type === "WithAuth") {
    w.u8(WITH_AUTH_TAG);
    writeAuthInfo(w, command.auth);
    w.raw(encodeCommandUnmapped(command.command));
    return w.finishExact();
  }
  w.u8(TAG_OF[command.type]);
  switch (command.type) {
    case "Range":
      writeRangeRequest(w, command.request);
      break;
    case "Put":
      writePutRequest(w, command.request);
      break;
    case "DeleteRange":
      writeDeleteRangeRequest(w, command.request);
      break;
    case "Txn":
      writeTxnRequest(w, command.request, 0);
      break;
    case "Compaction":
      w.sint(command.request.revision);
      w.u8(command.request.physical === true ? 1 : 0);
      break;
    case "LeaseGrant":
      w.sint(command.request.ttl);
      w.sint(command.request.id ?? 0);
      break;
    case "LeaseRevoke":
    case "LeaseKeepAlive":
      w.sint(command.request.id);
      break;
    case "LeaseExpire":
      w.uvarint(command.request.limit ?? 0);
      break;
    case "LeaseRenewAll":
      w.uvarint(command.request.extendMs ?? 0);
      break;
    case "Auth":
      writeAuthRequest(w, command.request);
      break;
    case "Alarm":
      w.u8(enumIndex(ALARM_ACTIONS, command.request.action, "alarm action"));
      if (!isMemberId(command.request.memberId)) {
        throw invalidArgumentError(`alarm member id ${command.request.memberId} is not a uint64`);
      }
      w.stringVarint(command.request.memberId);
      w.u8(enumIndex(ALARM_TYPES, command.request.alarm, "alarm type"));
      break;
    default:
      assertNever(command, "command");
  }
  return w.finishExact();
}

export function encodeQuery(query: KvQuery): Uint8Array {
  try {
    return encodeQueryUnmapped(query);
  } catch (e) {
    throw kvCodecError(e, "INVALID_ARGUMENT", "query");
  }
}

function encodeQueryUnmapped(query: KvQuery): Uint8Array {
  const w = new ByteWriter();
  w.u8(codecVersion);
  w.u8(TAG_OF[query.type]);
  switch (query.type) {
    case "Range":
      writeRangeRequest(w, query.request);
      break;
    case "LeaseTimeToLive":
      w.sint(query.request.id);
      w.u8(query.request.keys === true ? 1 : 0);
      w.sint(query.request.nowMs);
      break;
    case "LeaseLeases":
    case "Status":
      break;
    case "HashKV":
      w.sint(query.request.revision ?? 0);
      break;
    case "Events":
      w.bytesVarint(query.request.key);
      w.bytesVarint(query.request.rangeEnd ?? EMPTY_BYTES);
      w.sint(query.request.startRevision);
      w.uvarint(query.request.limit ?? 0);
      break;
    default:
      assertNever(query, "query");
  }
  return w.finishExact();
}

export function encodeResult(result: KvResult): Uint8Array {
  try {
    return encodeResultUnmapped(result);
  } catch (e) {
    throw kvCodecError(e, "INVALID_ARGUMENT", "result");
  }
}

function encodeResultUnmapped(result: KvResult): Uint8Array {
  const w = new ByteWriter();
  w.u8(codecVersion);
  if (!result.ok) {
    w.u8(1);
    w.u8(KV_ERROR_CODES.indexOf(result.error.code));
    w.stringVarint(result.error.message); // UTF-8 as encodeUtf8 writes it
    w.uvarint(result.error.compactRevision);
    return w.finishExact();
  }
  w.u8(0);
  const r = result.response;
  w.u8(TAG_OF[r.type]);
  switch (r.type) {
    case "Range":
      writeRangeResponse(w, r.response);
      break;
    case "Put":
      writePutResponse(w, r.response);
      break;
    case "DeleteRange":
      writeDeleteRangeResponse(w, r.response);
      break;
    case "Txn":
      writeTxnResponse(w, r.response, 0);
      break;
    case "Compaction":
    case "LeaseRevoke":
      writeHeader(w, r.response.header);
      break;
    case "LeaseGrant":
    case "LeaseKeepAlive":
    case "LeaseExpire":
    case "LeaseRenewAll":
    case "LeaseTimeToLive":
    case "LeaseLeases":
      writeLeaseResponse(w, r);
      break;
    case "HashKV":
    case "Status":
    case "Events":
    case "Alarm":
      writeStateResponse(w, r);
      break;
    case "Auth":
      writeAuthResponse(w, r.response);
      break;
    default:
      assertNever(r, "response");
  }
  return w.finishExact();
}

/** The lease responses with a body (LeaseRevoke has only its header). */
type LeaseBodyType =
  | "LeaseGrant"
  | "LeaseKeepAlive"
  | "LeaseExpire"
  | "LeaseRenewAll"
  | "LeaseTimeToLive"
  | "LeaseLeases";
/** The responses about the store as a whole: its hash, counts, history and alarms. */
type StateType = "HashKV" | "Status" | "Events" | "Alarm";

function writeLeaseResponse(w: ByteWriter, r: Extract<KvResponse, { type: LeaseBodyType }>): void {
  writeHeader(w, r.response.header);
  switch (r.type) {
    case "LeaseGrant":
    case "LeaseKeepAlive":
      w.sint(r.response.id);
      w.sint(r.response.ttl);
      break;
    case "LeaseExpire":
      w.uvarint(r.response.revoked.length);
      for (const id of r.response.revoked) w.sint(id);
      break;
    case "LeaseRenewAll":
      w.uvarint(r.response.renewed);
      break;
    case "LeaseTimeToLive":
      w.sint(r.response.id);
      w.sint(r.response.ttl);
      w.sint(r.response.grantedTtl);
      w.uvarint(r.response.keys.length);
      for (const key of r.response.keys) w.bytesVarint(key);
      break;
    case "LeaseLeases":
      w.uvarint(r.response.leases.length);
      for (const lease of r.response.leases) w.sint(lease.id);
      break;
    default:
      assertNever(r, "response");
  }
}

function writeStateResponse(w: ByteWriter, r: Extract<KvResponse, { type: StateType }>): void {
  writeHeader(w, r.response.header);
  switch (r.type) {
    case "HashKV":
      w.uvarint(r.response.hash);
      w.uvarint(r.response.compactRevision);
      w.uvarint(r.response.hashRevision);
      break;
    case "Status":
      w.uvarint(r.response.compactRevision);
      w.uvarint(r.response.keys);
      w.uvarint(r.response.leases);
      break;
    case "Events":
      w.uvarint(r.response.events.length);
      for (const event of r.response.events) writeEvent(w, event);
      w.uvarint(r.response.nextRevision);
      break;
    case "Alarm":
      w.uvarint(r.response.alarms.length);
      for (const a of r.response.alarms) writeAlarmMember(w, a);
      break;
    default:
      assertNever(r, "response");
  }
}

function enumIndex<T>(values: readonly T[], value: T, what: string): number {
  const i = values.indexOf(value);
  if (i < 0) throw invalidArgumentError(`unknown ${what} ${String(value)}`);
  return i;
}

function flagsOf(...bits: (boolean | undefined)[]): number {
  let f = 0;
  bits.forEach((bit, i) => {
    if (bit === true) f |= 1 << i;
  });
  return f;
}

function writeRangeRequest(w: ByteWriter, req: RangeRequest): void {
  w.bytesVarint(req.key);
  w.bytesVarint(req.rangeEnd ?? EMPTY_BYTES);
  w.sint(req.limit ?? 0);
  w.sint(req.revision ?? 0);
  w.u8(enumIndex(SORT_ORDERS, req.sortOrder ?? "NONE", "sort order"));
  w.u8(enumIndex(SORT_TARGETS, req.sortTarget ?? "KEY", "sort target"));
  w.u8(flagsOf(req.serializable, req.keysOnly, req.countOnly));
  w.sint(req.minModRevision ?? 0);
  w.sint(req.maxModRevision ?? 0);
  w.sint(req.minCreateRevision ?? 0);
  w.sint(req.maxCreateRevision ?? 0);
}

function writePutRequest(w: ByteWriter, req: PutRequest): void {
  w.bytesVarint(req.key);
  w.bytesVarint(req.value ?? EMPTY_BYTES);
  w.sint(req.lease ?? 0);
  w.u8(flagsOf(req.prevKv, req.ignoreValue, req.ignoreLease));
}

function writeDeleteRangeRequest(w: ByteWriter, req: DeleteRangeRequest): void {
  w.bytesVarint(req.key);
  w.bytesVarint(req.rangeEnd ?? EMPTY_BYTES);
  w.u8(flagsOf(req.prevKv));
}

function writeCompare(w: ByteWriter, c: Compare): void {
  w.bytesVarint(c.key);
  w.bytesVarint(c.rangeEnd ?? EMPTY_BYTES);
  w.u8(enumIndex(COMPARE_TARGETS, c.target, "compare target"));
  w.u8(enumIndex(COMPARE_RESULTS, c.result, "compare result"));
  switch (c.target) {
    case "VALUE":
      w.bytesVarint(c.value ?? EMPTY_BYTES);
      break;
    case "VERSION":
      w.sint(c.version ?? 0);
      break;
    case "CREATE":
      w.sint(c.createRevision ?? 0);
      break;
    case "MOD":
      w.sint(c.modRevision ?? 0);
      break;
    case "LEASE":
      w.sint(c.lease ?? 0);
      break;
    default:
      assertNever(c.target, "compare target");
  }
}

function checkEncodeDepth(depth: number): void {
  if (depth > TXN_DEPTH_CODEC_MAX) {
    throw invalidArgumentError(`txn nested deeper than ${TXN_DEPTH_CODEC_MAX}`);
  }
}

function writeTxnRequest(w: ByteWriter, req: TxnRequest, depth: number): void {
  checkEncodeDepth(depth);
  const compare = req.compare ?? [];
  w.uvarint(compare.length);
  for (const c of compare) writeCompare(w, c);
  for (const ops of [req.success ?? [], req.failure ?? []]) {
    w.uvarint(ops.length);
    for (const op of ops) writeRequestOp(w, op, depth);
  }
}

function writeRequestOp(w: ByteWriter, op: RequestOp, depth: number): void {
  w.u8(enumIndex(OP_TYPES, op.type, "txn op"));
  switch (op.type) {
    case "range":
      writeRangeRequest(w, op.request);
      break;
    case "put":
      writePutRequest(w, op.request);
      break;
    case "deleteRange":
      writeDeleteRangeRequest(w, op.request);
      break;
    case "txn":
      writeTxnRequest(w, op.request, depth + 1);
      break;
    default:
      assertNever(op, "txn op");
  }
}

function writeHeader(w: ByteWriter, header: ResponseHeader): void {
  w.uvarint(header.revision);
}

function writeKeyValue(w: ByteWriter, kv: KeyValue): void {
  w.bytesVarint(kv.key);
  w.uvarint(kv.createRevision);
  w.uvarint(kv.modRevision);
  w.uvarint(kv.version);
  w.bytesVarint(kv.value);
  w.sint(kv.lease);
}

function writeOptionalKeyValue(w: ByteWriter, kv: KeyValue | undefined): void {
  w.bool(kv !== undefined);
  if (kv !== undefined) writeKeyValue(w, kv);
}

function writeKeyValues(w: ByteWriter, kvs: readonly KeyValue[]): void {
  w.uvarint(kvs.length);
  for (const kv of kvs) writeKeyValue(w, kv);
}

function writeRangeResponse(w: ByteWriter, r: RangeResponse): void {
  writeHeader(w, r.header);
  writeKeyValues(w, r.kvs);
  w.bool(r.more);
  w.uvarint(r.count);
}

function writePutResponse(w: ByteWriter, r: PutResponse): void {
  writeHeader(w, r.header);
  writeOptionalKeyValue(w, r.prevKv);
}

function writeDeleteRangeResponse(w: ByteWriter, r: DeleteRangeResponse): void {
  writeHeader(w, r.header);
  w.uvarint(r.deleted);
  writeKeyValues(w, r.prevKvs);
}

function writeTxnResponse(w: ByteWriter, r: TxnResponse, depth: number): void {
  checkEncodeDepth(depth);
  writeHeader(w, r.header);
  w.bool(r.succeeded);
  w.uvarint(r.responses.length);
  for (const op of r.responses) {
    w.u8(enumIndex(OP_TYPES, op.type, "txn op"));
    switch (op.type) {
      case "range":
        writeRangeResponse(w, op.response);
        break;
      case "put":
        writePutResponse(w, op.response);
        break;
      case "deleteRange":
        writeDeleteRangeResponse(w, op.response);
        break;
      case "txn":
        writeTxnResponse(w, op.response, depth + 1);
        break;
      default:
        assertNever(op, "txn response op");
    }
  }
}

function writeAlarmMember(w: ByteWriter, a: AlarmMember): void {
  if (!isMemberId(a.memberId)) {
    throw invalidArgumentError(`alarm member id ${a.memberId} is not a uint64`);
  }
  w.stringVarint(a.memberId);
  w.u8(enumIndex(ALARM_TYPES, a.alarm, "alarm type"));
}

function writeEvent(w: ByteWriter, event: KvEvent): void {
  w.u8(enumIndex(EVENT_TYPES, event.type, "event type"));
  writeKeyValue(w, event.kv);
  writeOptionalKeyValue(w, event.prevKv);
}

// ---- decoding ---------------------------------------------------------------------------------

function readVersionAndTag(r: ByteReader): KvMessageType {
  const version = r.u8();
  if (version !== codecVersion) r.fail(`unknown codec version ${version}`);
  const tag = r.u8();
  const type = TYPE_OF_TAG.get(tag);
  if (type === undefined) r.fail(`unknown tag ${tag}`);
  return type;
}

export function decodeCommand(bytes: Uint8Array): KvCommand {
  try {
    return decodeCommandUnmapped(bytes);
  } catch (e) {
    throw kvCodecError(e, "MALFORMED", "command");
  }
}

/** Throws KvError MALFORMED for anything that encodeCommand could not have produced. */
function decodeCommandUnmapped(bytes: Uint8Array): KvCommand {
  const r: ByteReader = new ByteReader(bytes);
  if (bytes[1] === WITH_AUTH_TAG) {
    if (r.u8() !== codecVersion) r.fail("unknown codec version");
    r.u8();
    const auth = readAuthInfo(r);
    const rest = r.take("command", bytes.length - r.offset);
    if (rest[1] === WITH_AUTH_TAG) r.fail("nested WithAuth"); // checked before recursing
    const inner = decodeCommandUnmapped(rest);
    if (inner.type === "WithAuth") r.fail("nested WithAuth");
    return { type: "WithAuth", auth, command: inner };
  }
  const type = readVersionAndTag(r);
  let command: KvCommand;
  switch (type) {
    case "Range":
      command = { type, request: readRangeRequest(r) };
      break;
    case "Put":
      command = { type, request: readPutRequest(r) };
      break;
    case "DeleteRange":
      command = { type, request: readDeleteRangeRequest(r) };
      break;
    case "Txn":
      command = { type, request: readTxnRequest(r, 0) };
      break;
    case "Compaction":
      command = { type, request: { revision: r.sint(), physical: r.flags(1) === 1 } };
      break;
    case "LeaseGrant":
      command = { type, request: { ttl: r.sint(), id: r.sint() } };
      break;
    case "LeaseRevoke":
    case "LeaseKeepAlive":
      command = { type, request: { id: r.sint() } };
      break;
    case "LeaseExpire":
      command = { type, request: { limit: r.uvarint() } };
      break;
    case "LeaseRenewAll":
      command = { type, request: { extendMs: r.uvarint() } };
      break;
    case "Auth":
      command = { type, request: readAuthRequest(r) };
      break;
    case "Alarm":
      command = { type, request: readAlarmRequest(r) };
      break;
    default:
      return r.fail(`${type} is not a command`);
  }
  r.end();
  return command;
}

export function decodeQuery(bytes: Uint8Array): KvQuery {
  try {
    return decodeQueryUnmapped(bytes);
  } catch (e) {
    throw kvCodecError(e, "MALFORMED", "query");
  }
}

/** Throws KvError MALFORMED for anything that encodeQuery could not have produced. */
function decodeQueryUnmapped(bytes: Uint8Array): KvQuery {
  const r: ByteReader = new ByteReader(bytes);
  const type = readVersionAndTag(r);
  let query: KvQuery;
  switch (type) {
    case "Range":
      query = { type, request: readRangeRequest(r) };
      break;
    case "LeaseTimeToLive":
      query = { type, request: { id: r.sint(), keys: r.flags(1) === 1, nowMs: r.sint() } };
      break;
    case "LeaseLeases":
    case "Status":
      query = { type };
      break;
    case "HashKV":
      query = { type, request: { revision: r.sint() } };
      break;
    case "Events":
      query = {
        type,
        request: {
          key: r.bytesVarintView(),
          rangeEnd: r.bytesVarintView(),
          startRevision: r.sint(),
          limit: r.uvarint(),
        },
      };
      break;
    default:
      return r.fail(`${type} is not a query`);
  }
  r.end();
  return query;
}

export function decodeResult(bytes: Uint8Array): KvResult {
  try {
    return decodeResultUnmapped(bytes);
  } catch (e) {
    throw kvCodecError(e, "MALFORMED", "result");
  }
}

/** Throws KvError MALFORMED for anything that encodeResult could not have produced. */
function decodeResultUnmapped(bytes: Uint8Array): KvResult {
  const r: ByteReader = new ByteReader(bytes);
  const version = r.u8();
  if (version !== codecVersion) r.fail(`unknown codec version ${version}`);
  const status = r.u8();
  if (status === 1) {
    const code = r.oneOf(KV_ERROR_CODES, "error code");
    // The message decodes leniently (invalid UTF-8 becomes U+FFFD), as it always has.
    const message = decodeUtf8(r.bytesVarintView("message"));
    const error = { code, message, compactRevision: r.uvarint() };
    r.end();
    return { ok: false, error };
  }
  if (status !== 0) r.fail(`unknown status ${status}`);
  const tag = r.u8();
  const type = TYPE_OF_TAG.get(tag);
  if (type === undefined) r.fail(`unknown tag ${tag}`);
  const response = readResponse(r, type);
  r.end();
  return { ok: true, response };
}

/** decodeResult, with an error result thrown as the KvError it stands for. */
export function decodeResponse(bytes: Uint8Array): KvResponse {
  const result = decodeResult(bytes);
  if (!result.ok) throw kvErrorOf(result.error);
  return result.response;
}

function readResponse(r: ByteReader, type: KvMessageType): KvResponse {
  switch (type) {
    case "Auth":
      return { type, response: readAuthResponse(r) };
    case "Range":
      return { type, response: readRangeResponse(r) };
    case "Put":
      return { type, response: readPutResponse(r) };
    case "DeleteRange":
      return { type, response: readDeleteRangeResponse(r) };
    case "Txn":
      return { type, response: readTxnResponse(r, 0) };
    case "Compaction":
    case "LeaseRevoke":
      return { type, response: { header: readHeader(r) } };
    case "LeaseGrant":
    case "LeaseKeepAlive":
    case "LeaseExpire":
    case "LeaseRenewAll":
    case "LeaseTimeToLive":
    case "LeaseLeases":
      return readLeaseResponse(r, type);
    case "HashKV":
    case "Status":
    case "Events":
    case "Alarm":
      return readStateResponse(r, type);
    default:
      return assertNever(type, "response type");
  }
}

function readLeaseResponse(r: ByteReader, type: LeaseBodyType): KvResponse {
  switch (type) {
    case "LeaseGrant":
    case "LeaseKeepAlive":
      return { type, response: { header: readHeader(r), id: r.sint(), ttl: r.sint() } };
    case "LeaseExpire": {
      const header = readHeader(r);
      const revoked = readList(r, 2, () => r.sint());
      return { type, response: { header, revoked } };
    }
    case "LeaseRenewAll":
      return { type, response: { header: readHeader(r), renewed: r.uvarint() } };
    case "LeaseTimeToLive": {
      const header = readHeader(r);
      const id = r.sint();
      const ttl = r.sint();
      const grantedTtl = r.sint();
      const keys = readList(r, 1, () => r.bytesVarintView());
      return { type, response: { header, id, ttl, grantedTtl, keys } };
    }
    case "LeaseLeases": {
      const header = readHeader(r);
      const leases = readList(r, 2, () => ({ id: r.sint() }));
      return { type, response: { header, leases } };
    }
    default:
      return assertNever(type, "response type");
  }
}

function readStateResponse(r: ByteReader, type: StateType): KvResponse {
  switch (type) {
    case "Alarm": {
      const header = readHeader(r);
      return { type, response: { header, alarms: readList(r, 3, () => readAlarmMember(r)) } };
    }
    case "HashKV":
      return {
        type,
        response: {
          header: readHeader(r),
          hash: r.uvarint(),
          compactRevision: r.uvarint(),
          hashRevision: r.uvarint(),
        },
      };
    case "Status":
      return {
        type,
        response: {
          header: readHeader(r),
          compactRevision: r.uvarint(),
          keys: r.uvarint(),
          leases: r.uvarint(),
        },
      };
    case "Events": {
      const header = readHeader(r);
      const events = readList(r, 8, () => readEvent(r));
      return { type, response: { header, events, nextRevision: r.uvarint() } };
    }
    default:
      return assertNever(type, "response type");
  }
}

function readList<T>(r: ByteReader, itemBytesMin: number, item: () => T): T[] {
  const n = r.count("count", Number.MAX_SAFE_INTEGER, itemBytesMin);
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(item());
  return out;
}

function readRangeRequest(r: ByteReader): RangeRequest {
  const key = r.bytesVarintView();
  const rangeEnd = r.bytesVarintView();
  const limit = r.sint();
  const revision = r.sint();
  const sortOrder = r.oneOf(SORT_ORDERS, "sort order");
  const sortTarget = r.oneOf(SORT_TARGETS, "sort target");
  const flags = r.flags(3);
  return {
    key,
    rangeEnd,
    limit,
    revision,
    sortOrder,
    sortTarget,
    serializable: (flags & 1) !== 0,
    keysOnly: (flags & 2) !== 0,
    countOnly: (flags & 4) !== 0,
    minModRevision: r.sint(),
    maxModRevision: r.sint(),
    minCreateRevision: r.sint(),
    maxCreateRevision: r.sint(),
  };
}

function readPutRequest(r: ByteReader): PutRequest {
  const key = r.bytesVarintView();
  const value = r.bytesVarintView();
  const lease = r.sint();
  const flags = r.flags(3);
  return {
    key,
    value,
    lease,
    prevKv: (flags & 1) !== 0,
    ignoreValue: (flags & 2) !== 0,
    ignoreLease: (flags & 4) !== 0,
  };
}

function readDeleteRangeRequest(r: ByteReader): DeleteRangeRequest {
  return { key: r.bytesVarintView(), rangeEnd: r.bytesVarintView(), prevKv: r.flags(1) === 1 };
}

function readCompare(r: ByteReader): Compare {
  const key = r.bytesVarintView();
  const rangeEnd = r.bytesVarintView();
  const target = r.oneOf(COMPARE_TARGETS, "compare target");
  const result = r.oneOf(COMPARE_RESULTS, "compare result");
  switch (target) {
    case "VALUE":
      return { key, rangeEnd, target, result, value: r.bytesVarintView() };
    case "VERSION":
      return { key, rangeEnd, target, result, version: r.sint() };
    case "CREATE":
      return { key, rangeEnd, target, result, createRevision: r.sint() };
    case "MOD":
      return { key, rangeEnd, target, result, modRevision: r.sint() };
    case "LEASE":
      return { key, rangeEnd, target, result, lease: r.sint() };
    default:
      return assertNever(target, "compare target");
  }
}

function checkDecodeDepth(r: ByteReader, depth: number): void {
  if (depth > TXN_DEPTH_CODEC_MAX) r.fail(`txn nested deeper than ${TXN_DEPTH_CODEC_MAX}`);
}

function readTxnRequest(r: ByteReader, depth: number): TxnRequest {
  checkDecodeDepth(r, depth);
  const compare = readList(r, 4, () => readCompare(r));
  const success = readList(r, 2, () => readRequestOp(r, depth));
  const failure = readList(r, 2, () => readRequestOp(r, depth));
  return { compare, success, failure };
}

function readRequestOp(r: ByteReader, depth: number): RequestOp {
  const type = r.oneOf(OP_TYPES, "txn op");
  switch (type) {
    case "range":
      return { type, request: readRangeRequest(r) };
    case "put":
      return { type, request: readPutRequest(r) };
    case "deleteRange":
      return { type, request: readDeleteRangeRequest(r) };
    case "txn":
      return { type, request: readTxnRequest(r, depth + 1) };
    default:
      return assertNever(type, "txn op");
  }
}

function readHeader(r: ByteReader): ResponseHeader {
  return { revision: r.uvarint() };
}

function readKeyValue(r: ByteReader): KeyValue {
  return {
    key: r.bytesVarintView(),
    createRevision: r.uvarint(),
    modRevision: r.uvarint(),
    version: r.uvarint(),
    value: r.bytesVarintView(),
    lease: r.sint(),
  };
}

function readOptionalKeyValue(r: ByteReader): KeyValue | undefined {
  return r.bool() ? readKeyValue(r) : undefined;
}

function readRangeResponse(r: ByteReader): RangeResponse {
  const header = readHeader(r);
  const kvs = readList(r, 7, () => readKeyValue(r));
  return { header, kvs, more: r.bool(), count: r.uvarint() };
}

function readPutResponse(r: ByteReader): PutResponse {
  const header = readHeader(r);
  const prevKv = readOptionalKeyValue(r);
  return prevKv === undefined ? { header } : { header, prevKv };
}

function readDeleteRangeResponse(r: ByteReader): DeleteRangeResponse {
  const header = readHeader(r);
  const deleted = r.uvarint();
  return { header, deleted, prevKvs: readList(r, 7, () => readKeyValue(r)) };
}

function readTxnResponse(r: ByteReader, depth: number): TxnResponse {
  checkDecodeDepth(r, depth);
  const header = readHeader(r);
  const succeeded = r.bool();
  const responses = readList(r, 2, (): ResponseOp => {
    const type = r.oneOf(OP_TYPES, "txn op");
    switch (type) {
      case "range":
        return { type, response: readRangeResponse(r) };
      case "put":
        return { type, response: readPutResponse(r) };
      case "deleteRange":
        return { type, response: readDeleteRangeResponse(r) };
      case "txn":
        return { type, response: readTxnResponse(r, depth + 1) };
      default:
        return assertNever(type, "txn op");
    }
  });
  return { header, succeeded, responses };
}

/** An etcd member id as a canonical decimal uint64 (at most 20 digits). */
function readMemberId(r: ByteReader): string {
  const id = r.stringVarint("alarm member id", 20);
  if (!isMemberId(id)) r.fail(`alarm member id ${JSON.stringify(id)} is not a uint64`);
  return id;
}

function readAlarmRequest(r: ByteReader): AlarmRequest {
  const action = r.oneOf(ALARM_ACTIONS, "alarm action");
  const memberId = readMemberId(r);
  return { action, memberId, alarm: r.oneOf(ALARM_TYPES, "alarm type") };
}

function readAlarmMember(r: ByteReader): AlarmMember {
  const memberId = readMemberId(r);
  return { memberId, alarm: r.oneOf(ALARM_TYPES, "alarm type") };
}

function readEvent(r: ByteReader): KvEvent {
  const type = r.oneOf(EVENT_TYPES, "event type");
  const kv = readKeyValue(r);
  const prevKv = readOptionalKeyValue(r);
  return prevKv === undefined ? { type, kv } : { type, kv, prevKv };
}
