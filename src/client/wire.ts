// The etcd wire shapes the client reads (proto-loader objects: snake_case fields, 64-bit
// integers as decimal strings, bytes as Buffers, enums as their names) and their conversion to
// the client's friendly types.

/** A key, value or range end: a string (its UTF-8 bytes) or the bytes themselves. */
export type Bytes = string | Uint8Array;

/** The bytes of a key or value (a string as UTF-8; a Uint8Array as it is, not copied). */
export function toBytes(b: Bytes): Buffer {
  return typeof b === "string" ? Buffer.from(b) : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * A key-value pair. `key` and `value` are the bytes decoded as UTF-8 (bytes that are not UTF-8
 * become U+FFFD there); `keyBytes` and `valueBytes` are the bytes exactly as stored. The two
 * Buffers are not enumerable, so JSON and deep comparisons see the same object as before.
 */
export interface KeyValue {
  readonly key: string;
  readonly value: string;
  readonly keyBytes: Buffer;
  readonly valueBytes: Buffer;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  /** The lease id (int64 as a decimal string), "0" for none. */
  readonly lease: string;
}

export interface RawKv {
  key: Buffer;
  value: Buffer;
  create_revision: string;
  mod_revision: string;
  version: string;
  lease: string;
}

export interface RawHeader {
  cluster_id: string;
  member_id: string;
  revision: string;
  raft_term: string;
}

export function toKv(raw: RawKv): KeyValue {
  const kv = {
    key: raw.key.toString(),
    value: raw.value.toString(),
    createRevision: Number(raw.create_revision),
    modRevision: Number(raw.mod_revision),
    version: Number(raw.version),
    lease: raw.lease,
  };
  return Object.defineProperties(kv, {
    keyBytes: { value: raw.key, enumerable: false },
    valueBytes: { value: raw.value, enumerable: false },
  }) as KeyValue;
}

/** "foo" → "fop": the range_end that selects every key with the prefix (etcd's GetPrefixRangeEnd). */
export function prefixRangeEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if ((end[i] as number) < 0xff) {
      end[i] = (end[i] as number) + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/**
 * A lease id as etcdctl prints and reads it: hexadecimal (an optional 0x), the int64's two's
 * complement. Returns the id as a decimal string (the client's form).
 */
export function leaseIdFromHex(text: string): string {
  const hex = text.trim().replace(/^0x/i, "");
  if (!/^[0-9a-f]{1,16}$/i.test(hex)) throw new Error(`bad lease id "${text}" (expected hex)`);
  return BigInt.asIntN(64, BigInt(`0x${hex}`)).toString();
}

/**
 * A lease id (a decimal int64 string) in etcdctl's hexadecimal form: 16 digits, as etcdctl
 * prints it ("lease 694d7b1a2c3e0f11 granted with TTL(60s)", its %016x).
 */
export function leaseIdToHex(id: string): string {
  return BigInt.asUintN(64, BigInt(id)).toString(16).padStart(16, "0");
}
