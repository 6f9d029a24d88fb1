// The history format: valid histories parse to exactly the same objects and round-trip through
// JSON; every kind of malformed input is rejected with the element index and field named.
import assert from "node:assert/strict";
import { test } from "node:test";
import { describeHistoryOp, HistoryFormatError, parseHistory } from "../../src/check/index.js";
import { cas, del, get, put } from "./history-builders.js";

const valid = [
  put("c1", "k1", "v1", 0, 10),
  get("c2", "k1", "v1", 5, 12),
  get("c2", "k1", null, 13, 14),
  del("c1", "k1", 11, 20),
  cas("c3", "k1", null, "v2", true, 21, 30),
  cas("c3", "k1", "v9", "v3", false, 31, 32),
  cas("c3", "k1", "v2", "v4", null, 40, null),
  put("c1", "k2", "", 1, 1, "fail"),
  get("c2", "k2", null, 50, null),
];

test("a valid history parses to equal objects and round-trips through JSON", () => {
  const parsed = parseHistory(JSON.parse(JSON.stringify(valid)));
  assert.deepEqual(parsed, valid);
  assert.equal(JSON.stringify(parsed), JSON.stringify(valid));
  assert.deepEqual(parseHistory([]), []);
});

test("parseHistory returns fresh objects with the fields in contract order", () => {
  const shuffled = {
    output: null,
    status: "ok",
    complete: 2,
    invoke: 1,
    value: "v",
    key: "k",
    op: "put",
    client: "c",
  };
  const [op] = parseHistory([shuffled]);
  assert.notEqual(op, shuffled);
  assert.deepEqual(Object.keys(op ?? {}), [
    "client",
    "op",
    "key",
    "value",
    "invoke",
    "complete",
    "status",
    "output",
  ]);
});

interface Malformed {
  readonly name: string;
  readonly input: unknown;
  readonly index: number | null;
  readonly field: string | null;
  readonly message: RegExp;
}

const okPut = {
  client: "c1",
  op: "put",
  key: "k",
  value: "v",
  invoke: 0,
  complete: 1,
  status: "ok",
  output: null,
};
const okGet = {
  client: "c1",
  op: "get",
  key: "k",
  invoke: 0,
  complete: 1,
  status: "ok",
  output: "v",
};
const okCas = {
  client: "c1",
  op: "cas",
  key: "k",
  value: "v",
  expected: null,
  invoke: 0,
  complete: 1,
  status: "ok",
  output: true,
};

const malformed: readonly Malformed[] = [
  {
    name: "not an array",
    input: { ops: [] },
    index: null,
    field: null,
    message: /^history: expected an array/,
  },
  {
    name: "element not an object",
    input: [okPut, 7],
    index: 1,
    field: null,
    message: /^history\[1\]: expected an operation object, got 7/,
  },
  {
    name: "element is null",
    input: [null],
    index: 0,
    field: null,
    message: /^history\[0\]: expected an operation object/,
  },
  {
    name: "unknown op",
    input: [{ ...okPut, op: "append" }],
    index: 0,
    field: "op",
    message: /^history\[0\]\.op: expected "put", "get", "delete" or "cas", got "append"/,
  },
  {
    name: "missing client",
    input: [okGet, { ...okPut, client: undefined }],
    index: 1,
    field: "client",
    message: /^history\[1\]\.client: expected a string, got nothing \(field missing\)/,
  },
  {
    name: "empty key",
    input: [{ ...okPut, key: "" }],
    index: 0,
    field: "key",
    message: /must not be empty/,
  },
  {
    name: "misspelt field",
    input: [{ ...okPut, compelte: 3 }],
    index: 0,
    field: "compelte",
    message: /^history\[0\]\.compelte: unknown field/,
  },
  {
    name: "value on a get",
    input: [{ ...okGet, value: "v" }],
    index: 0,
    field: "value",
    message: /not allowed on a get operation/,
  },
  {
    name: "expected on a put",
    input: [{ ...okPut, expected: null }],
    index: 0,
    field: "expected",
    message: /not allowed on a put operation/,
  },
  {
    name: "put without value",
    input: [{ ...okPut, value: undefined }],
    index: 0,
    field: "value",
    message: /expected a string, got nothing/,
  },
  {
    name: "cas without expected",
    input: [{ ...okCas, expected: undefined }],
    index: 0,
    field: "expected",
    message: /expected a string or null, got nothing/,
  },
  {
    name: "bad status",
    input: [{ ...okPut, status: "done" }],
    index: 0,
    field: "status",
    message: /expected "ok", "fail" or "unknown", got "done"/,
  },
  {
    name: "invoke is a string",
    input: [{ ...okPut, invoke: "0" }],
    index: 0,
    field: "invoke",
    message: /expected a finite number, got "0"/,
  },
  {
    name: "complete before invoke",
    input: [{ ...okPut, invoke: 5, complete: 4 }],
    index: 0,
    field: "complete",
    message: /4 is before invoke 5/,
  },
  {
    name: "ok without complete",
    input: [{ ...okPut, complete: null }],
    index: 0,
    field: "complete",
    message: /expected a finite number, got null/,
  },
  {
    name: "unknown with complete",
    input: [{ ...okPut, status: "unknown" }],
    index: 0,
    field: "complete",
    message: /must be null when status is "unknown", got 1/,
  },
  {
    name: "get output a number",
    input: [{ ...okGet, output: 3 }],
    index: 0,
    field: "output",
    message: /expected the value read \(a string\) or null, got 3/,
  },
  {
    name: "failed get with output",
    input: [{ ...okGet, status: "fail" }],
    index: 0,
    field: "output",
    message: /expected null \(status is not ok\), got "v"/,
  },
  {
    name: "ok cas without outcome",
    input: [{ ...okCas, output: null }],
    index: 0,
    field: "output",
    message: /expected true or false, got null/,
  },
  {
    name: "unknown cas with outcome",
    input: [{ ...okCas, status: "unknown", complete: null }],
    index: 0,
    field: "output",
    message: /expected null \(status is not ok\), got true/,
  },
  {
    name: "put with output",
    input: [{ ...okPut, output: "v" }],
    index: 0,
    field: "output",
    message: /expected null, got "v"/,
  },
  {
    name: "missing output",
    input: [{ ...okPut, output: undefined }],
    index: 0,
    field: "output",
    message: /expected null, got nothing/,
  },
];

for (const bad of malformed) {
  test(`parseHistory rejects: ${bad.name}`, () => {
    assert.throws(
      () => parseHistory(JSON.parse(JSON.stringify(bad.input))),
      (error: unknown) => {
        assert.ok(
          error instanceof HistoryFormatError,
          `not a HistoryFormatError: ${String(error)}`,
        );
        assert.equal(error.code, "INVALID_ARGUMENT");
        assert.equal(error.index, bad.index);
        assert.equal(error.field, bad.field);
        assert.match(error.message, bad.message);
        return true;
      },
    );
  });
}

test("describeHistoryOp names the operation, its outcome and its interval", () => {
  assert.equal(describeHistoryOp(put("c1", "k1", "v1", 0, 10), 3), '#3 c1 put k1 "v1" ok [0, 10]');
  assert.equal(describeHistoryOp(get("c2", "k1", null, 4, 6), 0), "#0 c2 get k1 = null ok [4, 6]");
  assert.equal(
    describeHistoryOp(cas("c3", "k2", null, "a", null, 7, null), 9),
    '#9 c3 cas k2 null→"a" unknown [7, ∞]',
  );
});
