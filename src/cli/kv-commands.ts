// `ordo put | get | del`: the key-value store through Ordo's own client.
//   ordo put KEY VALUE [--lease HEX_ID] [--prev-kv]
//   ordo get KEY [RANGE_END] [--prefix|--from-key] [--limit N] [--rev N] [--sort-by T --order O]
//            [--keys-only] [--print-value-only] [--count-only]
//   ordo del KEY [RANGE_END] [--prefix|--from-key] [--prev-kv]
// Output: etcdctl's -w simple|json|fields (write-out.ts); --json is -w json.
// Keys and values are bytes: taken from the command line as typed (argv-bytes.ts; with
// --hex-input as hexadecimal) and written to stdout exactly as stored (with --hex as etcdctl's
// \xNN escapes).
import { type ParseArgsConfig, parseArgs } from "node:util";
import {
  type AuthOptions,
  type ClientTlsOptions,
  type KeyValue,
  KvClient,
  leaseIdFromHex,
} from "../client/index.js";
import { ArgBytes, bytesFromHex, hexOf } from "./argv-bytes.js";
import { nonNegative } from "./int-flags.js";
import type { Output } from "./output.js";
import {
  base64,
  field,
  goQuote,
  headerFields,
  headerJson,
  num,
  omitEmpty,
  toJson,
  writeOutOf,
  writeOutOptions,
} from "./write-out.js";

// Its old home: still exported here (the integer flags are in int-flags.ts now).
export { nonNegative };

const ENDPOINTS_DEFAULT = "127.0.0.1:2379,127.0.0.1:22379,127.0.0.1:32379";

export const common = {
  endpoints: { type: "string", default: ENDPOINTS_DEFAULT },
  ...writeOutOptions,
  "timeout-ms": { type: "string", default: "5000" },
  cacert: { type: "string" },
  cert: { type: "string" },
  key: { type: "string" },
  "insecure-skip-tls-verify": { type: "boolean", default: false },
  // etcdctl's --user name[:password] (and --password), never prompting.
  user: { type: "string" },
  password: { type: "string" },
} as const;

/** Flags of the commands that take or print keys and values. */
const bytesOptions = {
  hex: { type: "boolean", default: false },
  "hex-input": { type: "boolean", default: false },
} as const;

/** put, get and del: the client's flags, the byte flags, then each command's own. */
const putOptions = {
  ...common,
  ...bytesOptions,
  lease: { type: "string" },
  "prev-kv": { type: "boolean", default: false },
} as const;
const rangeOptions = {
  prefix: { type: "boolean", default: false },
  "from-key": { type: "boolean", default: false },
} as const;
const getOptions = {
  ...common,
  ...bytesOptions,
  ...rangeOptions,
  "range-end": { type: "string" },
  limit: { type: "string" },
  rev: { type: "string" },
  "sort-by": { type: "string" },
  order: { type: "string" },
  "keys-only": { type: "boolean", default: false },
  "print-value-only": { type: "boolean", default: false },
  "count-only": { type: "boolean", default: false },
  serializable: { type: "boolean", default: false },
  consistency: { type: "string", default: "l" },
} as const;
const delOptions = {
  ...common,
  ...bytesOptions,
  ...rangeOptions,
  "prev-kv": { type: "boolean", default: false },
} as const;

/** A parse with its tokens, which positionalBytes matches to the raw argv bytes. */
function parseKvArgs<T extends NonNullable<ParseArgsConfig["options"]>>(
  args: string[],
  options: T,
) {
  return parseArgs({ args, options, allowPositionals: true, strict: true, tokens: true });
}

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

/** etcdctl's simple key-value: the key line (unless --print-value-only), then the value line. */
function printKv(
  out: Output,
  kv: KeyValue,
  o: { hex?: boolean | undefined; valueOnly?: boolean | undefined },
): void {
  if (!o.valueOnly) out.stdout(Buffer.concat([shown(kv.keyBytes, o.hex), NEWLINE]));
  out.stdout(Buffer.concat([shown(kv.valueBytes, o.hex), NEWLINE]));
}

export interface ClientFlags {
  endpoints?: string | undefined;
  "timeout-ms"?: string | undefined;
  user?: string | undefined;
  password?: string | undefined;
  cacert?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
  "insecure-skip-tls-verify"?: boolean | undefined;
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

/** etcdctl's --cacert, --cert, --key, --insecure-skip-tls-verify. */
export function tlsOf(values: ClientFlags, endpoints: readonly string[]): ClientTlsOptions {
  const tls: ClientTlsOptions = {
    caFile: values.cacert,
    certFile: values.cert,
    keyFile: values.key,
    insecureSkipVerify: values["insecure-skip-tls-verify"] === true,
  };
  if (tls.caFile !== undefined || endpoints.some((e) => e.startsWith("https://")))
    quietIpServernameWarning();
  return tls;
}

export function client(values: ClientFlags): KvClient {
  const auth = authOf(values);
  const endpoints = endpointsOf(values);
  return new KvClient(endpoints, {
    timeoutMs: timeoutOf(values),
    tls: tlsOf(values, endpoints),
    ...(auth !== undefined ? { auth } : {}),
  });
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

// ---- etcdctl's shapes of a key-value pair ----------------------------------------------------

export function kvJson(kv: KeyValue): object {
  return {
    key: omitEmpty(base64(kv.keyBytes)),
    create_revision: omitEmpty(num(kv.createRevision)),
    mod_revision: omitEmpty(num(kv.modRevision)),
    version: omitEmpty(num(kv.version)),
    value: omitEmpty(base64(kv.valueBytes)),
    lease: omitEmpty(num(kv.lease)),
  };
}

/** etcdctl's fields of a key-value pair ("Prev" in front for a put's or delete's previous one). */
export function kvFields(kv: KeyValue, prefix = ""): string {
  return (
    field(`${prefix}Key`, goQuote(kv.keyBytes)) +
    field(`${prefix}CreateRevision`, kv.createRevision) +
    field(`${prefix}ModRevision`, kv.modRevision) +
    field(`${prefix}Version`, kv.version) +
    field(`${prefix}Value`, goQuote(kv.valueBytes)) +
    field(`${prefix}Lease`, kv.lease)
  );
}

export const PUT_USAGE =
  "usage: ordo put KEY VALUE [--lease ID] [--prev-kv] [-w simple|json|fields]";

export async function runPut(args: string[], out: Output): Promise<number> {
  const parsed = parseKvArgs(args, putOptions);
  const { values, positionals } = parsed;
  if (positionals.length !== 2) throw new Error(PUT_USAGE);
  const format = writeOutOf(values);
  const [key, value] = positionalBytes(args, out, parsed, ["KEY", "VALUE"]);
  const c = client(values);
  try {
    const res = await c.put(key as Buffer, value as Buffer, {
      ...(values.lease ? { lease: leaseIdFromHex(values.lease) } : {}),
      prevKv: values["prev-kv"] ?? false,
    });
    if (format === "json")
      out.stdout(
        `${toJson({ header: headerJson(res.header), prev_kv: res.prevKv && kvJson(res.prevKv) })}\n`,
      );
    else if (format === "fields")
      out.stdout(headerFields(res.header) + (res.prevKv ? kvFields(res.prevKv, "Prev") : ""));
    else {
      out.stdout("OK\n");
      if (res.prevKv) printKv(out, res.prevKv, { hex: values.hex });
    }
    return 0;
  } finally {
    c.close();
  }
}

export const GET_USAGE =
  "usage: ordo get KEY [RANGE_END] [--prefix | --from-key] [--limit N] [--rev N] [--sort-by CREATE|KEY|MODIFY|VALUE|VERSION] [--order ASCEND|DESCEND] [--keys-only] [--print-value-only] [--count-only] [-w simple|json|fields]";

const SORT_TARGETS = {
  CREATE: "CREATE",
  KEY: "KEY",
  MODIFY: "MOD",
  VALUE: "VALUE",
  VERSION: "VERSION",
} as const;

/** etcdctl's --sort-by / --order (clientv3.WithSort: ascending by key is the default order). */
function sortOf(values: { "sort-by"?: string | undefined; order?: string | undefined }): {
  sortOrder?: "ASCEND" | "DESCEND";
  sortTarget?: "KEY" | "VERSION" | "CREATE" | "MOD" | "VALUE";
} {
  const order = (values.order ?? "").toUpperCase();
  if (order !== "" && order !== "ASCEND" && order !== "DESCEND")
    throw new Error(`bad sort order "${values.order}" (ASCEND or DESCEND)`);
  const by = (values["sort-by"] ?? "").toUpperCase();
  if (by !== "" && !(by in SORT_TARGETS))
    throw new Error(
      `bad sort target "${values["sort-by"]}" (CREATE, KEY, MODIFY, VALUE or VERSION)`,
    );
  const sortTarget = by === "" ? "KEY" : SORT_TARGETS[by as keyof typeof SORT_TARGETS];
  if (order === "" || (order === "ASCEND" && sortTarget === "KEY"))
    return sortTarget === "KEY" ? {} : { sortTarget };
  return { sortOrder: order as "ASCEND" | "DESCEND", sortTarget };
}

/** The range of a get or del: KEY [RANGE_END], --prefix or --from-key, as etcdctl reads them. */
function rangeOf(
  keys: readonly Buffer[],
  values: {
    prefix?: boolean | undefined;
    "from-key"?: boolean | undefined;
    "range-end"?: string | undefined;
    "hex-input"?: boolean | undefined;
  },
): { key: Buffer; prefix?: boolean; fromKey?: boolean; rangeEnd?: Buffer } {
  const [key, end] = keys as [Buffer, Buffer | undefined];
  if (values.prefix && values["from-key"])
    throw new Error("`--prefix` and `--from-key` cannot be set at the same time, choose one");
  if ((values.prefix || values["from-key"]) && end !== undefined)
    throw new Error(
      "too many arguments, only accept one argument when `--prefix` or `--from-key` is set",
    );
  const flagEnd =
    values["range-end"] !== undefined
      ? flagBytes(values["range-end"], "--range-end", values["hex-input"])
      : undefined;
  const rangeEnd = end ?? flagEnd;
  return {
    key,
    ...(values.prefix ? { prefix: true } : {}),
    ...(values["from-key"] ? { fromKey: true } : {}),
    ...(rangeEnd !== undefined ? { rangeEnd } : {}),
  };
}

export async function runGet(args: string[], out: Output): Promise<number> {
  const parsed = parseKvArgs(args, getOptions);
  const { values, positionals } = parsed;
  if (positionals.length !== 1 && positionals.length !== 2) throw new Error(GET_USAGE);
  const format = writeOutOf(values);
  if (values.consistency !== "l" && values.consistency !== "s")
    throw new Error(`unknown consistency flag "${values.consistency}" (l or s)`);
  const range = rangeOf(positionalBytes(args, out, parsed, ["KEY", "RANGE_END"]), values);
  const c = client(values);
  try {
    const limit = nonNegative(values.limit, "--limit");
    const revision = nonNegative(values.rev, "--rev");
    const res = await c.get(range.key, {
      ...range,
      ...sortOf(values),
      keysOnly: values["keys-only"] ?? false,
      countOnly: values["count-only"] ?? false,
      serializable: (values.serializable ?? false) || values.consistency === "s",
      ...(limit !== undefined ? { limit } : {}),
      ...(revision !== undefined ? { revision } : {}),
    });
    if (format === "json")
      out.stdout(
        `${toJson({
          header: headerJson(res.header),
          kvs: omitEmpty(res.kvs.map(kvJson)),
          more: omitEmpty(res.more),
          count: omitEmpty(num(res.count)),
        })}\n`,
      );
    else if (format === "fields")
      out.stdout(
        headerFields(res.header) +
          res.kvs.map((kv) => kvFields(kv)).join("") +
          field("More", res.more) +
          field("Count", res.count),
      );
    else if (values["count-only"]) out.stdout(`${res.count}\n`);
    else
      for (const kv of res.kvs)
        printKv(out, kv, { hex: values.hex, valueOnly: values["print-value-only"] });
    return 0;
  } finally {
    c.close();
  }
}

export const DEL_USAGE =
  "usage: ordo del KEY [RANGE_END] [--prefix | --from-key] [--prev-kv] [-w simple|json|fields]";

export async function runDel(args: string[], out: Output): Promise<number> {
  const parsed = parseKvArgs(args, delOptions);
  const { values, positionals } = parsed;
  if (positionals.length !== 1 && positionals.length !== 2) throw new Error(DEL_USAGE);
  const format = writeOutOf(values);
  const range = rangeOf(positionalBytes(args, out, parsed, ["KEY", "RANGE_END"]), values);
  if (range.fromKey) {
    // DeleteRange takes the same range end as Range: "\0" is every key from KEY on.
    Object.assign(range, { rangeEnd: Buffer.from([0]), fromKey: undefined });
    if (range.key.length === 0) range.key = Buffer.from([0]);
  }
  const c = client(values);
  try {
    const res = await c.delete(range.key, {
      prefix: range.prefix ?? false,
      ...(range.rangeEnd !== undefined ? { rangeEnd: range.rangeEnd } : {}),
      prevKv: values["prev-kv"] ?? false,
    });
    if (format === "json")
      out.stdout(
        `${toJson({
          header: headerJson(res.header),
          deleted: omitEmpty(num(res.deleted)),
          prev_kvs: omitEmpty(res.prevKvs.map(kvJson)),
        })}\n`,
      );
    else if (format === "fields")
      out.stdout(
        headerFields(res.header) +
          field("Deleted", res.deleted) +
          res.prevKvs.map((kv) => kvFields(kv, "Prev")).join(""),
      );
    else {
      out.stdout(`${res.deleted}\n`);
      for (const kv of res.prevKvs) printKv(out, kv, { hex: values.hex });
    }
    return 0;
  } finally {
    c.close();
  }
}
