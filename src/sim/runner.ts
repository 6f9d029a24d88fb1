// Runs seeds with what the rest of sim/ may not name (Node's timers and threads): one seed on
// either stack (runSeedAsync), or many seeds on every core: a pool of worker threads, each
// running whole seeds, fed one seed at a time so a slow seed does not hold up the rest.
// Results come back in seed order.
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { SimOptions } from "./sim-options.js";
import { Simulation } from "./simulation.js";
import type { SimResult } from "./verdict.js";

/** Lets every pending promise callback run (they are all microtasks; setImmediate comes after). */
function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Runs one seed on either stack. */
export function runSeedAsync(options: SimOptions): Promise<SimResult> {
  return new Simulation(options).runAsync(drainMicrotasks);
}

export type SeedSummary = Omit<SimResult, "history">;

export interface RunSeedsOptions {
  readonly seeds: readonly number[];
  readonly base: Omit<SimOptions, "seed">;
  /** Worker threads; default: one per core. */
  readonly workers?: number;
  readonly onResult?: (result: SeedSummary, done: number) => void;
}

export async function runSeeds(options: RunSeedsOptions): Promise<SeedSummary[]> {
  const seeds = options.seeds;
  const workerCount = Math.max(
    1,
    Math.min(options.workers ?? availableParallelism(), seeds.length),
  );
  const results = new Map<number, SeedSummary>();
  let next = 0;
  let done = 0;
  const workerUrl = new URL("./worker.js", import.meta.url);
  await new Promise<void>((resolve, reject) => {
    let live = workerCount;
    for (let w = 0; w < workerCount; w++) {
      const worker = new Worker(workerUrl);
      const feed = (): void => {
        if (next >= seeds.length) {
          void worker.terminate();
          return;
        }
        worker.postMessage({ ...options.base, seed: seeds[next++] });
      };
      worker.on("message", (result: SeedSummary) => {
        results.set(result.seed, result);
        done++;
        options.onResult?.(result, done);
        feed();
      });
      worker.on("error", reject);
      worker.on("exit", () => {
        if (--live === 0) resolve();
      });
      feed();
    }
  });
  return seeds.map((s) => {
    const r = results.get(s);
    if (r === undefined) throw new Error(`seed ${s} produced no result`);
    return r;
  });
}
