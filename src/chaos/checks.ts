// The judgements of a chaos run, as pure functions of what the run recorded, so each can be
// tested on made-up data and can fail. Every check returns passed plus a short detail line.
import { checkLinearizable, type HistoryOp } from "../check/index.js";
import type { AckedWrite, LeaseRecord, SeenEvent } from "./workload.js";

export interface CheckResult {
  readonly name: string;
  readonly passed: boolean;
  readonly detail: string;
}

/** The clients' history is linearizable (check/'s WGL search; "unknown" counts as not proven). */
export function checkHistory(history: readonly HistoryOp[], maxStates?: number): CheckResult {
  const r = checkLinearizable(history, maxStates !== undefined ? { maxStates } : {});
  if (r.ok === true)
    return {
      name: "linearizable",
      passed: true,
      detail: `${r.opsChecked} operations on ${r.keysChecked} keys, ${r.states} states`,
    };
  if (r.ok === "unknown")
    return {
      name: "linearizable",
      passed: false,
      detail: `search budget exhausted on key ${r.key}: not proven (rerun with fewer operations)`,
    };
  return { name: "linearizable", passed: false, detail: `key ${r.key}: ${r.reason}` };
}

/**
 * Every acknowledged write is in the final history at the revision it was acknowledged with
 * (`truth`: the events a member replays from the run's first revision).
 */
export function checkAckedWrites(
  acked: readonly AckedWrite[],
  truth: readonly SeenEvent[],
  readBack: ReadonlyMap<string, string | null>,
): CheckResult {
  const byRevision = new Map<number, SeenEvent>();
  for (const e of truth) if (e.type === "put") byRevision.set(e.revision, e);
  const lost: string[] = [];
  for (const w of acked) {
    const e = byRevision.get(w.revision);
    const read = readBack.get(`${w.key}@${w.revision}`);
    if (e === undefined || e.key !== w.key || e.value !== w.value)
      lost.push(
        `${w.key}=${w.value} at revision ${w.revision} (history has ${e === undefined ? "nothing" : `${e.key}=${e.value}`})`,
      );
    else if (read !== undefined && read !== w.value)
      lost.push(
        `${w.key}=${w.value} at revision ${w.revision} (read back ${JSON.stringify(read)})`,
      );
  }
  return {
    name: "no acknowledged write lost",
    passed: lost.length === 0,
    detail:
      lost.length === 0
        ? `${acked.length} acknowledged writes found at their revisions (${readBack.size} read back)`
        : `${lost.length} lost, first: ${lost[0]}`,
  };
}

/** Every member has the same HashKV at the same revision. */
export function checkHashes(
  hashes: ReadonlyMap<string, { hash: number; revision: number } | string>,
  revision: number,
): CheckResult {
  const seen = [...hashes.entries()];
  const bad = seen.filter(([, h]) => typeof h === "string" || h.revision !== revision);
  const values = new Set(seen.map(([, h]) => (typeof h === "string" ? h : h.hash)));
  const passed = bad.length === 0 && values.size === 1;
  const show = seen
    .map(([n, h]) => `${n}=${typeof h === "string" ? h : `${h.hash}@${h.revision}`}`)
    .join(" ");
  return {
    name: "same HashKV on every member",
    passed,
    detail: passed ? `hash ${[...values][0]} at revision ${revision}` : show,
  };
}

const sameEvent = (a: SeenEvent, b: SeenEvent): boolean =>
  a.type === b.type && a.key === b.key && a.value === b.value && a.revision === b.revision;

/** What differs between a delivered stream and the truth: gap, duplicate, disorder or change. */
export function compareStreams(
  got: readonly SeenEvent[],
  truth: readonly SeenEvent[],
): string | undefined {
  for (let i = 1; i < got.length; i++) {
    const prev = got[i - 1] as SeenEvent;
    const cur = got[i] as SeenEvent;
    if (sameEvent(prev, cur)) return `duplicate event at revision ${cur.revision} (#${i})`;
    if (cur.revision < prev.revision)
      return `out of order: revision ${cur.revision} after ${prev.revision} (#${i})`;
  }
  for (let i = 0; i < Math.max(got.length, truth.length); i++) {
    const g = got[i];
    const t = truth[i];
    if (g === undefined)
      return `gap: stops after ${got.length} events, missing revision ${t?.revision} on`;
    if (t === undefined) return `extra event at revision ${g.revision} (#${i}) not in the history`;
    if (!sameEvent(g, t)) {
      if (g.revision > t.revision)
        return `gap: revision ${t.revision} missing (got ${g.revision} next)`;
      return `event #${i} differs: got ${g.type} ${g.key}@${g.revision}, history has ${t.type} ${t.key}@${t.revision}`;
    }
  }
  return undefined;
}

export function checkWatches(
  streams: ReadonlyMap<
    string,
    { events: readonly SeenEvent[]; reconnects: number; error?: string }
  >,
  truth: readonly SeenEvent[],
  finalRevision: number,
): CheckResult {
  const problems: string[] = [];
  let reconnects = 0;
  for (const [id, s] of streams) {
    reconnects += s.reconnects;
    const got = s.events.filter((e) => e.revision <= finalRevision);
    const why = compareStreams(got, truth);
    if (why !== undefined)
      problems.push(`${id}: ${why}${s.error !== undefined ? ` (watch ended: ${s.error})` : ""}`);
  }
  return {
    name: "watch streams complete and in order",
    passed: problems.length === 0,
    detail:
      problems.length === 0
        ? `${streams.size} streams × ${truth.length} events, ${reconnects} reconnects`
        : problems.join("; "),
  };
}

/** Members' replays of the run's revisions agree (they applied the same log). */
export function checkReplays(replays: ReadonlyMap<string, readonly SeenEvent[]>): CheckResult {
  const entries = [...replays.entries()];
  const [firstName, first] = entries[0] ?? ["", []];
  for (const [name, events] of entries.slice(1)) {
    const why = compareStreams(events, first);
    if (why !== undefined)
      return {
        name: "members' histories agree",
        passed: false,
        detail: `${name} vs ${firstName}: ${why}`,
      };
  }
  return {
    name: "members' histories agree",
    passed: entries.length > 0,
    detail: `${entries.length} members replayed ${first.length} events`,
  };
}

/**
 * No lease expired before its TTL by the leader's clock. A lease's TTL runs from a leader
 * timestamp taken after the grant (or its last acknowledged keep-alive) was sent, so its key
 * cannot be deleted before send time + TTL; the delete is seen at or after it happened. All
 * processes share this machine's clock. `toleranceMs` covers whole-millisecond rounding.
 */
export function checkLeases(
  leases: readonly LeaseRecord[],
  deletedSeenAtMs: ReadonlyMap<string, number>,
  toleranceMs: number,
): CheckResult {
  const early: string[] = [];
  let expired = 0;
  for (const l of leases) {
    const seen = deletedSeenAtMs.get(l.key);
    if (seen === undefined) continue;
    expired++;
    const earliest = l.lastRenewSentMs + l.ttlSeconds * 1000;
    if (seen + toleranceMs < earliest)
      early.push(
        `lease ${l.id} (TTL ${l.ttlSeconds} s, renewed at ${l.lastRenewSentMs}) gone ${earliest - seen} ms early`,
      );
  }
  return {
    name: "no lease expired before its TTL",
    passed: early.length === 0,
    detail:
      early.length === 0
        ? `${leases.length} leases, ${expired} expired, none early`
        : `${early.length} early, first: ${early[0]}`,
  };
}

export interface VerdictSample {
  readonly atMs: number;
  readonly step: string;
  readonly member: string;
  readonly expectQuorum: boolean;
  readonly verdict: string;
}

export const NO_QUORUM_PREFIX = "no quorum";

/** Each sampled /status verdict said "no quorum" exactly when its member had none. */
export function checkVerdicts(samples: readonly VerdictSample[]): CheckResult {
  const wrong = samples.filter((s) => s.verdict.startsWith(NO_QUORUM_PREFIX) === s.expectQuorum);
  const minority = samples.filter((s) => !s.expectQuorum).length;
  return {
    name: "/status verdicts right during faults",
    passed: wrong.length === 0,
    detail:
      samples.length === 0
        ? "no verdict sampled (no judged fault held long enough)"
        : wrong.length === 0
          ? `${samples.length} samples (${minority} without quorum) all right`
          : `${wrong.length} wrong, first: ${wrong[0]?.member} during ${wrong[0]?.step} said "${wrong[0]?.verdict}" (expected ${wrong[0]?.expectQuorum ? "quorum" : "no quorum"})`,
  };
}
