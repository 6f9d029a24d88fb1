// Who a client is by its TLS certificate: the common name of a VERIFIED client certificate,
// as etcd authenticates users created with --no-password (and as --client-cert-auth means).
// Only a certificate node verified against --trusted-ca-file counts: with client-cert-auth
// off, or over plaintext, or when verification did not pass, there is no name.
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";

/** The CN of the verified client certificate on `socket`, else undefined. */
export function tlsCommonNameOfSocket(socket: Socket | undefined): string | undefined {
  const tls = socket as Partial<TLSSocket> | undefined;
  if (tls === undefined || tls.encrypted !== true || tls.authorized !== true) return undefined;
  // A verified certificate exists only where the server asked for one (requestCert, which the
  // client listener sets exactly when --client-cert-auth is on).
  if (typeof tls.getPeerCertificate !== "function") return undefined;
  let cn: unknown;
  try {
    cn = tls.getPeerCertificate()?.subject?.CN;
  } catch {
    return undefined;
  }
  // Several CN attributes come as an array: take none rather than guess.
  return typeof cn === "string" && cn !== "" ? cn : undefined;
}

/** The CN of the verified client certificate of an HTTP request (JSON gateway), else undefined. */
export function tlsCommonNameOf(req: IncomingMessage): string | undefined {
  return tlsCommonNameOfSocket(req.socket);
}
