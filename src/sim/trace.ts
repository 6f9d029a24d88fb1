// A run's trace: the last lines of what happened (for a failure report) and the trace hash, a
// fingerprint of every event in order, which proves that the same seed made the same run.
import { fnv1a } from "../check/index.js";
import { MESSAGE_TYPE_CODES, type Message } from "../raft/index.js";

export class TraceLog {
  private hash = 0x811c9dc5;
  private readonly ring: string[] = [];

  /** `linesMax`: lines kept, the oldest dropped first. */
  constructor(private readonly linesMax: number) {}

  add(now: number, line: string): void {
    this.ring.push(`${now.toFixed(3).padStart(10)}ms ${line}`);
    if (this.ring.length > this.linesMax) this.ring.shift();
  }

  /** Folds one event (its kind code, the virtual time and two numbers that name it) into the hash. */
  hashEvent(now: number, kind: number, a: number, b: number): void {
    let h = this.hash ^ kind;
    h = Math.imul(h, 0x01000193) ^ Math.floor(now * 1000);
    h = Math.imul(h, 0x01000193) ^ a;
    h = Math.imul(h, 0x01000193) ^ b;
    this.hash = h >>> 0;
  }

  /** The trace hash as 8 hex digits. */
  hashHex(): string {
    return (this.hash >>> 0).toString(16).padStart(8, "0");
  }

  /** A copy of the lines kept. */
  tail(): string[] {
    return [...this.ring];
  }
}

/** A member or client id as a number for the trace hash. */
export function idNum(id: string): number {
  return fnv1a(new TextEncoder().encode(id)) & 0xffff;
}

export function messageCode(m: Message): number {
  return MESSAGE_TYPE_CODES[m.type];
}

export function describeMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} t${m.term}`;
  switch (m.type) {
    case "VoteRequest":
      return `${head}${m.preVote ? " pre" : ""} last=${m.lastLogIndex}/${m.lastLogTerm}`;
    case "VoteResponse":
      return `${head}${m.preVote ? " pre" : ""} ${m.granted ? "granted" : "rejected"}`;
    case "AppendRequest":
      return `${head} prev=${m.prevLogIndex}/${m.prevLogTerm} n=${m.entries.length} commit=${m.commit}`;
    case "AppendResponse":
      return `${head} ${m.success ? "ok" : "reject"} index=${m.index} hint=${m.hintIndex}/${m.hintTerm}`;
    case "Heartbeat":
      return `${head} commit=${m.commit}${m.context ? ` ctx=${m.context}` : ""}`;
    case "InstallSnapshot":
      return `${head} snapshot=${m.snapshot.meta.index}/${m.snapshot.meta.term}`;
    case "ReadIndexResponse":
      return `${head} index=${m.index}`;
    default:
      return head;
  }
}
