// The public surface of server/: one member process (Member, what `ordo serve` runs), its
// flag parsing helpers and its logger. The services it serves are wired inside member.ts.
export { parseAutoCompaction } from "./auto-compaction.js";
export { parseHostPort, parseInitialCluster, schemeOf } from "./cluster-config.js";
export { createLogger } from "./logger.js";
export {
  Member,
  UNSAFE_TESTING_CONSENT,
  UNSAFE_TESTING_FAULTS,
  type UnsafeTestingFault,
} from "./member.js";
export {
  type CertificateAuthority,
  createCertificateAuthority,
  createSelfSignedCertificate,
  createSignedCertificate,
  type LeafOptions,
  type PemPair,
  writePemFiles,
} from "./tls-certs.js";
export { autoTlsFiles, type TlsFileSpec, TlsMaterial } from "./tls-files.js";
export { tlsCommonNameOf, tlsCommonNameOfSocket } from "./tls-identity.js";
