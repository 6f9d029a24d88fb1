// Byte helpers for every folder. etcd keys and values are bytes, compared bytewise (Go's
// bytes.Compare). Pure: no Buffer, no TextEncoder (kv/ and the other core folders use these).
import { assert } from "./assert.js";

export const EMPTY_BYTES: Uint8Array = new Uint8Array(0);

/** Bytewise order: -1, 0 or 1, like Go's bytes.Compare (a proper prefix sorts first). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A private copy, so the store never aliases a caller's (or a command buffer's) memory. Not
 * `bytes.slice()`: on a Node Buffer (a Uint8Array subclass) slice returns a view, not a copy.
 */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  if (bytes.length === 0) return EMPTY_BYTES;
  const copy = new Uint8Array(bytes);
  assert(copy.buffer !== bytes.buffer, "kv: copy shares memory");
  return copy;
}

/**
 * etcd's GetPrefixRangeEnd: the smallest key greater than every key that starts with `prefix`
 * (the last byte below 0xff, incremented, the rest cut off). An all-0xff or empty prefix has no
 * such key, so it gets "\0": every key at or above the start key.
 */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  for (let i = prefix.length - 1; i >= 0; i--) {
    const b = prefix[i]!;
    if (b < 0xff) {
      const end = new Uint8Array(prefix.subarray(0, i + 1)); // a copy, even of a Buffer
      end[i] = b + 1;
      return end;
    }
  }
  return Uint8Array.of(0);
}
