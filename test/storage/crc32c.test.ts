// The two CRC-32C implementations agree: kv/'s (pure TypeScript, table-driven: HashKV must stay
// deterministic and free of native code) and storage/'s (native @node-rs/crc32, for every WAL
// record and snapshot file). Known vectors, then seeded random inputs, whole and incremental.

import assert from "node:assert/strict";
import { test } from "node:test";
import { crc32c as pureCrc32c } from "../../src/lib/index.js";
import { Xoshiro128 } from "../../src/raft/index.js";
import { crc32c as nativeCrc32c } from "../../src/storage/crc32c.js";

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

test("CRC-32C check values (RFC 3720 B.4 and the usual 123456789)", () => {
  const vectors: [Uint8Array, number][] = [
    [new Uint8Array(0), 0],
    [ascii("123456789"), 0xe3069283],
    [new Uint8Array(32), 0x8a9136aa],
    [new Uint8Array(32).fill(0xff), 0x62a8ab43],
    [Uint8Array.from({ length: 32 }, (_, i) => i), 0x46dd794e],
  ];
  for (const [bytes, expected] of vectors) {
    assert.equal(pureCrc32c(bytes), expected, `pure, ${bytes.length} bytes`);
    assert.equal(nativeCrc32c(bytes), expected, `native, ${bytes.length} bytes`);
  }
});

test("the pure and the native CRC-32C agree on random inputs, whole and continued", () => {
  const prng = new Xoshiro128(32);
  for (let i = 0; i < 500; i++) {
    const bytes = Uint8Array.from({ length: prng.next32() % 2000 }, () => prng.next32() & 0xff);
    const whole = nativeCrc32c(bytes);
    assert.equal(pureCrc32c(bytes), whole, `${bytes.length} bytes`);
    const cut = bytes.length === 0 ? 0 : prng.next32() % bytes.length;
    assert.equal(nativeCrc32c(bytes.subarray(cut), nativeCrc32c(bytes.subarray(0, cut))), whole);
  }
});
