// For the GrpcServer tests: a test service whose messages are raw bytes (identity
// serialization, so a test controls every byte on the wire), a server serving it on
// 127.0.0.1, and a raw node:http2 client that sends hand-made frames and collects the reply:
// headers, messages, trailers, status. Nothing here waits on time; tests wait on signals.
import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from "node:http2";
import type * as grpc from "@grpc/grpc-js";
import type { ServerCall } from "../../../src/server/grpc/call.js";
import { MessageReader } from "../../../src/server/grpc/framing.js";
import { GrpcServer, type GrpcServerOptions } from "../../../src/server/grpc/server.js";

const identity = (b: Buffer): Buffer => b;

function method(
  name: string,
  requestStream: boolean,
  responseStream: boolean,
): grpc.MethodDefinition<Buffer, Buffer> {
  return {
    path: `/test.Raw/${name}`,
    requestStream,
    responseStream,
    requestSerialize: identity,
    requestDeserialize: (b: Buffer) => Buffer.from(b),
    responseSerialize: identity,
    responseDeserialize: identity,
    originalName: name,
  };
}

/** Unary, server-streaming and bidi methods; tests give the handlers. */
export const RAW_SERVICE: grpc.ServiceDefinition = {
  Unary: method("Unary", false, false),
  ServerStream: method("ServerStream", false, true),
  Bidi: method("Bidi", true, true),
  Missing: method("Missing", false, false),
};

export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

export type Callback = (error: unknown, value?: Buffer, trailer?: grpc.Metadata) => void;
/** A handler as the test writes it: the call is a ServerCall (a grpc-js-compatible call). */
export type RawHandler = (call: ServerCall, callback: Callback) => void;

export interface RawServer {
  readonly server: GrpcServer;
  readonly port: number;
  connect(): ClientHttp2Session;
  close(): Promise<void>;
}

export async function startRawServer(
  handlers: Record<string, RawHandler>,
  options: Partial<GrpcServerOptions> = {},
): Promise<RawServer> {
  const server = new GrpcServer({ receiveMessageBytesMax: 1024, ...options });
  server.addService(RAW_SERVICE, handlers as unknown as grpc.UntypedServiceImplementation);
  const port = await server.listen(0, "127.0.0.1");
  const sessions: ClientHttp2Session[] = [];
  return {
    server,
    port,
    connect: () => {
      const session = connect(`http://127.0.0.1:${port}`);
      session.on("error", () => {});
      sessions.push(session);
      return session;
    },
    close: async () => {
      for (const s of sessions) s.destroy();
      await server.shutdown(1000);
    },
  };
}

export function frame(payload: Buffer | string, flag = 0): Buffer {
  const body = typeof payload === "string" ? Buffer.from(payload) : payload;
  const out = Buffer.alloc(5 + body.length);
  out[0] = flag;
  out.writeUInt32BE(body.length, 1);
  body.copy(out, 5);
  return out;
}

export const GRPC_HEADERS = { "content-type": "application/grpc", te: "trailers" } as const;

export function request(
  session: ClientHttp2Session,
  name: string,
  headers: OutgoingHttpHeaders = {},
): ClientHttp2Stream {
  const stream = session.request({
    ":method": "POST",
    ":path": `/test.Raw/${name}`,
    ...GRPC_HEADERS,
    ...headers,
  });
  stream.on("error", () => {});
  return stream;
}

/** Writes `chunk` and waits until it is handed to the session (one DATA frame per call). */
export function write(stream: ClientHttp2Stream, chunk: Buffer): Promise<void> {
  return new Promise((resolve) => stream.write(chunk, () => setImmediate(resolve)));
}

export interface Reply {
  readonly headers: IncomingHttpHeaders;
  readonly trailers: IncomingHttpHeaders | undefined;
  readonly messages: Buffer[];
  /** grpc-status from the trailers, or from the headers of a trailers-only reply. */
  readonly code: number | undefined;
  readonly details: string | undefined;
  readonly trailersOnly: boolean;
}

/** Everything the server sends on `stream`, once the server has ended it or it closed. */
export function reply(stream: ClientHttp2Stream): Promise<Reply> {
  return new Promise((resolve) => {
    let headers: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders | undefined;
    const messages: Buffer[] = [];
    const reader = new MessageReader(64 * 1024 * 1024);
    stream.on("response", (h) => {
      headers = h;
    });
    stream.on("trailers", (t) => {
      trailers = t;
    });
    stream.on("data", (chunk: Buffer) => {
      reader.push(chunk, (m) => messages.push(Buffer.from(m)));
    });
    // The reply is complete when the server ends its side (the client may still be open).
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      const source = trailers ?? headers;
      const code = source["grpc-status"];
      const details = source["grpc-message"];
      resolve({
        headers,
        trailers,
        messages,
        code: code === undefined ? undefined : Number(code),
        details: typeof details === "string" ? decodeURIComponent(details) : undefined,
        trailersOnly: trailers === undefined && headers["grpc-status"] !== undefined,
      });
    };
    stream.on("end", finish);
    stream.on("close", finish);
  });
}
