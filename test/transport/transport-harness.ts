// Helpers for the TCP transport tests: start transports on 127.0.0.1 with ephemeral ports,
// collect what they deliver and log, and wait for conditions with a deadline (polling, never
// a fixed sleep standing in for a condition).
import { asNodeId, type Message, type NodeId } from "../../src/raft/index.js";
import {
  type PeerAddress,
  TcpTransport,
  type TcpTransportOptions,
  type TransportLogLevel,
} from "../../src/transport/index.js";

export const HOST = "127.0.0.1";

export interface LogLine {
  readonly level: TransportLogLevel;
  readonly message: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

export interface TestNode {
  readonly id: NodeId;
  readonly transport: TcpTransport;
  readonly inbox: Message[];
  readonly logs: LogLine[];
  readonly address: PeerAddress;
}

export type NodeOptions = Partial<Omit<TcpTransportOptions, "id" | "onMessage" | "logger">> & {
  readonly onMessage?: (m: Message) => void;
};

/** Fast reconnects so tests do not wait on production backoff. */
const testDefaults = {
  reconnectBackoffMinMs: 10,
  reconnectBackoffMaxMs: 100,
  handshakeTimeoutMs: 2000,
};

export async function startNode(id: string, options: NodeOptions = {}): Promise<TestNode> {
  const inbox: Message[] = [];
  const logs: LogLine[] = [];
  const onMessage = options.onMessage;
  const transport = new TcpTransport({
    clusterId: "test",
    listenHost: HOST,
    listenPort: 0,
    peers: new Map(),
    ...testDefaults,
    ...options,
    id: asNodeId(id),
    onMessage: (m) => {
      inbox.push(m);
      onMessage?.(m);
    },
    logger: (level, message, fields) => {
      logs.push({ level, message, fields });
      if (process.env.ORDO_TEST_LOG !== undefined) console.log(level, message, fields);
    },
  });
  await transport.start();
  return {
    id: asNodeId(id),
    transport,
    inbox,
    logs,
    address: { host: HOST, port: transport.port },
  };
}

/** Starts `ids.length` nodes that all know each other. */
export async function startCluster(
  ids: readonly string[],
  options: NodeOptions = {},
): Promise<TestNode[]> {
  const nodes: TestNode[] = [];
  for (const id of ids) nodes.push(await startNode(id, options));
  for (const a of nodes) for (const b of nodes) if (a !== b) a.transport.setPeer(b.id, b.address);
  return nodes;
}

export async function stopAll(nodes: readonly (TestNode | undefined)[]): Promise<void> {
  await Promise.all(nodes.map((n) => n?.transport.stop()));
}

/** Polls `condition` every few milliseconds until it holds; fails after `timeoutMs`. */
export async function waitFor(
  what: string,
  condition: () => boolean,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const pollMs = 5;
  for (let polls = 0; polls <= timeoutMs / pollMs + 1; polls++) {
    if (condition()) return;
    if (Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  if (condition()) return;
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Messages in `inbox` from `from`, in arrival order. */
export const from = (inbox: readonly Message[], id: NodeId): Message[] =>
  inbox.filter((m) => m.from === id);

/** The commit fields of heartbeats (the tests' sequence numbers). */
export const sequence = (messages: readonly Message[]): number[] =>
  messages.map((m) => (m.type === "Heartbeat" ? m.commit : -1));
