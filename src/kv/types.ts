// The typed request and response objects of the store. They mirror etcd's v3 protobuf messages
// field for field, in camelCase (range_end → rangeEnd), so the gRPC server maps one onto the
// other directly. Keys and values are bytes (Uint8Array), compared bytewise. Revisions, versions
// and lease IDs are JavaScript numbers: safe integers, so up to 2^53 - 1 where etcd allows 2^63
// - 1; a store reaches 2^53 revisions only after ~285 years at a million writes a second.
// Optional request fields take etcd's zero value when absent (0, false, empty bytes).
// Responses handed out by the store share its memory: treat every Uint8Array as read-only.

/** Enum values in protobuf order: a message's numeric enum is the index into these arrays. */
export const SORT_ORDERS = ["NONE", "ASCEND", "DESCEND"] as const;
export type SortOrder = (typeof SORT_ORDERS)[number];

export const SORT_TARGETS = ["KEY", "VERSION", "CREATE", "MOD", "VALUE"] as const;
export type SortTarget = (typeof SORT_TARGETS)[number];

export const COMPARE_TARGETS = ["VERSION", "CREATE", "MOD", "VALUE", "LEASE"] as const;
export type CompareTarget = (typeof COMPARE_TARGETS)[number];

export const COMPARE_RESULTS = ["EQUAL", "GREATER", "LESS", "NOT_EQUAL"] as const;
export type CompareResult = (typeof COMPARE_RESULTS)[number];

export const EVENT_TYPES = ["PUT", "DELETE"] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** mvccpb.KeyValue. A deleted key (a DELETE event's kv) has only `key` and `modRevision`. */
export interface KeyValue {
  readonly key: Uint8Array;
  readonly createRevision: number;
  readonly modRevision: number;
  /** 1 at creation, +1 per put; a delete ends the key's life and the next put starts at 1. */
  readonly version: number;
  readonly value: Uint8Array;
  /** The attached lease's ID, or 0. */
  readonly lease: number;
}

/** etcd's ResponseHeader, minus what the server adds (cluster_id, member_id, raft_term). */
export interface ResponseHeader {
  readonly revision: number;
}

export interface RangeRequest {
  readonly key: Uint8Array;
  /** Empty: just `key`. "\0": every key ≥ key. Otherwise the half-open range [key, rangeEnd). */
  readonly rangeEnd?: Uint8Array;
  /** At most this many kvs; 0 or negative: no limit. */
  readonly limit?: number;
  /** Read at this revision; 0 or negative: the current one. */
  readonly revision?: number;
  readonly sortOrder?: SortOrder;
  readonly sortTarget?: SortTarget;
  /** Accepted and ignored: the store answers from its own state either way. */
  readonly serializable?: boolean;
  readonly keysOnly?: boolean;
  readonly countOnly?: boolean;
  /** 0 means no filter. */
  readonly minModRevision?: number;
  readonly maxModRevision?: number;
  readonly minCreateRevision?: number;
  readonly maxCreateRevision?: number;
}

export interface RangeResponse {
  readonly header: ResponseHeader;
  readonly kvs: readonly KeyValue[];
  /** True when `limit` cut the answer short. */
  readonly more: boolean;
  /** Keys in the range at the read revision, before the mod/create filters and the limit. */
  readonly count: number;
}

export interface PutRequest {
  readonly key: Uint8Array;
  readonly value?: Uint8Array;
  readonly lease?: number;
  readonly prevKv?: boolean;
  readonly ignoreValue?: boolean;
  readonly ignoreLease?: boolean;
}

export interface PutResponse {
  readonly header: ResponseHeader;
  readonly prevKv?: KeyValue | undefined;
}

export interface DeleteRangeRequest {
  readonly key: Uint8Array;
  readonly rangeEnd?: Uint8Array;
  readonly prevKv?: boolean;
}

export interface DeleteRangeResponse {
  readonly header: ResponseHeader;
  readonly deleted: number;
  readonly prevKvs: readonly KeyValue[];
}

/**
 * One txn guard. The operand is the field named by `target` (`value` for VALUE, `lease` for
 * LEASE, ...); absent means etcd's zero value. With `rangeEnd`, every key in the range must
 * pass; an empty range compares a zero KeyValue, except VALUE, which then always fails.
 */
export interface Compare {
  readonly key: Uint8Array;
  readonly rangeEnd?: Uint8Array;
  readonly target: CompareTarget;
  readonly result: CompareResult;
  readonly value?: Uint8Array;
  readonly version?: number;
  readonly createRevision?: number;
  readonly modRevision?: number;
  readonly lease?: number;
}

export type RequestOp =
  | { readonly type: "range"; readonly request: RangeRequest }
  | { readonly type: "put"; readonly request: PutRequest }
  | { readonly type: "deleteRange"; readonly request: DeleteRangeRequest }
  | { readonly type: "txn"; readonly request: TxnRequest };

export type ResponseOp =
  | { readonly type: "range"; readonly response: RangeResponse }
  | { readonly type: "put"; readonly response: PutResponse }
  | { readonly type: "deleteRange"; readonly response: DeleteRangeResponse }
  | { readonly type: "txn"; readonly response: TxnResponse };

export interface TxnRequest {
  readonly compare?: readonly Compare[];
  readonly success?: readonly RequestOp[];
  readonly failure?: readonly RequestOp[];
}

export interface TxnResponse {
  readonly header: ResponseHeader;
  readonly succeeded: boolean;
  readonly responses: readonly ResponseOp[];
}

export interface CompactionRequest {
  readonly revision: number;
  /** Accepted and ignored: compaction is complete when the command returns. */
  readonly physical?: boolean;
}

export interface CompactionResponse {
  readonly header: ResponseHeader;
}

export interface LeaseGrantRequest {
  /** Seconds; raised to the store's minimum TTL. */
  readonly ttl: number;
  /** 0 or absent: the store picks one. */
  readonly id?: number;
}

export interface LeaseGrantResponse {
  readonly header: ResponseHeader;
  readonly id: number;
  /** The granted TTL in seconds (after the minimum is applied). */
  readonly ttl: number;
}

export interface LeaseRevokeRequest {
  readonly id: number;
}

export interface LeaseRevokeResponse {
  readonly header: ResponseHeader;
}

export interface LeaseKeepAliveRequest {
  readonly id: number;
}

export interface LeaseKeepAliveResponse {
  readonly header: ResponseHeader;
  readonly id: number;
  readonly ttl: number;
}

export interface LeaseTimeToLiveRequest {
  readonly id: number;
  readonly keys?: boolean;
  /** The caller's notion of now (Unix ms) to measure the remaining TTL against: kv has no clock. */
  readonly nowMs: number;
}

export interface LeaseTimeToLiveResponse {
  readonly header: ResponseHeader;
  readonly id: number;
  /** Whole seconds left (truncated, never below 0); -1 when the lease does not exist. */
  readonly ttl: number;
  readonly grantedTtl: number;
  readonly keys: readonly Uint8Array[];
}

export interface LeaseStatus {
  readonly id: number;
}

export interface LeaseLeasesResponse {
  readonly header: ResponseHeader;
  readonly leases: readonly LeaseStatus[];
}

/**
 * Revoke every lease whose expiry is at or before the entry's leader timestamp. The leader
 * proposes this when `KvStore.expiredLeases(now)` is non-empty; replicas never read a clock.
 */
export interface LeaseExpireRequest {
  /** At most this many leases (oldest expiry first); 0 or absent: the store's leaseExpireMax. */
  readonly limit?: number;
}

export interface LeaseExpireResponse {
  readonly header: ResponseHeader;
  /** Revoked lease IDs, in the order revoked (each revocation is its own revision). */
  readonly revoked: readonly number[];
}

/**
 * Restart every lease's clock: expiry = leader timestamp + extendMs + TTL. A new leader proposes
 * it (what etcd's lessor does on Promote), so leases the old leader could no longer renew do
 * not all expire at once.
 */
export interface LeaseRenewAllRequest {
  readonly extendMs?: number;
}

export interface LeaseRenewAllResponse {
  readonly header: ResponseHeader;
  readonly renewed: number;
}

export interface HashKVRequest {
  /** 0 or absent: the current revision. */
  readonly revision?: number;
}

export interface HashKVResponse {
  readonly header: ResponseHeader;
  /** CRC-32C over every record at or below hashRevision, in key then revision order. */
  readonly hash: number;
  readonly compactRevision: number;
  readonly hashRevision: number;
}

export interface StatusResponse {
  readonly header: ResponseHeader;
  readonly compactRevision: number;
  /** Keys that exist at the current revision. */
  readonly keys: number;
  readonly leases: number;
}

export interface KvEvent {
  readonly type: EventType;
  /** PUT: the new KeyValue. DELETE: key and modRevision (the deleting revision) only. */
  readonly kv: KeyValue;
  /** The key's KeyValue before this event, when it existed and is still in history. */
  readonly prevKv?: KeyValue | undefined;
}

/** Watch resume: events of keys in the range, from `startRevision` to the current revision. */
export interface EventsRequest {
  readonly key: Uint8Array;
  readonly rangeEnd?: Uint8Array;
  /** The first revision wanted; 0: only what comes after now (an empty answer). */
  readonly startRevision: number;
  /** At most this many events (whole revisions only, see EventsResponse); 0: the store's eventsMax. */
  readonly limit?: number;
}

export interface EventsResponse {
  readonly header: ResponseHeader;
  /** In revision order (then the order of changes within a revision's txn). */
  readonly events: readonly KvEvent[];
  /**
   * Where to resume: header.revision + 1 when complete, else the first revision left out. A
   * revision's events are never split unless one revision alone exceeds the limit.
   */
  readonly nextRevision: number;
}

/** What a write delivers to listeners: every event of one revision. */
export interface EventBatch {
  readonly revision: number;
  readonly events: readonly KvEvent[];
}
