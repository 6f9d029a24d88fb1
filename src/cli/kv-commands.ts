// `ordo put | get | del`: the key-value store through Ordo's own client.
//   ordo put KEY VALUE [--lease HEX_ID] [--endpoints LIST]
//   ordo get KEY [--prefix] [--limit N] [--rev N] [--keys-only] [--count-only] [--json]
//   ordo del KEY [--prefix]
import { parseArgs } from "node:util";
import { type AuthOptions, KvClient, leaseIdFromHex } from "../client/index.js";
import type { Output } from "./output.js";

const ENDPOINTS_DEFAULT = "127.0.0.1:2379,127.0.0.1:22379,127.0.0.1:32379";

export const common = {
  endpoints: { type: "string", default: ENDPOINTS_DEFAULT },
  json: { type: "boolean", default: false },
  "timeout-ms": { type: "string", default: "5000" },
  // etcdctl's --user name[:password] (and --password), never prompting.
  user: { type: "string" },
  password: { type: "string" },
} as const;

export interface ClientFlags {
  endpoints?: string | undefined;
  "timeout-ms"?: string | undefined;
  user?: string | undefined;
  password?: string | undefined;
}

/** etcdctl's --user name[:password] / --password: the credentials, or undefined without --user. */
export function authOf(values: ClientFlags): AuthOptions | undefined {
  if (values.user === undefined) {
    if (values.password !== undefined) throw new Error("--password needs --user");
    return undefined;
  }
  const colon = values.user.indexOf(":");
  const username = colon < 0 ? values.user : values.user.slice(0, colon);
  const password = colon < 0 ? values.password : values.user.slice(colon + 1);
  if (username === "") throw new Error("--user needs a user name");
  if (password === undefined) {
    throw new Error("--user needs a password: --user NAME:PASSWORD or --password PASSWORD");
  }
  return { username, password };
}

export function endpointsOf(values: ClientFlags): string[] {
  return (values.endpoints ?? ENDPOINTS_DEFAULT)
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e !== "");
}

export function timeoutOf(values: ClientFlags): number {
  const timeoutMs = Number(values["timeout-ms"] ?? 5000);
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
    throw new Error("--timeout-ms must be positive");
  return timeoutMs;
}

export function client(values: ClientFlags): KvClient {
  const auth = authOf(values);
  return new KvClient(endpointsOf(values), {
    timeoutMs: timeoutOf(values),
    ...(auth !== undefined ? { auth } : {}),
  });
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
