// `ordo txn`: one transaction read in etcdctl's interactive format, from stdin (or --file):
//
//   value("greeting") = "hello"        compares, one per line, then a blank line
//   mod("counter") > "4"
//
//   put greeting "hello again"         success ops, then a blank line
//   get counter
//
//   put greeting hello                 failure ops, to the end (or a blank line)
//
// Compares: value|version|create|mod|lease("KEY") =|!=|<|> "VALUE" (lease ids in hex, the rest
// decimal). Ops: put KEY VALUE [--lease HEX] | get KEY [--prefix] | del KEY [--prefix]. Words
// may be "double quoted" (with \" and \\) or 'single quoted'.
// Output as etcdctl: SUCCESS or FAILURE, then each op's result; --json prints the TxnResult.
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import {
  leaseIdFromHex,
  type TxnCompare,
  type TxnOp,
  type TxnOpResult,
  type TxnRequest,
} from "../client/index.js";
import { client, common } from "./kv-commands.js";
import type { Output } from "./output.js";

export const TXN_USAGE = `usage: ordo txn [--file FILE] [--json]   (reads compares, blank line, success ops, blank line, failure ops)`;

const LINES_MAX = 10_000;

/** Splits a line into words: whitespace separated, "double" (with escapes) or 'single' quoted. */
export function words(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < line.length) {
    const c = line[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    let word = "";
    while (i < line.length && !/\s/.test(line[i] as string)) {
      const ch = line[i] as string;
      if (ch === '"' || ch === "'") {
        const close = ch;
        i++;
        while (i < line.length && line[i] !== close) {
          if (close === '"' && line[i] === "\\" && i + 1 < line.length) i++;
          word += line[i];
          i++;
        }
        if (i >= line.length) throw new Error(`unterminated quote in: ${line}`);
        i++;
      } else {
        word += ch;
        i++;
      }
    }
    out.push(word);
  }
  return out;
}

const COMPARE =
  /^(value|version|create|mod|lease)\(\s*(".*"|'.*'|[^)\s]+)\s*\)\s*(==|=|!=|<|>)\s*(.+)$/;

export function parseCompare(line: string): TxnCompare {
  const m = COMPARE.exec(line.trim());
  if (m === null) throw new Error(`bad compare "${line}": expected e.g. value("key") = "v"`);
  const [key] = words(m[2] as string);
  const valueWords = words(m[4] as string);
  if (key === undefined || valueWords.length !== 1) throw new Error(`bad compare "${line}"`);
  const value = valueWords[0] as string;
  const op = m[3] === "=" ? "==" : (m[3] as "==" | "!=" | "<" | ">");
  switch (m[1]) {
    case "value":
      return { key, target: "value", op, value };
    case "lease":
      return { key, target: "lease", op, value: leaseIdFromHex(value) };
    default: {
      if (!/^\d+$/.test(value)) throw new Error(`bad compare "${line}": expected a number`);
      const target =
        m[1] === "create" ? "createRevision" : m[1] === "mod" ? "modRevision" : "version";
      return { key, target, op, value: Number(value) };
    }
  }
}

export function parseOp(line: string): TxnOp {
  const [verb, ...rest] = words(line);
  const flags = rest.filter((w) => w.startsWith("--"));
  const args = rest.filter((w) => !w.startsWith("--"));
  const prefix = flags.includes("--prefix");
  const leaseFlag = flags.find((f) => f.startsWith("--lease="));
  const known = (allowed: string[]): void => {
    for (const f of flags) {
      if (!allowed.some((a) => f === a || f.startsWith(`${a}=`))) {
        throw new Error(`unknown flag ${f} in "${line}"`);
      }
    }
  };
  switch (verb) {
    case "put":
      known(["--lease"]);
      if (args.length !== 2) throw new Error(`bad op "${line}": put KEY VALUE`);
      return {
        type: "put",
        key: args[0] as string,
        value: args[1] as string,
        ...(leaseFlag ? { lease: leaseIdFromHex(leaseFlag.slice("--lease=".length)) } : {}),
      };
    case "get":
      known(["--prefix"]);
      if (args.length !== 1) throw new Error(`bad op "${line}": get KEY [--prefix]`);
      return { type: "get", key: args[0] as string, prefix };
    case "del":
    case "delete":
      known(["--prefix"]);
      if (args.length !== 1) throw new Error(`bad op "${line}": del KEY [--prefix]`);
      return { type: "delete", key: args[0] as string, prefix };
    default:
      throw new Error(`bad op "${line}": expected put, get or del`);
  }
}

/** The three blank-line separated sections of etcdctl's txn input. */
export function parseTxn(text: string): TxnRequest {
  const lines = text.split(/\r?\n/);
  if (lines.length > LINES_MAX) throw new Error(`txn input longer than ${LINES_MAX} lines`);
  const sections: string[][] = [[]];
  for (const raw of lines) {
    const line = raw.trim();
    if (line === "") {
      if (sections.length < 3) sections.push([]);
      else if ((sections[2] as string[]).length > 0) break;
      continue;
    }
    (sections[sections.length - 1] as string[]).push(line);
  }
  return {
    compare: (sections[0] ?? []).map(parseCompare),
    success: (sections[1] ?? []).map(parseOp),
    failure: (sections[2] ?? []).map(parseOp),
  };
}

export function formatOpResult(r: TxnOpResult): string {
  switch (r.type) {
    case "put":
      return "OK\n";
    case "delete":
      return `${r.deleted}\n`;
    case "get":
      return r.kvs.map((kv) => `${kv.key}\n${kv.value}\n`).join("");
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export async function runTxn(args: string[], out: Output): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { ...common, file: { type: "string" } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 0) throw new Error(TXN_USAGE);
  const text = values.file !== undefined ? await readFile(values.file, "utf8") : await readStdin();
  const request = parseTxn(text);
  const c = client(values);
  try {
    const res = await c.txn(request);
    if (values.json) {
      out.stdout(`${JSON.stringify(res)}\n`);
    } else {
      out.stdout(`${res.succeeded ? "SUCCESS" : "FAILURE"}\n\n`);
      out.stdout(res.responses.map(formatOpResult).join("\n"));
    }
    return 0;
  } finally {
    c.close();
  }
}
