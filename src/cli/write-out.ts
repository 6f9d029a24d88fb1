// etcdctl's output formats (-w / --write-out simple|json|fields|table; --json is -w json), in
// the shapes etcdctl 3.4 prints: JSON of etcd's protobuf responses (64-bit integers as exact
// numbers, bytes as base64, zero-valued fields left out as Go's omitempty does), "fields" as
// `"Name" : value` lines, tables as etcdctl's tablewriter draws them.
import type { RawHeader } from "../client/index.js";

export type WriteOut = "simple" | "json" | "fields" | "table";
const FORMATS: readonly WriteOut[] = ["simple", "json", "fields", "table"];

export const writeOutOptions = {
  "write-out": { type: "string", short: "w" },
  json: { type: "boolean", default: false },
} as const;

/** The output format a command was asked for; refused if the command has no such format. */
export function writeOutOf(
  values: { "write-out"?: string | undefined; json?: boolean | undefined },
  supported: readonly WriteOut[] = ["simple", "json", "fields"],
): WriteOut {
  const asked = values.json ? "json" : (values["write-out"] ?? "simple");
  if (!(FORMATS as readonly string[]).includes(asked))
    throw new Error(`unknown output format "${asked}" (simple, json, fields, table)`);
  if (!(supported as readonly string[]).includes(asked))
    throw new Error(`${asked} not supported as output format`);
  return asked as WriteOut;
}

// ---- JSON -----------------------------------------------------------------------------------

/** A number written as its digits (int64/uint64 ids past 2^53 stay exact). */
export class JsonNumber {
  constructor(readonly digits: string) {}
}
export const num = (v: string | number | bigint): JsonNumber => new JsonNumber(String(v));

/** Go's omitempty: zero, false, "" and empty lists are left out. */
export function omitEmpty<T>(v: T): T | undefined {
  if (v instanceof JsonNumber) return v.digits === "0" ? undefined : v;
  if (v === false || v === "" || v === 0 || v === null) return undefined;
  if (Array.isArray(v) && v.length === 0) return undefined;
  return v;
}

export function toJson(v: unknown): string {
  if (v instanceof JsonNumber) return v.digits;
  if (v === null) return "null";
  if (Array.isArray(v)) return `[${v.map(toJson).join(",")}]`;
  if (typeof v === "object")
    return `{${Object.entries(v as object)
      .filter(([, x]) => x !== undefined)
      .map(([k, x]) => `${JSON.stringify(k)}:${toJson(x)}`)
      .join(",")}}`;
  return JSON.stringify(v);
}

export const base64 = (b: Uint8Array): string =>
  Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64");

/** etcd's ResponseHeader as JSON. */
export function headerJson(h: RawHeader | undefined): object {
  if (h === undefined) return {};
  return {
    cluster_id: omitEmpty(num(h.cluster_id)),
    member_id: omitEmpty(num(h.member_id)),
    revision: omitEmpty(num(h.revision)),
    raft_term: omitEmpty(num(h.raft_term)),
  };
}

// ---- fields ---------------------------------------------------------------------------------

/** Go's %q of bytes: printable UTF-8 as it is, the rest escaped. */
export function goQuote(bytes: Uint8Array | string): string {
  const b = typeof bytes === "string" ? Buffer.from(bytes) : Buffer.from(bytes);
  let out = '"';
  let i = 0;
  while (i < b.length) {
    const c = b[i] as number;
    if (c < 0x80) {
      if (c === 0x22) out += '\\"';
      else if (c === 0x5c) out += "\\\\";
      else if (c >= 0x20 && c < 0x7f) out += String.fromCharCode(c);
      else out += CONTROL[c] ?? `\\x${c.toString(16).padStart(2, "0")}`;
      i++;
      continue;
    }
    const len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    const piece = b.subarray(i, i + len);
    const text = len > 1 ? piece.toString("utf8") : "\uFFFD";
    if (len > 1 && !text.includes("\uFFFD") && Buffer.from(text).equals(piece)) {
      out += /\p{C}/u.test(text)
        ? `\\u${(text.codePointAt(0) as number).toString(16).padStart(4, "0")}`
        : text;
      i += len;
    } else {
      out += `\\x${c.toString(16).padStart(2, "0")}`;
      i++;
    }
  }
  return `${out}"`;
}
const CONTROL: Record<number, string> = {
  7: "\\a",
  8: "\\b",
  9: "\\t",
  10: "\\n",
  11: "\\v",
  12: "\\f",
  13: "\\r",
};

/** `"Name" : value` lines. */
export const field = (name: string, value: string | number | boolean): string =>
  `"${name}" : ${value}\n`;

export function headerFields(h: RawHeader | undefined): string {
  if (h === undefined) return "";
  return (
    field("ClusterID", h.cluster_id) +
    field("MemberID", h.member_id) +
    field("Revision", h.revision) +
    field("RaftTerm", h.raft_term)
  );
}

// ---- table ----------------------------------------------------------------------------------

/** etcdctl's table (olekukonko/tablewriter, right-aligned cells, centred header). */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = `+${widths.map((w) => "-".repeat(w + 2)).join("+")}+\n`;
  const centred = (text: string, w: number): string => {
    const gap = w - text.length;
    const left = Math.floor(gap / 2);
    return " ".repeat(left) + text + " ".repeat(gap - left);
  };
  const head = `|${header.map((h, i) => ` ${centred(h, widths[i] as number)} `).join("|")}|\n`;
  const body = rows
    .map((r) => `|${widths.map((w, i) => ` ${(r[i] ?? "").padStart(w)} `).join("|")}|\n`)
    .join("");
  return line + head + line + body + line;
}

/** A duration as Go prints it (3.045245ms, 812.5µs, 1.2s). */
export function goDuration(ms: number): string {
  const trim = (x: number): string => x.toFixed(6).replace(/\.?0+$/, "");
  if (ms < 1) return `${trim(ms * 1000)}µs`;
  if (ms < 1000) return `${trim(ms)}ms`;
  return `${trim(ms / 1000)}s`;
}
