// Seeded random Raft messages for the transport tests: every message type, numbers across the
// whole safe range (varint length boundaries included), strings with multi-byte and astral
// characters, empty and non-empty byte fields.
import {
  asIndex,
  asNodeId,
  asTerm,
  type ConfState,
  type Entry,
  type EntryType,
  type Message,
  type MessageType,
  type NodeId,
  type Snapshot,
  Xoshiro128,
} from "../../src/raft/index.js";

export const messageTypes: readonly MessageType[] = [
  "VoteRequest",
  "VoteResponse",
  "AppendRequest",
  "AppendResponse",
  "Heartbeat",
  "HeartbeatResponse",
  "InstallSnapshot",
  "ReadIndexRequest",
  "ReadIndexResponse",
  "TimeoutNow",
  "ProposalForward",
];

const edgeNumbers = [
  0,
  1,
  127,
  128,
  16383,
  16384,
  2 ** 31,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 49,
  Number.MAX_SAFE_INTEGER,
];
const alphabet = ["a", "z", "0", "-", "é", "ß", "日", "本", "😀", "\u0000", "\ufeff", " "];

export class MessageGen {
  readonly rng: Xoshiro128;

  constructor(seed: number) {
    this.rng = new Xoshiro128(seed);
  }

  /** A safe integer ≥ 0: often small, sometimes an edge of a varint length, sometimes huge. */
  number(): number {
    const r = this.rng.int(10);
    if (r < 5) return this.rng.int(200);
    if (r < 7) return this.rng.pick(edgeNumbers);
    if (r < 9) return this.rng.int(2 ** 32);
    return this.rng.int(2 ** 21) * 2 ** 32 + this.rng.int(2 ** 32);
  }

  string(lengthMax: number): string {
    const length = this.rng.int(lengthMax + 1);
    let s = "";
    for (let i = 0; i < length; i++) s += this.rng.pick(alphabet);
    return s;
  }

  id(): NodeId {
    return asNodeId(this.rng.chance(0.8) ? `n${this.rng.int(9) + 1}` : this.string(8));
  }

  bytes(lengthMax: number): Uint8Array {
    const out = new Uint8Array(this.rng.int(lengthMax + 1));
    for (let i = 0; i < out.length; i++) out[i] = this.rng.int(256);
    return out;
  }

  entryType(): EntryType {
    return this.rng.chance(0.8) ? "Normal" : "ConfChange";
  }

  entries(): Entry[] {
    const count = this.rng.int(6);
    const first = this.number();
    return Array.from({ length: count }, (_, i) => ({
      index: asIndex(
        this.rng.chance(0.9) ? Math.min(first + i, Number.MAX_SAFE_INTEGER) : this.number(),
      ),
      term: asTerm(this.number()),
      type: this.entryType(),
      data: this.bytes(this.rng.chance(0.1) ? 300 : 20),
    }));
  }

  confState(): ConfState {
    const ids = (): NodeId[] => Array.from({ length: this.rng.int(5) }, () => this.id());
    const conf = { voters: ids(), votersOutgoing: ids(), learners: ids() };
    return this.rng.chance(0.3) ? { ...conf, autoLeave: true } : conf;
  }

  snapshot(dataBytesMax = 64): Snapshot {
    return {
      meta: {
        index: asIndex(this.number()),
        term: asTerm(this.number()),
        confState: this.confState(),
      },
      data: this.bytes(dataBytesMax),
    };
  }

  message(type: MessageType = this.rng.pick(messageTypes)): Message {
    const from = this.id();
    const to = this.id();
    const term = asTerm(this.number());
    const envelope = { from, to, term };
    const bool = (): boolean => this.rng.chance(0.5);
    switch (type) {
      case "VoteRequest":
        return {
          type,
          ...envelope,
          preVote: bool(),
          lastLogIndex: asIndex(this.number()),
          lastLogTerm: asTerm(this.number()),
          transfer: bool(),
        };
      case "VoteResponse":
        return {
          type,
          ...envelope,
          preVote: bool(),
          granted: bool(),
          commit: asIndex(this.number()),
          commitTerm: asTerm(this.number()),
        };
      case "AppendRequest":
        return {
          type,
          ...envelope,
          prevLogIndex: asIndex(this.number()),
          prevLogTerm: asTerm(this.number()),
          entries: this.entries(),
          commit: asIndex(this.number()),
        };
      case "AppendResponse":
        return {
          type,
          ...envelope,
          success: bool(),
          index: asIndex(this.number()),
          hintIndex: asIndex(this.number()),
          hintTerm: asTerm(this.number()),
        };
      case "Heartbeat":
        return { type, ...envelope, commit: asIndex(this.number()), context: this.string(12) };
      case "HeartbeatResponse":
      case "ReadIndexRequest":
        return { type, ...envelope, context: this.string(12) };
      case "ReadIndexResponse":
        return { type, ...envelope, context: this.string(12), index: asIndex(this.number()) };
      case "InstallSnapshot":
        return { type, ...envelope, snapshot: this.snapshot() };
      case "TimeoutNow":
        return { type, ...envelope };
      case "ProposalForward":
        return {
          type,
          ...envelope,
          proposals: Array.from({ length: this.rng.int(4) }, () => ({
            type: this.entryType(),
            data: this.bytes(30),
          })),
        };
    }
  }
}

/** A heartbeat carrying `seq` in its commit field, for order checks. */
export function numbered(from: NodeId, to: NodeId, seq: number): Message {
  return { type: "Heartbeat", from, to, term: asTerm(1), commit: asIndex(seq), context: "" };
}
