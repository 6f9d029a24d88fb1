// ServerCall: one gRPC call on one HTTP/2 stream, shaped like the call objects grpc-js hands
// its handlers (ServerUnaryCall, ServerWritableStream, ServerDuplexStream), so the services in
// src/server are served unchanged: `request`, `metadata`, `cancelled`, write() returning false
// under backpressure then 'drain', end(), emit("error", status) to fail the call, pause() and
// resume(), and the events 'data', 'end', 'cancelled' and 'close'.
//
// The response is headers, then messages (each one write of prefix + payload), then trailers
// (respond with waitForTrailers, sendTrailers on 'wantTrailers'); a call that fails before
// sending anything answers trailers-only. After the status is out nothing more is written, and
// whatever the client still sends is read and dropped (never buffered). No RST_STREAM follows
// the status: grpc-js clients report an RST that overtakes the trailers as INTERNAL. A stream that closes
// before its status was sent (RST_STREAM from the client, a dropped connection) is cancelled:
// 'cancelled' then 'close'. A grpc-timeout that expires sends DEADLINE_EXCEEDED and cancels.

import { EventEmitter } from "node:events";
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type { Socket } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { tlsCommonNameOfSocket } from "../tls-identity.js";
import { type FramingError, frameMessage, MessageReader } from "./framing.js";
import {
  type CallStatus,
  metadataOf,
  OK_TRAILERS,
  parseGrpcTimeout,
  RESPONSE_HEADERS,
  statusOfHandlerError,
  trailersOf,
  trailersOnlyOf,
} from "./wire.js";

// biome-ignore lint/suspicious/noExplicitAny: handlers and definitions are untyped, as in grpc-js.
type AnyMethod = grpc.MethodDefinition<any, any>;
// biome-ignore lint/suspicious/noExplicitAny: as grpc-js's UntypedHandleCall.
type AnyHandler = (call: any, callback?: any) => void;

export interface CallLimits {
  /** Largest request message, in bytes. */
  readonly receiveMessageBytesMax: number;
  /** Hears handler failures (a throw, a response that does not serialize), for logging. */
  readonly onError: (what: string, error: unknown) => void;
  /** Hears every call's start and its end with its status code (metrics). Must not throw. */
  readonly observer?: CallObserver;
}

/** grpc_type as go-grpc-prometheus names it. */
export type GrpcType = "unary" | "client_stream" | "server_stream" | "bidi_stream";

export interface CallObserver {
  started(path: string, type: GrpcType): void;
  /** Once per call: the status it ended with (CANCELLED when the client went first). */
  handled(path: string, type: GrpcType, code: number): void;
}

/** A grpc-js-compatible call on one stream. Created and started by GrpcServer. */
export class ServerCall extends EventEmitter {
  /** The request, for unary and server-streaming methods (once it has arrived). */
  request: unknown = undefined;
  cancelled = false;
  private metadataValue: grpc.Metadata | undefined;
  private readonly reader: MessageReader;
  private headersSent = false;
  private statusSent = false;
  private streamClosed = false;
  private halfClosed = false;
  private endEmitted = false;
  private paused = false;
  private readonly inbox: unknown[] = [];
  private received = 0;
  private trailers = OK_TRAILERS;
  private deadlineMs = Number.POSITIVE_INFINITY;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private readonly streaming: boolean;
  private handledCode: number | undefined;

  constructor(
    private readonly stream: ServerHttp2Stream,
    private readonly headers: IncomingHttpHeaders,
    private readonly method: AnyMethod,
    private readonly handler: AnyHandler,
    private readonly limits: CallLimits,
  ) {
    super();
    this.reader = new MessageReader(limits.receiveMessageBytesMax);
    this.streaming = method.requestStream;
    // grpc-js: a handler fails a streaming call by emitting 'error' with a status.
    this.on("error", (error: unknown) => this.sendStatus(statusOfHandlerError(error)));
  }

  get metadata(): grpc.Metadata {
    this.metadataValue ??= metadataOf(this.headers);
    return this.metadataValue;
  }

  /** Whether the request carried header `name` (lower case), without building the Metadata. */
  hasHeader(name: string): boolean {
    return this.headers[name] !== undefined;
  }

  getPath(): string {
    return this.method.path;
  }

  getDeadline(): Date | number {
    return Number.isFinite(this.deadlineMs) ? new Date(this.deadlineMs) : Infinity;
  }

  getPeer(): string {
    const socket = this.stream.session?.socket;
    return socket === undefined ? "unknown" : `${socket.remoteAddress}:${socket.remotePort}`;
  }

  /**
   * The common name of the client's VERIFIED TLS certificate (the client port serves TLS with
   * --client-cert-auth and the certificate passed verification), else undefined. etcd
   * authenticates users added with --no-password by it.
   */
  tlsCommonName(): string | undefined {
    return tlsCommonNameOfSocket(this.stream.session?.socket as Socket | undefined);
  }

  /** Wires the stream's events and starts the call; bidi and client streams reach the handler now. */
  private get grpcType(): GrpcType {
    const m = this.method;
    if (m.requestStream) return m.responseStream ? "bidi_stream" : "client_stream";
    return m.responseStream ? "server_stream" : "unary";
  }

  /** The call's status is settled: the observer hears it once. */
  private handled(code: number): void {
    if (this.handledCode !== undefined) return;
    this.handledCode = code;
    this.limits.observer?.handled(this.method.path, this.grpcType, code);
  }

  start(): void {
    this.limits.observer?.started(this.method.path, this.grpcType);
    const stream = this.stream;
    stream.on("data", (chunk: Buffer) => this.onChunk(chunk));
    stream.on("end", () => this.onHalfClose());
    stream.on("drain", () => this.emit("drain"));
    stream.on("close", () => this.onStreamClose());
    const timeout = this.headers["grpc-timeout"];
    if (typeof timeout === "string") {
      const ms = parseGrpcTimeout(timeout);
      if (ms === undefined) {
        this.sendStatus({
          code: grpc.status.INTERNAL,
          details: `Invalid grpc-timeout value "${timeout}"`,
        });
        return;
      }
      this.deadlineMs = Date.now() + ms;
      this.deadlineTimer = setTimeout(() => this.onDeadline(), ms);
    }
    if (this.streaming) {
      this.runHandler(this.method.responseStream ? undefined : this.unaryCallback);
      // A 'data' listener added later still gets what arrived before it.
      this.on("newListener", (event: string) => {
        if (event === "data" && this.inbox.length > 0) queueMicrotask(() => this.flush());
      });
    }
  }

  /** Sends a response message; false when the client is not reading (wait for 'drain'). */
  write(message: unknown): boolean {
    if (this.statusSent || this.streamClosed) return false;
    const frame = this.frameOf(message);
    if (frame === undefined) return false;
    this.sendHeaders();
    return this.stream.write(frame);
  }

  /** Ends the call with status OK (or the status a handler's 'error' set). */
  end(): void {
    this.sendStatus({ code: grpc.status.OK, details: "" });
  }

  /** Sends response headers now, with `metadata`, if none have gone out yet. */
  sendMetadata(metadata: grpc.Metadata): void {
    if (this.headersSent || this.statusSent || this.streamClosed) return;
    this.respond({ ...metadata.toHttp2Headers(), ...RESPONSE_HEADERS });
  }

  pause(): this {
    this.paused = true;
    if (!this.streamClosed) this.stream.pause();
    return this;
  }

  resume(): this {
    this.paused = false;
    this.flush();
    if (!this.paused && !this.streamClosed) this.stream.resume();
    return this;
  }

  /** Ends the call with `status`: trailers after what was sent, or trailers-only. Once. */
  sendStatus(status: CallStatus): void {
    if (this.statusSent) return;
    this.statusSent = true;
    this.handled(status.code);
    this.inbox.length = 0;
    this.clearDeadline();
    if (this.streamClosed || this.stream.destroyed) return;
    // From now on the client's bytes are read and dropped, never held.
    this.stream.resume();
    try {
      if (this.headersSent) {
        this.trailers = trailersOf(status);
        this.stream.end();
      } else {
        this.headersSent = true;
        this.stream.respond(trailersOnlyOf(status), { endStream: true });
      }
    } catch (e) {
      this.limits.onError(`sending the status of ${this.method.path}`, e);
      this.stream.destroy();
    }
  }

  private readonly unaryCallback = (
    error: unknown,
    value?: unknown,
    trailer?: grpc.Metadata,
  ): void => {
    if (this.statusSent || this.streamClosed) return;
    if (error !== null && error !== undefined) {
      this.sendStatus(statusOfHandlerError(error));
      return;
    }
    const frame = this.frameOf(value);
    if (frame === undefined) return;
    this.statusSent = true;
    this.handled(grpc.status.OK);
    this.clearDeadline();
    if (trailer !== undefined)
      this.trailers = trailersOf({ code: 0, details: "", metadata: trailer });
    try {
      if (!this.headersSent) this.respond(RESPONSE_HEADERS);
      this.stream.end(frame);
    } catch (e) {
      this.limits.onError(`sending a ${this.method.path} response`, e);
      this.stream.destroy();
    }
  };

  /** A response message serialized and framed; undefined after ending the call INTERNAL. */
  private frameOf(message: unknown): Buffer | undefined {
    try {
      return frameMessage(this.method.responseSerialize(message));
    } catch (e) {
      this.limits.onError(`serializing a ${this.method.path} response`, e);
      this.sendStatus({
        code: grpc.status.INTERNAL,
        details: `Failed to serialize response: ${messageOf(e)}`,
      });
      return undefined;
    }
  }

  private respond(headers: OutgoingHttpHeaders): void {
    this.headersSent = true;
    this.stream.once("wantTrailers", () => {
      try {
        this.stream.sendTrailers(this.trailers);
      } catch {
        // The stream closed meanwhile: the client has what it will get.
      }
    });
    this.stream.respond(headers, { waitForTrailers: true });
  }

  private sendHeaders(): void {
    if (!this.headersSent) this.respond(RESPONSE_HEADERS);
  }

  private onChunk(chunk: Buffer): void {
    if (this.statusSent) return; // dropped: the call is over
    const error = this.reader.push(chunk, (message) => this.onMessage(message));
    if (error !== undefined) this.sendStatus(framingStatus(error));
  }

  private onMessage(bytes: Buffer): void {
    if (this.statusSent) return;
    let message: unknown;
    try {
      message = this.method.requestDeserialize(bytes);
    } catch {
      this.sendStatus({
        code: grpc.status.INTERNAL,
        details: "Error deserializing request",
      });
      return;
    }
    this.received += 1;
    if (!this.streaming) {
      if (this.received > 1) {
        this.sendStatus({
          code: grpc.status.UNIMPLEMENTED,
          details: `Received a second request message for ${this.method.path}`,
        });
        return;
      }
      this.request = message;
      return;
    }
    if (this.paused || this.inbox.length > 0 || this.listenerCount("data") === 0)
      this.inbox.push(message);
    else this.emit("data", message);
  }

  private onHalfClose(): void {
    this.halfClosed = true;
    if (this.statusSent) return;
    if (this.reader.midMessage) {
      this.sendStatus({
        code: grpc.status.INTERNAL,
        details: "The request ended in the middle of a message",
      });
      return;
    }
    if (this.streaming) {
      this.flush();
      return;
    }
    if (this.received === 0) {
      this.sendStatus({
        code: grpc.status.UNIMPLEMENTED,
        details: `Received no request message for ${this.method.path}`,
      });
      return;
    }
    this.runHandler(this.method.responseStream ? undefined : this.unaryCallback);
  }

  /** Delivers held messages while not paused, then 'end' once the client has half-closed. */
  private flush(): void {
    // Bounded by the inbox: each turn removes one message.
    while (!this.paused && !this.statusSent && this.inbox.length > 0) {
      if (this.listenerCount("data") === 0) return;
      this.emit("data", this.inbox.shift());
    }
    if (this.halfClosed && !this.endEmitted && this.inbox.length === 0 && !this.statusSent) {
      this.endEmitted = true;
      this.emit("end");
    }
  }

  private runHandler(callback: typeof this.unaryCallback | undefined): void {
    try {
      if (callback === undefined) this.handler(this);
      else this.handler(this, callback);
    } catch (e) {
      this.limits.onError(`the ${this.method.path} handler`, e);
      this.sendStatus({
        code: grpc.status.INTERNAL,
        details: `The ${this.method.path} handler failed: ${messageOf(e)}`,
      });
    }
  }

  private onDeadline(): void {
    this.deadlineTimer = undefined;
    if (this.statusSent) return;
    this.sendStatus({ code: grpc.status.DEADLINE_EXCEEDED, details: "Deadline exceeded" });
    this.cancel();
  }

  private onStreamClose(): void {
    this.streamClosed = true;
    this.clearDeadline();
    if (!this.statusSent) {
      this.statusSent = true;
      this.handled(grpc.status.CANCELLED);
      this.inbox.length = 0;
      this.cancel();
    }
    this.emit("close");
  }

  private cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.emit("cancelled", "cancelled");
  }

  private clearDeadline(): void {
    if (this.deadlineTimer !== undefined) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
  }
}

function framingStatus(error: FramingError): CallStatus {
  switch (error.kind) {
    case "too-large":
      return {
        code: grpc.status.RESOURCE_EXHAUSTED,
        details: `Received message larger than max (${error.length} vs. ${error.limit})`,
      };
    case "compressed":
      return {
        code: grpc.status.INTERNAL,
        details: "Received a compressed message, but this server supports no compression",
      };
    case "bad-flag":
      return {
        code: grpc.status.INTERNAL,
        details: `Received a message with an invalid compressed flag ${error.flag}`,
      };
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
