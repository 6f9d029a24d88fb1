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
// TLS (an https:// client URL, `tls` option): every connection must open with a TLS handshake
// record (first byte 0x16); a plaintext HTTP request gets etcd's (Go's) "400 Client sent an
// HTTP request to an HTTPS server" and anything else is closed. The handshake runs in a
// tls.Server that listens on nothing (the accepted socket is handed to it), bounded by
// handshakeTimeoutMs; a failed or garbage handshake closes that connection only. ALPN picks
// the protocol: a client that offers only h2 (gRPC clients: grpc-go, grpc-js) gets h2 and goes
// to gRPC; one that offers http/1.1 (curl, browsers) gets http/1.1 and goes to HTTP; without
// ALPN the decrypted bytes are sniffed as above. The material is asked on every connection
// whether its files changed (certificate reload without restart, as etcd).
//
// A caveat of sniffing by the preface alone: an HTTP/2 client speaking prior-knowledge h2c to
// /health (curl --http2-prior-knowledge) reaches gRPC, not the HTTP handler — as with etcd's
// cmux, which sends h2c with a gRPC content type to gRPC and serves HTTP/1.1 for the rest.
import type { Server as HttpServer } from "node:http";
import { createServer, type Server, type Socket } from "node:net";
import {
  createServer as createTlsServer,
  type SecureContextOptions,
  type TLSSocket,
  type Server as TlsServer,
} from "node:tls";

export const HTTP2_CLIENT_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/**
 * Takes over a gRPC connection: the socket (paused) and the bytes already read from it, which
 * the taker must put back in front (socket.unshift) before reading. Owns the socket from then.
 */
export type GrpcConnectionSink = (socket: Socket, head: Buffer) => void;

/** The first byte of a TLS handshake record (RFC 8446 §5.1, ContentType handshake). */
const TLS_HANDSHAKE_RECORD = 0x16;

export interface ClientListenerTls {
  /** The tls.Server's options: cert, key, ca, requestCert, rejectUnauthorized. */
  readonly options: SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean };
  /** Asked on every connection: new cert/key/ca when the files changed, else undefined. */
  readonly reloaded?: () => SecureContextOptions | undefined;
  /** A handshake not done by then closes the connection. Default 10 s. */
  readonly handshakeTimeoutMs?: number;
}

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
  /** Serve TLS only (an https:// client URL). */
  readonly tls?: ClientListenerTls;
  readonly logger?: (
    level: "debug" | "warn",
    message: string,
    fields: Record<string, unknown>,
  ) => void;
}

export type SniffResult = "grpc" | "http" | "undecided";

/**
 * ALPN on a TLS client port: http/1.1 whenever the client offers it (curl and browsers offer
 * h2 too, but must reach the HTTP handler), else h2 (gRPC clients offer h2 only). A client
 * that offers neither is refused (no_application_protocol).
 */
export function chooseAlpn(offered: readonly string[]): string | undefined {
  if (offered.includes("http/1.1")) return "http/1.1";
  if (offered.includes("h2")) return "h2";
  return undefined;
}

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
  private readonly tlsServer: TlsServer | undefined;

  private constructor(
    private readonly server: Server,
    private readonly options: ClientListenerOptions,
    readonly port: number,
  ) {
    const tls = options.tls;
    if (tls === undefined) return;
    const tlsServer = createTlsServer({
      ...tls.options,
      handshakeTimeout: tls.handshakeTimeoutMs ?? 10_000,
      ALPNCallback: ({ protocols }) => chooseAlpn(protocols),
    });
    tlsServer.on("secureConnection", (socket) => this.onSecure(socket));
    // A failed, garbage or timed-out handshake: node has destroyed that socket already.
    tlsServer.on("tlsClientError", (error, socket) => {
      this.log("debug", "TLS handshake failed", {
        remote: socket.remoteAddress,
        error: error.message,
      });
      socket.destroy();
    });
    tlsServer.on("error", (error) => this.log("warn", "TLS server error", { error }));
    this.tlsServer = tlsServer;
  }

  /** Whether this listener serves TLS only. */
  get tls(): boolean {
    return this.tlsServer !== undefined;
  }

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
    if (this.tlsServer !== undefined) this.acceptTls(socket, onEarlyError, this.tlsServer);
    else this.sniffProtocol(socket, onEarlyError);
  }

  /** Closes a connection that has not said what it is within sniffTimeoutMs. */
  private sniffDeadline(socket: Socket, why: string): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.log("debug", `client connection closed: ${why}`, { remote: socket.remoteAddress });
      socket.destroy();
    }, this.options.sniffTimeoutMs ?? 10_000);
    timer.unref();
    return timer;
  }

  /** A TLS port: the first byte must open a handshake record; the handshake then decides. */
  private acceptTls(socket: Socket, onEarlyError: () => void, tlsServer: TlsServer): void {
    const timer = this.sniffDeadline(socket, "no TLS hello in time");
    const onClose = (): void => clearTimeout(timer);
    const onData = (chunk: Buffer): void => {
      if (chunk.length === 0) return;
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("close", onClose);
      socket.pause();
      if (chunk[0] !== TLS_HANDSHAKE_RECORD) {
        this.refusePlaintext(socket, chunk);
        return;
      }
      const reloaded = this.options.tls?.reloaded?.();
      if (reloaded !== undefined) {
        try {
          tlsServer.setSecureContext(reloaded);
          this.log("debug", "client TLS certificates reloaded", {});
        } catch (error) {
          this.log("warn", "client TLS certificates not reloaded", { error: String(error) });
        }
      }
      socket.unshift(chunk);
      socket.off("error", onEarlyError);
      socket.on("error", () => socket.destroy());
      tlsServer.emit("connection", socket);
    };
    socket.on("data", onData);
    socket.on("close", onClose);
  }

  /** Plaintext on a TLS port: an HTTP request hears why (as Go's net/http says it), else close. */
  private refusePlaintext(socket: Socket, chunk: Buffer): void {
    this.log("debug", "client connection closed: plaintext on a TLS port", {
      remote: socket.remoteAddress,
    });
    if (/^[A-Z]{3,7} /.test(chunk.subarray(0, 8).toString("latin1"))) {
      socket.end(
        "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n",
      );
      socket.destroySoon();
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    socket.destroy();
  }

  /** A completed handshake: by ALPN, or by sniffing the decrypted bytes when none was agreed. */
  private onSecure(socket: TLSSocket): void {
    socket.on("error", () => socket.destroy());
    if (this.closed) {
      socket.destroy();
      return;
    }
    if (socket.alpnProtocol === "h2") {
      this.toGrpc(socket, Buffer.alloc(0));
      return;
    }
    this.sniffProtocol(socket, () => socket.destroy());
  }

  /** Plaintext (or decrypted) bytes: the HTTP/2 preface is gRPC, anything else HTTP/1.x. */
  private sniffProtocol(socket: Socket, onEarlyError: () => void): void {
    let head: Buffer = Buffer.alloc(0);
    const timer = this.sniffDeadline(socket, "protocol not told in time");
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
