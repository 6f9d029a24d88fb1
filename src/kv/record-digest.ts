// A record's share of the store's digest (KvStore.digest): two independent 32-bit hashes of
// everything the record is — its key, revisions, flags, version, lease and value. The store
// keeps their sums (mod 2^32) over every record history holds, updated as records are appended
// and compacted away, so a digest of the whole key space costs O(1) at any size, where
// hashing a snapshot cost O(records) each time the runtime checked for divergence (every 5,000
// entries: 7 % of a member's CPU at 100,000 keys, growing with the store).
//
// A sum of per-record hashes is a multiset hash: equal sets of records, equal sums, whatever
// the order they came in. It detects what divergence detection is for (a replica that applied
// the same log to a different state: a value, a lease or a revision that differs), not an
// adversary who forges records; two unrelated hashes (CRC-32C and FNV-1a) make an accidental
// collision of both about 2^-64.
import { CRC32C_INIT, crc32cFinish, crc32cUpdate } from "../lib/index.js";
import type { KeyRecord } from "./key-history.js";

/** The running sums of a set of records' hashes. */
export interface RecordDigest {
  crc: number;
  fnv: number;
}

const scratch = new Uint8Array(8 * 8);
const fields = new DataView(scratch.buffer);

/** One record's two hashes, in a shared result (read it before the next call). */
const hashed: RecordDigest = { crc: 0, fnv: 0 };

export function hashRecord(key: Uint8Array, r: KeyRecord): Readonly<RecordDigest> {
  fields.setFloat64(0, r.main);
  fields.setFloat64(8, r.sub);
  fields.setFloat64(16, r.tombstone ? 1 : 0);
  fields.setFloat64(24, r.createRevision);
  fields.setFloat64(32, r.version);
  fields.setFloat64(40, r.lease);
  fields.setFloat64(48, key.length);
  fields.setFloat64(56, r.value.length);
  let crc = crc32cUpdate(CRC32C_INIT, scratch);
  crc = crc32cFinish(crc32cUpdate(crc32cUpdate(crc, key), r.value));
  hashed.crc = crc;
  hashed.fnv = fnv1a(fnv1a(fnv1a(FNV_OFFSET, scratch), key), r.value);
  return hashed;
}

/** Adds (sign 1) or takes away (sign -1) `h` to or from the sums in `into`. */
export function addDigest(into: RecordDigest, h: Readonly<RecordDigest>, sign: 1 | -1): void {
  into.crc = (into.crc + sign * h.crc) >>> 0;
  into.fnv = (into.fnv + sign * h.fnv) >>> 0;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

function fnv1a(hash: number, bytes: Uint8Array): number {
  let h = hash;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, FNV_PRIME);
  return h >>> 0;
}
