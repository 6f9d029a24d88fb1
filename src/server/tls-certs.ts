// Certificates for development and tests: a CA, and leaf certificates it signs (server, client,
// or both), as PEM. Used by --auto-tls / --peer-auto-tls (self-signed leaves, as etcd's
// auto-tls), by `ordo cluster --tls` (a CA and certificates signed by it), and by the tests.
//
// Built with @peculiar/x509 on node's WebCrypto: ECDSA P-256 keys are generated natively in
// well under a millisecond each (node-forge, behind `selfsigned`, generates RSA keys in pure
// JavaScript: seconds each on a loaded machine), and the library writes the X.509 extensions
// (SAN, key usage, extended key usage, basic constraints) for us. @peculiar/x509 resolves its
// internals with tsyringe, which needs the reflect-metadata polyfill loaded first.
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { dirname } from "node:path";
import * as x509 from "@peculiar/x509";

type KeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface PemPair {
  readonly cert: string;
  readonly key: string;
}

export interface CertificateAuthority extends PemPair {
  /** Signs with this CA (kept in memory only). */
  readonly signer: { readonly keys: KeyPair; readonly certificate: x509.X509Certificate };
}

export interface LeafOptions {
  readonly commonName: string;
  /** DNS names and IP addresses for the subjectAltName. Default: none. */
  readonly hosts?: readonly string[];
  /** "server", "client" or both (default both, as etcd's peer certificates are). */
  readonly usages?: readonly ("server" | "client")[];
  /** Validity in days from an hour ago. Default 365. */
  readonly days?: number;
}

function serial(): string {
  // A positive 16-byte serial (the top bit clear).
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] as number) & 0x7f;
  return Buffer.from(bytes).toString("hex");
}

async function keyPair(): Promise<KeyPair> {
  return (await webcrypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"])) as KeyPair;
}

async function keyPem(keys: KeyPair): Promise<string> {
  const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey);
  return x509.PemConverter.encode(pkcs8, "PRIVATE KEY");
}

function validity(days: number): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  return { notBefore: new Date(now - 60 * 60 * 1000), notAfter: new Date(now + days * DAY_MS) };
}

/** `CN=...`, with the characters RFC 4514 asks to escape escaped. */
function dn(commonName: string, organization?: string): string {
  const esc = (s: string): string => s.replace(/([,+"\\<>;=])/g, "\\$1");
  return `CN=${esc(commonName)}${organization !== undefined ? `, O=${esc(organization)}` : ""}`;
}

function leafExtensions(o: LeafOptions): x509.Extension[] {
  const usages = o.usages ?? ["server", "client"];
  const ext: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(
      x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
      true,
    ),
    new x509.ExtendedKeyUsageExtension(
      usages.map((u) =>
        u === "server" ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth,
      ),
    ),
  ];
  const hosts = o.hosts ?? [];
  if (hosts.length > 0)
    ext.push(
      new x509.SubjectAlternativeNameExtension(
        hosts.map((h) => (isIP(h) !== 0 ? { type: "ip", value: h } : { type: "dns", value: h })),
      ),
    );
  return ext;
}

/** A new CA certificate and key. */
export async function createCertificateAuthority(
  commonName = "ordo development CA",
  days = 365,
): Promise<CertificateAuthority> {
  const keys = await keyPair();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: dn(commonName, "ordo"),
    ...validity(days),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    cert: certificate.toString("pem"),
    key: await keyPem(keys),
    signer: { keys, certificate },
  };
}

/** A leaf certificate signed by `ca`. */
export async function createSignedCertificate(
  ca: CertificateAuthority,
  o: LeafOptions,
): Promise<PemPair> {
  const keys = await keyPair();
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: dn(o.commonName),
    issuer: ca.signer.certificate.subject,
    ...validity(o.days ?? 365),
    publicKey: keys.publicKey,
    signingKey: ca.signer.keys.privateKey,
    signingAlgorithm: ALGORITHM,
    extensions: [
      ...leafExtensions(o),
      await x509.AuthorityKeyIdentifierExtension.create(ca.signer.certificate),
    ],
  });
  return { cert: certificate.toString("pem"), key: await keyPem(keys) };
}

/** A self-signed leaf certificate (etcd's auto-tls). */
export async function createSelfSignedCertificate(o: LeafOptions): Promise<PemPair> {
  const keys = await keyPair();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: dn(o.commonName, "ordo auto-tls"),
    ...validity(o.days ?? 365),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: leafExtensions(o),
  });
  return { cert: certificate.toString("pem"), key: await keyPem(keys) };
}

/** Writes a certificate and its key (the key readable by its owner only); makes the folder. */
export async function writePemFiles(
  certFile: string,
  keyFile: string,
  pair: PemPair,
): Promise<void> {
  await mkdir(dirname(certFile), { recursive: true, mode: 0o700 });
  await mkdir(dirname(keyFile), { recursive: true, mode: 0o700 });
  await writeFile(certFile, pair.cert, { mode: 0o644 });
  await writeFile(keyFile, pair.key, { mode: 0o600 });
}
