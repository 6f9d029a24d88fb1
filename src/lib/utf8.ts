// UTF-8 for the codec's strings, in plain code: the codec is shared by kv/, which is
// type-checked without DOM or Node types and may not name TextEncoder / TextDecoder (its tidy
// test), so the byte reader and writer cannot use them either. The semantics are theirs:
// encoding replaces a lone surrogate by U+FFFD (as TextEncoder does); decoding is strict
// (TextDecoder with `fatal: true, ignoreBOM: true`): any invalid sequence is refused, and a
// leading U+FEFF is kept, so a decoded string re-encodes to exactly its input.

/** Code units per String.fromCharCode call: far below any engine's argument limit. */
const CHUNK_UNITS = 4096;

/** Bytes `text` takes in UTF-8, lone surrogates counted as U+FFFD (3 bytes). */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && isLowSurrogate(text.charCodeAt(i + 1))) {
      bytes += 4;
      i++;
    } else bytes += 3; // BMP, or a lone surrogate written as U+FFFD
  }
  return bytes;
}

/**
 * Writes `text` as UTF-8 into `out` at `at` (the caller reserved utf8ByteLength(text) bytes)
 * and returns the offset after it.
 */
export function writeUtf8(text: string, out: Uint8Array, at: number): number {
  const n = text.length;
  for (let i = 0; i < n; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      out[at++] = c;
      continue;
    }
    if (c < 0x800) {
      out[at++] = 0xc0 | (c >> 6);
      out[at++] = 0x80 | (c & 0x3f);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = i + 1 < n ? text.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && isLowSurrogate(d)) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
        out[at++] = 0xf0 | (c >> 18);
        out[at++] = 0x80 | ((c >> 12) & 0x3f);
        out[at++] = 0x80 | ((c >> 6) & 0x3f);
        out[at++] = 0x80 | (c & 0x3f);
        continue;
      }
      c = 0xfffd;
    }
    out[at++] = 0xe0 | (c >> 12);
    out[at++] = 0x80 | ((c >> 6) & 0x3f);
    out[at++] = 0x80 | (c & 0x3f);
  }
  return at;
}

/** The string `bytes` encode, or undefined when they are not valid UTF-8. */
export function decodeUtf8Strict(bytes: Uint8Array): string | undefined {
  const n = bytes.length;
  let ascii = true;
  for (let i = 0; i < n; i++) {
    if ((bytes[i] as number) >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return fromUnits(bytes, n);
  const units = new Uint16Array(n); // never more code units than bytes
  let u = 0;
  let i = 0;
  while (i < n) {
    const b = bytes[i] as number;
    if (b < 0x80) {
      units[u++] = b;
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    let c: number;
    if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      c = b & 0x1f;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      c = b & 0x0f;
      if (b === 0xe0) lo = 0xa0; // overlong
      if (b === 0xed) hi = 0x9f; // surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      c = b & 0x07;
      if (b === 0xf0) lo = 0x90; // overlong
      if (b === 0xf4) hi = 0x8f; // beyond U+10FFFF
    } else return undefined;
    if (i + need >= n) return undefined; // truncated sequence
    for (let k = 1; k <= need; k++) {
      const cont = bytes[i + k] as number;
      if (cont < lo || cont > hi) return undefined;
      lo = 0x80;
      hi = 0xbf;
      c = (c << 6) | (cont & 0x3f);
    }
    i += need + 1;
    if (c < 0x10000) units[u++] = c;
    else {
      c -= 0x10000;
      units[u++] = 0xd800 | (c >> 10);
      units[u++] = 0xdc00 | (c & 0x3ff);
    }
  }
  return fromUnits(units, u);
}

function fromUnits(units: Uint8Array | Uint16Array, n: number): string {
  if (n <= CHUNK_UNITS) return String.fromCharCode.apply(null, units.subarray(0, n) as never);
  let text = "";
  for (let i = 0; i < n; i += CHUNK_UNITS) {
    const part = units.subarray(i, Math.min(n, i + CHUNK_UNITS));
    text += String.fromCharCode.apply(null, part as never);
  }
  return text;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
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
