// The workloads of `npm run bench:etcd`, as arguments of etcd's `benchmark` tool, and the parser
// of its report (Summary: Requests/sec; Latency distribution: 50%, 99%).

export const KEY_BYTES = 8;
export const VALUE_BYTES = 256;
/** Keys of the put workloads are drawn from this many (random keys, mostly distinct). */
export const KEY_SPACE = 1_000_000;
/** The key the range workloads read (8 bytes), put before them with a 256-byte value. */
export const RANGE_KEY = "rangekey";

export interface Workload {
  /** Row id and key of the final JSON, e.g. put_100. */
  readonly id: string;
  /** What the row shows. */
  readonly label: string;
  readonly clients: number;
  readonly conns: number;
  readonly targetLeader: boolean;
  /** Requests of one full run (scaled down by --quick). */
  readonly total: number;
  readonly command: string;
  /** The subcommand's arguments for a given --total. */
  readonly args: (total: number) => string[];
  /** Put RANGE_KEY first. */
  readonly needsRangeKey: boolean;
  /** Writes: leader fsyncs per op are shown. */
  readonly writes: boolean;
}

const putArgs = (total: number): string[] => [
  `--key-size=${KEY_BYTES}`,
  `--val-size=${VALUE_BYTES}`,
  `--key-space-size=${KEY_SPACE}`,
  `--total=${total}`,
];

function put(id: string, clients: number, conns: number, total: number, leader = false): Workload {
  return {
    id,
    label: `put ${clients} client${clients > 1 ? "s" : ""}/${conns} conn${conns > 1 ? "s" : ""}${leader ? ", leader only" : ""}`,
    clients,
    conns,
    targetLeader: leader,
    total,
    command: "put",
    args: putArgs,
    needsRangeKey: false,
    writes: true,
  };
}

function range(consistency: "l" | "s", clients: number, conns: number, total: number): Workload {
  const name = consistency === "l" ? "lin" : "ser";
  return {
    id: `range_${name}_${clients}`,
    label: `range ${consistency === "l" ? "linearizable" : "serializable"} ${clients}/${conns}`,
    clients,
    conns,
    targetLeader: false,
    total,
    command: "range",
    args: (t) => [RANGE_KEY, `--consistency=${consistency}`, `--total=${t}`],
    needsRangeKey: true,
    writes: false,
  };
}

/**
 * Totals are chosen so that one run lasts about 5 seconds for Ordo on a small machine (2 cores);
 * etcd, faster, finishes sooner. --scale multiplies them.
 */
export const WORKLOADS: readonly Workload[] = [
  put("put_1", 1, 1, 600),
  put("put_10", 10, 1, 2500),
  put("put_100", 100, 1, 4000),
  put("put_1000", 1000, 10, 8000),
  put("put_leader", 1, 1, 800, true),
  range("l", 1, 1, 1000),
  range("l", 100, 10, 5000),
  range("l", 1000, 100, 5000),
  range("s", 1, 1, 4000),
  range("s", 100, 10, 10_000),
  range("s", 1000, 100, 10_000),
  {
    id: "txn_put",
    label: "txn-put 100/10, 1 put per txn",
    clients: 100,
    conns: 10,
    targetLeader: false,
    total: 6000,
    command: "txn-put",
    args: (t) => [...putArgs(t), "--txn-ops=1"],
    needsRangeKey: false,
    writes: true,
  },
  {
    id: "watch_latency",
    label: "watch-latency 10 watchers, 200 puts/s",
    clients: 10,
    conns: 10,
    targetLeader: false,
    total: 400,
    command: "watch-latency",
    args: (t) => [
      `--key-size=${KEY_BYTES}`,
      `--val-size=${VALUE_BYTES}`,
      "--put-rate=200",
      `--total=${t}`,
    ],
    needsRangeKey: false,
    writes: true,
  },
  {
    id: "lease_keepalive",
    label: "lease-keepalive 100/10",
    clients: 100,
    conns: 10,
    targetLeader: false,
    total: 7000,
    command: "lease-keepalive",
    args: (t) => [`--total=${t}`],
    needsRangeKey: false,
    writes: false,
  },
];

export interface ToolReport {
  readonly rps: number;
  /** Seconds. */
  readonly p50: number;
  readonly p99: number;
  readonly totalSeconds: number;
  /** Lines of the tool's "Error distribution", if any. */
  readonly errors: string[];
}

/** Parses the report `benchmark` prints (pkg/report), with --precise. */
export function parseReport(stdout: string): ToolReport {
  // The progress bar redraws with carriage returns: keep what follows the last one on each line.
  const text = stdout
    .split("\n")
    .map((l) => l.slice(l.lastIndexOf("\r") + 1))
    .join("\n");
  const num = (re: RegExp, what: string): number => {
    const m = re.exec(text);
    if (m === null) throw new Error(`no ${what} in the benchmark's output:\n${text.slice(-1500)}`);
    return Number(m[1]);
  };
  const errors: string[] = [];
  const errorAt = text.indexOf("Error distribution:");
  if (errorAt >= 0) {
    for (const line of text.slice(errorAt).split("\n").slice(1)) {
      if (!/^\s+\[\d+\]/.test(line)) break;
      errors.push(line.trim());
    }
  }
  return {
    rps: num(/Requests\/sec:\s+([0-9.eE+-]+)/, "Requests/sec"),
    p50: num(/\s50% in ([0-9.eE+-]+) secs/, "50% latency"),
    // Fewer than 100 requests have no 99% line: the slowest request is then the 99th percentile.
    p99: /\s99% in /.test(text)
      ? num(/\s99% in ([0-9.eE+-]+) secs/, "99% latency")
      : num(/Slowest:\s+([0-9.eE+-]+) secs/, "Slowest"),
    totalSeconds: num(/Total:\s+([0-9.eE+-]+) secs/, "Total"),
    errors,
  };
}
