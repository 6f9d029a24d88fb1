#!/usr/bin/env node
// Entry point of the `ordo` command: runs the compiled CLI (npm run build makes dist/).
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const main = join(root, "dist", "src", "cli", "main.js");
if (!existsSync(main)) {
  process.stderr.write("ordo: not built yet; run `npm run build` first (npm test and npm start build it)\n");
  process.exit(2);
}
const { run } = await import(main);
process.exitCode = await run(process.argv.slice(2));
