// Client sessions (Raft thesis §6.3): a command stamped (clientId, seq) is applied at most once,
// and a retry gets the first result. Sessions are registered and expired through the log, by
// the log's time (the leaders' stamps), so every replica holds the same table at every index.
import type { ByteReader, ByteWriter } from "../lib/index.js";
import type { Outcome } from "./outcome.js";

interface Session {
  seq: number;
  result: Outcome;
  lastActiveMs: number;
}

/** What a session says of a command before it applies: apply it, or answer without applying. */
export type SessionVerdict =
  | { readonly apply: true; readonly record: (outcome: Outcome) => void }
  | { readonly apply: false; readonly outcome: Outcome };

const APPLY_UNTRACKED: SessionVerdict = { apply: true, record: () => {} };

export class SessionTable {
  private readonly sessions = new Map<string, Session>();
  private nextExpiryCheckMs = 0;

  constructor(private readonly ttlMs: number) {}

  get size(): number {
    return this.sessions.size;
  }

  /** A RegisterSession entry at `index`: the new session's client id. */
  register(index: number, timestampMs: number): string {
    const clientId = `s${index}`;
    this.sessions.set(clientId, {
      seq: 0,
      result: { ok: true, result: new Uint8Array(0) },
      lastActiveMs: timestampMs,
    });
    return clientId;
  }

  /**
   * Judges a command of session `clientId` ("" for none) numbered `seq`: a new command is
   * applied and its outcome recorded; a retry of the last one gets its first outcome; an older
   * one, or an unknown session, is refused.
   */
  admit(clientId: string, seq: number, timestampMs: number): SessionVerdict {
    if (clientId === "") return APPLY_UNTRACKED;
    const session = this.sessions.get(clientId);
    if (session === undefined) {
      return {
        apply: false,
        outcome: {
          ok: false,
          code: "SESSION_EXPIRED",
          message: `session ${clientId} expired or unknown; register a new one`,
        },
      };
    }
    session.lastActiveMs = timestampMs;
    if (seq === session.seq) return { apply: false, outcome: session.result };
    if (seq < session.seq) {
      return {
        apply: false,
        outcome: {
          ok: false,
          code: "INVALID_ARGUMENT",
          message: `seq ${seq} is older than the session's last ${session.seq}`,
        },
      };
    }
    return {
      apply: true,
      record: (outcome) => {
        session.seq = seq;
        session.result = outcome;
      },
    };
  }

  /** Drops sessions idle longer than the TTL by the log's time (checked at most once a second). */
  expire(nowMs: number): void {
    if (nowMs < this.nextExpiryCheckMs) return;
    this.nextExpiryCheckMs = nowMs + Math.min(this.ttlMs, 1000);
    for (const [id, s] of this.sessions) {
      if (s.lastActiveMs + this.ttlMs < nowMs) this.sessions.delete(id);
    }
  }

  /** Writes the table in client-id order (the snapshot and the state hash need one order). */
  encode(w: ByteWriter): void {
    w.u32(this.sessions.size);
    for (const id of [...this.sessions.keys()].sort()) {
      const s = this.sessions.get(id) as Session;
      w.stringU32(id).u64(s.seq).f64(s.lastActiveMs);
      if (s.result.ok) w.u8(1).bytesU32(s.result.result);
      else w.u8(0).stringU32(s.result.code).stringU32(s.result.message);
    }
  }

  /** Replaces the table with the one encode() wrote. */
  restore(r: ByteReader): void {
    this.sessions.clear();
    const count = r.u32("session count");
    for (let i = 0; i < count; i++) {
      const id = r.stringU32("session id");
      const seq = r.u64("seq");
      const lastActiveMs = r.f64("lastActiveMs");
      const ok = r.u8("outcome") === 1;
      // Results are copied: sessions keep them (to answer a retried request) for their life.
      const result: Outcome = ok
        ? { ok: true, result: r.bytesU32("result") }
        : {
            ok: false,
            code: r.stringU32("code") as "SESSION_EXPIRED",
            message: r.stringU32("message"),
          };
      this.sessions.set(id, { seq, result, lastActiveMs });
    }
  }

  /** What must always hold (checkInvariants). */
  check(fail: (message: string) => void): void {
    for (const [id, s] of this.sessions) {
      if (!Number.isSafeInteger(s.seq) || s.seq < 0) fail(`session ${id}: seq ${s.seq}`);
      if (!/^s\d+$/.test(id)) fail(`session id ${id} not of the form s<index>`);
    }
  }
}
