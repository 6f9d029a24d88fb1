// `ordo watch KEY [--prefix] [--rev N] [--prev-kv] [--count N] [--json]`: prints events as
// etcdctl does (PUT or DELETE, then key and value lines; with --prev-kv the previous key and
// value before them), or one JSON object per event with --json. Runs until Ctrl-C (SIGINT),
// or until --count events were printed. The watch survives a member going away (the client
// resumes on another endpoint from the next revision).
import { parseArgs } from "node:util";
import type { WatchEvent } from "../client/index.js";
import { nonNegative } from "./int-flags.js";
import { client, common } from "./kv-commands.js";
import type { Output } from "./output.js";

export const WATCH_USAGE =
  "usage: ordo watch KEY [--prefix] [--rev N] [--prev-kv] [--count N] [--json]";

export function formatEvent(e: WatchEvent, prevKv: boolean): string {
  let text = `${e.type === "put" ? "PUT" : "DELETE"}\n`;
  if (prevKv && e.prevKv !== undefined) text += `${e.prevKv.key}\n${e.prevKv.value}\n`;
  text += `${e.kv.key}\n${e.kv.value}\n`;
  return text;
}

export async function runWatch(args: string[], out: Output): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      ...common,
      prefix: { type: "boolean", default: false },
      rev: { type: "string" },
      "prev-kv": { type: "boolean", default: false },
      count: { type: "string" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1) throw new Error(WATCH_USAGE);
  const startRevision = nonNegative(values.rev, "--rev");
  const count = nonNegative(values.count, "--count");
  if (count === 0) throw new Error("--count must be positive");
  const prevKv = values["prev-kv"] ?? false;
  const c = client(values);
  const watch = c.watch(positionals[0] as string, {
    prefix: values.prefix ?? false,
    prevKv,
    ...(startRevision !== undefined && startRevision > 0 ? { startRevision } : {}),
  });
  const stop = (): void => watch.close();
  process.once("SIGINT", stop);
  try {
    let printed = 0;
    for await (const e of watch) {
      out.stdout(values.json ? `${JSON.stringify(e)}\n` : formatEvent(e, prevKv));
      printed++;
      if (count !== undefined && printed >= count) break;
    }
    return 0;
  } finally {
    process.off("SIGINT", stop);
    c.close();
  }
}
