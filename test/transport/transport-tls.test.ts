// Peer TLS at the transport level: members whose certificates one CA signed exchange messages
// over mutual TLS (the Raft handshake runs inside it); a node whose certificate another CA
// signed is refused at the TLS handshake in both directions (its dial, and its acceptance of
// ours), and never delivers or receives a message; a plaintext hello on a TLS peer port is
// refused the same way. The others keep exchanging messages meanwhile.
import assert from "node:assert/strict";
import { connect } from "node:net";
import { before, test } from "node:test";
import { asNodeId, type Message } from "../../src/raft/index.js";
import {
  type CertificateAuthority,
  createCertificateAuthority,
  createSignedCertificate,
  type PemPair,
} from "../../src/server/index.js";
import { encodeFrame, encodeHello, type PeerTls } from "../../src/transport/index.js";
import { MessageGen, messageTypes } from "./message-gen.js";
import { startNode, stopAll, type TestNode, waitFor } from "./transport-harness.js";

function peerTls(pair: PemPair, ca: CertificateAuthority): PeerTls {
  return {
    server: () => ({
      cert: pair.cert,
      key: pair.key,
      ca: ca.cert,
      requestCert: true,
      rejectUnauthorized: true,
    }),
    client: () => ({ cert: pair.cert, key: pair.key, ca: ca.cert }),
  };
}

let ca: CertificateAuthority;
let other: CertificateAuthority;
const pairs = new Map<string, PemPair>();

before(async () => {
  ca = await createCertificateAuthority("peer CA");
  other = await createCertificateAuthority("another CA");
  for (const n of ["n1", "n2"])
    pairs.set(n, await createSignedCertificate(ca, { commonName: n, hosts: ["127.0.0.1"] }));
  pairs.set("n4", await createSignedCertificate(other, { commonName: "n4", hosts: ["127.0.0.1"] }));
});

test("mutual TLS between peers; another CA's node is refused both ways; plaintext refused", async () => {
  const n1 = await startNode("n1", { tls: peerTls(pairs.get("n1") as PemPair, ca) });
  const n2 = await startNode("n2", { tls: peerTls(pairs.get("n2") as PemPair, ca) });
  // The intruder trusts its own CA, so that our members' certificates are foreign to it too.
  const n4 = await startNode("n4", { tls: peerTls(pairs.get("n4") as PemPair, other) });
  const nodes: TestNode[] = [n1, n2, n4];
  try {
    n1.transport.setPeer(n2.id, n2.address);
    n2.transport.setPeer(n1.id, n1.address);
    n1.transport.setPeer(n4.id, n4.address);
    n4.transport.setPeer(n1.id, n1.address);
    const gen = new MessageGen(7);
    const message = (src: TestNode, dst: TestNode, i: number): Message =>
      ({
        ...gen.message(messageTypes[i % messageTypes.length]),
        from: src.id,
        to: dst.id,
      }) as Message;
    for (let i = 0; i < 20; i++) {
      n1.transport.send(message(n1, n2, i));
      n2.transport.send(message(n2, n1, i));
      n4.transport.send(message(n4, n1, i));
      n1.transport.send(message(n1, n4, i));
    }
    // Both members refuse the other's TLS handshake: n1 refuses n4's dial, n4 refuses n1's.
    await waitFor(
      "TLS refusals on both sides",
      () =>
        n1.transport.transportCounters().tlsHandshakesRefused >= 1 &&
        n4.transport.transportCounters().tlsHandshakesRefused >= 1,
    );
    await waitFor(
      "n1 and n2 hear each other",
      () => n1.inbox.length >= 20 && n2.inbox.length >= 20,
    );
    assert.equal(n1.inbox.filter((m) => m.from === n4.id).length, 0);
    assert.equal(n4.inbox.length, 0);
    assert.equal(n1.transport.stats().get(n4.id)?.connected, false);
    assert.equal(n4.transport.stats().get(n1.id)?.connected, false);
    assert.equal(n1.transport.stats().get(n2.id)?.connected, true);
    assert.equal(n1.transport.transportCounters().handshakesAccepted >= 1, true);

    // A plaintext dialer with a well-formed hello: refused at the TLS layer, no reply frame.
    const before = n1.transport.transportCounters().tlsHandshakesRefused;
    const reply = await new Promise<Buffer>((resolve) => {
      const s = connect(n1.address.port, n1.address.host, () =>
        s.write(encodeFrame(encodeHello({ clusterId: "test", from: asNodeId("n9"), to: n1.id }))),
      );
      const got: Buffer[] = [];
      s.on("data", (c: Buffer) => got.push(c));
      s.on("error", () => {});
      s.on("close", () => resolve(Buffer.concat(got)));
    });
    // At most a TLS alert record (content type 21) comes back, never a handshake reply.
    assert.ok(reply.length === 0 || reply[0] === 21, `got ${reply.toString("hex")}`);
    await waitFor(
      "plaintext refusal counted",
      () => n1.transport.transportCounters().tlsHandshakesRefused > before,
    );
    assert.equal(n1.inbox.filter((m) => m.from === asNodeId("n9")).length, 0);
  } finally {
    await stopAll(nodes);
  }
});
