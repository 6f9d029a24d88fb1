// One gateway request for a route of routes.ts: the JSON body becomes the request message the
// gRPC handler would decode (json-codec.ts → proto-loader's encoding → the served method's own
// decoder), the handler runs with a GatewayCall (call.ts), and what it answers goes back as
// etcd's gateway writes it (streams.ts). Unary and server-streaming RPCs read the whole body
// first (bounded); a bidi stream reads it as it comes, one message at a time, while responses
// flow, and stays open until the handler ends it or the client goes away (etcd's Watch keeps
// serving after the request body ends; LeaseKeepAlive answers what it got and ends).
import type { IncomingMessage, ServerResponse } from "node:http";
import * as grpc from "@grpc/grpc-js";
import { serviceDefinition } from "../../api/index.js";
import { credentialsOfHttp } from "../auth-gate.js";
import type { CallObserver, GrpcType } from "../grpc/call.js";
import type { GrpcRoute } from "../grpc/server.js";
import { statusOf } from "../kv-service.js";
import { tlsCommonNameOf } from "../tls-identity.js";
import { type CallSink, GatewayCall } from "./call.js";
import { HttpError, parseJson, readBody } from "./http-io.js";
import { JSON_DEPTH_MAX, messageFromJson, messageToJson } from "./json-codec.js";
import { type GatewayRoute, grpcPathOf } from "./routes.js";
import { JsonSplitter, streamSink, unarySink } from "./streams.js";

export interface RpcContext {
  /** The gRPC server's method at a path (GrpcServer.route). */
  readonly lookup: (grpcPath: string) => GrpcRoute | undefined;
  /** Largest body (unary) or message (bidi stream), in bytes. */
  readonly bodyBytesMax: number;
  /** Hears failures that are the server's fault (a response that does not convert). */
  readonly onInternalError: (path: string, error: unknown) => void;
  /**
   * Hears each call's start and end, as the gRPC server's observer does (etcd's gateway is a
   * gRPC client of its own member, so its calls count in grpc_server_*_total). Must not throw.
   */
  readonly observer?: CallObserver;
}

/** The conversions of one route: JSON → handler request, handler response → JSON. */
interface Codec {
  readonly request: (json: unknown) => unknown;
  readonly response: (message: unknown) => object;
}

function codecOf(route: GatewayRoute, served: GrpcRoute): Codec {
  // proto-loader's definition is the JSON side's codec; the served method's is the handler's.
  const reference = serviceDefinition(route.service)[route.method];
  if (reference === undefined) throw new Error(`gateway: no RPC ${route.service}.${route.method}`);
  return {
    // jsonpb reads a body of `null` as the empty message.
    request: (json) =>
      served.method.requestDeserialize(
        reference.requestSerialize(messageFromJson(route.request, json ?? {})),
      ),
    response: (message) =>
      messageToJson(
        route.response,
        reference.responseDeserialize(served.method.responseSerialize(message)),
      ),
  };
}

/** Serves `req` with the handler behind `route`; resolves once the handler has been started. */
export async function serveRpc(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  route: GatewayRoute,
  context: RpcContext,
): Promise<void> {
  const served = context.lookup(grpcPathOf(route));
  if (served === undefined) {
    throw new HttpError(501, grpc.status.UNIMPLEMENTED, `${path} is not served by this member`);
  }
  const codec = codecOf(route, served);
  const { token } = credentialsOfHttp(req.headers);
  const observed = observe(context.observer, grpcPathOf(route), served);
  const sink = sinkOf(res, served, (message) => {
    try {
      return codec.response(message);
    } catch (e) {
      context.onInternalError(path, e);
      throw e;
    }
  });
  const call = new GatewayCall(
    grpcPathOf(route),
    token,
    tlsCommonNameOf(req),
    {
      write: (message) => sink.write(message),
      settle: (status) => {
        observed.handled(status.code);
        sink.settle(status);
      },
    },
    { pause: () => req.pause(), resume: () => req.resume() },
  );
  call.once("cancelled", () => observed.handled(grpc.status.CANCELLED));
  res.once("close", () => call.closed());
  // A handler whose write() returned false waits for this before it writes again.
  res.on("drain", () => call.emit("drain"));
  if (served.method.requestStream) {
    observed.started();
    runHandler(served, call, context, path);
    pumpBody(req, call, codec, context.bodyBytesMax);
    return;
  }
  const json = parseJson(await readBody(req, context.bodyBytesMax));
  call.request = codec.request(json);
  observed.started();
  runHandler(served, call, context, path);
}

/**
 * Where the call's answers go: one JSON body, or a chunked stream for a streaming RPC. A
 * response that does not convert (a bug) ends the call INTERNAL instead of throwing into the
 * handler's write().
 */
function sinkOf(res: ServerResponse, served: GrpcRoute, toJson: (m: unknown) => object): CallSink {
  const streaming = served.method.responseStream || served.method.requestStream;
  const sink = streaming ? streamSink(res, toJson) : unarySink(res, toJson);
  let broken = false;
  return {
    write: (message) => {
      if (broken) return false;
      try {
        return sink.write(message);
      } catch (e) {
        broken = true;
        sink.settle({ code: grpc.status.INTERNAL, details: `Failed to serialize response: ${e}` });
        return false;
      }
    },
    settle: (status) => {
      if (!broken) sink.settle(status);
    },
  };
}

/**
 * The observer's two reports for one call: start (when the handler runs; a body refused before
 * is no gRPC call, as in etcd, whose gateway decodes before it calls) and end, once.
 */
function observe(observer: CallObserver | undefined, grpcPath: string, served: GrpcRoute) {
  const m = served.method;
  const type: GrpcType = m.requestStream
    ? m.responseStream
      ? "bidi_stream"
      : "client_stream"
    : m.responseStream
      ? "server_stream"
      : "unary";
  let state: "idle" | "started" | "done" = "idle";
  return {
    started: (): void => {
      if (state !== "idle") return;
      state = "started";
      observer?.started(grpcPath, type);
    },
    handled: (code: number): void => {
      if (state !== "started") return;
      state = "done";
      observer?.handled(grpcPath, type, code);
    },
  };
}

function runHandler(served: GrpcRoute, call: GatewayCall, context: RpcContext, path: string) {
  try {
    if (served.method.responseStream || served.method.requestStream) served.handler(call);
    else served.handler(call, call.unaryCallback);
  } catch (e) {
    context.onInternalError(path, e);
    call.abort({ code: grpc.status.INTERNAL, details: `The ${path} handler failed: ${e}` });
  }
}

/** Feeds a bidi stream's body to the call, one JSON object per request message. */
function pumpBody(req: IncomingMessage, call: GatewayCall, codec: Codec, bytesMax: number): void {
  const splitter = new JsonSplitter(bytesMax, JSON_DEPTH_MAX);
  const onObject = (text: string): void => {
    if (call.isSettled) return;
    try {
      call.push(codec.request(JSON.parse(text)));
    } catch (e) {
      const status = e instanceof SyntaxError ? malformedStatus(e) : statusOf(e);
      call.abort({ code: status.code, details: status.details });
    }
  };
  req.on("data", (chunk: Buffer) => {
    if (call.isSettled) return; // read and dropped: the call is over
    const error = splitter.push(chunk, onObject);
    if (error !== undefined) call.abort(error);
  });
  req.once("end", () => {
    if (splitter.midObject) {
      call.abort(malformedStatus(new SyntaxError("the body ended inside a message")));
      return;
    }
    call.halfClose();
  });
}

function malformedStatus(e: SyntaxError): { code: number; details: string } {
  return { code: grpc.status.INVALID_ARGUMENT, details: `malformed JSON body: ${e.message}` };
}
