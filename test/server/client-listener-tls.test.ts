// The client port over TLS, without a member: which side (gRPC or HTTP) a TLS connection
// reaches by ALPN, plaintext on a TLS port, client-cert-auth (no certificate, another CA's, a
// good one and the CN it yields), certificate reload, and garbage, truncated hellos and bytes
// after a hello, which close that connection only.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage } from "node:http";
import { connect as http2Connect } from "node:http2";
import { request as httpsRequest } from "node:https";
import { connect, createServer as createNetServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from "node:tls";
import type * as grpc from "@grpc/grpc-js";
import {
  ClientListener,
  chooseAlpn,
  HTTP2_CLIENT_PREFACE,
} from "../../src/server/client-listener.js";
import type { ServerCall } from "../../src/server/grpc/call.js";
import { GrpcServer } from "../../src/server/grpc/server.js";
import {
  type CertificateAuthority,
  createCertificateAuthority,
  createSignedCertificate,
  type PemPair,
  TlsMaterial,
  tlsCommonNameOf,
  writePemFiles,
} from "../../src/server/index.js";
import { type Callback, frame, RAW_SERVICE, reply, request } from "./grpc/raw-harness.js";

interface Pki {
  ca: CertificateAuthority;
  server: PemPair;
  client: PemPair;
  otherClient: PemPair;
}

async function makePki(): Promise<Pki> {
  const ca = await createCertificateAuthority("test CA");
  const other = await createCertificateAuthority("another CA");
  return {
    ca,
    server: await createSignedCertificate(ca, {
      commonName: "server one",
      hosts: ["127.0.0.1", "localhost"],
    }),
    client: await createSignedCertificate(ca, { commonName: "alice", usages: ["client"] }),
    otherClient: await createSignedCertificate(other, {
      commonName: "mallory",
      usages: ["client"],
    }),
  };
}

/** The first bytes a TLS client sends: a real ClientHello, caught by a plain TCP server. */
async function captureClientHello(): Promise<Buffer> {
  const server = createNetServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      server.once("connection", (s) => {
        s.once("data", (chunk: Buffer) => {
          s.destroy();
          resolve(chunk);
        });
      });
      const client = tlsConnect({ host: "127.0.0.1", port, rejectUnauthorized: false });
      client.on("error", () => {}); // the capture closes it
      setTimeout(() => reject(new Error("no ClientHello")), 5000).unref();
    });
  } finally {
    server.close();
  }
}

/** Sends `bytes` on a new connection and resolves when the listener closes it. */
function sendAndAwaitClose(port: number, bytes: Buffer, endAfter: boolean): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () => {
      s.write(bytes);
      if (endAfter) s.end();
    });
    s.on("data", () => {});
    s.on("error", () => {}); // a reset is a close too
    s.on("close", () => resolve());
    setTimeout(() => reject(new Error("connection not closed in time")), 10_000).unref();
  });
}

function httpsGet(
  port: number,
  options: ConnectionOptions & { path?: string },
): Promise<{ status: number; body: string; alpn: string | false | null }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: "127.0.0.1", port, path: options.path ?? "/health", ...options, agent: false },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          body += c;
        });
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body,
            alpn: (res.socket as TLSSocket).alpnProtocol ?? null,
          }),
        );
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** A TLS connection that resolves once connected, with what it negotiated. */
function tlsOpen(port: number, options: ConnectionOptions): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: "127.0.0.1", port, ...options }, () => resolve(s));
    s.on("error", reject);
  });
}

describe("chooseAlpn", () => {
  it("prefers http/1.1 when offered, h2 for gRPC clients, refuses the rest", () => {
    assert.equal(chooseAlpn(["h2", "http/1.1"]), "http/1.1");
    assert.equal(chooseAlpn(["h2"]), "h2");
    assert.equal(chooseAlpn(["http/1.1"]), "http/1.1");
    assert.equal(chooseAlpn(["h3", "spdy/3"]), undefined);
  });
});

describe("ClientListener over TLS", () => {
  let pki: Pki;
  let dir: string;
  const seenCn: (string | undefined)[] = [];
  const httpServer = createHttpServer((req: IncomingMessage, res) => {
    seenCn.push(tlsCommonNameOf(req));
    res.end(`hello https ${req.url}`);
  });
  // A stand-in for the gRPC server: answers "grpc:" and echoes what it was handed.
  const grpcSink = (socket: Socket, head: Buffer): void => {
    socket.write("grpc:");
    socket.write(head);
    socket.pipe(socket);
    socket.resume();
  };

  before(async () => {
    pki = await makePki();
    dir = mkdtempSync(join(tmpdir(), "ordo-listener-tls-"));
    await writePemFiles(join(dir, "ca.pem"), join(dir, "ca-key.pem"), pki.ca);
    await writePemFiles(join(dir, "server.pem"), join(dir, "server-key.pem"), pki.server);
  });
  after(() => {
    httpServer.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function listen(clientCertAuth: boolean, reloadCheckMs?: number) {
    const material = TlsMaterial.load({
      certFile: join(dir, "server.pem"),
      keyFile: join(dir, "server-key.pem"),
      trustedCaFile: join(dir, "ca.pem"),
      clientCertAuth,
      ...(reloadCheckMs !== undefined ? { reloadCheckMs } : {}),
    });
    let applied = material.reloads;
    const listener = await ClientListener.listen({
      host: "127.0.0.1",
      port: 0,
      grpc: grpcSink,
      http: httpServer,
      sniffTimeoutMs: 2000,
      tls: {
        options: material.serverOptions(),
        handshakeTimeoutMs: 2000,
        reloaded: () => {
          material.refresh();
          if (material.reloads === applied) return undefined;
          applied = material.reloads;
          return material.contextOptions();
        },
      },
    });
    return { listener, material };
  }

  it("routes by ALPN: http/1.1 and no ALPN to HTTP, h2-only to gRPC; no CN without client-cert-auth", async () => {
    const { listener } = await listen(false);
    try {
      const ca = pki.ca.cert;
      const plain = await httpsGet(listener.port, { ca });
      assert.equal(plain.status, 200);
      assert.equal(plain.body, "hello https /health");
      const both = await httpsGet(listener.port, { ca, ALPNProtocols: ["h2", "http/1.1"] });
      assert.equal(both.alpn, "http/1.1");
      assert.equal(both.body, "hello https /health");
      // Even a verified client certificate names no one when the port does not ask for one.
      await httpsGet(listener.port, { ca, cert: pki.client.cert, key: pki.client.key });
      assert.deepEqual(seenCn.splice(0), [undefined, undefined, undefined]);

      const h2 = await tlsOpen(listener.port, { ca, ALPNProtocols: ["h2"] });
      assert.equal(h2.alpnProtocol, "h2");
      const answer = await new Promise<string>((resolve) => {
        let got = "";
        h2.on("data", (c: Buffer) => {
          got += c.toString("latin1");
          if (got.length >= "grpc:ping".length) resolve(got);
        });
        h2.write("ping");
      });
      assert.equal(answer, "grpc:ping");
      h2.destroy();

      // No ALPN, HTTP/2 preface: sniffed after decryption, to gRPC with the preface.
      const raw = await tlsOpen(listener.port, { ca });
      const echoed = await new Promise<string>((resolve) => {
        let got = "";
        raw.on("data", (c: Buffer) => {
          got += c.toString("latin1");
          if (got.length >= 5 + HTTP2_CLIENT_PREFACE.length) resolve(got);
        });
        raw.write(HTTP2_CLIENT_PREFACE);
      });
      assert.equal(echoed, `grpc:${HTTP2_CLIENT_PREFACE.toString("latin1")}`);
      raw.destroy();

      // A server certificate the client does not trust: the client refuses.
      await assert.rejects(
        httpsGet(listener.port, {}),
        /self-signed|unable to verify|certificate/i,
      );
    } finally {
      await listener.close();
    }
  });

  it("answers a plaintext HTTP request with 400 and serves TLS on", async () => {
    const { listener } = await listen(false);
    try {
      const reply = await new Promise<string>((resolve) => {
        const s = connect(listener.port, "127.0.0.1", () =>
          s.write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"),
        );
        let got = "";
        s.on("data", (c: Buffer) => {
          got += c.toString();
        });
        s.on("close", () => resolve(got));
        s.on("error", () => {});
      });
      assert.match(reply, /^HTTP\/1\.0 400 Bad Request/);
      assert.match(reply, /Client sent an HTTP request to an HTTPS server/);
      assert.equal((await httpsGet(listener.port, { ca: pki.ca.cert })).status, 200);
    } finally {
      await listener.close();
    }
  });

  it("with client-cert-auth: refuses no certificate and another CA's, names a verified one by CN", async () => {
    const { listener } = await listen(true);
    seenCn.splice(0);
    try {
      const ca = pki.ca.cert;
      await assert.rejects(
        httpsGet(listener.port, { ca }),
        /certificate required|alert|socket hang up|ECONNRESET/i,
      );
      await assert.rejects(
        httpsGet(listener.port, { ca, cert: pki.otherClient.cert, key: pki.otherClient.key }),
        /unknown ca|alert|socket hang up|ECONNRESET/i,
      );
      assert.deepEqual(seenCn.splice(0), [], "no request got through");
      const ok = await httpsGet(listener.port, { ca, cert: pki.client.cert, key: pki.client.key });
      assert.equal(ok.status, 200);
      assert.deepEqual(seenCn.splice(0), ["alice"]);
    } finally {
      await listener.close();
    }
  });

  it("reloads changed certificate files for new connections", async () => {
    const { listener, material } = await listen(false, 0);
    try {
      const first = await tlsOpen(listener.port, { ca: pki.ca.cert });
      assert.equal(first.getPeerCertificate().subject.CN, "server one");
      first.destroy();
      const next = await createSignedCertificate(pki.ca, {
        commonName: "server two",
        hosts: ["127.0.0.1"],
      });
      await writePemFiles(join(dir, "server.pem"), join(dir, "server-key.pem"), next);
      const second = await tlsOpen(listener.port, { ca: pki.ca.cert });
      assert.equal(second.getPeerCertificate().subject.CN, "server two");
      second.destroy();
      assert.equal(material.reloads, 1);
    } finally {
      await writePemFiles(join(dir, "server.pem"), join(dir, "server-key.pem"), pki.server);
      await listener.close();
    }
  });

  it("ServerCall.tlsCommonName: the verified client certificate's CN over gRPC, none without client-cert-auth", async () => {
    for (const clientCertAuth of [true, false]) {
      const grpcServer = new GrpcServer({ receiveMessageBytesMax: 1024 });
      grpcServer.addService(RAW_SERVICE, {
        Unary: (call: ServerCall, callback: Callback) =>
          callback(null, Buffer.from(call.tlsCommonName() ?? "(none)")),
      } as unknown as grpc.UntypedServiceImplementation);
      const material = TlsMaterial.load({
        certFile: join(dir, "server.pem"),
        keyFile: join(dir, "server-key.pem"),
        trustedCaFile: join(dir, "ca.pem"),
        clientCertAuth,
      });
      const listener = await ClientListener.listen({
        host: "127.0.0.1",
        port: 0,
        grpc: (socket, head) => grpcServer.acceptConnection(socket, head),
        http: httpServer,
        tls: { options: material.serverOptions() },
      });
      const session = http2Connect(`https://127.0.0.1:${listener.port}`, {
        ca: pki.ca.cert,
        cert: pki.client.cert,
        key: pki.client.key,
      });
      session.on("error", () => {});
      try {
        const stream = request(session, "Unary");
        const answer = reply(stream);
        stream.end(frame("who am I"));
        const r = await answer;
        assert.equal(r.code, 0, r.details);
        assert.deepEqual(
          r.messages.map((m) => m.toString()),
          [clientCertAuth ? "alice" : "(none)"],
        );
      } finally {
        session.destroy();
        await grpcServer.shutdown(500);
        await listener.close();
      }
    }
  });

  it("closes garbage, truncated hellos and bytes after a hello, and keeps serving (bounded)", async () => {
    const { listener } = await listen(true);
    try {
      const hello = await captureClientHello();
      assert.equal(hello[0], 0x16);
      const cases: [Buffer, boolean][] = [];
      for (let i = 0; i < 50; i++) {
        switch (i % 5) {
          case 0:
            cases.push([randomBytes(1 + (i % 300)), true]); // garbage
            break;
          case 1:
            cases.push([hello.subarray(0, 1 + (i % (hello.length - 1))), true]); // truncated hello
            break;
          case 2:
            cases.push([Buffer.concat([hello, randomBytes(64)]), true]); // garbage after a hello
            break;
          case 3: {
            const bad = Buffer.from(hello);
            bad.writeUInt16BE(0xffff, 3); // a record length past anything sent
            cases.push([bad, false]);
            break;
          }
          default:
            cases.push([Buffer.concat([Buffer.from([0x16]), randomBytes(40)]), true]);
        }
      }
      for (let i = 0; i < cases.length; i += 10)
        await Promise.all(
          cases.slice(i, i + 10).map(([b, end]) => sendAndAwaitClose(listener.port, b, end)),
        );
      // A hello that never completes is closed by the handshake timeout (2 s here).
      await sendAndAwaitClose(listener.port, hello.subarray(0, 20), false);
      const ok = await httpsGet(listener.port, {
        ca: pki.ca.cert,
        cert: pki.client.cert,
        key: pki.client.key,
      });
      assert.equal(ok.status, 200);
      seenCn.splice(0);
    } finally {
      await listener.close();
    }
  });
});
