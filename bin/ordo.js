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
// Output to a closed pipe (`ordo wal dump DIR | head`) ends the command quietly with exit 0,
// as other Unix tools end on SIGPIPE; any other failure to write is one line on stderr, exit 1.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (e) => {
    if (e.code === "EPIPE") process.exit(0);
    if (stream !== process.stderr) process.stderr.write(`ordo: cannot write output: ${e.message}\n`);
    process.exit(1);
  });
}
const { run } = await import(main);
process.exitCode = await run(process.argv.slice(2));
