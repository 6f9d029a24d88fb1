// Byte helpers and CRC-32C: bytewise order, prefix ends, our own UTF-8 codec against Node's,
// copies that never alias a caller's memory (Buffer included), and the CRC check value.

import assert from "node:assert/strict";
import { test } from "node:test";
import { KvStore } from "../../src/kv/index.js";
import { compareBytes, crc32c, decodeUtf8, encodeUtf8, prefixEnd } from "../../src/lib/index.js";
import { TestRandom } from "./helpers.js";

test("compareBytes is Go's bytes.Compare", () => {
  const u = (...xs: number[]) => Uint8Array.from(xs);
  assert.equal(compareBytes(u(), u()), 0);
  assert.equal(compareBytes(u(1), u(1, 0)), -1);
  assert.equal(compareBytes(u(2), u(1, 0)), 1);
  assert.equal(compareBytes(u(0x7f), u(0x80)), -1, "unsigned bytes");
  assert.equal(compareBytes(u(1, 2, 3), u(1, 2, 3)), 0);
});

test("prefixEnd never touches its input, even a Buffer", () => {
  const prefix = Buffer.from("ab");
  const end = prefixEnd(prefix);
  assert.equal(Buffer.from(end).toString(), "ac");
  assert.equal(prefix.toString(), "ab");
});

test("the store copies Buffers it is given (Buffer.slice would alias)", () => {
  const kv = new KvStore();
  const key = Buffer.from("key");
  const value = Buffer.from("value");
  kv.put({ key, value });
  value.write("XXXXX");
  key.write("zzz");
  const got = kv.range({ key: Buffer.from("key") }).kvs[0]!;
  assert.equal(Buffer.from(got.value).toString(), "value");
  assert.equal(Object.getPrototypeOf(got.value), Uint8Array.prototype);
});

test("UTF-8 agrees with Node's TextEncoder/TextDecoder on valid text", () => {
  const rng = new TestRandom(8);
  const samples = ["", "ascii", "é", "€uro", "𝄞 clef", "mixed ß 中文 🎉"];
  for (let i = 0; i < 300; i++) {
    let text = "";
    for (let k = 0; k < 8; k++) {
      const cp = rng.pick([
        rng.int(0x80),
        rng.int(0x800),
        0xe000 + rng.int(0x2000),
        0x10000 + rng.int(0xfffff),
      ]);
      text += String.fromCodePoint(cp);
    }
    samples.push(text);
  }
  for (const text of samples) {
    const ours = encodeUtf8(text);
    assert.deepEqual([...ours], [...new TextEncoder().encode(text)], text);
    assert.equal(decodeUtf8(ours), text);
  }
  assert.deepEqual([...encodeUtf8("\ud800")], [0xef, 0xbf, 0xbd], "a lone surrogate is U+FFFD");
});

test("UTF-8 decoding never throws and replaces invalid bytes", () => {
  const rng = new TestRandom(9);
  for (let i = 0; i < 500; i++) {
    const text = decodeUtf8(rng.bytes(12));
    assert.equal(typeof text, "string");
  }
  assert.equal(decodeUtf8(Uint8Array.of(0xc0, 0x80)), "\ufffd\ufffd", "overlong");
  assert.equal(decodeUtf8(Uint8Array.of(0xed, 0xa0, 0x80)), "\ufffd\ufffd\ufffd", "surrogate");
  assert.equal(decodeUtf8(Uint8Array.of(0x61, 0xe2, 0x82)), "a\ufffd\ufffd", "truncated");
});

test("CRC-32C check value", () => {
  assert.equal(crc32c(new TextEncoder().encode("123456789")), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
});
