// A simulation worker thread: runs each seed it is sent and posts back the result (no history).
import { parentPort } from "node:worker_threads";
import { runSeedAsync } from "./runner.js";
import type { SimOptions } from "./sim-options.js";

const port = parentPort;
if (port === null) throw new Error("sim worker must run as a worker thread");
port.on("message", async (options: SimOptions) => {
  const { history: _history, ...summary } = await runSeedAsync({ ...options, keepHistory: false });
  port.postMessage(summary);
});
