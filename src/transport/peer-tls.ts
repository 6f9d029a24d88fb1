// Peer TLS (etcd's --peer-cert-file, --peer-key-file, --peer-trusted-ca-file,
// --peer-client-cert-auth; https:// peer URLs): the same handshake and frames as over TCP
// (handshake.ts: cluster id, incarnations), inside a TLS connection. Both directions verify:
// a dialer refuses an acceptor whose certificate the peer CA did not sign, and an acceptor
// with client-cert-auth refuses a dialer without such a certificate, at the TLS handshake,
// before a single frame is read. The transport reads no files: the member gives it functions
// that return the current material (so certificates can be reloaded without a restart).
import { type Socket, connect as tcpConnect } from "node:net";
import { type ConnectionOptions, type SecureContextOptions, connect as tlsConnect } from "node:tls";
import type { PeerAddress } from "./transport-types.js";

export interface PeerTls {
  /** The accepting side's tls.Server options: cert, key, ca, requestCert, rejectUnauthorized. */
  readonly server: () => SecureContextOptions & {
    requestCert: boolean;
    rejectUnauthorized: boolean;
  };
  /** Asked on every inbound connection: new cert/key/ca when the files changed, else undefined. */
  readonly reloaded?: (() => SecureContextOptions | undefined) | undefined;
  /** Each outbound connection's options: secureContext (or cert/key/ca), rejectUnauthorized. */
  readonly client: () => ConnectionOptions;
}

/**
 * Dials a peer, over TLS when `tls` is given. `onReady` runs once the connection can carry the
 * hello: on connect for TCP, after a verified handshake for TLS.
 */
export function dialPeer(
  address: PeerAddress,
  tls: PeerTls | undefined,
  onReady: () => void,
): Socket {
  if (tls === undefined) {
    const socket = tcpConnect({ host: address.host, port: address.port });
    socket.once("connect", onReady);
    return socket;
  }
  const socket = tlsConnect({
    ...tls.client(),
    host: address.host,
    port: address.port,
  });
  socket.once("secureConnect", onReady);
  return socket;
}
