// The shared byte codec (src/codec): every primitive round-trips and has the exact bytes the
// formats on disk and on the wire depend on; values near 2^53 and negative ones survive; what
// cannot be encoded is an EncodeError (a RangeError); every way input can be wrong, and every
// truncation, is a DecodeError at an offset inside the input; strings agree with Node's
// TextEncoder and its strict TextDecoder; views share the input, copies do not.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ByteReader, ByteWriter, DecodeError, EncodeError } from "../../src/lib/index.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const bytesOf = (write: (w: ByteWriter) => void): Uint8Array => {
  const w = new ByteWriter(1);
  write(w);
  return w.copy();
};

/** A small seeded PRNG (xorshift32), so a failure names its case and repeats. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

const NEAR_2_53 = [
  0,
  1,
  127,
  128,
  255,
  256,
  16_383,
  16_384,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 32 + 1,
  2 ** 49 - 1,
  2 ** 49,
  2 ** 52 + 12_345,
  2 ** 53 - 2,
  Number.MAX_SAFE_INTEGER,
];

test("exact bytes of each primitive (the formats depend on them)", () => {
  assert.equal(hex(bytesOf((w) => w.u8(0xab).bool(true).bool(false))), "ab0100");
  assert.equal(hex(bytesOf((w) => w.u32(0x01020304))), "01020304");
  assert.equal(hex(bytesOf((w) => w.u64(Number.MAX_SAFE_INTEGER))), "001fffffffffffff");
  assert.equal(hex(bytesOf((w) => w.u64(2 ** 32 + 5))), "0000000100000005");
  assert.equal(hex(bytesOf((w) => w.f64(1.5))), "3ff8000000000000");
  assert.equal(
    hex(bytesOf((w) => w.uvarint(0).uvarint(127).uvarint(128).uvarint(300))),
    "007f8001ac02",
  );
  assert.equal(hex(bytesOf((w) => w.uvarint(Number.MAX_SAFE_INTEGER))), "ffffffffffffff0f");
  assert.equal(hex(bytesOf((w) => w.sint(5).sint(-5).sint(-0))), "000501050000");
  assert.equal(hex(bytesOf((w) => w.bytesU32(Uint8Array.of(9, 8)))), "000000020908");
  assert.equal(hex(bytesOf((w) => w.bytesVarint(Uint8Array.of(9, 8)))), "020908");
  assert.equal(hex(bytesOf((w) => w.stringU32("é"))), "00000002c3a9");
  assert.equal(hex(bytesOf((w) => w.stringVarint("aé"))), "0361c3a9");
  assert.equal(
    hex(bytesOf((w) => w.stringVarint("\ud800x"))),
    "04efbfbd78",
    "lone surrogate → U+FFFD",
  );
  assert.equal(hex(bytesOf((w) => w.raw(Uint8Array.of(1, 2)))), "0102");
});

test("every primitive round-trips, values near 2^53 and negatives included", () => {
  const w = new ByteWriter(4);
  const floats = [
    0,
    -0,
    1.5,
    -1e300,
    Number.MIN_VALUE,
    Number.POSITIVE_INFINITY,
    1_700_000_000_123.25,
  ];
  for (const v of NEAR_2_53) {
    w.uvarint(v).u64(v).sint(v).sint(-v);
    if (v <= 0xffffffff) w.u32(v);
  }
  for (const f of floats) w.f64(f);
  w.f64(Number.NaN).u8(0).u8(255).bool(true).bool(false);
  const blob = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
  w.bytesU32(blob).bytesVarint(blob).bytesVarint(new Uint8Array(0));
  const texts = ["", "ascii", "é€𝄞", "\ufeffbom kept", "x".repeat(5000), "日".repeat(3000)];
  for (const t of texts) w.stringU32(t).stringVarint(t);
  w.raw(Uint8Array.of(7, 7, 7));

  const r = new ByteReader(w.finish());
  for (const v of NEAR_2_53) {
    assert.equal(r.uvarint(), v);
    assert.equal(r.u64(), v);
    assert.equal(r.sint(), v);
    assert.equal(r.sint(), v === 0 ? 0 : -v);
    if (v <= 0xffffffff) assert.equal(r.u32(), v);
  }
  for (const f of floats) assert.ok(Object.is(r.f64(), f), String(f));
  assert.ok(Number.isNaN(r.f64()));
  assert.deepEqual([r.u8(), r.u8(), r.bool(), r.bool()], [0, 255, true, false]);
  assert.deepEqual(r.bytesU32(), blob);
  assert.deepEqual(r.bytesVarintView(), blob);
  assert.deepEqual(r.bytesVarint(), new Uint8Array(0));
  for (const t of texts) {
    assert.equal(r.stringU32(), t);
    assert.equal(r.stringVarint(), t);
  }
  assert.deepEqual(r.take("tail", 3), Uint8Array.of(7, 7, 7));
  r.end();
  assert.equal(r.remainingBytes, 0);
});

test("list: a uvarint count then the items; a count beyond its bound or the input is refused", () => {
  const w = new ByteWriter();
  w.list(["a", "bb", ""], (t) => w.stringVarint(t)).list([] as number[], (n) => w.uvarint(n));
  const bytes = w.finish();
  assert.deepEqual([...bytes], [3, 1, 0x61, 2, 0x62, 0x62, 0, 0]);
  const r = new ByteReader(bytes);
  assert.deepEqual(
    r.list("names", 3, 1, () => r.stringVarint()),
    ["a", "bb", ""],
  );
  assert.deepEqual(
    r.list("none", 0, 1, () => r.uvarint()),
    [],
  );
  r.end();
  const tooMany = new ByteReader(bytes);
  assert.throws(() => tooMany.list("names", 2, 1, () => tooMany.stringVarint()), /exceeds 2/);
  // A lying count: more items than the input could hold; refused before any item is read.
  const lying = new ByteReader(Uint8Array.of(200, 1));
  let read = 0;
  assert.throws(
    () => lying.list("names", 1000, 1, () => read++),
    (e: unknown) => e instanceof DecodeError && /beyond the input/.test(e.message),
  );
  assert.equal(read, 0);
});

test("setU32 patches a length; truncate undoes; reset reuses; finishExact avoids a copy", () => {
  const w = new ByteWriter(8);
  w.u32(0).raw(Uint8Array.of(1, 2, 3));
  w.setU32(0, w.byteLength - 4);
  assert.equal(hex(w.finish()), "00000003010203");
  const keep = w.byteLength;
  w.stringVarint("more");
  w.truncate(keep);
  assert.equal(hex(w.copy()), "00000003010203");
  w.reset(4);
  assert.equal(w.byteLength, 0);
  assert.equal(w.capacityBytes, 4, "a buffer grown past the maximum is let go");
  w.u32(0xdeadbeef);
  const exact = w.finishExact();
  assert.equal(exact.byteLength, 4);
  assert.equal(exact.buffer, w.finish().buffer, "a writer filled exactly hands over its buffer");
  const slack = new ByteWriter(16).u8(1).finishExact();
  assert.equal(slack.buffer.byteLength, 1, "a writer with slack is copied, so no slack is kept");
  assert.throws(() => w.setU32(2, 1), EncodeError, "beyond the written buffer");
  assert.throws(() => w.truncate(5), EncodeError);
});

test("values the formats cannot hold are EncodeError, a RangeError", () => {
  const cases: [string, (w: ByteWriter) => unknown][] = [
    ["u8 256", (w) => w.u8(256)],
    ["u8 -1", (w) => w.u8(-1)],
    ["u8 1.5", (w) => w.u8(1.5)],
    ["u32 2^32", (w) => w.u32(2 ** 32)],
    ["u32 -1", (w) => w.u32(-1)],
    ["u64 2^53", (w) => w.u64(2 ** 53)],
    ["u64 -1", (w) => w.u64(-1)],
    ["uvarint 2^53", (w) => w.uvarint(2 ** 53)],
    ["uvarint -1", (w) => w.uvarint(-1)],
    ["uvarint NaN", (w) => w.uvarint(Number.NaN)],
    ["uvarint 1.5", (w) => w.uvarint(1.5)],
    ["sint 2^53", (w) => w.sint(2 ** 53)],
    ["sint -(2^53)", (w) => w.sint(-(2 ** 53))],
    ["string over its bound", (w) => w.stringVarint("ééé", 5, "name")],
    ["ascii string over its bound", (w) => w.stringVarint("abcdef", 5, "name")],
  ];
  for (const [name, write] of cases) {
    const w = new ByteWriter();
    assert.throws(
      () => write(w),
      (e: unknown) => e instanceof EncodeError && e instanceof RangeError,
      name,
    );
  }
  assert.equal(hex(bytesOf((w) => w.stringVarint("abcde", 5))), "056162636465", "at the bound");
});

function assertDecodeError(
  bytes: number[],
  read: (r: ByteReader) => unknown,
  reason: RegExp,
): void {
  assert.throws(
    () => read(new ByteReader(Uint8Array.from(bytes))),
    (e: unknown) => {
      assert.ok(e instanceof DecodeError, `expected DecodeError, got ${String(e)}`);
      assert.equal(e.code, "MALFORMED");
      assert.match(e.reason, reason);
      assert.ok(e.offset >= 0 && e.offset <= bytes.length, `offset ${e.offset}`);
      assert.match(e.message, new RegExp(`at byte ${e.offset}`));
      return true;
    },
  );
}

test("each kind of bad input is a DecodeError naming what and where", () => {
  assertDecodeError([], (r) => r.u8("tag"), /^tag: truncated/);
  assertDecodeError([2], (r) => r.bool("flag"), /flag: boolean must be 0 or 1, not 2/);
  assertDecodeError([0, 0, 0], (r) => r.u32("len"), /len: truncated/);
  assertDecodeError(
    [0, 0x20, 0, 0, 0, 0, 0, 0],
    (r) => r.u64("index"),
    /index: integer beyond 2\^53/,
  );
  assertDecodeError(
    [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    (r) => r.u64(),
    /beyond 2\^53/,
  );
  assertDecodeError([0, 0, 0, 0, 0, 0, 0], (r) => r.f64("t"), /t: truncated/);
  assertDecodeError([0x80, 0x00], (r) => r.uvarint("n"), /n: varint not in its shortest form/);
  assertDecodeError(
    [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10],
    (r) => r.uvarint(),
    /beyond 2\^53 - 1/,
  );
  assertDecodeError(
    [0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0],
    (r) => r.uvarint(),
    /longer than 8 bytes/,
  );
  assertDecodeError([0x80], (r) => r.uvarint("n"), /n: truncated/);
  assertDecodeError([1, 0], (r) => r.sint("rev"), /rev: negative zero/);
  assertDecodeError([2, 1], (r) => r.sint("rev"), /rev sign: boolean/);
  assertDecodeError([3, 1, 2], (r) => r.bytesVarint("data"), /data: 3 bytes beyond the input/);
  assertDecodeError([0, 0, 0, 9, 1], (r) => r.bytesU32("data"), /data: 9 bytes beyond the input/);
  assertDecodeError([0x80, 0x02], (r) => r.bytesVarintView("id", 255), /id: 256 bytes exceeds 255/);
  assertDecodeError([2, 0xc3, 0x28], (r) => r.stringVarint("from"), /from: not valid UTF-8/);
  assertDecodeError([0, 0, 0, 1, 0xff], (r) => r.stringU32("name"), /name: not valid UTF-8/);
  assertDecodeError([5, 1], (r) => r.count("entries", 4, 1), /entries: count 5 exceeds 4/);
  assertDecodeError([5, 1], (r) => r.count("entries", 10, 1), /entries: count 5 beyond the input/);
  assertDecodeError([3], (r) => r.oneOf(["a", "b"], "order"), /bad order 3/);
  assertDecodeError([0b1000], (r) => r.flags(3), /unknown flag bits 8/);
  assertDecodeError([1, 2], (r) => [r.u8(), r.end("message")], /message: 1 trailing bytes/);
  assertDecodeError([1], (r) => r.take("magic", 2), /magic: 2 bytes beyond the input/);
  assert.throws(() => new ByteReader(new Uint8Array(1)).fail("custom"), /at byte 0: custom/);
});

test("a truncation at every offset is a DecodeError, never another error", () => {
  const w = new ByteWriter();
  w.u8(3).bool(true).u32(0xfffffffe).u64(Number.MAX_SAFE_INTEGER).f64(-2.5);
  w.uvarint(2 ** 50)
    .sint(-(2 ** 40))
    .bytesU32(Uint8Array.of(1, 2, 3))
    .bytesVarint(Uint8Array.of(4));
  w.stringU32("é𝄞").stringVarint("ascii").stringVarint("日本");
  const full = w.copy();
  const readAll = (r: ByteReader): void => {
    r.u8();
    r.bool();
    r.u32();
    r.u64();
    r.f64();
    r.uvarint();
    r.sint();
    r.bytesU32();
    r.bytesVarint();
    r.stringU32();
    r.stringVarint();
    r.stringVarint();
    r.end();
  };
  readAll(new ByteReader(full));
  for (let n = 0; n < full.byteLength; n++) {
    const prefix = full.subarray(0, n);
    assert.throws(
      () => readAll(new ByteReader(prefix)),
      (e: unknown) => e instanceof DecodeError && e.offset <= n,
      `prefix of ${n} bytes`,
    );
  }
  // And one byte more is trailing.
  assert.throws(() => readAll(new ByteReader(Uint8Array.from([...full, 0]))), /trailing/);
});

test("views share the input, copies do not; a Buffer input yields plain Uint8Arrays", () => {
  const input = Buffer.from([2, 10, 20, 2, 30, 40]);
  const r = new ByteReader(input);
  const view = r.bytesVarintView();
  const copy = r.bytesVarint();
  input[1] = 99;
  input[4] = 99;
  assert.deepEqual([...view], [99, 20], "a view sees later changes to the input");
  assert.deepEqual([...copy], [30, 40], "a copy does not");
  assert.equal(Object.getPrototypeOf(view), Uint8Array.prototype);
  assert.equal(Object.getPrototypeOf(copy), Uint8Array.prototype);
  assert.notEqual(copy.buffer, input.buffer);
  const offsetInput = new Uint8Array([9, 9, 0, 0, 0, 1, 5]).subarray(2);
  assert.deepEqual([...new ByteReader(offsetInput).bytesU32()], [5], "an input at an offset");
});

test("UTF-8 agrees with TextEncoder, and with TextDecoder(fatal, ignoreBOM) on any bytes", () => {
  const rand = prng(20261203);
  const encoder = new TextEncoder();
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  for (let i = 0; i < 2000; i++) {
    let text = "";
    const length = Math.floor(rand() * 12);
    for (let k = 0; k < length; k++) {
      const kind = Math.floor(rand() * 5);
      const unit =
        kind === 0
          ? Math.floor(rand() * 0x80)
          : kind === 1
            ? Math.floor(rand() * 0x800)
            : kind === 2
              ? 0xd800 + Math.floor(rand() * 0x800) // surrogates, paired or lone
              : Math.floor(rand() * 0x10000);
      text += String.fromCharCode(unit);
    }
    const ours = bytesOf((w) => w.stringVarint(text)).subarray(1);
    // At most 36 bytes: the length takes one byte.
    assert.equal(hex(ours), hex(encoder.encode(text)), JSON.stringify(text));
  }
  for (let i = 0; i < 20_000; i++) {
    const length = Math.floor(rand() * 6);
    const bytes = Uint8Array.from({ length }, () =>
      rand() < 0.5 ? 0x80 + Math.floor(rand() * 0x80) : Math.floor(rand() * 256),
    );
    let expected: string | undefined;
    try {
      expected = decoder.decode(bytes);
    } catch {
      expected = undefined;
    }
    const framed = Uint8Array.from([length, ...bytes]);
    let actual: string | undefined;
    try {
      actual = new ByteReader(framed).stringVarint();
    } catch (e) {
      assert.ok(e instanceof DecodeError, String(e));
      actual = undefined;
    }
    assert.equal(actual, expected, hex(bytes));
  }
});
