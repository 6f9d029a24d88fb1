// The `ordo` command: dispatches to subcommands. Errors in arguments print a clear message and
// exit 2; a failed check exits 1.
import { processArgvBytes } from "./argv-bytes.js";
import { type Output, processOutput } from "./output.js";
import { runSimCommand, SIM_USAGE } from "./sim-command.js";

const USAGE = `usage: ordo <command> [options]

commands:
  cluster start a local 3-member cluster, supervised (what npm start runs; ordo cluster --help)
          | cluster status | stop NAME | start NAME | restart NAME   (talks to the running one)
  serve   run one cluster member (ordo serve --help)
  put     ordo put KEY VALUE [--lease ID] [--prev-kv] [--endpoints LIST]
  get     ordo get KEY [RANGE_END] [--prefix|--from-key] [--limit N] [--rev N]
          [--sort-by CREATE|KEY|MODIFY|VALUE|VERSION] [--order ASCEND|DESCEND]
          [--keys-only] [--print-value-only] [--count-only] [--consistency l|s]
  del     ordo del KEY [RANGE_END] [--prefix|--from-key] [--prev-kv]
          keys and values are bytes: as typed (raw argv), --hex-input for hexadecimal, --hex output
          output: -w simple|json|fields|table (etcdctl's shapes; --json is -w json)
  txn     ordo txn [--file FILE]   (etcdctl's interactive format on stdin)
  watch   ordo watch KEY [--prefix] [--rev N] [--count N]
  lease   ordo lease grant TTL | revoke ID | keep-alive ID [--once] | ttl ID [--keys] | list
  member  ordo member list | add NAME --peer-urls URL [--learner] | remove ID|NAME
          | promote ID|NAME | update ID|NAME --peer-urls URL
  leader  ordo leader transfer --to ID|NAME   (waits until the new leader is seen)
  endpoint ordo endpoint status | health
  compact ordo compact REVISION [--physical]   (also: compaction)
  defrag  ordo defrag   (every endpoint)
  alarm   ordo alarm list | disarm   (NOSPACE after --quota-backend-bytes; CORRUPT)
  lock    ordo lock NAME [COMMAND ARGS...] [--ttl N]   (etcd's recipe; etcdctl lock)
  elect   ordo elect NAME PROPOSAL | ordo elect -l NAME
  check   ordo check perf [--load s|m|l|xl] [--duration SECONDS]
  snapshot ordo snapshot save FILE | status FILE | restore FILE --name N --data-dir DIR --initial-cluster ...
  user    ordo user add NAME[:PW] | get | list | delete | passwd | grant-role | revoke-role
  role    ordo role add | get | list | delete | grant-permission ROLE TYPE KEY [END] [--prefix|--from-key]
          | revoke-permission ROLE KEY [END]
  auth    ordo auth enable | disable | status
          (every client command takes --user NAME:PASSWORD, or --user NAME --password PW)
  sim     run the deterministic simulator (ordo sim --help)
  chaos   real faults on real member processes, then judge the clients' history (ordo chaos --help)
  wal     inspect a data directory's write-ahead log: wal verify DIR | wal dump DIR
  help    show this help

client commands take --endpoints LIST, and for TLS (https:// endpoints) etcdctl's flags
  --cacert FILE --cert FILE --key FILE [--insecure-skip-tls-verify]

${SIM_USAGE}`;

/** The process's own arguments: their raw bytes are known (argv-bytes.ts). */
const isProcessArgv = (args: readonly string[]): boolean =>
  args.length === process.argv.length - 2 && args.every((a, i) => a === process.argv[i + 2]);

type Runner = (args: string[], out: Output) => Promise<number>;

/**
 * Each subcommand and how to load it: the modules are imported when their command runs, so
 * `ordo put` does not load the server, the simulator or the chaos harness.
 */
const COMMANDS: ReadonlyMap<string, () => Promise<Runner>> = new Map<string, () => Promise<Runner>>(
  [
    ["sim", async () => runSimCommand],
    ["chaos", async () => (await import("./chaos-command.js")).runChaosCommand],
    ["cluster", async () => (await import("./cluster-command.js")).runClusterCommand],
    ["serve", async () => (await import("./serve-command.js")).runServeCommand],
    ["put", async () => (await import("./kv-commands.js")).runPut],
    ["get", async () => (await import("./kv-commands.js")).runGet],
    ["del", async () => (await import("./kv-commands.js")).runDel],
    ["txn", async () => (await import("./txn-command.js")).runTxn],
    ["watch", async () => (await import("./watch-command.js")).runWatch],
    ["lease", async () => (await import("./lease-commands.js")).runLease],
    ["member", async () => (await import("./maintenance-commands.js")).runMember],
    ["leader", async () => (await import("./maintenance-commands.js")).runLeader],
    ["endpoint", async () => (await import("./maintenance-commands.js")).runEndpoint],
    ["compact", async () => (await import("./maintenance-commands.js")).runCompact],
    ["compaction", async () => (await import("./maintenance-commands.js")).runCompact],
    ["lock", async () => (await import("./concurrency-commands.js")).runLock],
    ["elect", async () => (await import("./concurrency-commands.js")).runElect],
    ["check", async () => (await import("./check-command.js")).runCheck],
    ["alarm", async () => (await import("./maintenance-commands.js")).runAlarm],
    ["defrag", async () => (await import("./maintenance-commands.js")).runDefrag],
    ["snapshot", async () => (await import("./snapshot-commands.js")).runSnapshot],
    ["user", async () => (await import("./auth-commands.js")).runUser],
    ["role", async () => (await import("./auth-commands.js")).runRole],
    ["auth", async () => (await import("./auth-commands.js")).runAuth],
    ["wal", async () => (await import("./wal.js")).runWal],
  ],
);

const HELP = new Set(["help", "--help", "-h"]);

export async function run(
  args: string[],
  out: Output = processOutput(isProcessArgv(args) ? processArgvBytes() : undefined),
): Promise<number> {
  const [command, ...rest] = args;
  // The subcommand sees its own arguments, and their bytes, index for index.
  out = { ...out, argvBytes: out.argvBytes?.slice(1) };
  try {
    const load = command === undefined ? undefined : COMMANDS.get(command);
    if (load !== undefined) return await (await load())(rest, out);
    if (command === undefined || HELP.has(command)) {
      out.stdout(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    }
    out.stderr(`ordo: unknown command "${command}"\n${USAGE}\n`);
    return 2;
  } catch (e) {
    const code = exitCodeOf(e);
    if (code === undefined) throw e;
    out.stderr(`ordo ${command}: ${(e as Error).message}\n`);
    return code;
  }
}

/**
 * The exit code of an error a command may end with, told in one line; undefined for any other
 * (a bug: it is thrown on, with its stack).
 */
function exitCodeOf(e: unknown): number | undefined {
  if (!(e instanceof Error)) return undefined;
  // Bad arguments.
  if (e.constructor === Error || ("code" in e && String(e.code).startsWith("ERR_PARSE_ARGS")))
    return 2;
  // A member that must not start as asked: the message says why and what to do.
  if (e.name === "MemberStartError" || e.name === "MemberFileError") return 1;
  // A snapshot file that is not one, a restore refused (nothing was written), or the file
  // system or the network said no (a missing directory, a permission): one line.
  if (
    e.name === "SnapshotFileError" ||
    e.name === "RestoreError" ||
    e.name === "StorageError" ||
    e.name === "CorruptionError" ||
    typeof (e as NodeJS.ErrnoException).syscall === "string"
  )
    return 1;
  if (e.name === "KvClientError") return 1;
  return undefined;
}
