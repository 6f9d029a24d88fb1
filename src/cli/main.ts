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

export async function run(
  args: string[],
  out: Output = processOutput(isProcessArgv(args) ? processArgvBytes() : undefined),
): Promise<number> {
  const [command, ...rest] = args;
  // The subcommand sees its own arguments, and their bytes, index for index.
  out = { ...out, argvBytes: out.argvBytes?.slice(1) };
  try {
    switch (command) {
      case "sim":
        return await runSimCommand(rest, out);
      case "chaos": {
        const { runChaosCommand } = await import("./chaos-command.js");
        return await runChaosCommand(rest, out);
      }
      case "cluster": {
        const { runClusterCommand } = await import("./cluster-command.js");
        return await runClusterCommand(rest, out);
      }
      case "serve": {
        const { runServeCommand } = await import("./serve-command.js");
        return await runServeCommand(rest, out);
      }
      case "put":
        return await (await import("./kv-commands.js")).runPut(rest, out);
      case "get":
        return await (await import("./kv-commands.js")).runGet(rest, out);
      case "del":
        return await (await import("./kv-commands.js")).runDel(rest, out);
      case "txn":
        return await (await import("./txn-command.js")).runTxn(rest, out);
      case "watch":
        return await (await import("./watch-command.js")).runWatch(rest, out);
      case "lease":
        return await (await import("./lease-commands.js")).runLease(rest, out);
      case "member":
        return await (await import("./maintenance-commands.js")).runMember(rest, out);
      case "leader":
        return await (await import("./maintenance-commands.js")).runLeader(rest, out);
      case "endpoint":
        return await (await import("./maintenance-commands.js")).runEndpoint(rest, out);
      case "compact":
      case "compaction":
        return await (await import("./maintenance-commands.js")).runCompact(rest, out);
      case "lock":
        return await (await import("./concurrency-commands.js")).runLock(rest, out);
      case "elect":
        return await (await import("./concurrency-commands.js")).runElect(rest, out);
      case "check":
        return await (await import("./check-command.js")).runCheck(rest, out);
      case "alarm":
        return await (await import("./maintenance-commands.js")).runAlarm(rest, out);
      case "defrag":
        return await (await import("./maintenance-commands.js")).runDefrag(rest, out);
      case "snapshot":
        return await (await import("./snapshot-commands.js")).runSnapshot(rest, out);
      case "user":
        return await (await import("./auth-commands.js")).runUser(rest, out);
      case "role":
        return await (await import("./auth-commands.js")).runRole(rest, out);
      case "auth":
        return await (await import("./auth-commands.js")).runAuth(rest, out);
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
    if (
      e instanceof Error &&
      (e.constructor === Error || ("code" in e && String(e.code).startsWith("ERR_PARSE_ARGS")))
    ) {
      out.stderr(`ordo ${command}: ${e.message}\n`);
      return 2;
    }
    if (e instanceof Error && (e.name === "MemberStartError" || e.name === "MemberFileError")) {
      // A member that must not start as asked: the message says why and what to do.
      out.stderr(`ordo ${command}: ${e.message}\n`);
      return 1;
    }
    if (
      e instanceof Error &&
      (e.name === "SnapshotFileError" ||
        e.name === "RestoreError" ||
        e.name === "StorageError" ||
        e.name === "CorruptionError" ||
        typeof (e as NodeJS.ErrnoException).syscall === "string")
    ) {
      // A snapshot file that is not one, a restore refused (nothing was written), or the file
      // system or the network said no (a missing directory, a permission): one line.
      out.stderr(`ordo ${command}: ${e.message}\n`);
      return 1;
    }
    if (e instanceof Error && e.name === "KvClientError") {
      out.stderr(`ordo ${command}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
