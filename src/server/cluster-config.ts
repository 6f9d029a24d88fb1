// Cluster membership as given on the command line, etcd style:
//   --initial-cluster n1=http://127.0.0.1:2380,n2=http://127.0.0.1:22380,n3=http://127.0.0.1:32380
// Member and cluster ids are stable hashes of the names and the cluster token, so every member
// computes the same ids (etcd's response headers carry them as uint64; ours stay below 2^53).
import { createHash } from "node:crypto";

export interface PeerSpec {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** https: the peer speaks TLS (peer-tls.ts). Default http. */
  readonly scheme?: "http" | "https";
}

/** The scheme of a URL as given on the command line: https://, else http (bare host:port too). */
export function schemeOf(text: string): "http" | "https" {
  return /^https:\/\//i.test(text.trim()) ? "https" : "http";
}

export function parseHostPort(text: string, what: string): { host: string; port: number } {
  const stripped = text.replace(/^[a-z]+:\/\//, "").replace(/\/$/, "");
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(stripped);
  if (m === null) throw new Error(`${what}: expected host:port or http://host:port, got "${text}"`);
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`${what}: bad port in "${text}"`);
  return { host: (m[1] as string).replace(/^\[|\]$/g, ""), port };
}

/**
 * With `skipUnnamed`, entries without a name ("=http://host:port") are left out: etcdctl's
 * member add prints them for members added but not started yet (no name), and a joining member
 * may be started with that list.
 */
export function parseInitialCluster(
  text: string,
  options: { skipUnnamed?: boolean } = {},
): PeerSpec[] {
  const peers: PeerSpec[] = [];
  for (const part of text.split(",").filter((p) => p.trim() !== "")) {
    if (options.skipUnnamed === true && part.trim().startsWith("=")) continue;
    const eq = part.indexOf("=");
    if (eq <= 0)
      throw new Error(`--initial-cluster: expected name=http://host:port, got "${part}"`);
    const name = part.slice(0, eq).trim();
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name))
      throw new Error(`--initial-cluster: bad member name "${name}"`);
    if (peers.some((p) => p.name === name))
      throw new Error(`--initial-cluster: member "${name}" listed twice`);
    const url = part.slice(eq + 1).trim();
    const scheme = schemeOf(url);
    peers.push({
      name,
      ...parseHostPort(url, `--initial-cluster ${name}`),
      ...(scheme === "https" ? { scheme } : {}),
    });
  }
  if (peers.length === 0) throw new Error("--initial-cluster names no member");
  return peers;
}

/**
 * A stable 52-bit id from text: the cluster id and the ids of the members named in
 * --initial-cluster, which every member recomputes from their names at each start (so the
 * function cannot change without changing every existing cluster's ids).
 */
export function stableId(text: string): string {
  const digest = createHash("sha256").update(text).digest();
  return String(digest.readUIntBE(0, 6) * 16 + ((digest[6] as number) % 16));
}

/**
 * A stable 64-bit id from text, for ids decided once and recorded (MemberAdd's): as wide as
 * etcd's, so etcdctl prints them as it prints etcd's (`%16x`, no padding), never 0.
 */
export function stableId64(text: string): string {
  const id = createHash("sha256").update(text).digest().readBigUInt64BE(0);
  return String(id === 0n ? 1n : id);
}
