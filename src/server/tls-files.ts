// TLS material from files, as etcd's --cert-file/--key-file/--trusted-ca-file (client port) and
// --peer-cert-file/--peer-key-file/--peer-trusted-ca-file (peers) give it, with reload without
// restart: like etcd, which reads its certificate files again on each handshake, every new
// connection asks refresh(), which looks at the files' size and mtime at most once per second
// and, when one changed, reads them again. A file that fails to load then (half written) keeps
// the material in use and is tried again on the next check; at start, a failure is a clear error.
//
// Also: --auto-tls / --peer-auto-tls, self-signed certificates written under the data directory
// (<data-dir>/fixtures/client or /peer, as etcd), made once and kept across restarts.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { createSecureContext, type SecureContext, type SecureContextOptions } from "node:tls";
import { createSelfSignedCertificate, writePemFiles } from "./tls-certs.js";

export interface TlsFileSpec {
  readonly certFile: string;
  readonly keyFile: string;
  /** CA certificates that sign the other side's certificate. Absent: node's default CAs. */
  readonly trustedCaFile?: string | undefined;
  /**
   * Require a certificate of the other side, verified against trustedCaFile (etcd's
   * --client-cert-auth / --peer-client-cert-auth): connections without one are refused.
   */
  readonly clientCertAuth: boolean;
  /**
   * Self-signed (auto-tls): neither side's certificate is verified (etcd's auto-tls: traffic is
   * encrypted but anyone can connect). Default false.
   */
  readonly skipVerify?: boolean | undefined;
  /** How often at most the files are looked at for a change. Default 1000 ms. */
  readonly reloadCheckMs?: number | undefined;
}

const RELOAD_CHECK_MS = 1000;

function stamp(path: string): string {
  const s = statSync(path);
  return `${s.size}:${s.mtimeMs}`;
}

function readOptions(spec: TlsFileSpec): SecureContextOptions {
  const read = (path: string, what: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (e) {
      throw new Error(`cannot read ${what} "${path}": ${(e as Error).message}`);
    }
  };
  const options: SecureContextOptions = {
    cert: read(spec.certFile, "certificate file"),
    key: read(spec.keyFile, "key file"),
    ...(spec.trustedCaFile !== undefined
      ? { ca: read(spec.trustedCaFile, "trusted CA file") }
      : {}),
  };
  try {
    createSecureContext(options); // the key matches the certificate, the PEM parses
  } catch (e) {
    throw new Error(
      `bad TLS files (${spec.certFile}, ${spec.keyFile}${spec.trustedCaFile !== undefined ? `, ${spec.trustedCaFile}` : ""}): ${(e as Error).message}`,
    );
  }
  return options;
}

export class TlsMaterial {
  private options: SecureContextOptions;
  private context: SecureContext;
  private stamps: string;
  private checkedAtMs: number;
  /** Times the files were read again after a change (for tests and logs). */
  reloads = 0;

  private constructor(
    readonly spec: TlsFileSpec,
    private readonly onReloadError: (error: string) => void,
  ) {
    this.options = readOptions(spec);
    this.context = createSecureContext(this.options);
    this.stamps = this.currentStamps();
    this.checkedAtMs = performance.now();
  }

  /** Reads and checks the files now; throws a clear error when they do not make TLS material. */
  static load(spec: TlsFileSpec, onReloadError: (error: string) => void = () => {}): TlsMaterial {
    return new TlsMaterial(spec, onReloadError);
  }

  get clientCertAuth(): boolean {
    return this.spec.clientCertAuth;
  }

  get verifiesPeer(): boolean {
    return this.spec.skipVerify !== true;
  }

  private currentStamps(): string {
    const files = [this.spec.certFile, this.spec.keyFile, this.spec.trustedCaFile];
    return files
      .filter((f): f is string => f !== undefined)
      .map((f) => {
        try {
          return stamp(f);
        } catch {
          return "missing";
        }
      })
      .join("|");
  }

  /**
   * Whether the files changed since last read (checked at most once per second); when they did
   * and load, the new material is in use from now on and this returns true.
   */
  refresh(): boolean {
    const now = performance.now();
    if (now - this.checkedAtMs < (this.spec.reloadCheckMs ?? RELOAD_CHECK_MS)) return false;
    this.checkedAtMs = now;
    const stamps = this.currentStamps();
    if (stamps === this.stamps) return false;
    try {
      const options = readOptions(this.spec);
      this.context = createSecureContext(options);
      this.options = options;
      this.stamps = stamps;
      this.reloads++;
      return true;
    } catch (e) {
      this.onReloadError((e as Error).message);
      return false;
    }
  }

  /** cert, key and ca, for a tls.Server (createServer, setSecureContext). */
  contextOptions(): SecureContextOptions {
    return this.options;
  }

  secureContext(): SecureContext {
    return this.context;
  }

  /** A tls.Server's options: the material, and whether (and how) the other side is verified. */
  serverOptions(): SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean } {
    return {
      ...this.options,
      requestCert: this.spec.clientCertAuth,
      rejectUnauthorized: this.spec.clientCertAuth && this.verifiesPeer,
    };
  }
}

/**
 * etcd's auto-tls: a self-signed certificate for `hosts` under dataDir/fixtures/<which>
 * (made on first start, reused after), as TLS file paths.
 */
export async function autoTlsFiles(
  dataDir: string,
  which: "client" | "peer",
  hosts: readonly string[],
  commonName: string,
): Promise<{ certFile: string; keyFile: string }> {
  const dir = join(dataDir, "fixtures", which);
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  if (existsSync(certFile) && existsSync(keyFile)) return { certFile, keyFile };
  const pair = await createSelfSignedCertificate({
    commonName,
    hosts: [...new Set(["localhost", "127.0.0.1", ...hosts])],
  });
  await writePemFiles(certFile, keyFile, pair);
  return { certFile, keyFile };
}
