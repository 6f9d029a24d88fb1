// The HTTP side every gateway route shares: reading a bounded body, parsing it, answering with
// JSON, and the errors as etcd's gateway (grpc-gateway v1) renders them — HTTP status from the
// gRPC code (HTTPStatusFromCode), body {"error", "message", "code"}.
import type { IncomingMessage, ServerResponse } from "node:http";
import * as grpc from "@grpc/grpc-js";

/** grpc-gateway's HTTPStatusFromCode. */
export function httpStatusOfGrpc(code: number): number {
  switch (code) {
    case grpc.status.OK:
      return 200;
    case grpc.status.CANCELLED:
      return 499;
    case grpc.status.INVALID_ARGUMENT:
    case grpc.status.FAILED_PRECONDITION:
    case grpc.status.OUT_OF_RANGE:
      return 400;
    case grpc.status.DEADLINE_EXCEEDED:
      return 504;
    case grpc.status.NOT_FOUND:
      return 404;
    case grpc.status.ALREADY_EXISTS:
    case grpc.status.ABORTED:
      return 409;
    case grpc.status.PERMISSION_DENIED:
      return 403;
    case grpc.status.UNAUTHENTICATED:
      return 401;
    case grpc.status.RESOURCE_EXHAUSTED:
      return 429;
    case grpc.status.UNIMPLEMENTED:
      return 501;
    case grpc.status.UNAVAILABLE:
      return 503;
    default:
      return 500;
  }
}

/** An error with the HTTP status and gateway body it ends as. */
export class HttpError extends Error {
  override readonly name = "HttpError";
  constructor(
    readonly httpStatus: number,
    readonly grpcCode: number,
    message: string,
  ) {
    super(message);
  }
}

export function errorBody(grpcCode: number, message: string): object {
  return { error: message, message, code: grpcCode };
}

/** The 413 for a body (or, on a stream, one message) over `max` bytes. */
export function bodyTooLarge(max: number): HttpError {
  return new HttpError(
    413,
    grpc.status.INVALID_ARGUMENT,
    `etcdserver: request is too large (the body exceeds ${max} bytes)`,
  );
}

/** Reads the whole body, refusing (413) one larger than `max` bytes. */
export function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const declared = Number(req.headers["content-length"]);
    const tooLarge = (): HttpError => bodyTooLarge(max);
    if (Number.isFinite(declared) && declared > max) {
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (chunk: Buffer) => {
      if (over) return; // drained, not kept
      size += chunk.length;
      if (size > max) {
        over = true;
        chunks.length = 0;
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.once("end", () => resolve(Buffer.concat(chunks)));
    req.once("error", reject);
    req.once("close", () => reject(new Error("the request was closed before its body ended")));
  });
}

export function parseJson(body: Buffer): unknown {
  if (body.length === 0) return {};
  try {
    return JSON.parse(body.toString("utf8"));
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    throw new HttpError(400, grpc.status.INVALID_ARGUMENT, `malformed JSON body: ${detail}`);
  }
}

export function send(res: ServerResponse, status: number, body: string, contentType: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {
    "content-type": contentType,
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, `${JSON.stringify(body)}\n`, "application/json");
}
