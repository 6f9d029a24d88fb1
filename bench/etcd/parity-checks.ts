// The etcdctl 3.4 commands that `npm run parity:etcd` runs against etcd and against Ordo, in this
// order, on a fresh 3-member cluster of each: the commands an etcd user, operator or script
// reaches for, with their common flags and their common mistakes. A check is one or more
// etcdctl runs; it behaves the same when every run exits alike and prints the same text once
// what must differ between two clusters is masked (bench/etcd-parity.ts: endpoints, member,
// cluster and lease ids, durations, Raft terms and indexes; a check adds its own masks for what
// is implementation-defined, such as hash values and database sizes).

/** What one system's checks learn as they run (a lease id, a member id), for later checks. */
export interface Context {
  /** Member ids (hex), n1..n3 in order, and the leader's index. */
  readonly members: readonly string[];
  leader: number;
  /** Client endpoints (host:port), n1..n3. */
  readonly endpoints: readonly string[];
  /** Peer URLs, n1..n3. */
  readonly peerUrls: readonly string[];
  /** Peer URL for a member added by the checks (not started). */
  readonly spareUrl: string;
  /** A scratch folder for this system (snapshot files). */
  readonly dir: string;
  lease?: string | undefined;
  learner?: string | undefined;
}

export interface Step {
  readonly args: readonly string[];
  /** Endpoints for this run: one member (default: all three). */
  readonly endpoint?: "one" | "all" | "cluster-only";
  readonly input?: string;
  /** For commands that do not end by themselves (watch): kill after this long. */
  readonly killAfterMs?: number;
  /** Reads what later checks need from this run's stdout. */
  readonly learn?: (stdout: string, ctx: Context) => void;
}

export interface Check {
  readonly id: string;
  readonly steps: (ctx: Context) => readonly Step[];
  /** Extra masks for implementation-defined text (replaced by <masked>). */
  readonly mask?: readonly RegExp[];
  /**
   * The output's lines in sorted order: for commands whose line order is not defined (etcdctl
   * prints concurrent answers as they come; `--cluster` forms and member lists follow the
   * members' ids, which differ between two clusters).
   */
  readonly unordered?: boolean;
  /** Keeps only what the check compares (check perf: its verdict lines, not its progress bar). */
  readonly keep?: RegExp;
}

const one = (args: string[], more: Partial<Step> = {}): readonly Step[] => [{ args, ...more }];
const HASH = /"?hash"?:\s?\d+|, \d+$|\b\d{6,10}\b/gm;
const SIZE = /\d+(\.\d+)? ?(kB|MB|B)\b|"db_size(_in_use)?":\d+/g;
/** A run's whole stdout, for checks whose output cannot be normalized as text. */
const STDOUT = /[\s\S]*(?=--stderr--)/;
const BIG = "x".repeat(2 * 1024 * 1024);

const TXN_OK = 'value("t1") = "a"\n\nput t2 yes\n\nput t2 no\n';
const TXN_FAIL = 'value("t1") = "zzz"\n\nput t3 yes\n\nput t3 no\n';
const TXN_MULTI = 'mod("t1") > "0"\nversion("t1") = "1"\n\nget t1\nput t4 v\ndel t2\n\nget t1\n';

export const CHECKS: readonly Check[] = [
  // ---- KV ----
  { id: "put", steps: () => one(["put", "k1", "v1"]) },
  { id: "put second key", steps: () => one(["put", "k2", "v2"]) },
  { id: "get", steps: () => one(["get", "k1"]) },
  { id: "get -w json", steps: () => one(["get", "k1", "-w", "json"]) },
  { id: "get -w fields", steps: () => one(["get", "k1", "-w", "fields"]) },
  {
    id: "get -w protobuf",
    steps: () => one(["get", "k1", "-w", "protobuf"]),
    mask: [STDOUT], // binary, with the ids and term inside: exit and errors only
  },
  { id: "get -w table", steps: () => one(["get", "k1", "-w", "table"]) },
  { id: "get --prefix", steps: () => one(["get", "k", "--prefix"]) },
  { id: "get range [k1, k3)", steps: () => one(["get", "k1", "k3"]) },
  { id: "get --from-key", steps: () => one(["get", "k2", "--from-key"]) },
  { id: "get --print-value-only", steps: () => one(["get", "k1", "--print-value-only"]) },
  { id: "get --keys-only", steps: () => one(["get", "k", "--prefix", "--keys-only"]) },
  { id: "get --limit", steps: () => one(["get", "k", "--prefix", "--limit", "1"]) },
  {
    id: "get --sort-by=KEY --order=DESCEND",
    steps: () => one(["get", "k", "--prefix", "--sort-by=KEY", "--order=DESCEND"]),
  },
  {
    id: "get --sort-by=MODIFY",
    steps: () => one(["get", "k", "--prefix", "--sort-by=MODIFY", "--order=DESCEND"]),
  },
  {
    id: "get --count-only -w json",
    steps: () => one(["get", "k", "--prefix", "--count-only", "-w", "json"]),
  },
  { id: "get --rev", steps: () => one(["get", "k1", "--rev=2"]) },
  { id: "get --consistency=s", steps: () => one(["get", "k1", "--consistency=s"]) },
  { id: "get --hex", steps: () => one(["get", "k1", "--hex"]) },
  { id: "get a missing key", steps: () => one(["get", "nothing-here"]) },
  { id: "get a future revision", steps: () => one(["get", "k1", "--rev=100000"]) },
  { id: "put --prev-kv", steps: () => one(["put", "k1", "v1b", "--prev-kv"]) },
  { id: "put --ignore-value", steps: () => one(["put", "k1", "--ignore-value"]) },
  { id: "put --ignore-value, missing key", steps: () => one(["put", "nokey", "--ignore-value"]) },
  { id: "put --ignore-lease, no lease", steps: () => one(["put", "k1", "v1c", "--ignore-lease"]) },
  { id: "put an empty key", steps: () => one(["put", "", "v"]) },
  { id: "put with a missing value", steps: () => one(["put", "k9"]) },
  { id: "put from stdin", steps: () => one(["put", "k3"], { input: "from stdin\n" }) },
  { id: "put a 2 MiB value", steps: () => one(["put", "big"], { input: BIG }) },
  {
    id: "put --lease of a missing lease",
    steps: () => one(["put", "k4", "v", "--lease=1234abcd"]),
  },
  { id: "get after the puts", steps: () => one(["get", "", "--from-key", "-w", "json"]) },
  { id: "del", steps: () => one(["del", "k3"]) },
  { id: "del --prev-kv", steps: () => one(["del", "k2", "--prev-kv"]) },
  { id: "del a missing key", steps: () => one(["del", "nothing-here"]) },
  {
    id: "del --prefix",
    steps: () =>
      one(["put", "p/a", "1"]).concat(one(["put", "p/b", "2"]), one(["del", "p/", "--prefix"])),
  },
  {
    id: "del --from-key",
    steps: () => one(["put", "z1", "1"]).concat(one(["del", "z", "--from-key"])),
  },
  // ---- Txn ----
  {
    id: "txn, success branch",
    steps: () => one(["put", "t1", "a"]).concat(one(["txn"], { input: TXN_OK })),
  },
  { id: "txn, failure branch", steps: () => one(["txn"], { input: TXN_FAIL }) },
  { id: "txn -w json", steps: () => one(["txn", "-w", "json"], { input: TXN_OK }) },
  { id: "txn, several compares and ops", steps: () => one(["txn"], { input: TXN_MULTI }) },
  {
    id: "txn, malformed compare",
    mask: [/0x[0-9a-f]+/g],
    steps: () => one(["txn"], { input: 'value("t1") ~ "a"\n\n\n' }),
  },
  { id: "txn --interactive=false, empty", steps: () => one(["txn"], { input: "\n\n\n" }) },
  // ---- Compaction ----
  { id: "compact", steps: () => one(["compact", "3"]) },
  { id: "get a compacted revision", steps: () => one(["get", "k1", "--rev=2"]) },
  { id: "compact a compacted revision", steps: () => one(["compact", "2"]) },
  { id: "compact a future revision", steps: () => one(["compact", "100000"]) },
  { id: "compact --physical", steps: () => one(["compact", "4", "--physical"]) },
  // ---- Watch ----
  {
    id: "watch --rev (history)",
    steps: () => one(["watch", "k1", "--rev=5"], { killAfterMs: 2500 }),
  },
  {
    id: "watch --prefix --rev",
    steps: () => one(["watch", "t", "--prefix", "--rev=5"], { killAfterMs: 2500 }),
  },
  {
    id: "watch --prev-kv --rev",
    steps: () => one(["watch", "t1", "--prev-kv", "--rev=5"], { killAfterMs: 2500 }),
  },
  {
    id: "watch a compacted revision",
    steps: () => one(["watch", "k1", "--rev=2"], { killAfterMs: 2500 }),
  },
  // ---- Lease ----
  {
    id: "lease grant",
    steps: () =>
      one(["lease", "grant", "600"], {
        learn: (out, ctx) => {
          ctx.lease = /lease ([0-9a-f]+) granted/.exec(out)?.[1];
        },
      }),
  },
  { id: "put --lease", steps: (c) => one(["put", "lk", "v", `--lease=${c.lease}`]) },
  { id: "lease timetolive", steps: (c) => one(["lease", "timetolive", `${c.lease}`]) },
  {
    id: "lease timetolive --keys",
    steps: (c) => one(["lease", "timetolive", `${c.lease}`, "--keys"]),
  },
  {
    id: "lease timetolive -w json",
    steps: (c) => one(["lease", "timetolive", `${c.lease}`, "-w", "json"]),
  },
  { id: "lease list", steps: () => one(["lease", "list"]) },
  {
    id: "lease keep-alive --once",
    steps: (c) => one(["lease", "keep-alive", "--once", `${c.lease}`]),
  },
  { id: "lease revoke", steps: (c) => one(["lease", "revoke", `${c.lease}`]) },
  { id: "get a revoked lease's key", steps: () => one(["get", "lk"]) },
  { id: "lease revoke, missing", steps: () => one(["lease", "revoke", "1234abcd"]) },
  { id: "lease timetolive, missing", steps: () => one(["lease", "timetolive", "1234abcd"]) },
  {
    id: "lease keep-alive --once, missing",
    steps: () => one(["lease", "keep-alive", "--once", "1234abcd"]),
  },
  {
    id: "lease grant 0",
    mask: [/lease [0-9a-f]+ granted/g],
    steps: () => one(["lease", "grant", "0"]),
  },
  // ---- Members ----
  { id: "member list", unordered: true, steps: () => one(["member", "list"]) },
  {
    id: "member list -w table",
    unordered: true,
    steps: () => one(["member", "list", "-w", "table"]),
  },
  {
    id: "member list -w json",
    unordered: true,
    steps: () => one(["member", "list", "-w", "json"]),
  },
  {
    id: "member add --learner",
    steps: (c) =>
      one(["member", "add", "n4", `--peer-urls=${c.spareUrl}`, "--learner"], {
        learn: (out, ctx) => {
          ctx.learner = /Member +([0-9a-f]+) added/.exec(out)?.[1];
        },
      }),
  },
  {
    id: "member list with an unstarted learner",
    unordered: true,
    steps: () => one(["member", "list"]),
  },
  {
    id: "member promote an unstarted learner",
    steps: (c) => one(["member", "promote", `${c.learner}`]),
  },
  {
    id: "member update",
    steps: (c) => one(["member", "update", `${c.learner}`, `--peer-urls=${c.spareUrl}`]),
  },
  { id: "member remove", steps: (c) => one(["member", "remove", `${c.learner}`]) },
  { id: "member remove, missing", steps: () => one(["member", "remove", "1234abcd"]) },
  {
    id: "member update, missing",
    steps: (c) => one(["member", "update", "1234abcd", `--peer-urls=${c.spareUrl}`]),
  },
  {
    id: "member add, a URL in use",
    steps: (c) => one(["member", "add", "n5", `--peer-urls=${c.peerUrls[2]}`]),
  },
  // ---- Endpoints and maintenance ----
  { id: "endpoint health", unordered: true, steps: () => one(["endpoint", "health"]) },
  {
    id: "endpoint health --cluster",
    unordered: true,
    steps: () => one(["endpoint", "health", "--cluster"]),
  },
  {
    id: "endpoint health -w json",
    unordered: true,
    steps: () => one(["endpoint", "health", "-w", "json"]),
  },
  {
    id: "endpoint status",
    steps: () => one(["endpoint", "status"]),
    mask: [SIZE, /, (true|false), (true|false), \d+, \d+, \d+,/g], // who leads; Raft's numbers
  },
  {
    id: "endpoint status --cluster -w table",
    steps: () => one(["endpoint", "status", "--cluster", "-w", "table"]),
    mask: [SIZE, /\| +\d+ \| +\d+ \| +\d+ \|/g, /\| +(true|false) \|/g],
  },
  {
    id: "endpoint hashkv --cluster",
    unordered: true,
    steps: () => one(["endpoint", "hashkv", "--cluster"]),
    mask: [HASH],
  },
  {
    id: "endpoint hashkv --rev",
    steps: () => one(["endpoint", "hashkv", "--rev=5", "-w", "json"]),
    mask: [HASH],
  },
  { id: "alarm list", steps: () => one(["alarm", "list"]) },
  { id: "alarm disarm", steps: () => one(["alarm", "disarm"]) },
  { id: "defrag", steps: () => one(["defrag"], { endpoint: "one" }) },
  { id: "defrag --cluster", unordered: true, steps: () => one(["defrag", "--cluster"]) },
  {
    id: "snapshot save",
    steps: (c) => one(["snapshot", "save", `${c.dir}/snap.db`], { endpoint: "one" }),
    mask: [/Snapshot saved at .*/g, /\{"level".*\n?/g],
  },
  {
    id: "snapshot status (etcdctl reads the file)",
    steps: (c) =>
      one(["snapshot", "status", `${c.dir}/snap.db`, "-w", "json"], { endpoint: "one" }),
    mask: [HASH, /"(revision|totalKey|totalSize)":\d+/g],
  },
  {
    id: "move-leader to a follower",
    steps: (c) =>
      one(["move-leader", `${c.members[(c.leader + 1) % 3]}`], {
        learn: (_o, ctx) => {
          ctx.leader = (ctx.leader + 1) % 3;
        },
      }),
  },
  { id: "move-leader to a missing member", steps: () => one(["move-leader", "1234abcd"]) },
  {
    id: "check perf (s load)",
    keep: /(PASS|FAIL|Error)[^\n%]*|--exit.*/g, // its verdicts follow the progress bar on one line
    steps: () => one(["check", "perf", "--load=s"], { killAfterMs: 90_000 }),
    mask: [/\d+(\.\d+)?/g],
  },
  // ---- Concurrency ----
  { id: "lock, running a command", steps: () => one(["lock", "mylock", "echo", "held"]) },
  {
    id: "elect (observe, no leader)",
    steps: () => one(["elect", "-l", "myelection"], { killAfterMs: 2000 }),
  },
  // ---- Auth ----
  { id: "user add root", steps: () => one(["user", "add", "root", "--new-user-password=rootpw"]) },
  {
    id: "user add alice",
    steps: () => one(["user", "add", "alice", "--new-user-password=alicepw"]),
  },
  { id: "user add, exists", steps: () => one(["user", "add", "alice", "--new-user-password=x"]) },
  { id: "user list", steps: () => one(["user", "list"]) },
  { id: "user get root", steps: () => one(["user", "get", "root"]) },
  { id: "role add", steps: () => one(["role", "add", "app"]) },
  {
    id: "role grant-permission --prefix",
    steps: () => one(["role", "grant-permission", "app", "readwrite", "/app/", "--prefix=true"]),
  },
  {
    id: "role grant-permission read range",
    steps: () => one(["role", "grant-permission", "app", "read", "/ro/a", "/ro/z"]),
  },
  { id: "role get", steps: () => one(["role", "get", "app"]) },
  { id: "role list", steps: () => one(["role", "list"]) },
  { id: "user grant-role", steps: () => one(["user", "grant-role", "alice", "app"]) },
  { id: "user get --detail", steps: () => one(["user", "get", "alice", "--detail"]) },
  {
    id: "user grant-role, missing role",
    steps: () => one(["user", "grant-role", "alice", "nope"]),
  },
  { id: "auth enable", steps: () => one(["auth", "enable"]) },
  { id: "get without a user", steps: () => one(["get", "k1"]) },
  { id: "put as alice, allowed", steps: () => one(["--user=alice:alicepw", "put", "/app/x", "1"]) },
  {
    id: "put as alice, denied",
    steps: () => one(["--user=alice:alicepw", "put", "/other/x", "1"]),
  },
  { id: "get as alice, read range", steps: () => one(["--user=alice:alicepw", "get", "/ro/b"]) },
  {
    id: "txn as alice touching a denied key",
    steps: () =>
      one(["--user=alice:alicepw", "txn"], {
        input: 'value("/app/x") = "1"\n\nput /other/y 1\n\n\n',
      }),
  },
  {
    id: "watch as alice, denied",
    steps: () =>
      one(["--user=alice:alicepw", "watch", "/other/", "--prefix"], { killAfterMs: 3000 }),
  },
  { id: "wrong password", steps: () => one(["--user=alice:wrong", "get", "/app/x"]) },
  {
    id: "user passwd",
    steps: () =>
      one(["--user=root:rootpw", "user", "passwd", "alice", "--interactive=false"], {
        input: "alicepw2\n",
      }),
  },
  {
    id: "get as alice, new password",
    steps: () => one(["--user=alice:alicepw2", "get", "/app/x"]),
  },
  {
    id: "role revoke-permission",
    steps: () => one(["--user=root:rootpw", "role", "revoke-permission", "app", "/ro/a", "/ro/z"]),
  },
  {
    id: "user revoke-role",
    steps: () => one(["--user=root:rootpw", "user", "revoke-role", "alice", "app"]),
  },
  {
    id: "user delete root while enabled",
    steps: () => one(["--user=root:rootpw", "user", "delete", "root"]),
  },
  { id: "auth disable", steps: () => one(["--user=root:rootpw", "auth", "disable"]) },
  { id: "user delete", steps: () => one(["user", "delete", "alice"]) },
  { id: "role delete", steps: () => one(["role", "delete", "app"]) },
  { id: "role delete, missing", steps: () => one(["role", "delete", "app"]) },
  // ---- The end state ----
  { id: "get everything at the end", steps: () => one(["get", "", "--from-key"]) },
];
