// Auto-compaction: etcd 3.4's --auto-compaction-mode / --auto-compaction-retention. Only the
// leader compacts, by proposing an ordinary Compaction through the log (so every replica
// compacts at the same point of its log); time enters here, at the server, through an
// injected clock — never in the state machine.
//
//   periodic, retention R (a duration, "1h", "30m", "90s", or plain hours as etcd takes "72"):
//     as etcd 3.4's periodic compactor: every min(R, 1h)/10 the current revision is sampled;
//     once R has passed since the start (then every min(R, 1h)) it compacts to the revision
//     sampled R ago, keeping about R of history.
//   revision, retention N: every checkIntervalMs (etcd: 5 minutes) it compacts to the current
//     revision − N when that is above the last compaction, keeping the last N revisions.
//
// A follower samples but never compacts (etcd pauses the compactor there). A compaction that
// fails (no leader, a timeout) is tried again at the next round; "already compacted" counts as
// done.
export type AutoCompaction =
  | { readonly mode: "periodic"; readonly retentionMs: number }
  | { readonly mode: "revision"; readonly retention: number };

/** etcd 3.4's revision compactor checks every 5 minutes. */
export const REVISION_CHECK_INTERVAL_MS = 5 * 60 * 1000;
const HOUR_MS = 60 * 60 * 1000;
const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60 * 1000,
  h: HOUR_MS,
};

/**
 * The flags as etcd 3.4 reads them: mode "periodic" (default) or "revision"; retention "0"
 * (default) turns auto-compaction off. Throws a clear error for anything else.
 */
export function parseAutoCompaction(
  mode: string | undefined,
  retention: string | undefined,
): AutoCompaction | undefined {
  const m = mode ?? "periodic";
  if (m !== "periodic" && m !== "revision")
    throw new Error(`--auto-compaction-mode must be periodic or revision, not "${m}"`);
  const r = (retention ?? "0").trim();
  if (m === "revision") {
    const n = Number(r);
    if (!Number.isSafeInteger(n) || n < 0)
      throw new Error(
        `--auto-compaction-retention in revision mode is a number of revisions, not "${r}"`,
      );
    return n === 0 ? undefined : { mode: "revision", retention: n };
  }
  let ms: number | undefined;
  if (/^\d+(\.\d+)?$/.test(r)) ms = Number(r) * HOUR_MS;
  else {
    // Go durations as etcd takes them: one or more <number><unit>, e.g. 1h30m, 90s, 500ms.
    const parts = [...r.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
    if (parts.length > 0 && parts.map((p) => p[0]).join("") === r)
      ms = parts.reduce(
        (sum, p) => sum + Number(p[1]) * (DURATION_UNITS_MS[p[2] as string] ?? 0),
        0,
      );
  }
  if (ms === undefined || !Number.isFinite(ms))
    throw new Error(
      `--auto-compaction-retention in periodic mode is a duration (1h, 30m, 90s) or hours, not "${r}"`,
    );
  return ms === 0 ? undefined : { mode: "periodic", retentionMs: Math.round(ms) };
}

export interface CompactorClock {
  now(): number;
  setInterval(f: () => void, ms: number): { cancel(): void };
}

export const systemClock: CompactorClock = {
  now: () => performance.now(),
  setInterval: (f, ms) => {
    const t = setInterval(f, ms);
    t.unref();
    return { cancel: () => clearInterval(t) };
  },
};

export interface AutoCompactorOptions {
  readonly policy: AutoCompaction;
  readonly isLeader: () => boolean;
  /** The store's current revision (this member's). */
  readonly revision: () => number;
  /** Proposes Compaction to `revision` through the log; rejects on failure (COMPACTED: done). */
  readonly compact: (revision: number) => Promise<void>;
  readonly clock?: CompactorClock;
  /** Revision mode's check interval (default etcd's 5 minutes). */
  readonly checkIntervalMs?: number;
  readonly log?: (level: "info" | "warn", message: string, fields: Record<string, unknown>) => void;
}

export class AutoCompactor {
  private timer: { cancel(): void } | undefined;
  private running = false;
  private revs: number[] = [];
  private lastSuccessMs: number;
  private waitMs: number;
  private lastCompacted = 0;

  constructor(private readonly options: AutoCompactorOptions) {
    const clock = options.clock ?? systemClock;
    this.lastSuccessMs = clock.now();
    this.waitMs = options.policy.mode === "periodic" ? options.policy.retentionMs : 0;
  }

  start(): void {
    const clock = this.options.clock ?? systemClock;
    const policy = this.options.policy;
    const every =
      policy.mode === "periodic"
        ? Math.max(1, Math.min(policy.retentionMs, HOUR_MS) / 10)
        : (this.options.checkIntervalMs ?? REVISION_CHECK_INTERVAL_MS);
    this.timer = clock.setInterval(() => void this.round(), every);
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** One round (exposed for tests): sample, and compact when it is time. */
  async round(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      if (this.options.policy.mode === "periodic") await this.periodicRound(this.options.policy);
      else await this.revisionRound(this.options.policy.retention);
    } finally {
      this.running = false;
    }
  }

  private async periodicRound(policy: { retentionMs: number }): Promise<void> {
    const clock = this.options.clock ?? systemClock;
    const every = Math.min(policy.retentionMs, HOUR_MS) / 10;
    const keep = Math.floor(policy.retentionMs / every) + 1;
    this.revs.push(this.options.revision());
    if (this.revs.length > keep) this.revs.shift(); // revs[0]: the revision about R ago
    if (!this.options.isLeader()) return;
    if (clock.now() - this.lastSuccessMs < this.waitMs) return;
    this.waitMs = Math.min(policy.retentionMs, HOUR_MS);
    const target = this.revs[0] as number;
    if (await this.tryCompact(target)) {
      this.lastSuccessMs = clock.now();
      this.revs = [];
    }
  }

  private async revisionRound(retention: number): Promise<void> {
    if (!this.options.isLeader()) return;
    const target = this.options.revision() - retention;
    if (target <= 0 || target <= this.lastCompacted) return;
    if (await this.tryCompact(target)) this.lastCompacted = target;
  }

  private async tryCompact(revision: number): Promise<boolean> {
    if (revision <= 1) return true; // nothing below revision 1 to compact
    try {
      await this.options.compact(revision);
      this.options.log?.("info", "auto-compaction: compacted", { revision });
      return true;
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      if (code === "COMPACTED") return true;
      this.options.log?.("warn", "auto-compaction: failed; retrying next round", {
        revision,
        error: String(error),
      });
      return false;
    }
  }
}
