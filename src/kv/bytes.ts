// Byte helpers. etcd keys and values are bytes, compared bytewise (Go's bytes.Compare); kv/ is
// type-checked without DOM or Node types, so there is no TextEncoder or Buffer here: the UTF-8
// codec below is our own (used for error messages and by callers that hold strings).
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

const idChunkBytes = 4096;

/**
 * A string that names a key in a Map: one UTF-16 code unit per byte (all < 256), so plain
 * JavaScript string order equals bytewise key order.
 */
export function keyIdOf(key: Uint8Array): string {
  let id = "";
  for (let i = 0; i < key.length; i += idChunkBytes) {
    id += String.fromCharCode(...key.subarray(i, i + idChunkBytes));
  }
  assert(id.length === key.length, "kv: key id length");
  return id;
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

/** UTF-8 encoding of a string; lone surrogates become U+FFFD, as TextEncoder does. */
export function encodeUtf8(text: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
    else
      out.push(
        0xf0 | (c >> 18),
        0x80 | ((c >> 12) & 0x3f),
        0x80 | ((c >> 6) & 0x3f),
        0x80 | (c & 0x3f),
      );
  }
  return Uint8Array.from(out);
}

/** UTF-8 decoding; each byte of an invalid sequence becomes U+FFFD (never throws). */
export function decodeUtf8(bytes: Uint8Array): string {
  let text = "";
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    const need = b < 0x80 ? 0 : b >= 0xc2 && b < 0xe0 ? 1 : b >= 0xe0 && b < 0xf0 ? 2 : 3;
    const valid = b < 0x80 || (b >= 0xc2 && b < 0xf5);
    let c = need === 0 ? b : need === 1 ? b & 0x1f : need === 2 ? b & 0x0f : b & 0x07;
    let ok = valid && i + need < bytes.length;
    for (let k = 1; ok && k <= need; k++) {
      const cont = bytes[i + k]!;
      if ((cont & 0xc0) !== 0x80) ok = false;
      else c = (c << 6) | (cont & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are invalid.
    if (ok && need === 2 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ok = false;
    if (ok && need === 3 && (c < 0x10000 || c > 0x10ffff)) ok = false;
    if (!ok) {
      text += "\ufffd";
      i += 1;
      continue;
    }
    text += String.fromCodePoint(c);
    i += need + 1;
  }
  return text;
}
