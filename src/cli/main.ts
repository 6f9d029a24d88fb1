// The `ordo` command: dispatches to subcommands. Errors in arguments print a clear message and
// exit 2; a failed check exits 1.
import { type Output, processOutput } from "./output.js";
import { runSimCommand, SIM_USAGE } from "./sim-command.js";

const USAGE = `usage: ordo <command> [options]

commands:
  sim     run the deterministic simulator (ordo sim --help)
  wal     inspect a data directory's write-ahead log: wal verify DIR | wal dump DIR
  help    show this help

${SIM_USAGE}`;

export async function run(args: string[], out: Output = processOutput()): Promise<number> {
  const [command, ...rest] = args;
  try {
    switch (command) {
      case "sim":
        return await runSimCommand(rest, out);
      case "wal": {
        const { runWal } = await import("./wal.js");
        return await runWal(rest, out);
      }
      case undefined:
      case "help":
      case "--help":
      case "-h":
        out.stdout(`${USAGE}\n`);
        return command === undefined ? 2 : 0;
      default:
        out.stderr(`ordo: unknown command "${command}"\n${USAGE}\n`);
        return 2;
    }
  } catch (e) {
    if (e instanceof Error && (e.name === "TypeError" || e.name === "Error") && "code" in e) {
      out.stderr(`ordo ${command}: ${e.message}\n`);
      return 2;
    }
    if (e instanceof Error && e.constructor === Error) {
      out.stderr(`ordo ${command}: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
