// GrpcServer: the member's gRPC server, written on node:http2 in place of @grpc/grpc-js's
// server. Profiling showed grpc-js's serving layer at ≈170-190 µs of CPU per request against
// ≈75-93 µs for a plain node:http2 handler; this keeps the plain handler's cost and adds only
// what gRPC needs (call.ts, framing.ts, wire.ts). It takes grpc-js's ServiceDefinition and
// handlers as they are (addService), so the services and every client stay unchanged.
//
// Connections come in two ways: handed over already accepted (acceptConnection, from the
// ClientListener that sniffed the HTTP/2 preface on the public client port; no second socket,
// no copy), or through listen() on a port of its own (tests, benchmarks). Prior-knowledge h2c
// only, as etcd's client port without TLS.
//
// Routing, per stream: a content-type other than application/grpc* gets HTTP 415; an unknown
// path gets UNIMPLEMENTED; a grpc-encoding other than identity gets UNIMPLEMENTED (no
// compression here; responses advertise grpc-accept-encoding: identity). Settings allow
// etcd's effectively unbounded concurrent streams, and session memory is not capped by node
// (as grpc-js does: node's accounting refuses busy sessions with ENHANCE_YOUR_CALM long before
// memory is a concern). Keepalive: node answers pings; the server pings idle-looking sessions
// every keepaliveIntervalMs and drops one that does not answer within keepaliveTimeoutMs.
//
// Nothing a peer sends can throw out of here: every session and stream has an error listener
// before anything else, and a handler that throws ends its call INTERNAL. shutdown(): stop
// accepting, GOAWAY every session and let its calls finish, bounded by a grace period, then
// destroy what is left.
import {
  constants,
  createServer,
  type Http2Server,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from "node:http2";
import type { Socket } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { openH2c } from "./authority.js";
import { type CallLimits, type CallObserver, ServerCall } from "./call.js";
import { trailersOnlyOf } from "./wire.js";

export interface GrpcServerOptions {
  /** Largest request message in bytes (etcd: --max-request-bytes plus 512 KiB overhead). */
  readonly receiveMessageBytesMax: number;
  /** Server-sent keepalive pings: interval (default 2 h, etcd's) and ack timeout (20 s). */
  readonly keepaliveIntervalMs?: number;
  readonly keepaliveTimeoutMs?: number;
  /** Hears failures on the server's side (a handler that throws, a broken session). */
  readonly onError?: (what: string, error: unknown) => void;
  /** Hears each call's start and end (grpc_server_started_total / handled_total). */
  readonly observer?: CallObserver;
}

/** A served method: its definition (codecs, streaming kinds) and the handler behind it. */
export interface GrpcRoute {
  // biome-ignore lint/suspicious/noExplicitAny: as grpc-js's MethodDefinition.
  readonly method: grpc.MethodDefinition<any, any>;
  // biome-ignore lint/suspicious/noExplicitAny: as grpc-js's UntypedHandleCall.
  readonly handler: (call: any, callback?: any) => void;
}

/** HTTP/2's largest SETTINGS_MAX_CONCURRENT_STREAMS (etcd sets math.MaxUint32). */
const MAX_CONCURRENT_STREAMS = 2 ** 32 - 1;
/** The HTTP/2 client preface's length (RFC 9113 §3.4). */
const HTTP2_PREFACE_BYTES = 24;
const DEFAULT_KEEPALIVE_INTERVAL_MS = 2 * 60 * 60 * 1000;
const DEFAULT_KEEPALIVE_TIMEOUT_MS = 20_000;

export class GrpcServer {
  private readonly http2: Http2Server;
  private readonly routes = new Map<string, GrpcRoute>();
  private readonly sessions = new Set<ServerHttp2Session>();
  /** Connections still in their pre-session (authority.ts openH2c). */
  private readonly opening = new Set<Socket>();
  private readonly limits: CallLimits;
  private listening = false;
  private stopping = false;

  constructor(private readonly options: GrpcServerOptions) {
    const onError = options.onError ?? (() => {});
    this.limits = {
      receiveMessageBytesMax: options.receiveMessageBytesMax,
      ...(options.observer !== undefined ? { observer: options.observer } : {}),
      onError: (what, error) => {
        try {
          onError(what, error);
        } catch {
          // A logger's failure is not the call's.
        }
      },
    };
    this.http2 = createServer({
      settings: { maxConcurrentStreams: MAX_CONCURRENT_STREAMS },
      maxSessionMemory: Number.MAX_SAFE_INTEGER,
      maxSendHeaderBlockLength: Number.MAX_SAFE_INTEGER,
    });
    this.http2.on("session", (session) => this.onSession(session));
    this.http2.on("stream", (stream, headers) => this.onStream(stream, headers));
    // Errors of one session or socket; the session's own listener already closed it.
    this.http2.on("sessionError", () => {});
    this.http2.on("error", (error) => this.limits.onError("gRPC server", error));
  }

  /** Serves `definition`'s methods with `handlers` (by name, else the proto's original name). */
  addService(
    definition: grpc.ServiceDefinition,
    handlers: grpc.UntypedServiceImplementation,
  ): void {
    for (const [name, method] of Object.entries(definition)) {
      const impl = (handlers[name] ?? handlers[method.originalName ?? ""]) as
        | GrpcRoute["handler"]
        | undefined;
      if (this.routes.has(method.path)) throw new Error(`gRPC method ${method.path} added twice`);
      this.routes.set(method.path, {
        method,
        handler: impl ?? unimplemented(method.path, method.responseStream),
      });
    }
  }

  /**
   * The method served at `path` ("/etcdserverpb.Lease/LeaseGrant"), for the JSON gateway,
   * which calls the very handlers (auth checks included) that gRPC calls reach.
   */
  method(path: string): GrpcRoute | undefined {
    return this.routes.get(path);
  }

  /**
   * Serves a connection accepted elsewhere; `head` is what was already read from it (the
   * HTTP/2 preface the ClientListener sniffed), put back in front before HTTP/2 reads.
   */
  acceptConnection(socket: Socket, head?: Buffer): void {
    socket.on("error", () => socket.destroy());
    if (this.stopping) {
      socket.destroy();
      return;
    }
    if (head === undefined || head.length < HTTP2_PREFACE_BYTES) {
      this.serveNative(socket, head);
      return;
    }
    // The client's first header block tells whether nghttp2 can serve it as it is
    // (authority.ts: a URL as :authority, as etcdctl 3.4 sends, needs a rewrite).
    this.opening.add(socket);
    socket.once("close", () => this.opening.delete(socket));
    openH2c(socket, head, {
      native: (s, held) => {
        this.opening.delete(socket);
        this.serveNative(s, held);
      },
      shimmed: (shim) => {
        this.opening.delete(socket);
        shim.on("error", () => shim.destroy());
        if (this.stopping) shim.destroy();
        else this.http2.emit("connection", shim);
      },
    });
  }

  private serveNative(socket: Socket, head: Buffer | undefined): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    // The session reads the socket's handle directly; what is in the socket's own buffer (the
    // unshifted head) it takes on the next tick, provided nobody resumes the socket first.
    if (head !== undefined && head.length > 0) socket.unshift(head);
    this.http2.emit("connection", socket);
  }

  /** Listens on a port of its own (0 picks one); resolves with the port. */
  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.http2.once("error", reject);
      this.http2.listen(port, host, () => {
        this.http2.off("error", reject);
        this.listening = true;
        const address = this.http2.address();
        if (address === null || typeof address === "string") {
          reject(new Error("gRPC server: no TCP address"));
          return;
        }
        resolve(address.port);
      });
    });
  }

  /** Open HTTP/2 sessions (client connections), for tests. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /**
   * Stops accepting, sends GOAWAY on every session and waits for their calls to finish, at
   * most graceMs; then destroys the sessions left. Idempotent.
   */
  async shutdown(graceMs: number): Promise<void> {
    this.stopping = true;
    const closed = this.listening
      ? new Promise<void>((resolve) => this.http2.close(() => resolve()))
      : Promise.resolve();
    const drained = [...this.sessions].map(
      (session) =>
        new Promise<void>((resolve) => {
          if (session.destroyed) return resolve();
          session.once("close", () => resolve());
          session.close();
        }),
    );
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([Promise.all(drained), graceOver]);
    clearTimeout(timer);
    this.forceShutdown();
    await closed;
  }

  /** Destroys every session at once: their calls are cancelled. */
  forceShutdown(): void {
    this.stopping = true;
    for (const session of this.sessions) session.destroy();
    this.sessions.clear();
    for (const socket of this.opening) socket.destroy();
    this.opening.clear();
    if (this.listening) this.http2.close();
  }

  private onSession(session: ServerHttp2Session): void {
    session.on("error", (error) => {
      this.limits.onError("gRPC session", error);
      session.destroy();
    });
    if (this.stopping) {
      session.destroy();
      return;
    }
    this.sessions.add(session);
    const interval = this.options.keepaliveIntervalMs ?? DEFAULT_KEEPALIVE_INTERVAL_MS;
    const timeout = this.options.keepaliveTimeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS;
    const keepalive = setInterval(() => {
      if (session.destroyed || session.closed) return;
      const deadline = setTimeout(() => session.destroy(), timeout);
      deadline.unref();
      try {
        session.ping((error) => {
          clearTimeout(deadline);
          if (error !== null) session.destroy();
        });
      } catch {
        clearTimeout(deadline);
        session.destroy();
      }
    }, interval);
    keepalive.unref();
    session.once("close", () => {
      clearInterval(keepalive);
      this.sessions.delete(session);
    });
  }

  private onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    // First, so that nothing a peer does can throw an unhandled 'error'; 'close' follows.
    stream.on("error", () => {});
    try {
      this.route(stream, headers);
    } catch (e) {
      this.limits.onError("starting a gRPC call", e);
      stream.destroy();
    }
  }

  private route(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    const contentType = headers["content-type"];
    if (typeof contentType !== "string" || !contentType.startsWith("application/grpc")) {
      stream.respond(
        { ":status": constants.HTTP_STATUS_UNSUPPORTED_MEDIA_TYPE },
        { endStream: true },
      );
      stream.resume(); // whatever the client still sends is dropped
      return;
    }
    const path = headers[":path"];
    const route = path === undefined ? undefined : this.routes.get(path);
    if (route === undefined) {
      refuse(stream, grpc.status.UNIMPLEMENTED, `Method not found: ${path ?? "(no path)"}`);
      return;
    }
    const encoding = headers["grpc-encoding"];
    if (encoding !== undefined && encoding !== "identity") {
      refuse(
        stream,
        grpc.status.UNIMPLEMENTED,
        `grpc-encoding "${String(encoding)}" is not supported; this server accepts identity only`,
      );
      return;
    }
    new ServerCall(stream, headers, route.method, route.handler, this.limits).start();
  }
}

/** A trailers-only answer before any call exists; the rest of the request is dropped. */
function refuse(stream: ServerHttp2Stream, code: grpc.status, details: string): void {
  stream.respond(trailersOnlyOf({ code, details }), { endStream: true });
  stream.resume();
}

/** grpc-js's answer for a method the service definition has but the handlers lack. */
function unimplemented(path: string, responseStream: boolean): GrpcRoute["handler"] {
  const status = {
    code: grpc.status.UNIMPLEMENTED,
    details: `The server does not implement ${path}`,
  };
  return responseStream
    ? (call: ServerCall) => call.sendStatus(status)
    : (_call: ServerCall, callback: (error: unknown) => void) => callback(status);
}
