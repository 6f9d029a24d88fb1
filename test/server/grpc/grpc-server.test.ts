// GrpcServer's protocol handling, driven byte by byte from a raw node:http2 client on
// 127.0.0.1: framing across and within DATA frames, limits, compression, unknown methods and
// content types, deadlines, cancellation, metadata, trailers-only errors, backpressure, bytes
// that are not HTTP/2, connections handed over with sniffed bytes, and graceful shutdown. The
// services' end-to-end behaviour with real clients (grpc-js, etcdctl, etcd3) is tested through
// the harnesses in test/server and test/client, which serve through this server too.
import assert from "node:assert/strict";
import { constants } from "node:http2";
import { createServer as createTcpServer, connect as tcpConnect } from "node:net";
import { afterEach, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { HTTP2_CLIENT_PREFACE } from "../../../src/server/client-listener.js";
import type { ServerCall } from "../../../src/server/grpc/call.js";
import {
  type Callback,
  deferred,
  frame,
  GRPC_HEADERS,
  type RawHandler,
  type RawServer,
  reply,
  request,
  startRawServer,
  write,
} from "./raw-harness.js";

const echoUnary = (call: ServerCall, callback: Callback): void => {
  callback(null, Buffer.concat([Buffer.from("echo:"), call.request as Buffer]));
};

let served: RawServer | undefined;
afterEach(async () => {
  await served?.close();
  served = undefined;
});

async function serve(
  handlers: Record<string, RawHandler>,
  options: Parameters<typeof startRawServer>[1] = {},
): Promise<RawServer> {
  served = await startRawServer(handlers, options);
  return served;
}

describe("GrpcServer framing", { timeout: 10_000 }, () => {
  it("reassembles a message split across several DATA frames", async () => {
    const s = await serve({ Unary: echoUnary });
    const stream = request(s.connect(), "Unary");
    const answer = reply(stream);
    const bytes = frame("hello, split world");
    // The prefix itself split, then the body in pieces: five DATA frames.
    for (const [from, to] of [
      [0, 2],
      [2, 5],
      [5, 9],
      [9, 15],
      [15, bytes.length],
    ] as const) {
      await write(stream, bytes.subarray(from, to));
    }
    stream.end();
    const r = await answer;
    assert.equal(r.code, grpc.status.OK);
    assert.equal(r.headers[":status"], 200);
    assert.equal(r.headers["content-type"], "application/grpc+proto");
    assert.deepEqual(
      r.messages.map((m) => m.toString()),
      ["echo:hello, split world"],
    );
  });

  it("delivers several messages sent in one DATA frame, in order, on a bidi stream", async () => {
    const s = await serve({
      Bidi: (call: ServerCall) => {
        call.on("data", (m: Buffer) => call.write(Buffer.from(`got:${m.toString()}`)));
        call.on("end", () => call.end());
      },
    });
    const stream = request(s.connect(), "Bidi");
    const answer = reply(stream);
    await write(stream, Buffer.concat([frame("a"), frame(""), frame("ccc")]));
    stream.end();
    const r = await answer;
    assert.equal(r.code, grpc.status.OK);
    assert.equal(r.trailersOnly, false);
    assert.deepEqual(
      r.messages.map((m) => m.toString()),
      ["got:a", "got:", "got:ccc"],
    );
  });

  it("refuses an oversized message from its prefix alone: RESOURCE_EXHAUSTED", async () => {
    let handled = false;
    const s = await serve(
      {
        Unary: (_call: ServerCall, cb: Callback) => {
          handled = true;
          cb(null, Buffer.alloc(0));
        },
      },
      { receiveMessageBytesMax: 1024 },
    );
    const stream = request(s.connect(), "Unary");
    const answer = reply(stream);
    // Announce 10 MB, send 10 bytes, never end: the answer cannot wait for the body.
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(10 * 1024 * 1024, 1);
    await write(stream, Buffer.concat([prefix, Buffer.alloc(10)]));
    const r = await answer;
    assert.equal(r.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.match(r.details ?? "", /larger than max \(10485760 vs\. 1024\)/);
    assert.equal(handled, false);
  });

  it("accepts a message of exactly the limit", async () => {
    const s = await serve({ Unary: echoUnary }, { receiveMessageBytesMax: 1024 });
    const stream = request(s.connect(), "Unary");
    const answer = reply(stream);
    stream.end(frame(Buffer.alloc(1024, 7)));
    const r = await answer;
    assert.equal(r.code, grpc.status.OK);
    assert.equal(r.messages[0]?.length, 5 + 1024);
  });

  it("answers a compressed message INTERNAL and advertises identity only", async () => {
    const s = await serve({ Unary: echoUnary });
    const stream = request(s.connect(), "Unary");
    const answer = reply(stream);
    stream.end(frame("zz", 1));
    const r = await answer;
    assert.equal(r.code, grpc.status.INTERNAL);
    assert.match(r.details ?? "", /compressed message.*no compression/);
    assert.equal(r.headers["grpc-accept-encoding"], "identity");
  });

  it("answers a grpc-encoding it does not support UNIMPLEMENTED", async () => {
    const s = await serve({ Unary: echoUnary });
    const stream = request(s.connect(), "Unary", { "grpc-encoding": "gzip" });
    const answer = reply(stream);
    stream.end(frame("x", 1));
    const r = await answer;
    assert.equal(r.code, grpc.status.UNIMPLEMENTED);
    assert.match(r.details ?? "", /gzip.*not supported/);
  });

  it("a unary call needs exactly one request message", async () => {
    const s = await serve({ Unary: echoUnary });
    const session = s.connect();
    const none = request(session, "Unary");
    const noneReply = reply(none);
    none.end();
    const two = request(session, "Unary");
    const twoReply = reply(two);
    two.end(Buffer.concat([frame("1"), frame("2")]));
    const cut = request(session, "Unary");
    const cutReply = reply(cut);
    cut.end(frame("whole").subarray(0, 7));
    assert.equal((await noneReply).code, grpc.status.UNIMPLEMENTED);
    assert.match((await noneReply).details ?? "", /no request message/);
    assert.equal((await twoReply).code, grpc.status.UNIMPLEMENTED);
    assert.match((await twoReply).details ?? "", /second request message/);
    assert.equal((await cutReply).code, grpc.status.INTERNAL);
  });
});

describe("GrpcServer routing and status", { timeout: 10_000 }, () => {
  it("answers an unknown method UNIMPLEMENTED, trailers-only", async () => {
    const s = await serve({ Unary: echoUnary });
    const session = s.connect();
    const stream = session.request({
      ":method": "POST",
      ":path": "/no.Such/Method",
      ...GRPC_HEADERS,
    });
    stream.on("error", () => {});
    const answer = reply(stream);
    stream.end(frame("x"));
    const r = await answer;
    assert.equal(r.code, grpc.status.UNIMPLEMENTED);
    assert.equal(r.trailersOnly, true);
    assert.match(r.details ?? "", /\/no\.Such\/Method/);
    // A method in the definition without a handler is UNIMPLEMENTED too.
    const missing = request(session, "Missing");
    const missingReply = reply(missing);
    missing.end(frame("x"));
    assert.equal((await missingReply).code, grpc.status.UNIMPLEMENTED);
  });

  it("answers a content type other than application/grpc with HTTP 415", async () => {
    const s = await serve({ Unary: echoUnary });
    const stream = s.connect().request({
      ":method": "POST",
      ":path": "/test.Raw/Unary",
      "content-type": "application/json",
    });
    stream.on("error", () => {});
    const answer = reply(stream);
    stream.end("{}");
    const r = await answer;
    assert.equal(r.headers[":status"], 415);
  });

  it("sends an immediate error trailers-only, grpc-message percent-encoded", async () => {
    const s = await serve({
      Unary: (_call: ServerCall, cb: Callback) =>
        cb({ code: grpc.status.NOT_FOUND, details: "no such key: ü 100%\n" }),
    });
    const stream = request(s.connect(), "Unary");
    const answer = reply(stream);
    stream.end(frame("k"));
    const r = await answer;
    assert.equal(r.trailersOnly, true);
    assert.equal(r.messages.length, 0);
    assert.equal(r.code, grpc.status.NOT_FOUND);
    assert.equal(r.headers["grpc-message"], "no such key: %C3%BC 100%25%0A");
    assert.equal(r.details, "no such key: ü 100%\n");
  });

  it("a handler that throws ends its call INTERNAL and the server keeps serving", async () => {
    const errors: string[] = [];
    const s = await serve(
      {
        Unary: () => {
          throw new Error("boom");
        },
        Bidi: () => {
          throw new Error("bidi boom");
        },
      },
      { onError: (what) => errors.push(what) },
    );
    const session = s.connect();
    const unary = request(session, "Unary");
    const unaryReply = reply(unary);
    unary.end(frame("x"));
    const bidi = request(session, "Bidi");
    const bidiReply = reply(bidi);
    bidi.end();
    assert.equal((await unaryReply).code, grpc.status.INTERNAL);
    assert.match((await unaryReply).details ?? "", /boom/);
    assert.equal((await bidiReply).code, grpc.status.INTERNAL);
    assert.equal(errors.length, 2);
  });

  it("round-trips metadata: text and -bin headers in, response and trailing metadata out", async () => {
    const seen = deferred<grpc.Metadata>();
    const s = await serve({
      Unary: (call: ServerCall, cb: Callback) => {
        seen.resolve(call.metadata);
        const head = new grpc.Metadata();
        head.set("x-head", call.metadata.get("x-text")[0] as string);
        call.sendMetadata(head);
        const trailer = new grpc.Metadata();
        trailer.set("x-tail-bin", call.metadata.get("x-data-bin")[0] as Buffer);
        cb(null, Buffer.from("ok"), trailer);
      },
    });
    const stream = request(s.connect(), "Unary", {
      "x-text": "hello",
      "x-data-bin": Buffer.from([0, 1, 2, 255]).toString("base64"),
      "grpc-timeout": "10S",
    });
    const answer = reply(stream);
    stream.end(frame("m"));
    const r = await answer;
    const metadata = await seen.promise;
    assert.deepEqual(metadata.get("x-text"), ["hello"]);
    assert.deepEqual(metadata.get("x-data-bin"), [Buffer.from([0, 1, 2, 255])]);
    // Transport headers are not metadata.
    assert.deepEqual(metadata.get("grpc-timeout"), []);
    assert.deepEqual(metadata.get("content-type"), []);
    assert.equal(r.code, grpc.status.OK);
    assert.equal(r.headers["x-head"], "hello");
    assert.equal(r.trailers?.["x-tail-bin"], Buffer.from([0, 1, 2, 255]).toString("base64"));
  });
});

describe("GrpcServer deadlines and cancellation", { timeout: 10_000 }, () => {
  it("a grpc-timeout that expires answers DEADLINE_EXCEEDED and cancels the call", async () => {
    const cancelled = deferred<boolean>();
    const s = await serve({
      Unary: (call: ServerCall, cb: Callback) => {
        call.on("cancelled", () => {
          cancelled.resolve(call.cancelled);
          cb(null, Buffer.from("too late")); // ignored: the call is over
        });
      },
    });
    const stream = request(s.connect(), "Unary", { "grpc-timeout": "50m" });
    const answer = reply(stream);
    stream.end(frame("x"));
    const r = await answer;
    assert.equal(r.code, grpc.status.DEADLINE_EXCEEDED);
    assert.equal(r.messages.length, 0);
    assert.equal(await cancelled.promise, true);
  });

  it("a malformed grpc-timeout is refused INTERNAL", async () => {
    const s = await serve({ Unary: echoUnary });
    const stream = request(s.connect(), "Unary", { "grpc-timeout": "soon" });
    const answer = reply(stream);
    stream.end(frame("x"));
    const r = await answer;
    assert.equal(r.code, grpc.status.INTERNAL);
    assert.match(r.details ?? "", /grpc-timeout/);
  });

  it("a client's RST_STREAM cancels the call: 'cancelled', and writes fail after", async () => {
    const started = deferred();
    const cancelled = deferred<boolean>();
    const s = await serve({
      Bidi: (call: ServerCall) => {
        call.on("data", () => started.resolve());
        call.on("cancelled", () => cancelled.resolve(call.write(Buffer.from("after"))));
      },
    });
    const stream = request(s.connect(), "Bidi");
    await write(stream, frame("hi"));
    await started.promise;
    stream.close(constants.NGHTTP2_CANCEL);
    assert.equal(await cancelled.promise, false, "write after cancel returns false");
  });

  it("a server-streaming handler respects backpressure (write false, then 'drain')", async () => {
    const result = deferred<{ blockedAfter: number }>();
    const chunk = Buffer.alloc(16 * 1024, 1);
    const s = await serve({
      ServerStream: (call: ServerCall) => {
        let sent = 0;
        // Bounded: at most 200 messages before the buffer must say stop.
        while (sent < 200) {
          sent += 1;
          if (!call.write(chunk)) break;
        }
        result.resolve({ blockedAfter: sent });
        call.once("drain", () => call.end());
      },
    });
    const stream = request(s.connect(), "ServerStream");
    stream.pause(); // not reading: flow control stops the server
    const answer = reply(stream);
    stream.end(frame("go"));
    const { blockedAfter } = await result.promise;
    assert.ok(blockedAfter < 200, `write() never returned false (${blockedAfter} writes)`);
    stream.resume();
    const r = await answer;
    assert.equal(r.code, grpc.status.OK);
    assert.equal(r.messages.length, blockedAfter);
  });

  it("a paused bidi call holds its messages until resumed, then 'end'", async () => {
    const got: string[] = [];
    const heldWhilePaused = deferred<number>();
    const ended = deferred<string[]>();
    let bidi: ServerCall | undefined;
    const s = await serve({
      Bidi: (call: ServerCall) => {
        bidi = call;
        call.pause();
        call.on("data", (m: Buffer) => got.push(m.toString()));
        call.on("end", () => {
          ended.resolve([...got]);
          call.end();
        });
      },
      // Frames are read in order: when this call runs, the bidi call's messages and its
      // half-close have all arrived.
      Unary: (call: ServerCall, cb: Callback) => {
        heldWhilePaused.resolve(got.length);
        bidi?.resume();
        cb(null, call.request as Buffer);
      },
    });
    const session = s.connect();
    const stream = request(session, "Bidi");
    const answer = reply(stream);
    await new Promise<void>((r) =>
      stream.end(Buffer.concat([frame("1"), frame("2"), frame("3")]), () => r()),
    );
    const unary = request(session, "Unary");
    const unaryReply = reply(unary);
    unary.end(frame("resume"));
    assert.equal(await heldWhilePaused.promise, 0, "no message delivered while paused");
    assert.deepEqual(await ended.promise, ["1", "2", "3"]);
    assert.equal((await answer).code, grpc.status.OK);
    assert.equal((await unaryReply).code, grpc.status.OK);
  });
});

describe("GrpcServer connections", { timeout: 10_000 }, () => {
  it("garbage after the preface closes that connection; the server keeps serving", async () => {
    const s = await serve({ Unary: echoUnary });
    await new Promise<void>((resolve) => {
      const socket = tcpConnect(s.port, "127.0.0.1");
      socket.on("error", () => {});
      socket.on("close", () => resolve());
      socket.on("connect", () =>
        socket.write(Buffer.concat([HTTP2_CLIENT_PREFACE, Buffer.alloc(64, 0xff)])),
      );
      socket.resume();
    });
    const stream = request(s.connect(), "Unary");
    const answer = reply(stream);
    stream.end(frame("still here"));
    assert.equal((await answer).code, grpc.status.OK);
  });

  it("serves a connection handed over with its sniffed bytes (acceptConnection)", async () => {
    const s = await serve({ Unary: echoUnary });
    // A stand-in for the ClientListener: reads the first bytes, then hands the socket over.
    const front = createTcpServer((socket) => {
      socket.once("data", (head: Buffer) => {
        socket.pause();
        s.server.acceptConnection(socket, head);
      });
    });
    await new Promise<void>((r) => front.listen(0, "127.0.0.1", r));
    try {
      const port = (front.address() as { port: number }).port;
      const { connect } = await import("node:http2");
      const session = connect(`http://127.0.0.1:${port}`);
      session.on("error", () => {});
      try {
        const stream = request(session, "Unary");
        const answer = reply(stream);
        stream.end(frame("via hand-over"));
        const r = await answer;
        assert.equal(r.code, grpc.status.OK);
        assert.equal(r.messages[0]?.toString(), "echo:via hand-over");
      } finally {
        session.destroy();
      }
    } finally {
      await new Promise<void>((r) => front.close(() => r()));
    }
  });

  it("serves clients that send a URL as :authority (etcdctl 3.4): many calls, headers over a frame", async () => {
    const s = await serve({ Unary: echoUnary });
    const front = createTcpServer((socket) => {
      socket.once("data", (head: Buffer) => {
        socket.pause();
        s.server.acceptConnection(socket, head);
      });
    });
    await new Promise<void>((r) => front.listen(0, "127.0.0.1", r));
    try {
      const port = (front.address() as { port: number }).port;
      const { connect } = await import("node:http2");
      const session = connect(`http://127.0.0.1:${port}`);
      session.on("error", () => {});
      try {
        const authority = { ":authority": `http://127.0.0.1:${port}` };
        // Distinct indexed headers churn the client's HPACK table (evicting :authority, sent
        // again as a literal); the shim must decode every block in order.
        for (let i = 0; i < 200; i++) {
          const stream = request(session, "Unary", { ...authority, "x-n": `${i}`.repeat(20) });
          const answer = reply(stream);
          stream.end(frame(`call ${i}`));
          const r = await answer;
          assert.equal(r.code, grpc.status.OK, `call ${i}: ${r.details}`);
          assert.equal(r.messages[0]?.toString(), `echo:call ${i}`);
        }
        // A header block larger than one frame: HEADERS + CONTINUATION in, and out again.
        const stream = request(session, "Unary", { ...authority, "x-big": "b".repeat(30_000) });
        const answer = reply(stream);
        stream.end(frame("big"));
        const r = await answer;
        assert.equal(r.code, grpc.status.OK, r.details);
        assert.equal(r.messages[0]?.toString(), "echo:big");
      } finally {
        session.destroy();
      }
    } finally {
      await new Promise<void>((r) => front.close(() => r()));
    }
  });

  it("shutdown waits for an in-flight unary call, then refuses new connections", async () => {
    const started = deferred();
    const release = deferred();
    const s = await serve({
      Unary: (call: ServerCall, cb: Callback) => {
        started.resolve();
        void release.promise.then(() => cb(null, call.request as Buffer));
      },
    });
    const stream = request(s.connect(), "Unary");
    const answer = reply(stream);
    stream.end(frame("in flight"));
    await started.promise;
    let shutDown = false;
    const shutdown = s.server.shutdown(10_000).then(() => {
      shutDown = true;
    });
    // The call is still open: shutdown has not finished, whatever the scheduling.
    await new Promise((r) => setImmediate(r));
    assert.equal(shutDown, false);
    release.resolve();
    const r = await answer;
    assert.equal(r.code, grpc.status.OK);
    assert.equal(r.messages[0]?.toString(), "in flight");
    await shutdown;
    assert.equal(s.server.sessionCount, 0);
    await new Promise<void>((resolve) => {
      const socket = tcpConnect(s.port, "127.0.0.1");
      socket.on("error", () => resolve());
      socket.on("close", () => resolve());
    });
  });

  it("shutdown's grace is bounded: a call that never ends is cancelled", async () => {
    const started = deferred();
    const cancelled = deferred();
    const s = await serve({
      Bidi: (call: ServerCall) => {
        call.on("data", () => started.resolve());
        call.on("cancelled", () => cancelled.resolve());
      },
    });
    const stream = request(s.connect(), "Bidi");
    await write(stream, frame("x"));
    await started.promise;
    await s.server.shutdown(50);
    await cancelled.promise;
    assert.equal(s.server.sessionCount, 0);
  });
});
