// `ordo serve`: runs one cluster member (for real deployments across machines, and what
// `ordo cluster` starts three of). Flags follow etcd's names.
//
//   ordo serve --name n1 --data-dir data/n1 --listen-client-urls http://127.0.0.1:2379 \
//     --initial-cluster n1=http://127.0.0.1:2380,n2=http://127.0.0.1:22380,n3=http://127.0.0.1:32380
//
// A member added to a running cluster (ordo member add / etcdctl member add) starts with
// --initial-cluster-state existing and an --initial-cluster naming running members and itself.
// A member removed from the cluster stops and exits 0 with "this member was removed from the
// cluster". A member whose data directory was wiped (or replaced) and that is started again
// under its old name is refused: at start when a peer knows it from an earlier start
// ("has already been bootstrapped", with how to rejoin), or later when a peer refuses its
// data directory's incarnation; either way it exits 1 with the reason.
import { parseArgs } from "node:util";
import type { LogLevel } from "../rsm/index.js";
import {
  autoTlsFiles,
  createLogger,
  Member,
  parseAutoCompaction,
  parseHostPort,
  parseInitialCluster,
  schemeOf,
  TlsMaterial,
  UNSAFE_TESTING_CONSENT,
  UNSAFE_TESTING_FAULTS,
  type UnsafeTestingFault,
} from "../server/index.js";
import { positiveInt } from "./int-flags.js";
import type { Output } from "./output.js";

export const SERVE_USAGE = `usage: ordo serve --name NAME --data-dir DIR --initial-cluster NAME=URL,... [options]

  --name NAME                    this member's name (must appear in --initial-cluster)
  --data-dir DIR                 where the WAL, snapshots and member.json live
  --listen-client-urls URL       client address (gRPC, etcd v3 API); default http://127.0.0.1:2379
  --initial-cluster LIST         every member's peer address: n1=http://127.0.0.1:2380,...
  --listen-peer-urls URL         where this member accepts peers, when not at its own
                                 --initial-cluster URL (that one is then only advertised:
                                 e.g. a proxy or NAT in front of the member)
  --peers LIST                   same as --initial-cluster
  --initial-cluster-token TEXT   distinguishes clusters; members of another cluster are refused
  --initial-cluster-state STATE  new (default): bootstrap the cluster of --initial-cluster;
                                 existing: join a running cluster this member was added to
  --tick-ms N                    Raft tick (default 100); election timeout is --election-ticks ticks
  --election-ticks N             default 10
  --snapshot-count N             applied entries between snapshots (default 100000, as etcd 3.4)
  --read-mode index|lease        linearizable reads by a ReadIndex heartbeat round (default) or,
                                 opt-in, by the leader's check-quorum lease (no round)
  --lease-clock-drift F          lease mode: the largest relative clock-rate difference between
                                 members it tolerates (default 0.1)
  --max-request-bytes N          largest client request (default 1572864); the same on every member
  --quota-backend-bytes N        space quota (etcd's): a write that would take the store's size
                                 (dbSize) past N is refused and raises the NOSPACE alarm;
                                 0 (default): 2 GiB, negative (--quota-backend-bytes=-1): none
  --auto-compaction-mode MODE    periodic (default) or revision, as etcd 3.4
  --auto-compaction-retention R  0 (default): off; periodic: history to keep, a duration (1h, 30m,
                                 90s) or hours (72); revision: revisions to keep (the leader
                                 compacts to the current revision - R every 5 minutes)
  --auth-token-ttl N             lifetime of a simple auth token, in seconds (default 300);
                                 each use renews it
  --bcrypt-cost N                bcrypt cost of the passwords this member hashes (default 10)
  --log-level LEVEL              debug, info, warn, error (default info)

Transport security (as etcd; https:// URLs serve and dial TLS):
  --cert-file FILE               client port certificate (https:// --listen-client-urls)
  --key-file FILE                its key
  --trusted-ca-file FILE         CA that signs client certificates
  --client-cert-auth             refuse clients without a certificate the trusted CA signed
  --auto-tls                     a self-signed client port certificate (under DIR/fixtures/client)
  --peer-cert-file FILE          peer certificate, for both directions (https:// peer URLs)
  --peer-key-file FILE           its key
  --peer-trusted-ca-file FILE    CA that signs every member's peer certificate
  --peer-client-cert-auth        refuse peers without a certificate the peer CA signed
  --peer-auto-tls                self-signed peer certificates, not verified (development only)
  Certificate files are read again when they change (checked at most once a second).`;

/** An integer flag that may be 0 or negative (etcd's int64 flags). */
function anyInt(text: string | undefined, flag: string, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (text.trim() === "" || !Number.isSafeInteger(n))
    throw new Error(`${flag} must be an integer, not "${text}"`);
  return n;
}

/**
 * The hidden --unsafe-testing-fault flag: a member that breaks a guarantee on purpose, so that
 * `ordo chaos` can show it catches a broken build on real processes. Never for real use: it is
 * refused unless the environment says ORDO_UNSAFE_TESTING_FAULTS=i-know-this-breaks-safety too.
 */
function parseUnsafeTestingFault(text: string | undefined): UnsafeTestingFault | undefined {
  if (text === undefined) return undefined;
  if (!(UNSAFE_TESTING_FAULTS as readonly string[]).includes(text))
    throw new Error(
      `--unsafe-testing-fault must be one of ${UNSAFE_TESTING_FAULTS.join(", ")}, not "${text}"`,
    );
  if (process.env.ORDO_UNSAFE_TESTING_FAULTS !== UNSAFE_TESTING_CONSENT)
    throw new Error(
      `--unsafe-testing-fault ${text} makes this member unsafe on purpose; it is refused unless ` +
        `the environment sets ORDO_UNSAFE_TESTING_FAULTS=${UNSAFE_TESTING_CONSENT}`,
    );
  return text as UnsafeTestingFault;
}

interface TlsFlags {
  readonly scheme: "http" | "https";
  readonly what: string;
  readonly certFile: string | undefined;
  readonly keyFile: string | undefined;
  readonly trustedCaFile: string | undefined;
  readonly clientCertAuth: boolean;
  readonly autoTls: boolean;
  /** The flag names, in the order above from certFile. */
  readonly flags: readonly string[];
  readonly dataDir: string;
  readonly which: "client" | "peer";
  readonly hosts: readonly string[];
  readonly name: string;
}

/**
 * One side's TLS material from its flags, or undefined for plaintext. https:// needs a
 * certificate and key (or auto-tls); TLS flags on an http:// side are an error rather than
 * silently unused, and so is client-cert-auth without a CA to verify with.
 */
async function tlsOf(
  f: TlsFlags,
  logger: ReturnType<typeof createLogger>,
): Promise<TlsMaterial | undefined> {
  const [certFlag, keyFlag, caFlag, authFlag, autoFlag] = f.flags as [
    string,
    string,
    string,
    string,
    string,
  ];
  const given = [
    f.certFile !== undefined ? certFlag : undefined,
    f.keyFile !== undefined ? keyFlag : undefined,
    f.trustedCaFile !== undefined ? caFlag : undefined,
    f.clientCertAuth ? authFlag : undefined,
    f.autoTls ? autoFlag : undefined,
  ].filter((x): x is string => x !== undefined);
  if (f.scheme === "http") {
    if (given.length > 0)
      throw new Error(
        `${given.join(", ")} given, but the ${f.what} are http://: use https:// URLs to serve TLS`,
      );
    return undefined;
  }
  if ((f.certFile === undefined) !== (f.keyFile === undefined))
    throw new Error(`${certFlag} and ${keyFlag} go together: give both`);
  if (f.clientCertAuth && f.trustedCaFile === undefined)
    throw new Error(`${authFlag} needs ${caFlag}: the CA that signs the certificates to accept`);
  let files: { certFile: string; keyFile: string };
  let skipVerify = false;
  if (f.certFile !== undefined && f.keyFile !== undefined) {
    if (f.autoTls) logger("warn", `${autoFlag} ignored: ${certFlag} and ${keyFlag} are given`, {});
    files = { certFile: f.certFile, keyFile: f.keyFile };
  } else if (f.autoTls) {
    files = await autoTlsFiles(f.dataDir, f.which, f.hosts, f.name);
    // etcd: peers with auto-tls do not verify one another (each certificate is self-signed).
    skipVerify = f.which === "peer";
    logger("warn", `${autoFlag}: self-signed certificate in use (development only)`, {
      certFile: files.certFile,
    });
  } else {
    throw new Error(
      `the ${f.what} are https:// but no certificate is given: set ${certFlag} and ${keyFlag} (or ${autoFlag} for a self-signed development certificate)`,
    );
  }
  return TlsMaterial.load(
    {
      ...files,
      ...(f.trustedCaFile !== undefined ? { trustedCaFile: f.trustedCaFile } : {}),
      clientCertAuth: f.clientCertAuth && !skipVerify,
      skipVerify,
    },
    (error) =>
      logger("warn", `${f.which} TLS files changed but do not load; keeping the old ones`, {
        error,
      }),
  );
}

const SERVE_OPTIONS = {
  name: { type: "string" },
  "data-dir": { type: "string" },
  "listen-client-urls": { type: "string", default: "http://127.0.0.1:2379" },
  "initial-cluster": { type: "string" },
  "listen-peer-urls": { type: "string" },
  "unsafe-testing-fault": { type: "string" },
  peers: { type: "string" },
  "initial-cluster-token": { type: "string", default: "ordo-cluster" },
  "initial-cluster-state": { type: "string", default: "new" },
  "tick-ms": { type: "string" },
  "election-ticks": { type: "string" },
  "snapshot-count": { type: "string" },
  "auto-compaction-mode": { type: "string" },
  "auto-compaction-retention": { type: "string" },
  "read-mode": { type: "string", default: "index" },
  "lease-clock-drift": { type: "string" },
  "max-request-bytes": { type: "string" },
  "quota-backend-bytes": { type: "string" },
  "auth-token-ttl": { type: "string" },
  "bcrypt-cost": { type: "string" },
  "log-level": { type: "string", default: "info" },
  "cert-file": { type: "string" },
  "key-file": { type: "string" },
  "trusted-ca-file": { type: "string" },
  "client-cert-auth": { type: "boolean", default: false },
  "auto-tls": { type: "boolean", default: false },
  "peer-cert-file": { type: "string" },
  "peer-key-file": { type: "string" },
  "peer-trusted-ca-file": { type: "string" },
  "peer-client-cert-auth": { type: "boolean", default: false },
  "peer-auto-tls": { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

type ServeValues = ReturnType<typeof parseServeArgs>;

function parseServeArgs(args: string[]) {
  return parseArgs({ args, options: SERVE_OPTIONS, strict: true }).values;
}

export async function runServeCommand(args: string[], out: Output): Promise<number> {
  const values = parseServeArgs(args);
  if (values.help) {
    out.stdout(`${SERVE_USAGE}\n`);
    return 0;
  }
  const f = serveFlags(values);
  const logger = createLogger(f.name, f.level);
  if (f.unsafeTestingFault !== undefined)
    logger("warn", "UNSAFE TESTING FAULT ENABLED: this member breaks its guarantees on purpose", {
      fault: f.unsafeTestingFault,
    });
  const initialCluster = parseInitialCluster(f.clusterText, {
    skipUnnamed: f.state === "existing",
  });
  const { clientTls, peerTls } = await serveTls(values, f, initialCluster, logger);
  const member = await Member.start({
    name: f.name,
    dataDir: f.dataDir,
    ...(clientTls !== undefined ? { clientTls } : {}),
    ...(peerTls !== undefined ? { peerTls } : {}),
    clientHost: f.client.host,
    clientPort: f.client.port,
    ...(f.listenPeer !== undefined ? { listenPeer: f.listenPeer } : {}),
    ...(f.unsafeTestingFault !== undefined ? { unsafeTestingFault: f.unsafeTestingFault } : {}),
    initialCluster,
    clusterToken: values["initial-cluster-token"] as string,
    initialClusterState: f.state,
    tickMs: positiveInt(values["tick-ms"], "--tick-ms", 100),
    electionTicks: positiveInt(values["election-ticks"], "--election-ticks", 10),
    snapshotEntries: positiveInt(values["snapshot-count"], "--snapshot-count", 100_000),
    ...(f.autoCompaction !== undefined ? { autoCompaction: f.autoCompaction } : {}),
    readMode: f.readMode,
    ...(f.leaseClockDrift !== undefined ? { leaseClockDrift: f.leaseClockDrift } : {}),
    requestBytesMax: positiveInt(
      values["max-request-bytes"],
      "--max-request-bytes",
      1.5 * 1024 * 1024,
    ),
    quotaBackendBytes: anyInt(values["quota-backend-bytes"], "--quota-backend-bytes", 0),
    authTokenTtlSeconds: positiveInt(values["auth-token-ttl"], "--auth-token-ttl", 300),
    bcryptCost: positiveInt(values["bcrypt-cost"], "--bcrypt-cost", 10),
    logger,
  });
  const where = `${f.client.host}:${member.clientPort}`;
  out.stdout(
    `ordo member ${f.name} serving clients on ${where}${clientTls !== undefined ? " (TLS)" : ""}, data in ${f.dataDir}\n`,
  );
  logger("info", "ready to serve client requests", { client: where, dataDir: f.dataDir });
  return serveUntilStopped(member, f.name, logger, out);
}

/** The flags that need checking before anything starts, checked: each mistake one clear line. */
function serveFlags(values: ServeValues) {
  const name = values.name;
  if (name === undefined) throw new Error("--name is required");
  const clusterText = values["initial-cluster"] ?? values.peers;
  if (clusterText === undefined) throw new Error("--initial-cluster (or --peers) is required");
  const level = values["log-level"] as LogLevel;
  if (!["debug", "info", "warn", "error"].includes(level))
    throw new Error(`bad --log-level "${level}"`);
  const state = values["initial-cluster-state"];
  if (state !== "new" && state !== "existing")
    throw new Error(`--initial-cluster-state must be new or existing, not "${state}"`);
  const readMode = values["read-mode"];
  if (readMode !== "index" && readMode !== "lease")
    throw new Error(`--read-mode must be index or lease, not "${readMode}"`);
  const driftText = values["lease-clock-drift"];
  const leaseClockDrift = driftText === undefined ? undefined : Number(driftText);
  if (leaseClockDrift !== undefined && !(leaseClockDrift >= 0 && leaseClockDrift < 1))
    throw new Error(`--lease-clock-drift must be a fraction in [0, 1), not "${driftText}"`);
  const listenPeerText = values["listen-peer-urls"];
  return {
    name,
    dataDir: values["data-dir"] ?? `${name}.ordo`,
    clusterText,
    level,
    state: state as "new" | "existing",
    readMode: readMode as "index" | "lease",
    leaseClockDrift,
    autoCompaction: parseAutoCompaction(
      values["auto-compaction-mode"],
      values["auto-compaction-retention"],
    ),
    clientUrl: values["listen-client-urls"] as string,
    client: parseHostPort(values["listen-client-urls"] as string, "--listen-client-urls"),
    listenPeerText,
    listenPeer:
      listenPeerText === undefined
        ? undefined
        : parseHostPort(listenPeerText, "--listen-peer-urls"),
    unsafeTestingFault: parseUnsafeTestingFault(values["unsafe-testing-fault"]),
  };
}

/**
 * The one scheme of the peer URLs (--initial-cluster, unless this member joins and is not in
 * it, and --listen-peer-urls): http unless they say https; refused when they mix both.
 */
function peerSchemeOf(
  f: ReturnType<typeof serveFlags>,
  initialCluster: ReturnType<typeof parseInitialCluster>,
  selfListed: boolean,
): TlsFlags["scheme"] {
  const peerSchemes = [
    ...(f.state === "existing" && !selfListed ? [] : initialCluster.map((p) => p.scheme ?? "http")),
    ...(f.listenPeerText !== undefined ? [schemeOf(f.listenPeerText)] : []),
  ];
  if (new Set(peerSchemes).size > 1)
    throw new Error(
      "--initial-cluster and --listen-peer-urls mix http:// and https:// peer URLs: every member of a cluster speaks one of them",
    );
  return peerSchemes[0] ?? "http";
}

/** Client and peer TLS from etcd's flags, after checking the URLs agree on one scheme. */
async function serveTls(
  values: ServeValues,
  f: ReturnType<typeof serveFlags>,
  initialCluster: ReturnType<typeof parseInitialCluster>,
  logger: ReturnType<typeof createLogger>,
) {
  const self = initialCluster.find((p) => p.name === f.name);
  const peerScheme = peerSchemeOf(f, initialCluster, self !== undefined);
  const clientTls = await tlsOf(
    {
      scheme: schemeOf(f.clientUrl),
      what: "--listen-client-urls",
      certFile: values["cert-file"],
      keyFile: values["key-file"],
      trustedCaFile: values["trusted-ca-file"],
      clientCertAuth: values["client-cert-auth"] as boolean,
      autoTls: values["auto-tls"] as boolean,
      flags: ["--cert-file", "--key-file", "--trusted-ca-file", "--client-cert-auth", "--auto-tls"],
      dataDir: f.dataDir,
      which: "client",
      hosts: [f.client.host],
      name: f.name,
    },
    logger,
  );
  const peerTls = await tlsOf(
    {
      scheme: peerScheme,
      what: "peer URLs (--initial-cluster, --listen-peer-urls)",
      certFile: values["peer-cert-file"],
      keyFile: values["peer-key-file"],
      trustedCaFile: values["peer-trusted-ca-file"],
      clientCertAuth: values["peer-client-cert-auth"] as boolean,
      autoTls: values["peer-auto-tls"] as boolean,
      flags: [
        "--peer-cert-file",
        "--peer-key-file",
        "--peer-trusted-ca-file",
        "--peer-client-cert-auth",
        "--peer-auto-tls",
      ],
      dataDir: f.dataDir,
      which: "peer",
      hosts: [
        ...(self !== undefined ? [self.host] : []),
        ...(f.listenPeer !== undefined ? [f.listenPeer.host] : []),
      ],
      name: f.name,
    },
    logger,
  );
  return { clientTls, peerTls };
}

/**
 * Serves until a signal (or the supervisor's IPC channel closing), the member's removal from
 * the cluster, or the cluster's refusal of its data directory; the exit code for each.
 */
async function serveUntilStopped(
  member: Member,
  name: string,
  logger: ReturnType<typeof createLogger>,
  out: Output,
): Promise<number> {
  let onSignal: () => void = () => {};
  const signalled = new Promise<"signal">((resolve) => {
    onSignal = () => resolve("signal");
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    // Started by `ordo cluster` with an IPC channel: stop when the supervisor is gone (even
    // killed with SIGKILL), rather than run on orphaned. The channel does not keep us alive.
    if (process.channel !== undefined) {
      process.channel.unref();
      process.once("disconnect", onSignal);
    }
  });
  const removed = member.removed.then((reason) => ({ reason }));
  const fenced = member.fenced.then((reason) => ({ fenced: reason }));
  const why = await Promise.race([signalled, removed, fenced]);
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  process.off("disconnect", onSignal);
  if (why !== "signal" && "fenced" in why) {
    // One JSON log line like every other line on stderr (etcd's zap logs), then exit 1.
    logger(
      "error",
      `member ${name} stopped: the cluster refused its data directory. Its data directory is not the one the cluster knew for it: it was wiped or replaced, and a member that forgot its log, term and vote must not take part under its old id. To bring it back: ordo member remove <id>, wipe the data directory, ordo member add, then start it with --initial-cluster-state existing.`,
      { reason: why.fenced },
    );
    return 1;
  }
  if (why !== "signal") {
    // The member has stopped itself: it is no longer part of the cluster.
    out.stdout(`ordo member ${name}: this member was removed from the cluster (${why.reason})\n`);
    return 0;
  }
  logger("info", "stopping");
  await member.stop();
  return 0;
}
