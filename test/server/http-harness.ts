// Shared by the HTTP tests: a real single-member Member (it elects itself) on ephemeral ports,
// and small helpers to talk to its client port with fetch and raw sockets.
import { mkdtemp, rm } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Member } from "../../src/server/member.js";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

export interface SingleMember {
  readonly member: Member;
  readonly base: string;
  readonly endpoint: string;
  close(): Promise<void>;
}

/** A one-member cluster, its leader elected, serving on 127.0.0.1 and a free client port. */
export async function startSingleMember(
  name = "n1",
  extra: { requestBytesMax?: number } = {},
): Promise<SingleMember> {
  const dataDir = await mkdtemp(join(tmpdir(), "ordo-http-"));
  const member = await Member.start({
    name,
    dataDir,
    clientHost: "127.0.0.1",
    clientPort: 0,
    initialCluster: [{ name, host: "127.0.0.1", port: await freePort() }],
    clusterToken: "t",
    tickMs: 10,
    logger: () => {},
    ...extra,
  });
  const deadline = Date.now() + 10_000;
  while (!member.node.isLeader) {
    if (Date.now() > deadline) throw new Error("the single member did not elect itself");
    await new Promise((r) => setTimeout(r, 10));
  }
  return {
    member,
    base: `http://127.0.0.1:${member.clientPort}`,
    endpoint: `127.0.0.1:${member.clientPort}`,
    close: async () => {
      await member.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export const b64 = (text: string): string => Buffer.from(text, "utf8").toString("base64");
export const unb64 = (text: unknown): string =>
  Buffer.from(String(text), "base64").toString("utf8");

export interface JsonReply {
  readonly status: number;
  // biome-ignore lint/suspicious/noExplicitAny: test replies are read field by field
  readonly body: any;
}

export async function postJson(base: string, path: string, body: unknown): Promise<JsonReply> {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  const res = await fetch(`${base}${path}`, { method: "POST", body: text });
  return { status: res.status, body: await res.json() };
}

export async function getJson(base: string, path: string): Promise<JsonReply> {
  const res = await fetch(`${base}${path}`);
  return { status: res.status, body: await res.json() };
}

/**
 * Writes `bytes` on a fresh connection and collects what comes back until the server closes it
 * or `ms` pass (then this side closes).
 */
export function rawExchange(port: number, bytes: Uint8Array | string, ms = 2_000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString("latin1"));
    };
    const timer = setTimeout(done, ms);
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", done);
    socket.on("close", done);
    socket.write(bytes);
  });
}
