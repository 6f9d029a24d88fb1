// The pure pieces of the gRPC server: message framing (MessageReader over arbitrary chunk
// boundaries, limits, flags) and the header rules (grpc-timeout, grpc-message encoding, the
// status a handler's error becomes).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { frameMessage, MessageReader } from "../../../src/server/grpc/framing.js";
import {
  parseGrpcTimeout,
  percentEncode,
  statusOfHandlerError,
} from "../../../src/server/grpc/wire.js";

function readAll(reader: MessageReader, chunks: Buffer[]): string[] {
  const out: string[] = [];
  for (const chunk of chunks) {
    const error = reader.push(chunk, (m) => out.push(m.toString()));
    assert.equal(error, undefined);
  }
  return out;
}

describe("MessageReader", () => {
  const stream = Buffer.concat(
    ["one", "", "three".repeat(100)].map((t) => frameMessage(Buffer.from(t))),
  );
  const expected = ["one", "", "three".repeat(100)];

  it("reads messages whatever the chunk boundaries: whole, byte by byte, every split", () => {
    assert.deepEqual(readAll(new MessageReader(1024), [stream]), expected);
    const bytes = [...stream].map((b) => Buffer.from([b]));
    assert.deepEqual(readAll(new MessageReader(1024), bytes), expected);
    for (let at = 0; at <= stream.length; at += 7) {
      const reader = new MessageReader(1024);
      assert.deepEqual(readAll(reader, [stream.subarray(0, at), stream.subarray(at)]), expected);
      assert.equal(reader.midMessage, false);
    }
  });

  it("knows when a message is cut short", () => {
    const reader = new MessageReader(1024);
    readAll(reader, [stream.subarray(0, 3)]);
    assert.equal(reader.midMessage, true);
  });

  it("refuses a length over the limit from the prefix, and a set or unknown flag", () => {
    const prefix = Buffer.from([0, 0, 0, 4, 1]); // 1025 bytes announced
    assert.deepEqual(
      new MessageReader(1024).push(prefix, () => assert.fail()),
      {
        kind: "too-large",
        length: 1025,
        limit: 1024,
      },
    );
    assert.deepEqual(
      new MessageReader(1024).push(Buffer.from([1, 0, 0, 0, 0]), () => {}),
      {
        kind: "compressed",
      },
    );
    assert.deepEqual(
      new MessageReader(1024).push(Buffer.from([2, 0, 0, 0, 0]), () => {}),
      {
        kind: "bad-flag",
        flag: 2,
      },
    );
  });
});

describe("gRPC header rules", () => {
  it("parses grpc-timeout in every unit and refuses malformed values", () => {
    assert.equal(parseGrpcTimeout("1H"), 3_600_000);
    assert.equal(parseGrpcTimeout("2M"), 120_000);
    assert.equal(parseGrpcTimeout("3S"), 3_000);
    assert.equal(parseGrpcTimeout("40m"), 40);
    assert.equal(parseGrpcTimeout("5000u"), 5);
    assert.equal(parseGrpcTimeout("7000000n"), 7);
    assert.equal(parseGrpcTimeout("99999999S"), 99_999_999_000);
    for (const bad of ["", "S", "1", "1s", "123456789S", "-1S", "1.5S", "1 S x"])
      assert.equal(parseGrpcTimeout(bad), undefined, bad);
  });

  it("percent-encodes grpc-message as the spec says", () => {
    assert.equal(percentEncode("plain text"), "plain text");
    assert.equal(percentEncode("100%"), "100%25");
    assert.equal(percentEncode("é\n"), "%C3%A9%0A");
  });

  it("reads a handler's error as grpc-js does", () => {
    assert.deepEqual(statusOfHandlerError({ code: 5, details: "gone" }), {
      code: grpc.status.NOT_FOUND,
      details: "gone",
      metadata: undefined,
    });
    const plain = statusOfHandlerError(new Error("broken"));
    assert.equal(plain.code, grpc.status.UNKNOWN);
    assert.equal(plain.details, "broken");
    assert.equal(statusOfHandlerError({ code: 99 }).code, grpc.status.UNKNOWN);
  });
});
