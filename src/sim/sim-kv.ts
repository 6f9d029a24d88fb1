// The simulator's state machine: a small key-value map with put / get / delete / compare-and-set
// and client sessions (Raft thesis §6.3), so a retried command is applied at most once and a
// retry returns the first result. Deterministic: output depends only on the commands applied.
import { assert } from "../lib/index.js";

export type KvOp = "put" | "get" | "delete" | "cas";

export interface KvCommand {
  readonly client: string;
  readonly seq: number;
  readonly op: Exclude<KvOp, "get">;
  readonly key: string;
  readonly value?: string;
  /** cas: the value the key must hold; null means absent. */
  readonly expected?: string | null;
}

/** put/delete → null; cas → whether it swapped. */
export type KvOutput = string | boolean | null;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeCommand(c: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify(c));
}

export function decodeCommand(bytes: Uint8Array): KvCommand {
  const c = JSON.parse(decoder.decode(bytes)) as KvCommand;
  assert(typeof c.client === "string" && typeof c.seq === "number", "sim-kv: malformed command");
  return c;
}

export class SimKv {
  private readonly data = new Map<string, string>();
  private readonly sessions = new Map<string, { seq: number; output: KvOutput }>();

  get(key: string): string | null {
    return this.data.get(key) ?? null;
  }

  apply(c: KvCommand): KvOutput {
    const session = this.sessions.get(c.client);
    if (session !== undefined && c.seq <= session.seq) {
      // A retry of a command already applied: answer with the first result, change nothing.
      return session.output;
    }
    let output: KvOutput = null;
    switch (c.op) {
      case "put":
        this.data.set(c.key, c.value as string);
        break;
      case "delete":
        this.data.delete(c.key);
        break;
      case "cas": {
        const current = this.data.get(c.key) ?? null;
        output = current === (c.expected ?? null);
        if (output) this.data.set(c.key, c.value as string);
        break;
      }
    }
    this.sessions.set(c.client, { seq: c.seq, output });
    return output;
  }

  snapshot(): Uint8Array {
    const data = [...this.data.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
    const sessions = [...this.sessions.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
    return encoder.encode(JSON.stringify({ data, sessions }));
  }

  static restore(bytes: Uint8Array): SimKv {
    const kv = new SimKv();
    if (bytes.length === 0) return kv;
    const parsed = JSON.parse(decoder.decode(bytes)) as {
      data: [string, string][];
      sessions: [string, { seq: number; output: KvOutput }][];
    };
    for (const [k, v] of parsed.data) kv.data.set(k, v);
    for (const [c, s] of parsed.sessions) kv.sessions.set(c, s);
    return kv;
  }

  /** A digest of the whole state, for comparing replicas. */
  digest(): string {
    return new TextDecoder().decode(this.snapshot());
  }
}
