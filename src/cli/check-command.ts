// `ordo check perf`: etcdctl's check perf. A bounded write load (etcdctl's workload models:
// s 150 writes/s by 50 clients, m 1000/200, l 8000/500, xl 15000/1000; for 60 s, or
// --duration SECONDS, an Ordo extension) of 256-byte keys under --prefix and 1 KiB values,
// paced by a token bucket. Then etcdctl's verdict: PASS when the throughput is above 90% of the
// model's, the slowest request took at most 0.5 s and the latencies' standard deviation is at
// most 0.1 s (exit 0), FAIL otherwise (exit 1). The keys are deleted afterwards (--auto-compact
// compacts at that revision, --auto-defrag defragments every endpoint).
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import type { KvClient } from "../client/index.js";
import { nonNegative } from "./int-flags.js";
import { client, common } from "./kv-commands.js";
import type { Output } from "./output.js";

const MODELS = {
  s: { limit: 150, clients: 50 },
  m: { limit: 1000, clients: 200 },
  l: { limit: 8000, clients: 500 },
  xl: { limit: 15000, clients: 1000 },
} as const;
const ALIASES: Record<string, keyof typeof MODELS> = {
  s: "s",
  small: "s",
  m: "m",
  medium: "m",
  l: "l",
  large: "l",
  xl: "xl",
  xLarge: "xl",
};
const KEY_BYTES = 256;
const VALUE_BYTES = 1024;
const DURATION_S_DEFAULT = 60;

export const CHECK_USAGE =
  "usage: ordo check perf [--load s|m|l|xl] [--prefix P] [--auto-compact] [--auto-defrag] [--duration SECONDS]";

const checkOptions = {
  ...common,
  load: { type: "string", default: "s" },
  prefix: { type: "string", default: "/etcdctl-check-perf/" },
  "auto-compact": { type: "boolean", default: false },
  "auto-defrag": { type: "boolean", default: false },
  duration: { type: "string" },
} as const;

export async function runCheck(args: string[], out: Output): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: checkOptions,
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1 || positionals[0] !== "perf") throw new Error(CHECK_USAGE);
  const model = ALIASES[values.load as string];
  if (model === undefined) throw new Error(`unknown load option ${values.load}`);
  const { limit, clients } = MODELS[model];
  const durationS = nonNegative(values.duration, "--duration") ?? DURATION_S_DEFAULT;
  if (durationS === 0) throw new Error("--duration must be positive");
  const prefix = values.prefix as string;
  const c = client(values);
  try {
    const existing = await c.get(prefix, { prefix: true, limit: 1 });
    if (existing.kvs.length > 0)
      throw new Error(
        `prefix "${prefix}" has keys. Delete with 'ordo del --prefix ${prefix}' first`,
      );
    const load = await writeLoad(c, prefix, limit, clients, durationS);
    const deleted = await c.delete(prefix, { prefix: true });
    if (values["auto-compact"]) {
      await c.compact(deleted.revision, { physical: true });
      out.stdout(`compacted revision ${deleted.revision}\n`);
    }
    if (values["auto-defrag"])
      for (const [i, endpoint] of c.endpoints.entries()) {
        await c.defragment(i);
        out.stdout(`Finished defragmenting etcd member[${endpoint}]\n`);
      }
    return verdict(load, limit, out) ? 0 : 1;
  } finally {
    c.close();
  }
}

/** What the load saw: each acknowledged write's latency, the errors by message, its length. */
interface LoadResult {
  readonly latenciesS: number[];
  readonly errors: Map<string, number>;
  readonly totalS: number;
}

/** The paced writes: at most `limit` a second, at most `clients` in flight, for durationS. */
async function writeLoad(
  c: KvClient,
  prefix: string,
  limit: number,
  clients: number,
  durationS: number,
): Promise<LoadResult> {
  const value = Buffer.alloc(VALUE_BYTES);
  const latenciesS: number[] = [];
  const errors = new Map<string, number>();
  const inFlight = new Set<Promise<void>>();
  const started = performance.now();
  const endAt = started + durationS * 1000;
  // A token bucket of burst 1: request i is due at started + i / limit seconds.
  for (let i = 0; ; i++) {
    const due = started + (i * 1000) / limit;
    if (due >= endAt) break;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    while (inFlight.size >= clients) await Promise.race(inFlight);
    const key = Buffer.concat([Buffer.from(prefix), randomBytes(8), Buffer.alloc(KEY_BYTES - 8)]);
    const t0 = performance.now();
    const p: Promise<void> = c.put(key, value).then(
      () => {
        latenciesS.push((performance.now() - t0) / 1000);
      },
      (e: unknown) => {
        const why = e instanceof Error ? e.message : String(e);
        errors.set(why, (errors.get(why) ?? 0) + 1);
      },
    );
    const tracked = p.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  }
  await Promise.all(inFlight);
  return { latenciesS, errors, totalS: (performance.now() - started) / 1000 };
}

/** etcdctl's verdict lines; true when every one passed. */
function verdict({ latenciesS, errors, totalS }: LoadResult, limit: number, out: Output): boolean {
  const rps = latenciesS.length / totalS;
  const slowest = latenciesS.length === 0 ? 0 : Math.max(...latenciesS);
  const mean = latenciesS.reduce((a, b) => a + b, 0) / Math.max(latenciesS.length, 1);
  const stddev = Math.sqrt(
    latenciesS.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(latenciesS.length, 1),
  );
  let ok = true;
  if (errors.size > 0) {
    out.stdout("FAIL: too many errors\n");
    for (const [why, n] of errors) out.stdout(`FAIL: ERROR(${why}) -> ${n}\n`);
    ok = false;
  }
  if (rps / limit <= 0.9) {
    out.stdout(`FAIL: Throughput too low: ${Math.floor(rps) + 1} writes/s\n`);
    ok = false;
  } else out.stdout(`PASS: Throughput is ${Math.floor(rps) + 1} writes/s\n`);
  if (slowest > 0.5) {
    out.stdout(`Slowest request took too long: ${slowest.toFixed(6)}s\n`);
    ok = false;
  } else out.stdout(`PASS: Slowest request took ${slowest.toFixed(6)}s\n`);
  if (stddev > 0.1) {
    out.stdout(`Stddev too high: ${stddev.toFixed(6)}s\n`);
    ok = false;
  } else out.stdout(`PASS: Stddev is ${stddev.toFixed(6)}s\n`);
  out.stdout(ok ? "PASS\n" : "FAIL\n");
  return ok;
}
