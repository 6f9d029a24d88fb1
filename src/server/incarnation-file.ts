// peers.json: the data directory incarnation this member has seen for each peer node id
// (transport/incarnations.ts), so that a peer whose data directory was wiped or replaced is
// refused even after this member restarts. Written atomically and durably (temp file, fsync,
// rename, directory fsync) before the connection that taught it is accepted:
//
//   { "version": 1, "peers": { "n1": "9f…", "n2": "c4…" } }
//
// Entries are only added, never changed: a node id comes back with another incarnation only
// through a wiped data directory, which is exactly what must be refused. (A removed member
// rejoins under a new node id.) At most PEERS_MAX entries are kept; the oldest go first.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { asNodeId, type NodeId } from "../raft/index.js";
import { replaceFileDurably } from "../storage/index.js";
import type { PeerIncarnations } from "../transport/index.js";
import { MemberFileError } from "./member-file.js";

export const PEERS_FILE = "peers.json";
const VERSION = 1;
const FILE_BYTES_MAX = 4 * 1024 * 1024;
const PEERS_MAX = 10_000;

export class FileIncarnations implements PeerIncarnations {
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly dir: string,
    private readonly known: Map<NodeId, string>,
  ) {}

  /** Reads dir/peers.json (none: nothing known yet). Throws MemberFileError when it is damaged. */
  static async open(dir: string): Promise<FileIncarnations> {
    const path = join(dir, PEERS_FILE);
    const known = new Map<NodeId, string>();
    let text: string | undefined;
    try {
      const bytes = await readFile(path);
      if (bytes.byteLength > FILE_BYTES_MAX) throw new MemberFileError(`${path}: too large`);
      text = bytes.toString("utf8");
    } catch (e) {
      if ((e as { code?: unknown }).code !== "ENOENT") throw e;
    }
    if (text !== undefined) {
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch {
        throw new MemberFileError(`${path}: not JSON; restore it or remove the data directory`);
      }
      const o = raw as Record<string, unknown> | null;
      if (o === null || typeof o !== "object" || o.version !== VERSION)
        throw new MemberFileError(`${path}: unknown version`);
      const peers = o.peers as Record<string, unknown> | null;
      if (peers === null || typeof peers !== "object" || Array.isArray(peers))
        throw new MemberFileError(`${path}: bad peers`);
      for (const [id, inc] of Object.entries(peers)) {
        if (id === "" || typeof inc !== "string" || inc === "")
          throw new MemberFileError(`${path}: bad peer entry`);
        known.set(asNodeId(id), inc);
      }
    }
    return new FileIncarnations(dir, known);
  }

  get(id: NodeId): string | undefined {
    return this.known.get(id);
  }

  /** Known incarnations, oldest first. */
  entries(): [NodeId, string][] {
    return [...this.known];
  }

  learn(id: NodeId, incarnation: string): Promise<boolean> {
    const known = this.known.get(id);
    if (known !== undefined && known !== incarnation) return Promise.resolve(false);
    if (known === undefined) {
      this.known.set(id, incarnation);
      if (this.known.size > PEERS_MAX) {
        const oldest = this.known.keys().next().value as NodeId;
        this.known.delete(oldest);
      }
      // Writes go one at a time, each with everything known by then.
      this.writing = this.writing.catch(() => {}).then(() => this.write());
    }
    // Also when it was known already: it may still be on its way to the disk.
    return this.writing.then(() => this.known.get(id) === incarnation);
  }

  private async write(): Promise<void> {
    const peers: Record<string, string> = {};
    for (const [id, inc] of this.known) peers[id] = inc;
    const text = `${JSON.stringify({ version: VERSION, peers }, null, 2)}\n`;
    await replaceFileDurably(this.dir, PEERS_FILE, Buffer.from(text, "utf8"));
  }
}

/**
 * wal/INCARNATION: the incarnation of the data directory the WAL belongs to, written when the
 * WAL directory is first used. member.json names the data directory's incarnation; if the WAL
 * directory was wiped while member.json stayed, the marker is gone and Member.start draws a
 * new incarnation (the peers that knew the old one refuse it); a WAL directory from another
 * data directory (another marker) is refused outright.
 */
export const INCARNATION_MARKER = "INCARNATION";

export async function readIncarnationMarker(walDir: string): Promise<string | undefined> {
  const path = join(walDir, INCARNATION_MARKER);
  try {
    const text = (await readFile(path, "utf8")).trim();
    if (!/^[0-9a-f]{8,64}$/.test(text)) throw new MemberFileError(`${path}: damaged`);
    return text;
  } catch (e) {
    if ((e as { code?: unknown }).code === "ENOENT") return undefined;
    throw e;
  }
}

export async function writeIncarnationMarker(walDir: string, incarnation: string): Promise<void> {
  await replaceFileDurably(walDir, INCARNATION_MARKER, Buffer.from(`${incarnation}\n`, "utf8"));
}
