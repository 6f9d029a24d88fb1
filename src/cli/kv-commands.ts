// `ordo put | get | del`: the key-value store through Ordo's own client.
//   ordo put KEY VALUE [--lease HEX_ID] [--endpoints LIST]
//   ordo get KEY [--prefix] [--limit N] [--rev N] [--keys-only] [--count-only] [--json]
//   ordo del KEY [--prefix]
// Keys and values are bytes: taken from the command line as typed (argv-bytes.ts; with
// --hex-input as hexadecimal) and written to stdout exactly as stored (with --hex as etcdctl's
// \xNN escapes).
import { parseArgs } from "node:util";
import { type KeyValue, KvClient, leaseIdFromHex } from "../client/index.js";
import { ArgBytes, bytesFromHex, hexOf } from "./argv-bytes.js";
import type { Output } from "./output.js";

const ENDPOINTS_DEFAULT = "127.0.0.1:2379,127.0.0.1:22379,127.0.0.1:32379";

export const common = {
  endpoints: { type: "string", default: ENDPOINTS_DEFAULT },
  json: { type: "boolean", default: false },
  "timeout-ms": { type: "string", default: "5000" },
} as const;

/** Flags of the commands that take or print keys and values. */
const bytesOptions = {
  hex: { type: "boolean", default: false },
  "hex-input": { type: "boolean", default: false },
} as const;

/**
 * The positional arguments of a parse as bytes: as typed on the command line, or decoded from
 * hexadecimal with --hex-input.
 */
function positionalBytes(
  args: readonly string[],
  out: Output,
  parsed: { tokens: readonly { kind: string; index: number }[]; values: { "hex-input"?: boolean } },
  names: readonly string[],
): Buffer[] {
  const argBytes = new ArgBytes(args, out.argvBytes);
  return parsed.tokens
    .filter((t) => t.kind === "positional")
    .map((t, i) => {
      const what = names[i] ?? "argument";
      return parsed.values["hex-input"]
        ? bytesFromHex(args[t.index] as string, what)
        : argBytes.at(t.index, what);
    });
}

/** A flag's value as bytes (flags cannot be matched to raw argv bytes: U+FFFD is refused). */
function flagBytes(text: string, flag: string, hexInput: boolean | undefined): Buffer {
  if (hexInput) return bytesFromHex(text, flag);
  if (text.includes("\uFFFD"))
    throw new Error(`${flag} holds U+FFFD (bytes that are not UTF-8?); pass it with --hex-input`);
  return Buffer.from(text);
}

/** A key or value for simple output: its bytes, or etcdctl's --hex form. */
const shown = (bytes: Buffer, hex: boolean | undefined): Buffer =>
  hex ? Buffer.from(hexOf(bytes)) : bytes;

const NEWLINE = Buffer.from("\n");

function printKv(out: Output, kv: KeyValue, o: { hex?: boolean; keysOnly?: boolean }): void {
  out.stdout(Buffer.concat([shown(kv.keyBytes, o.hex), NEWLINE]));
  if (!o.keysOnly) out.stdout(Buffer.concat([shown(kv.valueBytes, o.hex), NEWLINE]));
}

export function client(values: {
  endpoints?: string | undefined;
  "timeout-ms"?: string | undefined;
}): KvClient {
  const endpoints = (values.endpoints ?? ENDPOINTS_DEFAULT)
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e !== "");
  const timeoutMs = Number(values["timeout-ms"] ?? 5000);
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
    throw new Error("--timeout-ms must be positive");
  return new KvClient(endpoints, { timeoutMs });
}

export function nonNegative(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${flag} must be a non-negative integer`);
  return n;
}

export async function runPut(args: string[], out: Output): Promise<number> {
  const parsed = parseArgs({
    args,
    options: { ...common, ...bytesOptions, lease: { type: "string" } },
    allowPositionals: true,
    strict: true,
    tokens: true,
  });
  const { values, positionals } = parsed;
  if (positionals.length !== 2) throw new Error("usage: ordo put KEY VALUE");
  const [key, value] = positionalBytes(args, out, parsed, ["KEY", "VALUE"]);
  const c = client(values);
  try {
    const res = await c.put(
      key as Buffer,
      value as Buffer,
      values.lease ? { lease: leaseIdFromHex(values.lease) } : {},
    );
    out.stdout(values.json ? `${JSON.stringify(res)}\n` : "OK\n");
    return 0;
  } finally {
    c.close();
  }
}

export async function runGet(args: string[], out: Output): Promise<number> {
  const parsed = parseArgs({
    args,
    options: {
      ...common,
      ...bytesOptions,
      prefix: { type: "boolean", default: false },
      "range-end": { type: "string" },
      limit: { type: "string" },
      rev: { type: "string" },
      "keys-only": { type: "boolean", default: false },
      "count-only": { type: "boolean", default: false },
      serializable: { type: "boolean", default: false },
    },
    allowPositionals: true,
    strict: true,
    tokens: true,
  });
  const { values, positionals } = parsed;
  if (positionals.length !== 1)
    throw new Error("usage: ordo get KEY [--prefix] [--limit N] [--rev N]");
  const [key] = positionalBytes(args, out, parsed, ["KEY"]);
  const c = client(values);
  try {
    const limit = nonNegative(values.limit, "--limit");
    const revision = nonNegative(values.rev, "--rev");
    const res = await c.get(key as Buffer, {
      prefix: values.prefix ?? false,
      keysOnly: values["keys-only"] ?? false,
      countOnly: values["count-only"] ?? false,
      serializable: values.serializable ?? false,
      ...(values["range-end"] !== undefined
        ? { rangeEnd: flagBytes(values["range-end"], "--range-end", values["hex-input"]) }
        : {}),
      ...(limit !== undefined ? { limit } : {}),
      ...(revision !== undefined ? { revision } : {}),
    });
    if (values.json) out.stdout(`${JSON.stringify(res)}\n`);
    else if (values["count-only"]) out.stdout(`${res.count}\n`);
    else
      for (const kv of res.kvs)
        printKv(out, kv, { hex: values.hex, keysOnly: values["keys-only"] });
    return 0;
  } finally {
    c.close();
  }
}

export async function runDel(args: string[], out: Output): Promise<number> {
  const parsed = parseArgs({
    args,
    options: { ...common, ...bytesOptions, prefix: { type: "boolean", default: false } },
    allowPositionals: true,
    strict: true,
    tokens: true,
  });
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new Error("usage: ordo del KEY [--prefix]");
  const [key] = positionalBytes(args, out, parsed, ["KEY"]);
  const c = client(values);
  try {
    const res = await c.delete(key as Buffer, { prefix: values.prefix ?? false });
    out.stdout(values.json ? `${JSON.stringify(res)}\n` : `${res.deleted}\n`);
    return 0;
  } finally {
    c.close();
  }
}
