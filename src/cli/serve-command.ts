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
  createLogger,
  Member,
  parseHostPort,
  parseInitialCluster,
  UNSAFE_TESTING_CONSENT,
  UNSAFE_TESTING_FAULTS,
  type UnsafeTestingFault,
} from "../server/index.js";
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
  --auth-token-ttl N             lifetime of a simple auth token, in seconds (default 300);
                                 each use renews it
  --bcrypt-cost N                bcrypt cost of the passwords this member hashes (default 10)
  --log-level LEVEL              debug, info, warn, error (default info)`;

function positiveInt(text: string | undefined, flag: string, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new Error(`${flag} must be a positive integer, not "${text}"`);
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

export async function runServeCommand(args: string[], out: Output): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
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
      "read-mode": { type: "string", default: "index" },
      "lease-clock-drift": { type: "string" },
      "max-request-bytes": { type: "string" },
      "auth-token-ttl": { type: "string" },
      "bcrypt-cost": { type: "string" },
      "log-level": { type: "string", default: "info" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    out.stdout(`${SERVE_USAGE}\n`);
    return 0;
  }
  const name = values.name;
  if (name === undefined) throw new Error("--name is required");
  const dataDir = values["data-dir"] ?? `${name}.ordo`;
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
  const client = parseHostPort(values["listen-client-urls"] as string, "--listen-client-urls");
  const listenPeerText = values["listen-peer-urls"];
  const listenPeer =
    listenPeerText === undefined ? undefined : parseHostPort(listenPeerText, "--listen-peer-urls");
  const unsafeTestingFault = parseUnsafeTestingFault(values["unsafe-testing-fault"]);
  const logger = createLogger(name, level);
  if (unsafeTestingFault !== undefined)
    logger("warn", "UNSAFE TESTING FAULT ENABLED: this member breaks its guarantees on purpose", {
      fault: unsafeTestingFault,
    });
  const member = await Member.start({
    name,
    dataDir,
    clientHost: client.host,
    clientPort: client.port,
    ...(listenPeer !== undefined ? { listenPeer } : {}),
    ...(unsafeTestingFault !== undefined ? { unsafeTestingFault } : {}),
    initialCluster: parseInitialCluster(clusterText, { skipUnnamed: state === "existing" }),
    clusterToken: values["initial-cluster-token"] as string,
    initialClusterState: state,
    tickMs: positiveInt(values["tick-ms"], "--tick-ms", 100),
    electionTicks: positiveInt(values["election-ticks"], "--election-ticks", 10),
    snapshotEntries: positiveInt(values["snapshot-count"], "--snapshot-count", 100_000),
    readMode,
    ...(leaseClockDrift !== undefined ? { leaseClockDrift } : {}),
    requestBytesMax: positiveInt(
      values["max-request-bytes"],
      "--max-request-bytes",
      1.5 * 1024 * 1024,
    ),
    authTokenTtlSeconds: positiveInt(values["auth-token-ttl"], "--auth-token-ttl", 300),
    bcryptCost: positiveInt(values["bcrypt-cost"], "--bcrypt-cost", 10),
    logger,
  });
  out.stdout(
    `ordo member ${name} serving clients on ${client.host}:${member.clientPort}, data in ${dataDir}\n`,
  );
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
    out.stderr(
      `ordo serve: member ${name} stopped: the cluster refused its data directory (${why.fenced}).\n` +
        "Its data directory is not the one the cluster knew for it: it was wiped or replaced, and a member that forgot its log, term and vote must not take part under its old id. To bring it back: ordo member remove <id>, wipe the data directory, ordo member add, then start it with --initial-cluster-state existing.\n",
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
