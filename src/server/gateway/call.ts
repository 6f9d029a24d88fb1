// GatewayCall: one JSON gateway request presented to a gRPC service handler as the call object
// Ordo's gRPC server hands it (grpc/call.ts, itself shaped like grpc-js's), so the gateway runs
// the very handlers gRPC runs — auth checks, limits and all. What the handler sees:
// `request` (unary and server-streaming), `metadata` (the token from the `Authorization`
// header, as etcd's gateway forwards it), tlsCommonName(), 'data' / 'end' for each request
// message of a bidi stream and the client's end of the body, pause() / resume(), write()
// returning false until 'drain', end(), emit("error", status), and 'cancelled' then 'close'
// when the HTTP client goes away before the call ended.
//
// The call settles once: the first of end(), an 'error' and the client's disconnect. After it
// nothing more is written and no request message is delivered.
import { EventEmitter } from "node:events";
import * as grpc from "@grpc/grpc-js";
import { type CallStatus, statusOfHandlerError } from "../grpc/wire.js";

/** Where a call's responses go (the HTTP response, streams.ts). */
export interface CallSink {
  /** A response message as the handler wrote it; false under backpressure (wait for drain). */
  write(message: unknown): boolean;
  /** The call ended: OK, or the handler's error status. */
  settle(status: CallStatus): void;
}

export class GatewayCall extends EventEmitter {
  request: unknown = undefined;
  cancelled = false;
  readonly metadata = new grpc.Metadata();
  private settled = false;
  private paused = false;
  private halfClosed = false;
  private endEmitted = false;
  private readonly inbox: unknown[] = [];

  constructor(
    private readonly path: string,
    token: string | undefined,
    private readonly commonName: string | undefined,
    private readonly sink: CallSink,
    /** Pauses and resumes the source of request messages (the HTTP request). */
    private readonly flow: { pause(): void; resume(): void } = { pause() {}, resume() {} },
  ) {
    super();
    if (token !== undefined && token !== "") this.metadata.set("token", token);
    // grpc-js: a handler fails a streaming call by emitting 'error' with a status.
    this.on("error", (error: unknown) => this.settle(statusOfHandlerError(error)));
    // A 'data' listener added later still gets what arrived before it.
    this.on("newListener", (event: string) => {
      if (event === "data" && this.inbox.length > 0) queueMicrotask(() => this.flush());
    });
  }

  get isSettled(): boolean {
    return this.settled;
  }

  getPath(): string {
    return this.path;
  }

  getDeadline(): number {
    return Number.POSITIVE_INFINITY;
  }

  getPeer(): string {
    return "gateway";
  }

  tlsCommonName(): string | undefined {
    return this.commonName;
  }

  sendMetadata(_metadata: grpc.Metadata): void {
    // Response metadata has no place in the gateway's JSON.
  }

  write(message: unknown): boolean {
    if (this.settled) return false;
    return this.sink.write(message);
  }

  end(): void {
    this.settle({ code: grpc.status.OK, details: "" });
  }

  pause(): this {
    this.paused = true;
    this.flow.pause();
    return this;
  }

  resume(): this {
    this.paused = false;
    this.flush();
    if (!this.paused) this.flow.resume();
    return this;
  }

  /** A request message of a bidi stream, from the HTTP body. */
  push(message: unknown): void {
    if (this.settled) return;
    this.inbox.push(message);
    this.flush();
  }

  /** The HTTP body ended: 'end' once every message before it was delivered. */
  halfClose(): void {
    this.halfClosed = true;
    this.flush();
  }

  /** The gateway ends the call itself (a malformed message): the handler hears 'cancelled'. */
  abort(status: CallStatus): void {
    if (this.settled) return;
    this.settle(status);
    this.cancel();
  }

  /** The HTTP exchange is over (response sent or client gone): 'cancelled' if unsettled, 'close'. */
  closed(): void {
    if (!this.settled) {
      this.settled = true;
      this.inbox.length = 0;
      this.cancel();
    }
    this.emit("close");
  }

  /** The callback unary handlers answer through. */
  readonly unaryCallback = (error: unknown, value?: unknown): void => {
    if (this.settled) return;
    if (error !== null && error !== undefined) {
      this.settle(statusOfHandlerError(error));
      return;
    }
    this.sink.write(value); // one message, then the call is over: backpressure is moot
    this.end();
  };

  private settle(status: CallStatus): void {
    if (this.settled) return;
    this.settled = true;
    this.inbox.length = 0;
    // From now on whatever the client still sends is read and dropped, never held.
    this.paused = false;
    this.flow.resume();
    this.sink.settle(status);
  }

  private cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.emit("cancelled", "cancelled");
  }

  private flush(): void {
    // Bounded by the inbox: each turn removes one message.
    while (!this.paused && !this.settled && this.inbox.length > 0) {
      if (this.listenerCount("data") === 0) return;
      this.emit("data", this.inbox.shift());
    }
    if (this.halfClosed && !this.endEmitted && this.inbox.length === 0 && !this.settled) {
      this.endEmitted = true;
      this.emit("end");
    }
  }
}
