// Txn in a friendly shape: compares on a key's value, version, revisions or lease; put, get and
// delete operations; results typed by operation.
import type { GetOptions, GetResult } from "./kv.js";
import {
  type Bytes,
  type KeyValue,
  prefixRangeEnd,
  type RawHeader,
  type RawKv,
  toBytes,
  toKv,
} from "./wire.js";

export type CompareOp = "==" | "!=" | ">" | "<";

export type TxnCompare =
  | {
      readonly key: Bytes;
      readonly target: "value";
      readonly op: CompareOp;
      readonly value: Bytes;
      readonly prefix?: boolean;
    }
  | {
      readonly key: Bytes;
      readonly target: "version" | "createRevision" | "modRevision" | "lease";
      readonly op: CompareOp;
      /** A number, or an int64 as a decimal string (lease ids). */
      readonly value: number | string;
      readonly prefix?: boolean;
    };

export type TxnOp =
  | {
      readonly type: "put";
      readonly key: Bytes;
      readonly value: Bytes;
      readonly lease?: string;
      readonly prevKv?: boolean;
    }
  | ({ readonly type: "get"; readonly key: Bytes } & GetOptions)
  | {
      readonly type: "delete";
      readonly key: Bytes;
      readonly prefix?: boolean;
      readonly prevKv?: boolean;
    };

export interface TxnRequest {
  readonly compare?: readonly TxnCompare[];
  readonly success?: readonly TxnOp[];
  readonly failure?: readonly TxnOp[];
}

export type TxnOpResult =
  | { readonly type: "put"; readonly revision: number; readonly prevKv: KeyValue | undefined }
  | ({ readonly type: "get" } & GetResult)
  | {
      readonly type: "delete";
      readonly deleted: number;
      readonly revision: number;
      readonly prevKvs: KeyValue[];
    };

export interface TxnResult {
  readonly succeeded: boolean;
  readonly revision: number;
  readonly responses: TxnOpResult[];
}

const RESULT: Record<CompareOp, number> = { "==": 0, ">": 1, "<": 2, "!=": 3 };
const TARGET = { version: 0, createRevision: 1, modRevision: 2, value: 3, lease: 4 } as const;
const TARGET_FIELD = {
  version: "version",
  createRevision: "create_revision",
  modRevision: "mod_revision",
  lease: "lease",
} as const;

const SORT_ORDER = { NONE: 0, ASCEND: 1, DESCEND: 2 } as const;
const SORT_TARGET = { KEY: 0, VERSION: 1, CREATE: 2, MOD: 3, VALUE: 4 } as const;

export function rangeEndOf(key: Buffer, options: { prefix?: boolean; rangeEnd?: Bytes }): Buffer {
  if (options.prefix) return prefixRangeEnd(key);
  if (options.rangeEnd !== undefined) return toBytes(options.rangeEnd);
  return Buffer.alloc(0);
}

export function rangeRequest(key: Bytes, options: GetOptions): object {
  const k = toBytes(key);
  const fromKey = options.fromKey === true;
  return {
    key: fromKey && k.length === 0 ? Buffer.from([0]) : k,
    range_end: fromKey ? Buffer.from([0]) : rangeEndOf(k, options),
    limit: String(options.limit ?? 0),
    sort_order: SORT_ORDER[options.sortOrder ?? "NONE"],
    sort_target: SORT_TARGET[options.sortTarget ?? "KEY"],
    revision: String(options.revision ?? 0),
    keys_only: options.keysOnly ?? false,
    count_only: options.countOnly ?? false,
    serializable: options.serializable ?? false,
  };
}

export function putRequest(
  key: Bytes,
  value: Bytes,
  options: { lease?: string; prevKv?: boolean },
): object {
  return {
    key: toBytes(key),
    value: toBytes(value),
    lease: options.lease ?? "0",
    prev_kv: options.prevKv ?? false,
  };
}

export function deleteRequest(
  key: Bytes,
  options: { prefix?: boolean; rangeEnd?: Bytes; prevKv?: boolean },
): object {
  const k = toBytes(key);
  return { key: k, range_end: rangeEndOf(k, options), prev_kv: options.prevKv ?? false };
}

function compareToEtcd(c: TxnCompare): object {
  const key = toBytes(c.key);
  const base = {
    result: RESULT[c.op],
    target: TARGET[c.target],
    key,
    range_end: c.prefix ? prefixRangeEnd(key) : Buffer.alloc(0),
  };
  if (c.target === "value") return { ...base, value: toBytes(c.value) };
  const n = String(c.value);
  if (!/^-?\d+$/.test(n)) throw new RangeError(`txn compare ${c.target} needs an integer`);
  return { ...base, [TARGET_FIELD[c.target]]: n };
}

function opToEtcd(op: TxnOp): object {
  switch (op.type) {
    case "put":
      return { request_put: putRequest(op.key, op.value, op) };
    case "get":
      return { request_range: rangeRequest(op.key, op) };
    case "delete":
      return { request_delete_range: deleteRequest(op.key, op) };
  }
}

export function txnToEtcd(req: TxnRequest): object {
  return {
    compare: (req.compare ?? []).map(compareToEtcd),
    success: (req.success ?? []).map(opToEtcd),
    failure: (req.failure ?? []).map(opToEtcd),
  };
}

export interface RawRange {
  header: RawHeader;
  kvs: RawKv[];
  count: string;
  more: boolean;
}

export function rangeResult(res: RawRange): GetResult {
  return {
    kvs: res.kvs.map(toKv),
    count: Number(res.count),
    more: res.more,
    revision: Number(res.header.revision),
    header: res.header,
  };
}

interface RawResponseOp {
  response?: string;
  response_range?: RawRange;
  response_put?: { header: { revision: string }; prev_kv: RawKv | null };
  response_delete_range?: { header: { revision: string }; deleted: string; prev_kvs: RawKv[] };
}

export interface RawTxn {
  header: { revision: string };
  succeeded: boolean;
  responses: RawResponseOp[];
}

function opResult(r: RawResponseOp): TxnOpResult {
  if (r.response_range) return { type: "get", ...rangeResult(r.response_range) };
  if (r.response_put) {
    return {
      type: "put",
      revision: Number(r.response_put.header.revision),
      prevKv: r.response_put.prev_kv ? toKv(r.response_put.prev_kv) : undefined,
    };
  }
  if (r.response_delete_range) {
    return {
      type: "delete",
      deleted: Number(r.response_delete_range.deleted),
      revision: Number(r.response_delete_range.header.revision),
      prevKvs: r.response_delete_range.prev_kvs.map(toKv),
    };
  }
  throw new Error(`unexpected txn response op ${r.response ?? "(none)"}`);
}

export function txnResult(res: RawTxn): TxnResult {
  return {
    succeeded: res.succeeded,
    revision: Number(res.header.revision),
    responses: res.responses.map(opResult),
  };
}
