// `ordo member …`, `ordo leader transfer`, `ordo endpoint status | health`, `ordo snapshot save
// FILE`: the Cluster and Maintenance services through Ordo's client. Human output follows
// etcdctl's simple format (member ids in hexadecimal); --json prints the client's objects (ids
// as decimal strings). A member is named by its name or its hexadecimal id.
//   ordo member list                       members, learners marked (etcdctl's columns)
//   ordo member add NAME --peer-urls URL [--learner]
//                                          prints the new id and how to start the member
//   ordo member remove | promote ID|NAME
//   ordo member update ID|NAME --peer-urls URL
//   ordo leader transfer --to ID|NAME      asks the leader; waits until the new leader is seen
//   ordo endpoint status     one line per endpoint; exit 1 if any endpoint did not answer
//   ordo endpoint health     one line per endpoint; exit 1 if any endpoint is unhealthy
//   ordo alarm list | disarm  the cluster's alarms (NOSPACE, CORRUPT), as etcdctl prints them
//   ordo snapshot save | status | restore   see snapshot-commands.ts
import { parseArgs } from "node:util";
import type { EndpointStatus, KvClient, MemberInfo, RawHeader } from "../client/index.js";
import { nonNegative } from "./int-flags.js";
import { client, common } from "./kv-commands.js";
import type { Output } from "./output.js";
import {
  field,
  goDuration,
  goQuote,
  headerFields,
  headerJson,
  num,
  omitEmpty,
  table,
  toJson,
  type WriteOut,
  writeOutOf,
} from "./write-out.js";

export { runSnapshot, SNAPSHOT_USAGE } from "./snapshot-commands.js";

export const MEMBER_USAGE = `usage: ordo member list [--json]
       ordo member add NAME --peer-urls URL[,URL] [--learner]
       ordo member remove ID|NAME
       ordo member promote ID|NAME
       ordo member update ID|NAME --peer-urls URL[,URL]`;
export const LEADER_USAGE = "usage: ordo leader transfer --to ID|NAME";
export const ALARM_USAGE = "usage: ordo alarm list | disarm";
export const ENDPOINT_USAGE = "usage: ordo endpoint status | health [-w simple|json|fields|table]";

const hex = (decimal: string): string => BigInt(decimal).toString(16);

function parse(args: string[]) {
  return parseArgs({ args, options: common, allowPositionals: true, strict: true });
}

/**
 * etcdctl's started/unstarted: a member with no name has not started. A member added by
 * `ordo member add NAME` has its name before it starts, so no client URL counts too.
 */
const memberStatus = (m: MemberInfo): string =>
  m.name === "" || m.clientUrls.length === 0 ? "unstarted" : "started";

/** etcdctl's member line: id, started|unstarted, name, peer URLs, client URLs, is learner. */
export function memberLine(m: MemberInfo): string {
  const started = memberStatus(m);
  return `${hex(m.id)}, ${started}, ${m.name}, ${m.peerUrls.join(",")}, ${m.clientUrls.join(",")}, ${m.isLearner}`;
}

/** The member a command names: by name first, then by hexadecimal id. */
export async function findMember(c: KvClient, which: string): Promise<MemberInfo> {
  const { members } = await c.memberList();
  const byName = members.filter((m) => m.name === which);
  if (byName.length === 1) return byName[0] as MemberInfo;
  if (byName.length > 1) throw new Error(`more than one member is named "${which}"; use its id`);
  if (/^(0x)?[0-9a-f]{1,16}$/i.test(which)) {
    const id = BigInt(`0x${which.replace(/^0x/i, "")}`).toString();
    const byId = members.find((m) => m.id === id);
    if (byId !== undefined) return byId;
  }
  throw new Error(
    `no member "${which}" (a member that has not started yet has no name: use its id; ordo member list shows names and ids)`,
  );
}

function peerUrlList(text: string | undefined): string[] {
  const urls = (text ?? "")
    .split(",")
    .map((u) => u.trim())
    .filter((u) => u !== "");
  if (urls.length === 0) throw new Error("--peer-urls is required (http://host:port[,...])");
  return urls;
}

const memberOptions = {
  ...common,
  "peer-urls": { type: "string" },
  learner: { type: "boolean", default: false },
} as const;

export async function runMember(args: string[], out: Output): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: memberOptions,
    allowPositionals: true,
    strict: true,
  });
  const [sub, target] = positionals;
  const arity = sub === "list" ? 1 : 2;
  if (
    positionals.length !== arity ||
    !["list", "add", "remove", "promote", "update"].includes(sub ?? "")
  )
    throw new Error(MEMBER_USAGE);
  const c = client(values);
  try {
    if (sub === "list") {
      const format = writeOutOf(values, ["simple", "json", "fields", "table"]);
      const { members, header } = await c.memberList();
      out.stdout(memberListText(format, members, header));
      return 0;
    }
    const name = target as string;
    const peerUrls = values["peer-urls"];
    if (sub === "add") {
      const res = await c.memberAdd(peerUrlList(peerUrls), { learner: values.learner, name });
      if (values.json) out.stdout(`${JSON.stringify(res)}\n`);
      else out.stdout(addedText(name, res.member, res.members, res.header.cluster_id));
      return 0;
    }
    await changeMember(c, sub as "remove" | "promote" | "update", name, peerUrls, values.json, out);
    return 0;
  } finally {
    c.close();
  }
}

/** etcdctl's member list in each of its formats. */
function memberListText(format: WriteOut, members: MemberInfo[], header: RawHeader): string {
  if (format === "json")
    return `${toJson({
      header: headerJson(header),
      members: members.map((m) => ({
        ID: num(m.id),
        name: omitEmpty(m.name),
        peerURLs: omitEmpty(m.peerUrls),
        clientURLs: omitEmpty(m.clientUrls),
        isLearner: omitEmpty(m.isLearner),
      })),
    })}\n`;
  if (format === "fields")
    return (
      headerFields(header) +
      members
        .map(
          (m) =>
            `${field("ID", m.id)}${field("Name", goQuote(m.name))}${m.peerUrls.map((u) => field("PeerURL", goQuote(u))).join("")}${m.clientUrls.map((u) => field("ClientURL", goQuote(u))).join("")}${field("IsLearner", m.isLearner)}\n`,
        )
        .join("")
    );
  if (format === "table")
    return table(
      ["ID", "STATUS", "NAME", "PEER ADDRS", "CLIENT ADDRS", "IS LEARNER"],
      members.map((m) => [
        hex(m.id),
        memberStatus(m),
        m.name,
        m.peerUrls.join(","),
        m.clientUrls.join(","),
        String(m.isLearner),
      ]),
    );
  return members.map((m) => `${memberLine(m)}\n`).join("");
}

/** member remove | promote | update of the member named. */
async function changeMember(
  c: KvClient,
  sub: "remove" | "promote" | "update",
  name: string,
  peerUrls: string | undefined,
  json: boolean | undefined,
  out: Output,
): Promise<void> {
  const member = await findMember(c, name);
  let members: MemberInfo[];
  let verb: string;
  if (sub === "remove") {
    members = await c.memberRemove(member.id);
    verb = "removed from";
  } else if (sub === "promote") {
    members = await c.memberPromote(member.id);
    verb = "promoted in";
  } else {
    members = await c.memberUpdate(member.id, peerUrlList(peerUrls));
    verb = "updated in";
  }
  if (json) out.stdout(`${JSON.stringify({ member: member.id, members })}\n`);
  else out.stdout(`Member ${hex(member.id)} ${verb} the cluster\n`);
}

/**
 * etcdctl's answer to member add: the new member's id, then what to start it with (the
 * members with a name, the new one under the name given).
 */
function addedText(
  name: string,
  member: MemberInfo,
  members: MemberInfo[],
  clusterId: string,
): string {
  const pairs: string[] = [];
  for (const m of members) {
    const n = m.id === member.id ? name : m.name;
    if (n === "") continue; // an unstarted member added by etcd's MemberAdd has no name yet
    for (const u of m.peerUrls) pairs.push(`${n}=${u}`);
  }
  const initialCluster = pairs.join(",");
  const learner = member.isLearner ? " as learner" : "";
  return (
    `Member ${hex(member.id)} added${learner} to cluster ${hex(clusterId)}\n\n` +
    `ORDO_NAME="${name}"\n` +
    `ORDO_INITIAL_CLUSTER="${initialCluster}"\n` +
    `ORDO_INITIAL_ADVERTISE_PEER_URLS="${member.peerUrls.join(",")}"\n` +
    `ORDO_INITIAL_CLUSTER_STATE="existing"\n\n` +
    `start it with:\n  ordo serve --name ${name} --initial-cluster ${initialCluster} --initial-cluster-state existing --data-dir DIR --listen-client-urls URL\n`
  );
}

export async function runLeader(args: string[], out: Output): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { ...common, to: { type: "string" } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1 || positionals[0] !== "transfer" || values.to === undefined)
    throw new Error(LEADER_USAGE);
  const c = client(values);
  try {
    const target = await findMember(c, values.to);
    if (target.isLearner) throw new Error(`${values.to} is a learner; only a voter can lead`);
    const moved = await c.moveLeader(target.id);
    // The old leader saw the target lead; wait (bounded) until every endpoint that answers does.
    const timeoutMs = Number(values["timeout-ms"] ?? 5000);
    const deadline = performance.now() + timeoutMs;
    for (let i = 0; ; i++) {
      const statuses = await c.status();
      const answering = statuses.filter((s) => s.ok);
      if (answering.length > 0 && answering.every((s) => s.ok && s.value.leaderId === target.id))
        break;
      if (performance.now() > deadline || i > 1000)
        throw new Error(`leadership moved to ${values.to}, but not every endpoint sees it yet`);
      await new Promise((r) => setTimeout(r, 50));
    }
    if (values.json) out.stdout(`${JSON.stringify(moved)}\n`);
    else
      out.stdout(
        `Leadership transferred from ${hex(moved.from)} to ${hex(moved.to)} (${target.name})\n`,
      );
    return 0;
  } finally {
    c.close();
  }
}

/** go-humanize's Bytes, as etcdctl prints a DB size: "0 B", "8.2 kB", "20 MB". */
export function formatBytes(n: number): string {
  if (n < 10) return `${n} B`;
  const units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
  const e = Math.min(Math.floor(Math.log(n) / Math.log(1000)), units.length - 1);
  const value = Math.floor((n / 1000 ** e) * 10 + 0.5) / 10;
  return `${value < 10 ? value.toFixed(1) : value.toFixed(0)} ${units[e]}`;
}

export async function runEndpoint(args: string[], out: Output): Promise<number> {
  const { values, positionals } = parse(args);
  const sub = positionals[0];
  if (positionals.length !== 1 || (sub !== "status" && sub !== "health")) {
    throw new Error(ENDPOINT_USAGE);
  }
  const format = writeOutOf(values, ["simple", "json", "fields", "table"]);
  const c = client(values);
  try {
    if (sub === "status") {
      const results = await c.status();
      const ok = results.flatMap((r) => (r.ok ? [r.value] : []));
      for (const r of results) if (!r.ok) out.stderr(`${r.endpoint}: ${r.error}\n`);
      writeEndpointStatus(format, ok, out);
      return results.every((r) => r.ok) ? 0 : 1;
    }
    const results = await c.health();
    writeEndpointHealth(
      format,
      results.map((r) => ({
        endpoint: r.endpoint,
        health: r.ok,
        took: r.ok ? goDuration(r.value.tookMs) : "",
        error: r.ok ? "" : `failed to commit proposal: ${r.error}`,
      })),
      out,
    );
    return results.every((r) => r.ok) ? 0 : 1;
  } finally {
    c.close();
  }
}

const statusHeader = (s: EndpointStatus) => ({
  cluster_id: s.clusterId,
  member_id: s.memberId,
  revision: String(s.revision),
  raft_term: String(s.raftTerm),
});

/** etcdctl's endpoint status of the endpoints that answered, in each of its formats. */
function writeEndpointStatus(format: WriteOut, ok: EndpointStatus[], out: Output): void {
  if (format === "json")
    out.stdout(
      `${toJson(
        ok.map((s) => ({
          Endpoint: s.endpoint,
          Status: {
            header: headerJson(statusHeader(s)),
            version: omitEmpty(s.version),
            dbSize: omitEmpty(num(s.dbSize)),
            leader: omitEmpty(num(s.leaderId)),
            raftIndex: omitEmpty(num(s.raftIndex)),
            raftTerm: omitEmpty(num(s.raftTerm)),
            raftAppliedIndex: omitEmpty(num(s.raftAppliedIndex)),
            errors: omitEmpty(s.errors),
            dbSizeInUse: omitEmpty(num(s.dbSizeInUse)),
            isLearner: omitEmpty(s.isLearner),
          },
        })),
      )}\n`,
    );
  else if (format === "fields")
    for (const s of ok)
      out.stdout(
        `${headerFields(statusHeader(s))}${field("Version", goQuote(s.version))}${field("DBSize", s.dbSize)}${field("Leader", s.leaderId)}${field("IsLearner", s.isLearner)}${field("RaftIndex", s.raftIndex)}${field("RaftTerm", s.raftTerm)}${field("RaftAppliedIndex", s.raftAppliedIndex)}${field("Errors", `[${s.errors.join(" ")}]`)}${field("Endpoint", goQuote(s.endpoint))}\n`,
      );
  else if (format === "table")
    out.stdout(
      table(
        [
          "ENDPOINT",
          "ID",
          "VERSION",
          "DB SIZE",
          "IS LEADER",
          "IS LEARNER",
          "RAFT TERM",
          "RAFT INDEX",
          "RAFT APPLIED INDEX",
          "ERRORS",
        ],
        ok.map((s) => [
          s.endpoint,
          hex(s.memberId),
          s.version,
          formatBytes(s.dbSize),
          String(s.isLeader),
          String(s.isLearner),
          String(s.raftTerm),
          String(s.raftIndex),
          String(s.raftAppliedIndex),
          s.errors.join(", "),
        ]),
      ),
    );
  else
    for (const s of ok)
      out.stdout(
        `${s.endpoint}, ${hex(s.memberId)}, ${s.version}, ${formatBytes(s.dbSize)}, ${s.isLeader}, ${s.isLearner}, ${s.raftTerm}, ${s.raftIndex}, ${s.raftAppliedIndex}, ${s.errors.join(", ")}\n`,
      );
}

interface HealthRow {
  endpoint: string;
  health: boolean;
  took: string;
  error: string;
}

/** etcdctl's endpoint health in each of its formats (simple: the unhealthy on stderr). */
function writeEndpointHealth(format: WriteOut, rows: HealthRow[], out: Output): void {
  if (format === "json")
    out.stdout(
      `${toJson(rows.map((h) => ({ endpoint: h.endpoint, health: h.health, took: h.took, error: omitEmpty(h.error) })))}\n`,
    );
  else if (format === "fields")
    for (const h of rows)
      out.stdout(
        `${field("Endpoint", goQuote(h.endpoint))}${field("Health", h.health)}${field("Took", h.took)}${field("Error", h.error)}\n`,
      );
  else if (format === "table")
    out.stdout(
      table(
        ["ENDPOINT", "HEALTH", "TOOK", "ERROR"],
        rows.map((h) => [h.endpoint, String(h.health), h.took, h.error]),
      ),
    );
  else
    for (const h of rows) {
      if (h.health)
        out.stdout(`${h.endpoint} is healthy: successfully committed proposal: took = ${h.took}\n`);
      else out.stderr(`${h.endpoint} is unhealthy: ${h.error}\n`);
    }
}

export const COMPACT_USAGE = "usage: ordo compact REVISION [--physical]   (etcdctl: compaction)";

/** `ordo compact REV [--physical]` (etcdctl's compaction): "compacted revision REV". */
export async function runCompact(args: string[], out: Output): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { ...common, physical: { type: "boolean", default: false } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1) throw new Error(COMPACT_USAGE);
  const revision = nonNegative(positionals[0], "REVISION");
  if (revision === undefined || revision === 0) throw new Error("REVISION must be positive");
  const c = client(values);
  try {
    await c.compact(revision, { physical: values.physical ?? false });
    out.stdout(`compacted revision ${revision}\n`);
    return 0;
  } finally {
    c.close();
  }
}

/**
 * `ordo defrag`: Maintenance.Defragment on every endpoint, as etcdctl (Ordo's store keeps no
 * free pages, so there is nothing to give back; the call succeeds as etcd's does).
 */
export async function runDefrag(args: string[], out: Output): Promise<number> {
  const { values, positionals } = parse(args);
  if (positionals.length !== 0) throw new Error("usage: ordo defrag [--endpoints LIST]");
  const c = client(values);
  let failed = false;
  try {
    for (const [i, endpoint] of c.endpoints.entries()) {
      try {
        await c.defragment(i);
        out.stdout(`Finished defragmenting etcd member[${endpoint}]\n`);
      } catch (e) {
        failed = true;
        out.stderr(
          `Failed to defragment etcd member[${endpoint}] (${e instanceof Error ? e.message : String(e)})\n`,
        );
      }
    }
    return failed ? 1 : 0;
  } finally {
    c.close();
  }
}

/**
 * `ordo alarm list | disarm`: etcdctl's alarm commands. list prints every raised alarm as
 * etcdctl does (`memberID:ID alarm:NOSPACE`, the id in decimal); disarm clears each and prints
 * what it cleared. NOSPACE comes back on the next write while the store is still over its
 * quota: compact and defrag first.
 */
export async function runAlarm(args: string[], out: Output): Promise<number> {
  const { values, positionals } = parse(args);
  const [sub, ...rest] = positionals;
  if ((sub !== "list" && sub !== "disarm") || rest.length > 0) throw new Error(ALARM_USAGE);
  const c = client(values);
  try {
    const alarms = sub === "list" ? await c.alarms() : await c.disarmAlarms();
    for (const a of alarms) out.stdout(`memberID:${a.memberId} alarm:${a.alarm} \n`);
    return 0;
  } finally {
    c.close();
  }
}
