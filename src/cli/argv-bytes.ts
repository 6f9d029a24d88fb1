// Command-line arguments as bytes. Node decodes argv as UTF-8 and replaces bytes that are not
// UTF-8 with U+FFFD before any JavaScript runs, so `ordo put $'k\xff' v` would store "k\uFFFD".
// etcdctl takes its arguments as raw bytes; so does Ordo where the system keeps them: on Linux
// /proc/self/cmdline holds the process's arguments exactly as passed (NUL-separated). Where it
// cannot be read, or does not match process.argv (the process renamed itself), an argument
// that decoded to U+FFFD is refused rather than silently changed; --hex-input passes any bytes
// (also NUL, which no command line can carry) as hexadecimal.
import { readFileSync } from "node:fs";

/** The raw bytes of process.argv.slice(2), or undefined when the system does not keep them. */
export function processArgvBytes(): Buffer[] | undefined {
  let cmdline: Buffer;
  try {
    cmdline = readFileSync("/proc/self/cmdline");
  } catch {
    return undefined;
  }
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < cmdline.length; i++) {
    if (cmdline[i] !== 0) continue;
    parts.push(cmdline.subarray(start, i));
    start = i + 1;
  }
  if (start < cmdline.length) return undefined; // not NUL-terminated: rewritten
  const userArgs = process.argv.length - 2;
  const expected = 2 + process.execArgv.length + userArgs;
  if (parts.length !== expected || userArgs < 0) return undefined;
  const raw = parts.slice(parts.length - userArgs);
  for (let i = 0; i < userArgs; i++)
    if ((raw[i] as Buffer).toString("utf8") !== process.argv[i + 2]) return undefined;
  return raw;
}

/**
 * The arguments of one command as bytes: `args` are the strings the command parses, `raw` (when
 * known) their bytes, index for index.
 */
export class ArgBytes {
  constructor(
    private readonly args: readonly string[],
    private readonly raw: readonly Buffer[] | undefined,
  ) {
    if (raw !== undefined && raw.length !== args.length) this.raw = undefined;
  }

  /** The bytes of args[index] (what was typed, not its UTF-8 decoding). */
  at(index: number, what: string): Buffer {
    const text = this.args[index];
    if (text === undefined) throw new RangeError(`no argument ${index}`);
    const raw = this.raw?.[index];
    if (raw !== undefined && raw.toString("utf8") === text) return Buffer.from(raw);
    if (text.includes("\uFFFD"))
      throw new Error(
        `${what} holds U+FFFD: bytes that are not UTF-8 were lost before ordo saw them; pass it with --hex-input instead`,
      );
    return Buffer.from(text);
  }
}

/** Bytes written as hexadecimal (an optional \x or 0x per byte or in front is accepted). */
export function bytesFromHex(text: string, what: string): Buffer {
  const hex = text.replace(/\\x/gi, "").replace(/^0x/i, "");
  if (!/^([0-9a-f]{2})*$/i.test(hex))
    throw new Error(`${what} "${text}" is not hexadecimal bytes (like 6b6579ff)`);
  return Buffer.from(hex, "hex");
}

/** etcdctl's --hex form of bytes: each byte as \xNN. */
export function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    .toString("hex")
    .replace(/../g, "\\x$&");
}
