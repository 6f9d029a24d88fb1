// The `ordo` command: dispatches to subcommands. Errors in arguments print a clear message and
// exit 2; a failed check exits 1.
import { type Output, processOutput } from "./output.js";
import { runSimCommand, SIM_USAGE } from "./sim-command.js";

const USAGE = `usage: ordo <command> [options]

commands:
  cluster start a local 3-member cluster, supervised (what npm start runs; ordo cluster --help)
          | cluster status | stop NAME | start NAME | restart NAME   (talks to the running one)
  serve   run one cluster member (ordo serve --help)
  put     ordo put KEY VALUE [--endpoints LIST]
  get     ordo get KEY [--prefix] [--limit N] [--rev N] [--keys-only] [--count-only] [--json]
  del     ordo del KEY [--prefix]
  txn     ordo txn [--file FILE]   (etcdctl's interactive format on stdin)
  watch   ordo watch KEY [--prefix] [--rev N] [--count N]
  lease   ordo lease grant TTL | revoke ID | keep-alive ID [--once] | ttl ID [--keys] | list
  member  ordo member list | add NAME --peer-urls URL [--learner] | remove ID|NAME
          | promote ID|NAME | update ID|NAME --peer-urls URL
  leader  ordo leader transfer --to ID|NAME   (waits until the new leader is seen)
  endpoint ordo endpoint status | health
  snapshot ordo snapshot save FILE
  user    ordo user add NAME[:PW] | get | list | delete | passwd | grant-role | revoke-role
  role    ordo role add | get | list | delete | grant-permission ROLE TYPE KEY [END] [--prefix|--from-key]
          | revoke-permission ROLE KEY [END]
  auth    ordo auth enable | disable | status
          (every client command takes --user NAME:PASSWORD, or --user NAME --password PW)
  sim     run the deterministic simulator (ordo sim --help)
  chaos   real faults on real member processes, then judge the clients' history (ordo chaos --help)
  wal     inspect a data directory's write-ahead log: wal verify DIR | wal dump DIR
  help    show this help

${SIM_USAGE}`;

export async function run(args: string[], out: Output = processOutput()): Promise<number> {
  const [command, ...rest] = args;
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
      case "snapshot":
        return await (await import("./maintenance-commands.js")).runSnapshot(rest, out);
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
    if (e instanceof Error && e.name === "KvClientError") {
      out.stderr(`ordo ${command}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
