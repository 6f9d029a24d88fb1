// Disaster recovery from a saved snapshot file (`ordo snapshot save`, `etcdctl snapshot save`):
//  - snapshotStatus: what a file holds (revision, keys, leases, sizes, digests), after checking
//    it whole: the SHA-256 trailer, the framing (api/snapshot-file.ts) and every invariant the
//    KV store's snapshot decoder checks. A truncated or corrupt file throws SnapshotFileError.
//  - restoreMember: etcdctl snapshot restore. It builds one member's fresh data directory of a
//    NEW cluster whose state is the snapshot's: member.json as `ordo serve` writes it for a
//    bootstrap member (cluster id from --initial-cluster and the token, node id --name, a new
//    incarnation), the WAL directory's incarnation marker, and a WAL holding one installed
//    snapshot (index 1, term 1, every --initial-cluster member a voter; the runtime snapshot
//    wraps the KV state with no sessions and no member records: the members publish theirs
//    once they run). `ordo serve` with the same --name, --initial-cluster and token starts
//    from it. Restore every member from the same file, each with its own --name.

import { createHash } from "node:crypto";
import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { readSnapshotFile, SnapshotFileError } from "../api/index.js";
import { KvError, KvStateMachine } from "../kv/index.js";
import { asIndex, asNodeId, asTerm, NO_NODE, type Snapshot } from "../raft/index.js";
import { initialRuntimeSnapshot } from "../rsm/index.js";
import { WalStorage } from "../storage/index.js";
import { newIncarnation } from "../transport/index.js";
import { type PeerSpec, stableId } from "./cluster-config.js";
import { writeIncarnationMarker } from "./incarnation-file.js";
import { type MemberFile, writeMemberFile } from "./member-file.js";
import { clusterIdOf, peerUrlOf } from "./member-identity.js";
import { canonicalUrl } from "./member-records.js";

export interface SnapshotStatus {
  /** The store's revision at the snapshot. */
  readonly revision: number;
  readonly compactRevision: number;
  /** Live keys at the revision. */
  readonly keys: number;
  readonly leases: number;
  /** The file's length, and the KV snapshot's inside it. */
  readonly fileBytes: number;
  readonly snapshotBytes: number;
  /** The whole state's digest, as Maintenance.Hash answers it (hexadecimal CRC-32C). */
  readonly hash: string;
  /** The file's SHA-256 trailer (checked). */
  readonly sha256: string;
}

/** The KV state in a snapshot file, checked whole. Throws SnapshotFileError. */
function loadSnapshot(file: Uint8Array): { kv: KvStateMachine; snapshot: Uint8Array } {
  const snapshot = readSnapshotFile(file);
  const kv = new KvStateMachine();
  try {
    kv.restore(snapshot);
  } catch (e) {
    if (e instanceof KvError) throw new SnapshotFileError(`snapshot file: ${e.message}`);
    throw e;
  }
  return { kv, snapshot };
}

export function snapshotStatus(file: Uint8Array): SnapshotStatus {
  const { kv, snapshot } = loadSnapshot(file);
  const s = kv.store.status();
  return {
    revision: s.header.revision,
    compactRevision: s.compactRevision,
    keys: s.keys,
    leases: s.leases,
    fileBytes: file.length,
    snapshotBytes: snapshot.length,
    hash: (kv.hash() >>> 0).toString(16).padStart(8, "0"),
    sha256: createHash("sha256")
      .update(file.subarray(0, file.length - 32))
      .digest("hex"),
  };
}

export interface RestoreOptions {
  /** The snapshot file's bytes. */
  readonly file: Uint8Array;
  readonly name: string;
  readonly dataDir: string;
  readonly initialCluster: readonly PeerSpec[];
  /** This member's peer URLs; they must be its --initial-cluster entry (etcd checks too). */
  readonly advertisePeerUrls?: readonly string[];
  readonly clusterToken: string;
  /** Called as the work goes: a phase, and how many of its steps are done. */
  readonly onProgress?: (phase: string, done: number, total: number) => void;
}

export interface RestoreResult {
  readonly dataDir: string;
  readonly name: string;
  readonly clusterId: string;
  /** This member's etcd member id (decimal), as `ordo serve` derives it. */
  readonly memberId: string;
  readonly members: readonly {
    readonly name: string;
    readonly id: string;
    readonly peerURL: string;
  }[];
  readonly revision: number;
  readonly keys: number;
  readonly leases: number;
  readonly incarnation: string;
}

/** Restore refused (a non-empty data directory, flags that disagree): nothing was written. */
export class RestoreError extends Error {
  override readonly name = "RestoreError";
}

async function isEmptyDir(dir: string): Promise<"missing" | "empty" | "full"> {
  try {
    return (await readdir(dir)).length === 0 ? "empty" : "full";
  } catch (e) {
    if ((e as { code?: unknown }).code === "ENOENT") return "missing";
    if ((e as { code?: unknown }).code === "ENOTDIR")
      throw new RestoreError(`--data-dir ${dir} is a file, not a directory`);
    throw e;
  }
}

type Progress = (phase: string, done: number, total: number) => void;

/** --initial-advertise-peer-urls, when given, must be this member's --initial-cluster URL. */
function checkAdvertisedUrls(o: RestoreOptions, self: PeerSpec): void {
  const own = canonicalUrl(peerUrlOf(self));
  for (const url of o.advertisePeerUrls ?? []) {
    let canonical: string;
    try {
      canonical = canonicalUrl(url);
    } catch {
      throw new RestoreError(`--initial-advertise-peer-urls: bad URL "${url}"`);
    }
    if (canonical !== own)
      throw new RestoreError(
        `--initial-advertise-peer-urls ${url} does not match --initial-cluster ${o.name}=${own}`,
      );
  }
}

const WRITE_STEPS = 4;

/** The WAL: the snapshot installed at index 1, term 1, with every --initial-cluster voter. */
async function writeWal(
  walDir: string,
  o: RestoreOptions,
  snapshot: Uint8Array,
  progress: Progress,
): Promise<void> {
  const wal = await WalStorage.open(walDir);
  try {
    await wal.load();
    const installed: Snapshot = {
      meta: {
        index: asIndex(1),
        term: asTerm(1),
        confState: {
          voters: o.initialCluster.map((p) => asNodeId(p.name)),
          votersOutgoing: [],
          learners: [],
        },
      },
      data: initialRuntimeSnapshot(snapshot),
    };
    await wal.installSnapshot(installed);
    progress("write", 3, WRITE_STEPS);
    await wal.append([], { term: asTerm(1), vote: NO_NODE, commit: asIndex(1) });
  } finally {
    await wal.close();
  }
}

/** The new data directory; on failure, nothing half-built is left. */
async function writeDataDir(
  o: RestoreOptions,
  state: "missing" | "empty",
  member: MemberFile & { readonly incarnation: string },
  snapshot: Uint8Array,
  progress: Progress,
): Promise<void> {
  try {
    await mkdir(o.dataDir, { recursive: true });
    // member.json before the WAL, in the order `ordo serve` writes a new data directory.
    await writeMemberFile(o.dataDir, member);
    progress("write", 1, WRITE_STEPS);
    const walDir = join(o.dataDir, "wal");
    await mkdir(walDir, { recursive: true });
    await writeIncarnationMarker(walDir, member.incarnation);
    progress("write", 2, WRITE_STEPS);
    await writeWal(walDir, o, snapshot, progress);
    progress("write", 4, WRITE_STEPS);
  } catch (e) {
    // Leave nothing half-built: the directory was missing or empty before.
    if (state === "missing") await rm(o.dataDir, { recursive: true, force: true });
    else
      for (const f of await readdir(o.dataDir).catch(() => []))
        await rm(join(o.dataDir, f), { recursive: true, force: true });
    throw e;
  }
}

export async function restoreMember(o: RestoreOptions): Promise<RestoreResult> {
  const progress = o.onProgress ?? (() => {});
  const self = o.initialCluster.find((p) => p.name === o.name);
  if (self === undefined) throw new RestoreError(`--name ${o.name} is not in --initial-cluster`);
  checkAdvertisedUrls(o, self);
  progress("verify", 0, 1);
  const { kv, snapshot } = loadSnapshot(o.file);
  progress("verify", 1, 1);
  const state = await isEmptyDir(o.dataDir);
  if (state === "full")
    throw new RestoreError(
      `--data-dir ${o.dataDir} is not empty: restore builds a new member's data directory; remove it or choose another`,
    );
  const clusterId = clusterIdOf(o.initialCluster, o.clusterToken);
  const incarnation = newIncarnation();
  const member: MemberFile & { readonly incarnation: string } = {
    clusterId,
    nodeId: asNodeId(o.name),
    memberId: "",
    bootstrap: true,
    peers: o.initialCluster.map((p) => ({ nodeId: asNodeId(p.name), peerURLs: [peerUrlOf(p)] })),
    incarnation,
  };
  await writeDataDir(o, state, member, snapshot, progress);
  const s = kv.store.status();
  return {
    dataDir: o.dataDir,
    name: o.name,
    clusterId,
    memberId: stableId(o.name),
    members: o.initialCluster.map((p) => ({
      name: p.name,
      id: stableId(p.name),
      peerURL: peerUrlOf(p),
    })),
    revision: s.header.revision,
    keys: s.keys,
    leases: s.leases,
    incarnation,
  };
}
