// Client-side TLS, as etcdctl takes it: --cacert (the CA that signed the members' client port
// certificates), --cert and --key (this client's certificate, for members with
// --client-cert-auth), --insecure-skip-tls-verify (encrypt, but do not check the member's
// certificate: development only). Endpoints written https://host:port use TLS; so does every
// endpoint once any of these is given (as etcdctl does).
import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";

export interface ClientTlsOptions {
  /** PEM file of the CA(s) to trust; absent: node's default CAs. */
  readonly caFile?: string | undefined;
  /** PEM files of this client's certificate and key (both or neither). */
  readonly certFile?: string | undefined;
  readonly keyFile?: string | undefined;
  /** Do not verify the member's certificate (chain or name). */
  readonly insecureSkipVerify?: boolean | undefined;
}

function read(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read ${what} "${path}": ${(e as Error).message}`);
  }
}

/** Whether these options ask for TLS at all. */
export function wantsTls(o: ClientTlsOptions | undefined): boolean {
  return (
    o !== undefined &&
    (o.caFile !== undefined ||
      o.certFile !== undefined ||
      o.keyFile !== undefined ||
      o.insecureSkipVerify === true)
  );
}

/**
 * The channel credentials for `endpoint`: TLS for https:// endpoints and whenever TLS options
 * are given, else insecure (plaintext h2c, as before).
 */
export function channelCredentials(
  endpoint: string,
  o: ClientTlsOptions | undefined,
): grpc.ChannelCredentials {
  if (!usesTls(endpoint, o)) return grpc.credentials.createInsecure();
  if ((o?.certFile === undefined) !== (o?.keyFile === undefined))
    throw new Error("a client certificate needs both --cert and --key");
  const ca = o?.caFile !== undefined ? read(o.caFile, "CA file") : null;
  const key = o?.keyFile !== undefined ? read(o.keyFile, "key file") : null;
  const cert = o?.certFile !== undefined ? read(o.certFile, "certificate file") : null;
  return grpc.credentials.createSsl(
    ca,
    key,
    cert,
    o?.insecureSkipVerify === true
      ? { rejectUnauthorized: false, checkServerIdentity: () => undefined }
      : {},
  );
}

/** An https:// endpoint, or any endpoint when TLS files or options are given. */
const usesTls = (endpoint: string, o: ClientTlsOptions | undefined): boolean =>
  /^https:\/\//i.test(endpoint) || wantsTls(o);

/**
 * One gRPC channel per endpoint ("host:port" or an http(s):// URL), for every client: TLS where
 * channelCredentials says so. The certificate files are read once for all of them.
 */
export function channelsOf(
  endpoints: readonly string[],
  o: ClientTlsOptions | undefined,
): grpc.Channel[] {
  const tlsEndpoint = endpoints.find((e) => usesTls(e, o));
  const secure = tlsEndpoint === undefined ? undefined : channelCredentials(tlsEndpoint, o);
  return endpoints.map((e) => {
    const credentials =
      secure !== undefined && usesTls(e, o) ? secure : grpc.credentials.createInsecure();
    return new grpc.Channel(e.replace(/^https?:\/\//, "").replace(/\/$/, ""), credentials, {});
  });
}
