// Scripted interaction tests for the Raft core, in the manner of etcd raft's datadriven
// testdata/*.txt: a file is a list of blocks, each a command, a line "----" and the output the
// command must print, ended by a blank line. Lines starting with "#" between blocks are prose.
//
//   cluster voters=3 prevote checkquorum
//   ----
//   ok
//
// The commands drive the harness Network (test/raft/harness.ts), whose nodes persist every
// Ready synchronously and whose safety checks (Raft Figure 3, the Ready contract) run after
// every step; any breach is printed after the command that caused it, so it shows in the diff.
//
//   cluster voters=N [learners=L] [spares=S] [prevote] [checkquorum] [election=T] [heartbeat=T]
//           [seed=K] [readmode=index|lease] [inflight=M] [maxbytes=B] [fault=NAME,...]
//                                        a new network; spares start outside the configuration;
//                                        pre-vote and check-quorum are off unless named; maxbytes
//                                        bounds an AppendRequest's entries (one at least); fault
//                                        names TestingFaults (a deliberately broken core)
//   tick NODE [n=K] [quiet]              K ticks of NODE; prints the messages it sent (quiet: how
//                                        many)
//   tick-all [n=K]                       K rounds of one tick per live node, delivering nothing
//   campaign NODE                        ticks NODE until it campaigns; prints its messages
//   propose NODE DATA                    prints the entry's index and term, or the refusal
//   read-index NODE CONTEXT              asks for a ReadIndex; prints the messages sent
//   conf-change NODE [transition=Auto|Simple|JointImplicit|JointExplicit]
//               [voter=A,B] [learner=C] [remove=D]   proposes a ConfChange (changes in that order)
//   transfer NODE TO                     NODE (the leader) transfers leadership to TO
//   deliver [from=A,B] [to=C] [type=T,U] delivers the queued messages that match, once; prints
//                                        each, and the messages lost to a cut or a down node
//   stabilize [from=..] [to=..] [type=..] delivers matching messages until none is queued
//   drop [from=..] [to=..] [type=..]     removes matching queued messages; prints them
//   pending                              the queued messages, oldest first
//   cut A B | isolate NODE | heal        one direction lost | all of NODE's links | all restored
//   crash NODE | restart NODE            stop (in-flight messages to and from it are lost) | start
//                                        again from its disk
//   status [NODE...]                     role, term, vote, leader, commit, applied, last index,
//                                        configuration; of every node by default (down: "down")
//   compact NODE                         NODE snapshots its state machine at its applied index
//                                        and drops the log before it
//   log NODE                             the entries in NODE's log after its snapshot
//   applied NODE                         the data NODE's state machine applied, in order
//   read-states NODE                     the ReadIndex answers NODE got: context and index
//   progress NODE                        the leader's view of each follower
//
// Run with ORDO_REWRITE=1 to write what the commands print into the files instead of comparing
// (then review the diff).
import {
  asIndex,
  type ConfChange,
  type ConfChangeSingle,
  type ConfChangeTransition,
  type Message,
  type MessageType,
  RaftError,
  type TestingFaults,
} from "../../src/raft/index.js";
import { type MessageFilter, Network, type NetworkOptions, nid, show, text } from "./harness.js";

export interface Block {
  readonly line: number;
  readonly command: string;
  readonly expected: string;
}

export interface Script {
  /** Prose and blank lines before each block, kept for rewriting. */
  readonly preludes: string[];
  readonly blocks: Block[];
  readonly trailer: string;
}

export function parseScript(source: string): Script {
  const lines = source.endsWith("\n") ? source.slice(0, -1).split("\n") : source.split("\n");
  const preludes: string[] = [];
  const blocks: Block[] = [];
  let prelude: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] as string;
    if (line.trim() === "" || line.startsWith("#")) {
      prelude.push(line);
      i++;
      continue;
    }
    const start = i + 1;
    const command = line.trim();
    i++;
    if (lines[i] !== "----") throw new Error(`line ${start}: "${command}" is not followed by ----`);
    i++;
    const out: string[] = [];
    while (i < lines.length && lines[i] !== "") out.push(lines[i++] as string);
    i++; // the blank line that ends the block
    preludes.push(prelude.map((l) => `${l}\n`).join(""));
    prelude = [];
    blocks.push({ line: start, command, expected: out.join("\n") });
  }
  return { preludes, blocks, trailer: prelude.map((l) => `${l}\n`).join("") };
}

/** The script with `outputs` as the blocks' expected output: the file ORDO_REWRITE writes. */
export function renderScript(script: Script, outputs: readonly string[]): string {
  const parts = script.blocks.map(
    (b, k) => `${script.preludes[k] as string}${b.command}\n----\n${outputs[k] as string}\n`,
  );
  return `${parts.join("\n")}${script.trailer === "" ? "" : `\n${script.trailer}`}`;
}

interface Args {
  readonly positional: string[];
  readonly named: Map<string, string>;
}

function parseArgs(words: readonly string[]): Args {
  const positional: string[] = [];
  const named = new Map<string, string>();
  for (const w of words) {
    const eq = w.indexOf("=");
    if (eq > 0) named.set(w.slice(0, eq), w.slice(eq + 1));
    else positional.push(w);
  }
  return { positional, named };
}

function intArg(args: Args, name: string, fallback: number): number {
  const v = args.named.get(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}=${v}: not a count`);
  return n;
}

function listArg(args: Args, name: string): string[] {
  const v = args.named.get(name);
  return v === undefined || v === "" ? [] : v.split(",");
}

function filterOf(args: Args): MessageFilter {
  const from = listArg(args, "from");
  const to = listArg(args, "to");
  const types = listArg(args, "type");
  return (m: Message) =>
    (from.length === 0 || from.includes(m.from)) &&
    (to.length === 0 || to.includes(m.to)) &&
    (types.length === 0 || types.includes(m.type as MessageType));
}

const FAULTS = [
  "commitPriorTermByCounting",
  "skipVoteUpToDateCheck",
  "skipJointConsensus",
] as const satisfies readonly (keyof TestingFaults)[];

function faultsOf(names: readonly string[]): TestingFaults {
  const faults: Record<string, boolean> = {};
  for (const name of names) {
    if (!(FAULTS as readonly string[]).includes(name))
      throw new Error(`fault=${name}: one of ${FAULTS.join(", ")}`);
    faults[name] = true;
  }
  return faults as TestingFaults;
}

const TRANSITIONS: readonly ConfChangeTransition[] = [
  "Auto",
  "Simple",
  "JointImplicit",
  "JointExplicit",
];

/** Runs one script's commands in order; returns what each printed. */
export class Interaction {
  private net: Network | undefined;
  private violationsShown = 0;

  /** `faults` are added to every cluster this run starts (to show a script can fail). */
  constructor(private readonly faults: TestingFaults = {}) {}

  run(command: string): string {
    const [name, ...rest] = command.split(/\s+/);
    const args = parseArgs(rest);
    let out: string[];
    try {
      out = this.dispatch(name as string, args);
    } catch (e) {
      if (!(e instanceof RaftError)) throw e;
      out = [`refused: ${e.code}: ${e.message}`];
    }
    const net = this.net;
    if (net !== undefined) {
      net.checkLogMatching();
      for (; this.violationsShown < net.violations.length; this.violationsShown++) {
        out.push(`VIOLATION ${net.violations[this.violationsShown]}`);
      }
    }
    return out.length === 0 ? "ok" : out.join("\n");
  }

  private network(): Network {
    if (this.net === undefined) throw new Error("no cluster: start with `cluster voters=N`");
    return this.net;
  }

  private node(args: Args, at = 0): string {
    const id = args.positional[at];
    if (id === undefined) throw new Error("a node name is missing");
    if (!this.network().ids.includes(nid(id))) throw new Error(`no node ${id}`);
    return id;
  }

  /** What the network queued while `action` ran. */
  private sent(action: () => void): string[] {
    const net = this.network();
    const before = net.history.length;
    action();
    return net.history.slice(before).map(show);
  }

  private dispatch(name: string, args: Args): string[] {
    switch (name) {
      case "cluster":
        return this.cluster(args);
      case "tick": {
        const id = this.node(args);
        const msgs = this.sent(() => this.network().tick(id, intArg(args, "n", 1)));
        return args.positional.includes("quiet") ? [`sent ${msgs.length} messages`] : msgs;
      }
      case "tick-all": {
        const net = this.network();
        return this.sent(() => {
          for (let i = 0; i < intArg(args, "n", 1); i++)
            for (const id of net.liveIds()) net.tick(id);
        });
      }
      case "campaign": {
        const id = this.node(args);
        let ticks = 0;
        const msgs = this.sent(() => {
          ticks = this.network().campaign(id);
        });
        return [`campaigned after ${ticks} ticks`, ...msgs];
      }
      case "propose": {
        const id = this.node(args);
        const data = args.positional.slice(1).join(" ");
        let placed = "";
        const msgs = this.sent(() => {
          const r = this.network().propose(id, data);
          placed = `index=${r.index} term=${r.term}`;
        });
        return [placed, ...msgs];
      }
      case "read-index": {
        const id = this.node(args);
        const context = args.positional[1] ?? "";
        return this.sent(() => this.network().readIndex(id, context));
      }
      case "conf-change":
        return this.confChange(args);
      case "transfer": {
        const id = this.node(args);
        const to = this.node(args, 1);
        return this.sent(() => {
          const net = this.network();
          net.node(id).transferLeadership(nid(to));
          net.process(nid(id));
        });
      }
      case "deliver":
      case "stabilize":
        return this.deliver(filterOf(args), name === "stabilize");
      case "drop":
        return this.network()
          .drop(filterOf(args))
          .map((m) => `dropped ${show(m)}`);
      case "pending":
        return this.network().pending().map(show);
      case "cut":
        this.network().cut(this.node(args), this.node(args, 1));
        return [];
      case "isolate":
        this.network().isolate(this.node(args));
        return [];
      case "heal":
        this.network().heal();
        return [];
      case "crash":
        this.network().crash(this.node(args));
        return [];
      case "restart": {
        const id = this.node(args);
        return this.sent(() => this.network().restart(id));
      }
      case "status":
        return this.status(args);
      case "compact": {
        const snapshot = this.network().compact(this.node(args));
        return [`snapshot at ${snapshot.meta.index}:${snapshot.meta.term}`];
      }
      case "log": {
        const r = this.network().node(this.node(args));
        const lines: string[] = [];
        for (let i = r.log.firstIndex(); i <= r.log.lastIndex(); i++) {
          const e = r.log.entry(asIndex(i));
          if (e === undefined) break;
          const data = e.type === "ConfChange" ? "(conf change)" : JSON.stringify(text(e.data));
          lines.push(`${e.index}:${e.term} ${data}`);
        }
        return lines.length === 0 ? ["(empty)"] : lines;
      }
      case "applied": {
        const list = this.network().appliedData(this.node(args));
        return list.length === 0 ? ["(nothing)"] : list.map((d) => JSON.stringify(d));
      }
      case "read-states": {
        const states = this.network().readStates.get(nid(this.node(args))) ?? [];
        return states.length === 0
          ? ["(none)"]
          : states.map((s) => `ctx=${s.context} index=${s.index}`);
      }
      case "progress": {
        const st = this.network().node(this.node(args)).status();
        return st.progress.map(
          (p) =>
            `${p.id} ${p.state} match=${p.match} next=${p.next}${p.recentActive ? "" : " inactive"}`,
        );
      }
      default:
        throw new Error(`unknown command "${name}"`);
    }
  }

  private cluster(args: Args): string[] {
    const readMode = args.named.get("readmode");
    if (readMode !== undefined && readMode !== "index" && readMode !== "lease")
      throw new Error(`readmode=${readMode}: index or lease`);
    const options: NetworkOptions = {
      size: intArg(args, "voters", 3),
      learners: intArg(args, "learners", 0),
      spares: intArg(args, "spares", 0),
      seed: intArg(args, "seed", 1),
      electionTicks: intArg(args, "election", 10),
      heartbeatTicks: intArg(args, "heartbeat", 1),
      preVote: args.positional.includes("prevote"),
      checkQuorum: args.positional.includes("checkquorum"),
      applyConfChanges: true,
      ...(args.named.has("inflight") ? { inflightMessagesMax: intArg(args, "inflight", 1) } : {}),
      ...(args.named.has("maxbytes") ? { messageBytesMax: intArg(args, "maxbytes", 1) } : {}),
      ...(readMode === undefined ? {} : { readMode }),
      testingFaults: { ...this.faults, ...faultsOf(listArg(args, "fault")) },
    };
    this.net = new Network(options);
    this.violationsShown = 0;
    return [];
  }

  private confChange(args: Args): string[] {
    const id = this.node(args);
    const transition = (args.named.get("transition") ?? "Auto") as ConfChangeTransition;
    if (!TRANSITIONS.includes(transition)) throw new Error(`transition=${transition}: unknown`);
    const changes: ConfChangeSingle[] = [
      ...listArg(args, "voter").map((n) => ({ type: "AddVoter" as const, node: nid(n) })),
      ...listArg(args, "learner").map((n) => ({ type: "AddLearner" as const, node: nid(n) })),
      ...listArg(args, "remove").map((n) => ({ type: "RemoveNode" as const, node: nid(n) })),
    ];
    const cc: ConfChange = { transition, changes };
    let placed = "";
    const msgs = this.sent(() => {
      const net = this.network();
      const r = net.node(id).proposeConfChange(cc);
      net.process(nid(id));
      placed = `index=${r.index} term=${r.term}`;
    });
    return [placed, ...msgs];
  }

  private deliver(filter: MessageFilter, untilQuiet: boolean): string[] {
    const net = this.network();
    const out: string[] = [];
    for (let round = 0; round < 10_000; round++) {
      const batch = net.drop(filter);
      if (batch.length === 0) return out;
      for (const m of batch) {
        const lostBefore = net.lost;
        net.deliverOne(m);
        out.push(net.lost > lostBefore ? `lost ${show(m)}` : show(m));
      }
      if (!untilQuiet) return out;
    }
    throw new Error("the network did not stabilize within 10000 rounds");
  }

  private status(args: Args): string[] {
    const net = this.network();
    const ids = args.positional.length > 0 ? args.positional.map(nid) : [...net.ids];
    return ids.map((id) => {
      if (!net.isUp(id)) return `${id} down`;
      const s = net.node(id).status();
      const c = s.confState;
      const conf = [
        `voters=${c.voters.join(",")}`,
        ...(c.votersOutgoing.length > 0 ? [`outgoing=${c.votersOutgoing.join(",")}`] : []),
        ...(c.learners.length > 0 ? [`learners=${c.learners.join(",")}`] : []),
      ].join(" ");
      return `${id} ${s.role} t${s.term} vote=${s.vote || "-"} lead=${s.leader || "-"} commit=${s.commit} applied=${s.applied} last=${s.lastIndex} ${conf}`;
    });
  }
}
