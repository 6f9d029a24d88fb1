// Converts etcd v3's KV messages, as @grpc/proto-loader hands them over and takes them back
// (proto.ts: snake_case fields, int64 as decimal strings, enums as names, bytes as Buffer), to
// and from kv/'s typed requests and responses. Pure functions, no I/O.
//
// Incoming messages are untrusted: a field of the wrong type, an int64 that is not an integer
// or lies beyond ±(2^53 - 1) (kv/ keeps revisions as JavaScript numbers), or an unknown enum
// value is a KvError INVALID_ARGUMENT with an "etcdserver: " message, never an exception of
// another kind. An absent field (or null) is proto3's zero value, as etcd reads it.
//
// Enum names: etcd's Go API spells them NONE, ASCEND, NOT_EQUAL...; the vendored proto (the
// etcd3 npm package's copy) spells the same numbers None, Ascend, NotEqual. Both spellings and
// the numbers are accepted; the proto's spelling is sent, since that is what the loaded
// definition serializes. On the wire only the numbers travel, so etcd clients see no difference.
//
// Headers: the top-level response gets the member's cluster_id, member_id and raft_term; the
// responses nested in a txn carry only their revision, as etcd's do (etcd fills the header of
// the outer response only).

import {
  COMPARE_RESULTS,
  COMPARE_TARGETS,
  type CompactionRequest,
  type CompactionResponse,
  type Compare,
  type CompareResult,
  type CompareTarget,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  type KeyValue,
  KvError,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type RequestOp,
  type ResponseHeader,
  type ResponseOp,
  SORT_ORDERS,
  SORT_TARGETS,
  type SortOrder,
  type SortTarget,
  TXN_DEPTH_CODEC_MAX,
  type TxnRequest,
  type TxnResponse,
} from "../kv/index.js";
import { EMPTY_BYTES } from "../lib/index.js";

// ---- wire shapes ------------------------------------------------------------------------------
// What this module sends (and what a proto-loader client receives). int64 and uint64 fields are
// decimal strings, exactly as proto.ts's `longs: String` produces them.

export interface EtcdResponseHeader {
  readonly cluster_id: string;
  readonly member_id: string;
  readonly revision: string;
  readonly raft_term: string;
}

export interface EtcdKeyValue {
  readonly key: Buffer;
  readonly create_revision: string;
  readonly mod_revision: string;
  readonly version: string;
  readonly value: Buffer;
  readonly lease: string;
}

export interface EtcdRangeRequest {
  readonly key: Buffer;
  readonly range_end: Buffer;
  readonly limit: string;
  readonly revision: string;
  readonly sort_order: string;
  readonly sort_target: string;
  readonly serializable: boolean;
  readonly keys_only: boolean;
  readonly count_only: boolean;
  readonly min_mod_revision: string;
  readonly max_mod_revision: string;
  readonly min_create_revision: string;
  readonly max_create_revision: string;
}

export interface EtcdPutRequest {
  readonly key: Buffer;
  readonly value: Buffer;
  readonly lease: string;
  readonly prev_kv: boolean;
  readonly ignore_value: boolean;
  readonly ignore_lease: boolean;
}

export interface EtcdDeleteRangeRequest {
  readonly key: Buffer;
  readonly range_end: Buffer;
  readonly prev_kv: boolean;
}

/** One of version / create_revision / mod_revision / value / lease is set: the target_union. */
export interface EtcdCompare {
  readonly result: string;
  readonly target: string;
  readonly key: Buffer;
  readonly range_end: Buffer;
  readonly version?: string;
  readonly create_revision?: string;
  readonly mod_revision?: string;
  readonly value?: Buffer;
  readonly lease?: string;
}

export type EtcdRequestOp =
  | { readonly request_range: EtcdRangeRequest }
  | { readonly request_put: EtcdPutRequest }
  | { readonly request_delete_range: EtcdDeleteRangeRequest }
  | { readonly request_txn: EtcdTxnRequest };

export interface EtcdTxnRequest {
  readonly compare: readonly EtcdCompare[];
  readonly success: readonly EtcdRequestOp[];
  readonly failure: readonly EtcdRequestOp[];
}

export interface EtcdCompactionRequest {
  readonly revision: string;
  readonly physical: boolean;
}

export interface EtcdRangeResponse {
  readonly header: EtcdResponseHeader;
  readonly kvs: readonly EtcdKeyValue[];
  readonly more: boolean;
  readonly count: string;
}

export interface EtcdPutResponse {
  readonly header: EtcdResponseHeader;
  readonly prev_kv?: EtcdKeyValue;
}

export interface EtcdDeleteRangeResponse {
  readonly header: EtcdResponseHeader;
  readonly deleted: string;
  readonly prev_kvs: readonly EtcdKeyValue[];
}

export type EtcdResponseOp =
  | { readonly response_range: EtcdRangeResponse }
  | { readonly response_put: EtcdPutResponse }
  | { readonly response_delete_range: EtcdDeleteRangeResponse }
  | { readonly response_txn: EtcdTxnResponse };

export interface EtcdTxnResponse {
  readonly header: EtcdResponseHeader;
  readonly succeeded: boolean;
  readonly responses: readonly EtcdResponseOp[];
}

export interface EtcdCompactionResponse {
  readonly header: EtcdResponseHeader;
}

/** What the serving member adds to a top-level response header. */
export interface MemberHeader {
  /** uint64, as a decimal string. */
  readonly clusterId: string;
  /** uint64, as a decimal string. */
  readonly memberId: string;
  readonly raftTerm: number;
}

// ---- enums ------------------------------------------------------------------------------------

/** The vendored proto's names, in protobuf number order (kv/types.ts has etcd's). */
const PROTO_SORT_ORDERS = ["None", "Ascend", "Descend"] as const;
const PROTO_SORT_TARGETS = ["Key", "Version", "Create", "Mod", "Value"] as const;
const PROTO_COMPARE_RESULTS = ["Equal", "Greater", "Less", "NotEqual"] as const;
const PROTO_COMPARE_TARGETS = ["Version", "Create", "Mod", "Value", "Lease"] as const;

interface EnumTable<T extends string> {
  readonly names: readonly T[];
  readonly protoNames: readonly string[];
  /** The message of the INVALID_ARGUMENT an unknown value gets. */
  readonly invalid: (value: unknown) => string;
}

function enumTable<T extends string>(
  names: readonly T[],
  protoNames: readonly string[],
  invalid: (value: unknown) => string,
): EnumTable<T> {
  if (names.length !== protoNames.length) {
    throw new Error(`etcd-mapping: enum tables differ: ${names.join()} / ${protoNames.join()}`);
  }
  return { names, protoNames, invalid };
}

// etcd answers an unknown sort order or target with ErrGRPCInvalidSortOption.
const invalidSortOption = (): string => "etcdserver: invalid sort option";

const SORT_ORDER_TABLE = enumTable<SortOrder>(SORT_ORDERS, PROTO_SORT_ORDERS, invalidSortOption);
const SORT_TARGET_TABLE = enumTable<SortTarget>(
  SORT_TARGETS,
  PROTO_SORT_TARGETS,
  invalidSortOption,
);
const COMPARE_RESULT_TABLE = enumTable<CompareResult>(
  COMPARE_RESULTS,
  PROTO_COMPARE_RESULTS,
  (value) => `etcdserver: unknown compare result ${describe(value)}`,
);
const COMPARE_TARGET_TABLE = enumTable<CompareTarget>(
  COMPARE_TARGETS,
  PROTO_COMPARE_TARGETS,
  (value) => `etcdserver: unknown compare target ${describe(value)}`,
);

function enumFromEtcd<T extends string>(value: unknown, table: EnumTable<T>): T {
  let index = -1;
  if (value === undefined || value === null) index = 0;
  else if (typeof value === "number" && Number.isInteger(value)) index = value;
  else if (typeof value === "string") {
    index = table.protoNames.indexOf(value);
    if (index < 0) index = table.names.indexOf(value as T);
  }
  const name = index >= 0 ? table.names[index] : undefined;
  if (name === undefined) throw invalid(table.invalid(value));
  return name;
}

function enumToEtcd<T extends string>(value: T, table: EnumTable<T>): string {
  const name = table.protoNames[table.names.indexOf(value)];
  if (name === undefined) throw invalid(table.invalid(value));
  return name;
}

// ---- scalar fields ----------------------------------------------------------------------------

const invalid = (message: string): KvError => new KvError("INVALID_ARGUMENT", message);

/** The end of every exhaustive switch: TypeScript proves it unreachable, this says so at run time. */
function unreachable(value: never, what: string): never {
  throw new Error(`etcd-mapping: unexpected ${what} ${String(value)}`);
}

/** A short, printable form of an untrusted value for an error message. */
function describe(value: unknown): string {
  const text = typeof value === "string" ? JSON.stringify(value) : String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

type Message = Readonly<Record<string, unknown>>;

/** A message field (or the request itself): an object; absent is the empty message. */
export function messageFromEtcd(value: unknown, what: string): Message {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value) || value instanceof Uint8Array) {
    throw invalid(`etcdserver: ${what} must be a message`);
  }
  return value as Message;
}

/** int64 decimal strings as protobufjs writes them: an optional minus, then digits. */
const INT64_PATTERN = /^-?\d{1,20}$/;

/** An int64 field: a decimal string (or a number) holding a safe integer; absent is 0. */
export function int64FromEtcd(value: unknown, name: string): number {
  if (value === undefined || value === null) return 0;
  let n = Number.NaN;
  if (typeof value === "number") n = value;
  else if (typeof value === "string" && INT64_PATTERN.test(value)) n = Number(value);
  if (!Number.isSafeInteger(n)) {
    throw invalid(
      `etcdserver: ${name} must be an integer within ±(2^53 - 1), got ${describe(value)}`,
    );
  }
  return n === 0 ? 0 : n; // no -0
}

export function int64ToEtcd(value: number, name: string): string {
  if (!Number.isSafeInteger(value)) {
    throw new Error(`etcd-mapping: ${name} ${String(value)} is not a safe integer`);
  }
  return String(value);
}

const UINT64_MAX = 2n ** 64n - 1n;

/** Ids already checked: a member puts the same two in every response header. */
const checkedUint64s = new Set<string>();
const CHECKED_UINT64S_MAX = 64;

/** A uint64 the server itself supplies (cluster and member ids): a canonical decimal string. */
function uint64ToEtcd(value: string, name: string): string {
  if (checkedUint64s.has(value)) return value;
  if (!/^(0|[1-9]\d{0,19})$/.test(value) || BigInt(value) > UINT64_MAX) {
    throw new Error(`etcd-mapping: ${name} ${describe(value)} is not a uint64 decimal string`);
  }
  if (checkedUint64s.size >= CHECKED_UINT64S_MAX) checkedUint64s.clear();
  checkedUint64s.add(value);
  return value;
}

/** A bool field; absent is false. */
export function boolFromEtcd(value: unknown, name: string): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value !== "boolean") throw invalid(`etcdserver: ${name} must be a boolean`);
  return value;
}

/**
 * A bytes field: the Buffer proto-loader gives (any Uint8Array), as a plain Uint8Array view of
 * the same memory, not a copy: encode or copy it before the message's buffer can be reused
 * (kv/ copies what it keeps).
 */
function bytesFromEtcd(value: unknown, name: string): Uint8Array {
  if (value === undefined || value === null) return EMPTY_BYTES;
  if (!(value instanceof Uint8Array)) throw invalid(`etcdserver: ${name} must be bytes`);
  if (value.length === 0) return EMPTY_BYTES;
  return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

/** A Buffer view of the same memory: no copy. */
function bytesToEtcd(value: Uint8Array): Buffer {
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

function listFromEtcd(value: unknown, name: string): readonly unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalid(`etcdserver: ${name} must be a list`);
  return value;
}

// ---- requests: etcd → kv ----------------------------------------------------------------------

export function rangeRequestFromEtcd(message: unknown): RangeRequest {
  const m = messageFromEtcd(message, "range request");
  return {
    key: bytesFromEtcd(m.key, "key"),
    rangeEnd: bytesFromEtcd(m.range_end, "range_end"),
    limit: int64FromEtcd(m.limit, "limit"),
    revision: int64FromEtcd(m.revision, "revision"),
    sortOrder: enumFromEtcd(m.sort_order, SORT_ORDER_TABLE),
    sortTarget: enumFromEtcd(m.sort_target, SORT_TARGET_TABLE),
    serializable: boolFromEtcd(m.serializable, "serializable"),
    keysOnly: boolFromEtcd(m.keys_only, "keys_only"),
    countOnly: boolFromEtcd(m.count_only, "count_only"),
    minModRevision: int64FromEtcd(m.min_mod_revision, "min_mod_revision"),
    maxModRevision: int64FromEtcd(m.max_mod_revision, "max_mod_revision"),
    minCreateRevision: int64FromEtcd(m.min_create_revision, "min_create_revision"),
    maxCreateRevision: int64FromEtcd(m.max_create_revision, "max_create_revision"),
  };
}

export function putRequestFromEtcd(message: unknown): PutRequest {
  const m = messageFromEtcd(message, "put request");
  return {
    key: bytesFromEtcd(m.key, "key"),
    value: bytesFromEtcd(m.value, "value"),
    lease: int64FromEtcd(m.lease, "lease"),
    prevKv: boolFromEtcd(m.prev_kv, "prev_kv"),
    ignoreValue: boolFromEtcd(m.ignore_value, "ignore_value"),
    ignoreLease: boolFromEtcd(m.ignore_lease, "ignore_lease"),
  };
}

export function deleteRangeRequestFromEtcd(message: unknown): DeleteRangeRequest {
  const m = messageFromEtcd(message, "delete range request");
  return {
    key: bytesFromEtcd(m.key, "key"),
    rangeEnd: bytesFromEtcd(m.range_end, "range_end"),
    prevKv: boolFromEtcd(m.prev_kv, "prev_kv"),
  };
}

/**
 * The operand is the target_union field the target names; when the union holds another field
 * (or none), the operand is that field's zero value, as etcd's compareKV reads it.
 */
export function compareFromEtcd(message: unknown): Compare {
  const m = messageFromEtcd(message, "compare");
  const key = bytesFromEtcd(m.key, "compare key");
  const rangeEnd = bytesFromEtcd(m.range_end, "compare range_end");
  const result = enumFromEtcd(m.result, COMPARE_RESULT_TABLE);
  const target = enumFromEtcd(m.target, COMPARE_TARGET_TABLE);
  const base = { key, rangeEnd, target, result };
  switch (target) {
    case "VERSION":
      return { ...base, version: int64FromEtcd(m.version, "compare version") };
    case "CREATE":
      return {
        ...base,
        createRevision: int64FromEtcd(m.create_revision, "compare create_revision"),
      };
    case "MOD":
      return { ...base, modRevision: int64FromEtcd(m.mod_revision, "compare mod_revision") };
    case "VALUE":
      return { ...base, value: bytesFromEtcd(m.value, "compare value") };
    case "LEASE":
      return { ...base, lease: int64FromEtcd(m.lease, "compare lease") };
    default:
      return unreachable(target, "compare target");
  }
}

/**
 * A RequestOp must hold exactly one request. etcd lets an empty op through and answers it with
 * an empty ResponseOp; kv/ has no empty op, so it is refused here.
 */
function requestOpFromEtcd(message: unknown, depth: number): RequestOp {
  const m = messageFromEtcd(message, "txn op");
  const set = (
    ["request_range", "request_put", "request_delete_range", "request_txn"] as const
  ).filter((name) => m[name] !== undefined && m[name] !== null);
  if (set.length !== 1) {
    throw invalid(`etcdserver: a txn op must hold exactly one request, got ${set.length}`);
  }
  switch (set[0]) {
    case "request_range":
      return { type: "range", request: rangeRequestFromEtcd(m.request_range) };
    case "request_put":
      return { type: "put", request: putRequestFromEtcd(m.request_put) };
    case "request_delete_range":
      return { type: "deleteRange", request: deleteRangeRequestFromEtcd(m.request_delete_range) };
    default:
      return { type: "txn", request: txnFromEtcd(m.request_txn, depth + 1) };
  }
}

function txnFromEtcd(message: unknown, depth: number): TxnRequest {
  // kv/'s codec refuses deeper txns anyway; stopping here bounds this recursion.
  if (depth > TXN_DEPTH_CODEC_MAX) {
    throw invalid(`etcdserver: txn nested deeper than ${TXN_DEPTH_CODEC_MAX}`);
  }
  const m = messageFromEtcd(message, "txn request");
  return {
    compare: listFromEtcd(m.compare, "compare").map(compareFromEtcd),
    success: listFromEtcd(m.success, "success").map((op) => requestOpFromEtcd(op, depth)),
    failure: listFromEtcd(m.failure, "failure").map((op) => requestOpFromEtcd(op, depth)),
  };
}

export function txnRequestFromEtcd(message: unknown): TxnRequest {
  return txnFromEtcd(message, 0);
}

export function compactionRequestFromEtcd(message: unknown): CompactionRequest {
  const m = messageFromEtcd(message, "compaction request");
  return {
    revision: int64FromEtcd(m.revision, "revision"),
    physical: boolFromEtcd(m.physical, "physical"),
  };
}

// ---- requests: kv → etcd (for clients and tests) ----------------------------------------------

export function rangeRequestToEtcd(req: RangeRequest): EtcdRangeRequest {
  return {
    key: bytesToEtcd(req.key),
    range_end: bytesToEtcd(req.rangeEnd ?? EMPTY_BYTES),
    limit: int64ToEtcd(req.limit ?? 0, "limit"),
    revision: int64ToEtcd(req.revision ?? 0, "revision"),
    sort_order: enumToEtcd(req.sortOrder ?? "NONE", SORT_ORDER_TABLE),
    sort_target: enumToEtcd(req.sortTarget ?? "KEY", SORT_TARGET_TABLE),
    serializable: req.serializable ?? false,
    keys_only: req.keysOnly ?? false,
    count_only: req.countOnly ?? false,
    min_mod_revision: int64ToEtcd(req.minModRevision ?? 0, "min_mod_revision"),
    max_mod_revision: int64ToEtcd(req.maxModRevision ?? 0, "max_mod_revision"),
    min_create_revision: int64ToEtcd(req.minCreateRevision ?? 0, "min_create_revision"),
    max_create_revision: int64ToEtcd(req.maxCreateRevision ?? 0, "max_create_revision"),
  };
}

export function putRequestToEtcd(req: PutRequest): EtcdPutRequest {
  return {
    key: bytesToEtcd(req.key),
    value: bytesToEtcd(req.value ?? EMPTY_BYTES),
    lease: int64ToEtcd(req.lease ?? 0, "lease"),
    prev_kv: req.prevKv ?? false,
    ignore_value: req.ignoreValue ?? false,
    ignore_lease: req.ignoreLease ?? false,
  };
}

export function deleteRangeRequestToEtcd(req: DeleteRangeRequest): EtcdDeleteRangeRequest {
  return {
    key: bytesToEtcd(req.key),
    range_end: bytesToEtcd(req.rangeEnd ?? EMPTY_BYTES),
    prev_kv: req.prevKv ?? false,
  };
}

export function compareToEtcd(c: Compare): EtcdCompare {
  const base = {
    result: enumToEtcd(c.result, COMPARE_RESULT_TABLE),
    target: enumToEtcd(c.target, COMPARE_TARGET_TABLE),
    key: bytesToEtcd(c.key),
    range_end: bytesToEtcd(c.rangeEnd ?? EMPTY_BYTES),
  };
  switch (c.target) {
    case "VERSION":
      return { ...base, version: int64ToEtcd(c.version ?? 0, "version") };
    case "CREATE":
      return { ...base, create_revision: int64ToEtcd(c.createRevision ?? 0, "create_revision") };
    case "MOD":
      return { ...base, mod_revision: int64ToEtcd(c.modRevision ?? 0, "mod_revision") };
    case "VALUE":
      return { ...base, value: bytesToEtcd(c.value ?? EMPTY_BYTES) };
    case "LEASE":
      return { ...base, lease: int64ToEtcd(c.lease ?? 0, "lease") };
    default:
      return unreachable(c.target, "compare target");
  }
}

function requestOpToEtcd(op: RequestOp, depth: number): EtcdRequestOp {
  switch (op.type) {
    case "range":
      return { request_range: rangeRequestToEtcd(op.request) };
    case "put":
      return { request_put: putRequestToEtcd(op.request) };
    case "deleteRange":
      return { request_delete_range: deleteRangeRequestToEtcd(op.request) };
    case "txn":
      return { request_txn: txnToEtcd(op.request, depth + 1) };
    default:
      return unreachable(op, "txn op");
  }
}

function txnToEtcd(req: TxnRequest, depth: number): EtcdTxnRequest {
  if (depth > TXN_DEPTH_CODEC_MAX) throw new Error("etcd-mapping: txn nested too deep");
  return {
    compare: (req.compare ?? []).map(compareToEtcd),
    success: (req.success ?? []).map((op) => requestOpToEtcd(op, depth)),
    failure: (req.failure ?? []).map((op) => requestOpToEtcd(op, depth)),
  };
}

export function txnRequestToEtcd(req: TxnRequest): EtcdTxnRequest {
  return txnToEtcd(req, 0);
}

export function compactionRequestToEtcd(req: CompactionRequest): EtcdCompactionRequest {
  return { revision: int64ToEtcd(req.revision, "revision"), physical: req.physical ?? false };
}

// ---- responses: kv → etcd ---------------------------------------------------------------------

/** `member` is the serving member's part for a top-level header, undefined for nested ones. */
export function headerToEtcd(
  header: ResponseHeader,
  member: MemberHeader | undefined,
): EtcdResponseHeader {
  return {
    cluster_id: member === undefined ? "0" : uint64ToEtcd(member.clusterId, "cluster_id"),
    member_id: member === undefined ? "0" : uint64ToEtcd(member.memberId, "member_id"),
    revision: int64ToEtcd(header.revision, "revision"),
    raft_term:
      member === undefined
        ? "0"
        : Number.isSafeInteger(member.raftTerm) && member.raftTerm >= 0
          ? String(member.raftTerm)
          : uint64ToEtcd(String(member.raftTerm), "raft_term"),
  };
}

export function keyValueToEtcd(kv: KeyValue): EtcdKeyValue {
  return {
    key: bytesToEtcd(kv.key),
    create_revision: int64ToEtcd(kv.createRevision, "create_revision"),
    mod_revision: int64ToEtcd(kv.modRevision, "mod_revision"),
    version: int64ToEtcd(kv.version, "version"),
    value: bytesToEtcd(kv.value),
    lease: int64ToEtcd(kv.lease, "lease"),
  };
}

export function rangeResponseToEtcd(
  r: RangeResponse,
  member: MemberHeader | undefined,
): EtcdRangeResponse {
  return {
    header: headerToEtcd(r.header, member),
    kvs: r.kvs.map(keyValueToEtcd),
    more: r.more,
    count: int64ToEtcd(r.count, "count"),
  };
}

export function putResponseToEtcd(
  r: PutResponse,
  member: MemberHeader | undefined,
): EtcdPutResponse {
  const header = headerToEtcd(r.header, member);
  return r.prevKv === undefined ? { header } : { header, prev_kv: keyValueToEtcd(r.prevKv) };
}

export function deleteRangeResponseToEtcd(
  r: DeleteRangeResponse,
  member: MemberHeader | undefined,
): EtcdDeleteRangeResponse {
  return {
    header: headerToEtcd(r.header, member),
    deleted: int64ToEtcd(r.deleted, "deleted"),
    prev_kvs: r.prevKvs.map(keyValueToEtcd),
  };
}

function responseOpToEtcd(op: ResponseOp, depth: number): EtcdResponseOp {
  switch (op.type) {
    case "range":
      return { response_range: rangeResponseToEtcd(op.response, undefined) };
    case "put":
      return { response_put: putResponseToEtcd(op.response, undefined) };
    case "deleteRange":
      return { response_delete_range: deleteRangeResponseToEtcd(op.response, undefined) };
    case "txn":
      return { response_txn: txnResponseOf(op.response, undefined, depth + 1) };
    default:
      return unreachable(op, "txn response op");
  }
}

function txnResponseOf(
  r: TxnResponse,
  member: MemberHeader | undefined,
  depth: number,
): EtcdTxnResponse {
  if (depth > TXN_DEPTH_CODEC_MAX) throw new Error("etcd-mapping: txn response nested too deep");
  return {
    header: headerToEtcd(r.header, member),
    succeeded: r.succeeded,
    responses: r.responses.map((op) => responseOpToEtcd(op, depth)),
  };
}

export function txnResponseToEtcd(
  r: TxnResponse,
  member: MemberHeader | undefined,
): EtcdTxnResponse {
  return txnResponseOf(r, member, 0);
}

export function compactionResponseToEtcd(
  r: CompactionResponse,
  member: MemberHeader | undefined,
): EtcdCompactionResponse {
  return { header: headerToEtcd(r.header, member) };
}

// ---- responses: etcd → kv (for clients and tests) ---------------------------------------------
// Checked as strictly as requests: a client must not trust a server more than the reverse.

export function headerFromEtcd(message: unknown): ResponseHeader {
  const m = messageFromEtcd(message, "response header");
  return { revision: int64FromEtcd(m.revision, "header revision") };
}

export function keyValueFromEtcd(message: unknown): KeyValue {
  const m = messageFromEtcd(message, "key value");
  return {
    key: bytesFromEtcd(m.key, "key"),
    createRevision: int64FromEtcd(m.create_revision, "create_revision"),
    modRevision: int64FromEtcd(m.mod_revision, "mod_revision"),
    version: int64FromEtcd(m.version, "version"),
    value: bytesFromEtcd(m.value, "value"),
    lease: int64FromEtcd(m.lease, "lease"),
  };
}

export function rangeResponseFromEtcd(message: unknown): RangeResponse {
  const m = messageFromEtcd(message, "range response");
  return {
    header: headerFromEtcd(m.header),
    kvs: listFromEtcd(m.kvs, "kvs").map(keyValueFromEtcd),
    more: boolFromEtcd(m.more, "more"),
    count: int64FromEtcd(m.count, "count"),
  };
}

export function putResponseFromEtcd(message: unknown): PutResponse {
  const m = messageFromEtcd(message, "put response");
  const header = headerFromEtcd(m.header);
  const absent = m.prev_kv === undefined || m.prev_kv === null;
  return absent ? { header } : { header, prevKv: keyValueFromEtcd(m.prev_kv) };
}

export function deleteRangeResponseFromEtcd(message: unknown): DeleteRangeResponse {
  const m = messageFromEtcd(message, "delete range response");
  return {
    header: headerFromEtcd(m.header),
    deleted: int64FromEtcd(m.deleted, "deleted"),
    prevKvs: listFromEtcd(m.prev_kvs, "prev_kvs").map(keyValueFromEtcd),
  };
}

function responseOpFromEtcd(message: unknown, depth: number): ResponseOp {
  const m = messageFromEtcd(message, "response op");
  const names = ["response_range", "response_put", "response_delete_range", "response_txn"];
  const set = names.filter((name) => m[name] !== undefined && m[name] !== null);
  if (set.length !== 1) {
    throw invalid(`etcdserver: a response op must hold exactly one response, got ${set.length}`);
  }
  switch (set[0]) {
    case "response_range":
      return { type: "range", response: rangeResponseFromEtcd(m.response_range) };
    case "response_put":
      return { type: "put", response: putResponseFromEtcd(m.response_put) };
    case "response_delete_range":
      return {
        type: "deleteRange",
        response: deleteRangeResponseFromEtcd(m.response_delete_range),
      };
    default:
      return { type: "txn", response: txnResponseFrom(m.response_txn, depth + 1) };
  }
}

function txnResponseFrom(message: unknown, depth: number): TxnResponse {
  if (depth > TXN_DEPTH_CODEC_MAX) {
    throw invalid(`etcdserver: txn response nested deeper than ${TXN_DEPTH_CODEC_MAX}`);
  }
  const m = messageFromEtcd(message, "txn response");
  return {
    header: headerFromEtcd(m.header),
    succeeded: boolFromEtcd(m.succeeded, "succeeded"),
    responses: listFromEtcd(m.responses, "responses").map((op) => responseOpFromEtcd(op, depth)),
  };
}

export function txnResponseFromEtcd(message: unknown): TxnResponse {
  return txnResponseFrom(message, 0);
}

export function compactionResponseFromEtcd(message: unknown): CompactionResponse {
  const m = messageFromEtcd(message, "compaction response");
  return { header: headerFromEtcd(m.header) };
}
