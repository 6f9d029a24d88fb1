// ClientListener: the member's one public client port, shared by gRPC and plain HTTP, as etcd
// serves both on --listen-client-urls. Every accepted connection is sniffed: a client that
// opens with the HTTP/2 client preface (RFC 9113 §3.4, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") is
// a gRPC client (prior-knowledge h2c): the socket itself, with the sniffed bytes, is handed to
// the gRPC server (grpc/server.ts acceptConnection), so gRPC bytes cross no second socket and
// no pipe. Anything else is HTTP/1.x: the socket, with the sniffed bytes put back, goes to a
// node:http server.
//
// Bounds: at most the preface's 24 bytes are ever held, and a connection that has not decided
// within sniffTimeoutMs is closed. Connections are counted and capped (connectionsMax); every
// socket has an error listener from the moment it is accepted, so a reset, garbage bytes or a
// gRPC side that refuses the connection close that one connection and never the process.
//
// A caveat of sniffing by the preface alone: an HTTP/2 client speaking prior-knowledge h2c to
// /health (curl --http2-prior-knowledge) reaches gRPC, not the HTTP handler — as with etcd's
// cmux, which sends h2c with a gRPC content type to gRPC and serves HTTP/1.1 for the rest.
import type { Server as HttpServer } from "node:http";
import { createServer, type Server, type Socket } from "node:net";

export const HTTP2_CLIENT_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/**
 * Takes over a gRPC connection: the socket (paused) and the bytes already read from it, which
 * the taker must put back in front (socket.unshift) before reading. Owns the socket from then.
 */
export type GrpcConnectionSink = (socket: Socket, head: Buffer) => void;

export interface ClientListenerOptions {
  readonly host: string;
  /** 0 picks a free port; `port` on the listener tells which. */
  readonly port: number;
  readonly grpc: GrpcConnectionSink;
  readonly http: HttpServer;
  /** A connection that has not sent enough to tell its protocol by then is closed. Default 10 s. */
  readonly sniffTimeoutMs?: number;
  /** Open connections at most; more are closed on accept. Default 10 000. */
  readonly connectionsMax?: number;
  readonly logger?: (
    level: "debug" | "warn",
    message: string,
    fields: Record<string, unknown>,
  ) => void;
}

export type SniffResult = "grpc" | "http" | "undecided";

/**
 * What the first bytes of a connection say: the full preface is gRPC, bytes that stop matching
 * it are HTTP/1.x, a proper prefix of it needs more bytes.
 */
export function sniff(head: Uint8Array): SniffResult {
  const n = Math.min(head.length, HTTP2_CLIENT_PREFACE.length);
  for (let i = 0; i < n; i++) {
    if (head[i] !== HTTP2_CLIENT_PREFACE[i]) return "http";
  }
  return n === HTTP2_CLIENT_PREFACE.length ? "grpc" : "undecided";
}

export class ClientListener {
  /** Every accepted socket, gRPC or HTTP: all closed on close(). */
  private readonly sockets = new Set<Socket>();
  private closed = false;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly server: Server,
    private readonly options: ClientListenerOptions,
    readonly port: number,
  ) {}

  static async listen(options: ClientListenerOptions): Promise<ClientListener> {
    const server = createServer({ pauseOnConnect: false });
    server.maxConnections = options.connectionsMax ?? 10_000;
    const port = await new Promise<number>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, options.host, () => {
        server.off("error", reject);
        const address = server.address();
        if (address === null || typeof address === "string") {
          reject(new Error("client listener: no TCP address"));
          return;
        }
        resolve(address.port);
      });
    });
    const listener = new ClientListener(server, options, port);
    server.on("connection", (socket) => listener.accept(socket));
    // After listen: an accept error (EMFILE...) is logged, the listener keeps serving.
    server.on("error", (error) => listener.log("warn", "client listener error", { error }));
    return listener;
  }

  /** Open connections, for tests and metrics. */
  get connectionCount(): number {
    return this.sockets.size;
  }

  /**
   * Stops accepting; open connections stay until closeConnections(). Does not wait: the
   * server's close completes only once every connection it accepted has closed (close()).
   */
  stopAccepting(): void {
    if (this.closing !== undefined) return;
    this.closed = true;
    this.closing = new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Destroys every open connection, gRPC and HTTP alike. */
  closeConnections(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  /** Stops accepting, destroys every open connection, and resolves once the port is released. */
  async close(): Promise<void> {
    this.stopAccepting();
    this.closeConnections();
    await this.closing;
  }

  private log(level: "debug" | "warn", message: string, fields: Record<string, unknown>): void {
    try {
      this.options.logger?.(level, message, fields);
    } catch {
      // A logger's failure is not the connection's.
    }
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
  }

  private accept(socket: Socket): void {
    // First, so that nothing a peer does can throw an unhandled 'error'.
    const onEarlyError = (): void => {
      socket.destroy();
    };
    socket.on("error", onEarlyError);
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.track(socket);
    let head: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => {
      this.log("debug", "client connection closed: protocol not told in time", {
        remote: socket.remoteAddress,
      });
      socket.destroy();
    }, this.options.sniffTimeoutMs ?? 10_000);
    timer.unref();
    const stopSniffing = (): void => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("close", onClose);
    };
    const onClose = (): void => stopSniffing();
    const onData = (chunk: Buffer): void => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const verdict = sniff(head);
      if (verdict === "undecided") return; // head is shorter than the 24-byte preface
      stopSniffing();
      // Hold what arrives until the new owner reads: the sniffed bytes go back to the front.
      socket.pause();
      socket.off("error", onEarlyError);
      if (verdict === "grpc") this.toGrpc(socket, head);
      else this.toHttp(socket, head);
    };
    socket.on("data", onData);
    socket.on("close", onClose);
  }

  /** Hands the connection to the gRPC server; a sink that throws closes this one connection. */
  private toGrpc(socket: Socket, head: Buffer): void {
    socket.on("error", () => socket.destroy());
    socket.setNoDelay(true);
    try {
      this.options.grpc(socket, head);
    } catch (error) {
      this.log("warn", "gRPC connection refused", { error: String(error) });
      socket.destroy();
    }
  }

  /** Hands the connection to the HTTP server, the sniffed bytes put back in front. */
  private toHttp(socket: Socket, head: Buffer): void {
    // node:http adds its own error listener; this one only keeps an early reset quiet.
    socket.on("error", () => socket.destroy());
    socket.unshift(head);
    this.options.http.emit("connection", socket);
    // We paused the socket; node:http reads through 'data', which a paused stream withholds.
    socket.resume();
  }
}
