// Streams over HTTP/1.1 as etcd's gateway (grpc-gateway v1) carries them.
//
// Requests of a bidi stream (Watch, LeaseKeepAlive): the body is a sequence of JSON objects,
// concatenated or newline-delimited (grpc-gateway reads it with a json.Decoder); JsonSplitter
// cuts it into objects as bytes arrive, each bounded in size and nesting.
//
// Responses of a streaming RPC (ForwardResponseStream): status 200, chunked, one
// `{"result": {...}}` line per message; an error ends the stream as `{"error": {"grpc_code",
// "http_code", "message", "http_status"}}` with no newline after it, and when it comes before
// any message the HTTP status is the one of its gRPC code. A unary RPC answers once: the
// message, or the error body {"error", "message", "code"} (http-io.ts).
import { type ServerResponse, STATUS_CODES } from "node:http";
import * as grpc from "@grpc/grpc-js";
import type { CallStatus } from "../grpc/wire.js";
import type { CallSink } from "./call.js";
import { errorBody, httpStatusOfGrpc, sendJson } from "./http-io.js";

/** Why a stream's body was refused: the status the stream ends with. */
export type SplitError = CallStatus & { readonly httpStatus: number };

const OPEN = new Set([0x7b, 0x5b]); // { [
const CLOSE = new Set([0x7d, 0x5d]); // } ]
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);

/**
 * Cuts a byte stream into top-level JSON objects (their text, parsed by the caller). Bytes
 * between objects must be whitespace. Structural characters are ASCII, which no byte of a
 * multi-byte UTF-8 sequence equals, so scanning bytes is exact.
 */
export class JsonSplitter {
  private held: Buffer[] = [];
  private heldBytes = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;

  constructor(
    private readonly bytesMax: number,
    private readonly depthMax: number,
  ) {}

  /** Feeds `chunk`; calls `onObject` for each object it completes. Returns an error or undefined. */
  push(chunk: Buffer, onObject: (text: string) => void): SplitError | undefined {
    let start = 0;
    for (let i = 0; i < chunk.length; i += 1) {
      const byte = chunk[i] as number;
      if (this.depth === 0) {
        if (WHITESPACE.has(byte)) {
          start = i + 1;
          continue;
        }
        if (byte !== 0x7b) return malformed("each message of the stream must be a JSON object");
        start = i;
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (byte === BACKSLASH) this.escaped = true;
        else if (byte === QUOTE) this.inString = false;
        continue;
      }
      if (byte === QUOTE) this.inString = true;
      else if (OPEN.has(byte)) {
        this.depth += 1;
        if (this.depth > this.depthMax) return malformed("etcdserver: request nested too deep");
      } else if (CLOSE.has(byte)) {
        this.depth -= 1;
        if (this.depth === 0) {
          const text = this.take(chunk.subarray(start, i + 1));
          if (text === undefined) return this.tooLarge();
          onObject(text);
          start = i + 1;
        }
      }
    }
    if (this.depth > 0 && !this.hold(chunk.subarray(start))) return this.tooLarge();
    return undefined;
  }

  /** Whether the body ended in the middle of an object. */
  get midObject(): boolean {
    return this.depth > 0;
  }

  private hold(part: Buffer): boolean {
    this.heldBytes += part.length;
    if (this.heldBytes > this.bytesMax) return false;
    if (part.length > 0) this.held.push(Buffer.from(part)); // a copy: the chunk is reused
    return true;
  }

  private take(last: Buffer): string | undefined {
    if (!this.hold(last)) return undefined;
    const text = Buffer.concat(this.held).toString("utf8");
    this.held = [];
    this.heldBytes = 0;
    return text;
  }

  private tooLarge(): SplitError {
    return {
      code: grpc.status.INVALID_ARGUMENT,
      details: `etcdserver: request is too large (a message exceeds ${this.bytesMax} bytes)`,
      httpStatus: 413,
    };
  }
}

function malformed(details: string): SplitError {
  return {
    code: grpc.status.INVALID_ARGUMENT,
    details: `malformed JSON body: ${details}`,
    httpStatus: 400,
  };
}

/** grpc-gateway's stream error object (internal.StreamError, jsonpb, zero values left out). */
export function streamErrorOf(status: CallStatus, httpStatus = httpStatusOfGrpc(status.code)) {
  const text = STATUS_CODES[httpStatus];
  return {
    error: {
      ...(status.code !== 0 ? { grpc_code: status.code } : {}),
      http_code: httpStatus,
      ...(status.details !== "" ? { message: status.details } : {}),
      ...(text !== undefined ? { http_status: text } : {}),
    },
  };
}

/** A sink for a unary RPC: one JSON body, the message or the gateway's error. */
export function unarySink(res: ServerResponse, toJson: (message: unknown) => object): CallSink {
  let body: object | undefined;
  return {
    write: (message) => {
      body = toJson(message);
      return true;
    },
    settle: (status) => {
      if (status.code === grpc.status.OK) sendJson(res, 200, body ?? {});
      else sendJson(res, httpStatusOfGrpc(status.code), errorBody(status.code, status.details));
    },
  };
}

/** A sink for a streaming RPC: chunked `{"result": ...}` lines, then an end or an error. */
export function streamSink(res: ServerResponse, toJson: (message: unknown) => object): CallSink {
  const start = (status: number): boolean => {
    if (res.headersSent) return true;
    if (res.destroyed) return false;
    res.writeHead(status, { "content-type": "application/json" });
    res.flushHeaders();
    return true;
  };
  return {
    write: (message) => {
      const line = `${JSON.stringify({ result: toJson(message) })}\n`;
      if (!start(200) || res.writableEnded) return false;
      return res.write(line);
    },
    settle: (status) => {
      if (res.writableEnded || res.destroyed) return;
      if (status.code === grpc.status.OK) {
        if (start(200)) res.end();
        return;
      }
      const httpStatus =
        (status as Partial<SplitError>).httpStatus ?? httpStatusOfGrpc(status.code);
      if (start(httpStatus)) res.end(JSON.stringify(streamErrorOf(status, httpStatus)));
    },
  };
}
