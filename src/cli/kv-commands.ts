// `ordo put | get | del`: the key-value store through Ordo's own client.
//   ordo put KEY VALUE [--lease HEX_ID] [--endpoints LIST]
//   ordo get KEY [--prefix] [--limit N] [--rev N] [--keys-only] [--count-only] [--json]
//   ordo del KEY [--prefix]
import { parseArgs } from "node:util";
import { type ClientTlsOptions, KvClient, leaseIdFromHex } from "../client/index.js";
import type { Output } from "./output.js";

const ENDPOINTS_DEFAULT = "127.0.0.1:2379,127.0.0.1:22379,127.0.0.1:32379";

export const common = {
  endpoints: { type: "string", default: ENDPOINTS_DEFAULT },
  json: { type: "boolean", default: false },
  "timeout-ms": { type: "string", default: "5000" },
  cacert: { type: "string" },
  cert: { type: "string" },
  key: { type: "string" },
  "insecure-skip-tls-verify": { type: "boolean", default: false },
} as const;

export function client(values: {
  endpoints?: string | undefined;
  "timeout-ms"?: string | undefined;
  cacert?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
  "insecure-skip-tls-verify"?: boolean | undefined;
}): KvClient {
  const endpoints = (values.endpoints ?? ENDPOINTS_DEFAULT)
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e !== "");
  const timeoutMs = Number(values["timeout-ms"] ?? 5000);
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
    throw new Error("--timeout-ms must be positive");
  const tls: ClientTlsOptions = {
    caFile: values.cacert,
    certFile: values.cert,
    keyFile: values.key,
    insecureSkipVerify: values["insecure-skip-tls-verify"] === true,
  };
  if (tls.caFile !== undefined || endpoints.some((e) => e.startsWith("https://")))
    quietIpServernameWarning();
  return new KvClient(endpoints, { timeoutMs, tls });
}

let quieted = false;

/**
 * grpc-js passes an IP endpoint's address as the TLS server name, which node flags once per
 * process (DEP0123); the member's certificate is still checked against the IP as usual. Not
 * the CLI user's concern: that one warning (and only it) is dropped.
 */
function quietIpServernameWarning(): void {
  if (quieted) return;
  quieted = true;
  const emit = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((warning: unknown, ...rest: unknown[]) => {
    const [typeOrOptions, code] = rest;
    const c =
      typeof typeOrOptions === "object" && typeOrOptions !== null
        ? (typeOrOptions as { code?: unknown }).code
        : code;
    if (c === "DEP0123") return;
    emit(warning, ...rest);
  }) as typeof process.emitWarning;
}

export function nonNegative(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${flag} must be a non-negative integer`);
  return n;
}

export async function runPut(args: string[], out: Output): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { ...common, lease: { type: "string" } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 2) throw new Error("usage: ordo put KEY VALUE");
  const c = client(values);
  try {
    const res = await c.put(
      positionals[0] as string,
      positionals[1] as string,
      values.lease ? { lease: leaseIdFromHex(values.lease) } : {},
    );
    out.stdout(values.json ? `${JSON.stringify(res)}\n` : "OK\n");
    return 0;
  } finally {
    c.close();
  }
}

export async function runGet(args: string[], out: Output): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      ...common,
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
  });
  if (positionals.length !== 1)
    throw new Error("usage: ordo get KEY [--prefix] [--limit N] [--rev N]");
  const c = client(values);
  try {
    const limit = nonNegative(values.limit, "--limit");
    const revision = nonNegative(values.rev, "--rev");
    const res = await c.get(positionals[0] as string, {
      prefix: values.prefix ?? false,
      keysOnly: values["keys-only"] ?? false,
      countOnly: values["count-only"] ?? false,
      serializable: values.serializable ?? false,
      ...(values["range-end"] !== undefined ? { rangeEnd: values["range-end"] } : {}),
      ...(limit !== undefined ? { limit } : {}),
      ...(revision !== undefined ? { revision } : {}),
    });
    if (values.json) out.stdout(`${JSON.stringify(res)}\n`);
    else if (values["count-only"]) out.stdout(`${res.count}\n`);
    else
      for (const kv of res.kvs)
        out.stdout(values["keys-only"] ? `${kv.key}\n` : `${kv.key}\n${kv.value}\n`);
    return 0;
  } finally {
    c.close();
  }
}

export async function runDel(args: string[], out: Output): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { ...common, prefix: { type: "boolean", default: false } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1) throw new Error("usage: ordo del KEY [--prefix]");
  const c = client(values);
  try {
    const res = await c.delete(positionals[0] as string, { prefix: values.prefix ?? false });
    out.stdout(values.json ? `${JSON.stringify(res)}\n` : `${res.deleted}\n`);
    return 0;
  } finally {
    c.close();
  }
}
