// Progress of long work, on stderr: one line rewritten in place on a terminal, or (asked for
// with --progress when stderr is not a terminal) plain lines, at most one per interval, so a
// log file gets a few lines and not thousands. Never on stdout: --json output stays one object.
// Shared by `ordo snapshot save | restore`, `ordo wal verify`, `ordo chaos` and the bench
// scripts.
//
//   const p = progressReporter({ write: (t) => process.stderr.write(t), tty, enabled }, "wal verify");
//   p.update(done, total, "segment 3/9");   // throttled
//   p.done("12 segments, 3 snapshots");      // always printed (when enabled), ends the line

import type { Output } from "./output.js";

export interface ProgressSink {
  readonly write: (text: string) => void;
  /** A terminal: rewrite one line with \r. Otherwise: whole lines, further apart. */
  readonly tty: boolean;
  /** Off: every call is a no-op. */
  readonly enabled: boolean;
  /** Milliseconds between printed updates; default 100 on a terminal, 1000 otherwise. */
  readonly intervalMs?: number;
  /** The clock; default performance.now. */
  readonly now?: () => number;
}

export interface Progress {
  /** `done` of `total` units (total 0 or undefined: unknown), with an optional note. */
  update(done: number, total?: number, note?: string): void;
  /** The last line: always printed when enabled. */
  done(note?: string): void;
  /**
   * A log line among the progress (always written, enabled or not): on a terminal the progress
   * line is cleared first and drawn again after it.
   */
  log(line: string): void;
}

export type ProgressUnit = "bytes" | "count" | "seconds";

/** Whether to show progress: a terminal unless --json, or --progress asked for it. */
export function progressEnabled(o: {
  readonly isTty: boolean;
  readonly json?: boolean;
  readonly progress?: boolean;
}): boolean {
  return o.progress === true || (o.isTty && o.json !== true);
}

export function formatAmount(n: number, unit: ProgressUnit): string {
  if (unit === "count") return String(n);
  if (unit === "seconds") return `${Math.round(n)}s`;
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
  return `${(n / (1024 * 1024 * 1024)).toFixed(2)} GiB`;
}

export function progressReporter(
  sink: ProgressSink,
  label: string,
  unit: ProgressUnit = "count",
): Progress {
  if (!sink.enabled) return { update: () => {}, done: () => {}, log: (l) => sink.write(`${l}\n`) };
  const now = sink.now ?? (() => performance.now());
  const interval = sink.intervalMs ?? (sink.tty ? 100 : 1000);
  const started = now();
  let last = Number.NEGATIVE_INFINITY;
  let lastDone = 0;
  let lastTotal: number | undefined;
  let lastNote: string | undefined;
  /** The progress line on screen (a terminal), to draw again after a log line. */
  let shown: string | undefined;
  const line = (done: number, total: number | undefined, note: string | undefined): string => {
    const secs = (now() - started) / 1000;
    let text = `${label}: ${formatAmount(done, unit)}`;
    if (total !== undefined && total > 0) {
      const pct = Math.min(100, Math.floor((done * 100) / total));
      text += ` / ${formatAmount(total, unit)} (${pct}%)`;
    }
    if (secs >= 1 && done > 0 && unit !== "seconds")
      text += `, ${formatAmount(Math.round(done / secs), unit)}/s`;
    if (note !== undefined && note !== "") text += `, ${note}`;
    return text;
  };
  return {
    update(done, total, note) {
      lastDone = done;
      lastTotal = total;
      lastNote = note;
      const t = now();
      if (t - last < interval) return;
      last = t;
      const text = line(done, total, note);
      if (sink.tty) shown = text;
      sink.write(sink.tty ? `\r\x1b[K${text}` : `${text}\n`);
    },
    done(note) {
      const text = `${line(lastDone, lastTotal, undefined)} — done${note ? `: ${note}` : ""}`;
      shown = undefined;
      sink.write(sink.tty ? `\r\x1b[K${text}\n` : `${text}\n`);
    },
    log(text) {
      if (!sink.tty || shown === undefined) {
        sink.write(`${text}\n`);
        return;
      }
      shown = line(lastDone, lastTotal, lastNote);
      sink.write(`\r\x1b[K${text}\n${shown}`);
    },
  };
}

/** A reporter on a command's stderr, enabled by progressEnabled (values: the parsed flags). */
export function commandProgress(
  out: Output,
  values: { readonly json?: boolean | undefined; readonly progress?: boolean | undefined },
  label: string,
  unit: ProgressUnit = "count",
): Progress {
  const enabled = progressEnabled({
    isTty: out.isTty,
    ...(values.json !== undefined ? { json: values.json } : {}),
    ...(values.progress !== undefined ? { progress: values.progress } : {}),
  });
  return progressReporter({ write: (t) => out.stderr(t), tty: out.isTty, enabled }, label, unit);
}

/**
 * A reporter on this process's stderr (the bench scripts): shown when stderr is a terminal
 * unless `json`, or when `progress` asks for it.
 */
export function stderrProgress(
  label: string,
  unit: ProgressUnit,
  flags: { readonly json?: boolean | undefined; readonly progress?: boolean | undefined },
): Progress {
  const tty = process.stderr.isTTY === true;
  const enabled = progressEnabled({
    isTty: tty,
    ...(flags.json !== undefined ? { json: flags.json } : {}),
    ...(flags.progress !== undefined ? { progress: flags.progress } : {}),
  });
  return progressReporter({ write: (t) => process.stderr.write(t), tty, enabled }, label, unit);
}
