// A simulated run as one self-contained HTML page (`ordo sim --seed N --html FILE`), in the
// spirit of RaftScope but for a recorded run (story.ts): a lane per member showing its role and
// term over virtual time, with crashes, pauses and fencing as bands and cut links as a red band
// under it (the darker, the more peers it cannot reach); messages as lines from sender at send
// time to receiver at delivery (sampled when dense, the rarer kinds first); the faults on the
// time axis; client operations as bars, one row per client (ok, failed, unknown outcome); and,
// for a failing run, a panel with the violation, the operations that prove it (a history that
// cannot be linearized: the key's last linearized operations and the impossible next ones) or
// were in flight when it happened, a close-up of the last moments with every message, and the
// trace lines that led to it. Pure: a string from a story; the page needs no network (inline
// SVG, CSS and a few lines of script for zoom and highlighting).
import type { HistoryOp } from "../check/index.js";
import type { SimStory, StateChange, StoryMessage } from "./story.js";

const PLOT_WIDTH = 1400;
const LEFT = 96;
const RIGHT = 24;
const LANE_HEIGHT = 34;
const ROLE_HEIGHT = 18;
const CUT_HEIGHT = 7;
const OP_ROW = 13;
/** Messages drawn on the whole run's timeline at most; the close-up draws its window's. */
const MESSAGES_DRAWN_MAX = 2500;
const CLOSEUP_MESSAGES_MAX = 800;

const ROLE_COLOURS: Record<string, string> = {
  Leader: "#2f9e44",
  Candidate: "#f08c00",
  PreCandidate: "#ffd43b",
  Follower: "#a5d8ff",
};
const MESSAGE_COLOURS: Record<string, string> = {
  VoteRequest: "#e8590c",
  VoteResponse: "#f59f00",
  AppendRequest: "#1971c2",
  AppendResponse: "#74c0fc",
  Heartbeat: "#868e96",
  HeartbeatResponse: "#ced4da",
  InstallSnapshot: "#9c36b5",
  ReadIndexRequest: "#0ca678",
  ReadIndexResponse: "#63e6be",
  TimeoutNow: "#c2255c",
  ProposalForward: "#5c940d",
};
/** The kinds kept first when messages must be sampled: rare and telling. */
const RARE = new Set(["VoteRequest", "VoteResponse", "InstallSnapshot", "TimeoutNow"]);

function esc(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

const fmt = (n: number, digits = 1): string => n.toFixed(digits);

interface Span {
  readonly from: number;
  readonly to: number;
}

interface Segment extends Span {
  readonly state: StateChange;
}

/** Each member's states as spans [from, to) up to the end. */
function segmentsOf(story: SimStory): Map<string, Segment[]> {
  const byNode = new Map<string, Segment[]>();
  const open = new Map<string, StateChange>();
  const close = (s: StateChange, to: number): void => {
    const list = byNode.get(s.node) ?? [];
    if (to > s.t) list.push({ from: s.t, to, state: s });
    byNode.set(s.node, list);
  };
  for (const s of story.states) {
    const prev = open.get(s.node);
    if (prev !== undefined) close(prev, s.t);
    open.set(s.node, s);
  }
  for (const s of open.values()) close(s, story.endMs);
  for (const n of story.nodes) if (!byNode.has(n)) byNode.set(n, []);
  return byNode;
}

/** For each member, spans during which some of its links were cut, with how many peers. */
function cutsOf(story: SimStory): Map<string, (Span & { peers: string[]; fraction: number })[]> {
  const out = new Map<string, (Span & { peers: string[]; fraction: number })[]>();
  const others = Math.max(1, story.nodes.length - 1);
  const changes = story.links;
  for (let i = 0; i < changes.length; i++) {
    const c = changes[i] as (typeof changes)[number];
    const to = (changes[i + 1]?.t ?? story.endMs) as number;
    if (to <= c.t) continue;
    const cut = new Map<string, Set<string>>();
    for (const link of c.blocked) {
      const [a, b] = link.split(">") as [string, string];
      if (!cut.has(a)) cut.set(a, new Set());
      if (!cut.has(b)) cut.set(b, new Set());
      (cut.get(a) as Set<string>).add(b);
      (cut.get(b) as Set<string>).add(a);
    }
    for (const [node, peers] of cut) {
      const list = out.get(node) ?? [];
      list.push({ from: c.t, to, peers: [...peers].sort(), fraction: peers.size / others });
      out.set(node, list);
    }
  }
  return out;
}

/** At most `max` messages: every rare one that fits, the rest by an even stride. */
export function sampleMessages(messages: readonly StoryMessage[], max: number): StoryMessage[] {
  if (messages.length <= max) return [...messages];
  const rare = messages.filter((m) => RARE.has(m.type));
  const keepRare = rare.length <= max / 2 ? rare : strided(rare, Math.floor(max / 2));
  const common = messages.filter((m) => !RARE.has(m.type));
  const kept = [...keepRare, ...strided(common, max - keepRare.length)];
  return kept.sort((a, b) => a.sent - b.sent);
}

function strided<T>(items: readonly T[], max: number): T[] {
  if (items.length <= max) return [...items];
  const out: T[] = [];
  const step = items.length / max;
  for (let i = 0; i < max; i++) out.push(items[Math.floor(i * step)] as T);
  return out;
}

function niceStep(spanMs: number, widthPx: number): number {
  const target = (spanMs * 90) / widthPx; // a tick every ~90 px
  for (const s of [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000])
    if (s >= target) return s;
  return 20000;
}

interface Frame {
  readonly t0: number;
  readonly t1: number;
  x(t: number): number;
}

function frame(t0: number, t1: number): Frame {
  const span = Math.max(t1 - t0, 1e-6);
  return { t0, t1, x: (t) => LEFT + ((Math.min(Math.max(t, t0), t1) - t0) * PLOT_WIDTH) / span };
}

interface ProofSet {
  /** History indexes of the operations that prove the violation. */
  readonly ops: Set<number>;
  readonly nodes: Set<string>;
  /** When it happened (a red line), if known. */
  readonly at: number | undefined;
}

/** The operations and members a failure points at. */
function proofOf(story: SimStory): ProofSet {
  const ops = new Set<number>();
  const nodes = new Set<string>();
  let at: number | undefined;
  const lin = story.linearizability;
  if (lin !== undefined && lin.ok === false) {
    for (const o of lin.linearized.slice(-6)) ops.add(o.index);
    for (const o of lin.pending) ops.add(o.index);
    for (const i of ops) {
      const op = story.history[i];
      if (op !== undefined) at = Math.max(at ?? 0, op.complete ?? op.invoke);
    }
  }
  for (const v of story.violations) {
    at = at === undefined ? v.t : Math.min(at, v.t);
    nodes.add(v.node);
    for (const m of v.detail.matchAll(/\bn\d+\b/g)) nodes.add(m[0]);
  }
  if (story.violations.length > 0 && at !== undefined) {
    // Operations in flight at the violation (invoked, not yet complete).
    story.history.forEach((op, i) => {
      if (op.invoke <= (at as number) && (op.complete === null || op.complete >= (at as number)))
        if (!op.client.startsWith("final-")) ops.add(i);
    });
  }
  return { ops, nodes, at };
}

function laneY(i: number, top: number): number {
  return top + i * LANE_HEIGHT;
}

/** Where the timeline's parts go, top to bottom (SVG units). */
interface Layout {
  readonly axisTop: number;
  readonly lanesTop: number;
  readonly opsTop: number;
  readonly height: number;
}

/** What every part of one timeline draws from, and the parts drawn so far. */
interface Canvas {
  readonly parts: string[];
  readonly story: SimStory;
  readonly f: Frame;
  readonly proof: ProofSet;
  readonly layout: Layout;
}

/** The member lanes, messages and operation rows of [t0, t1] as one SVG. */
function timeline(
  story: SimStory,
  f: Frame,
  messages: readonly StoryMessage[],
  proof: ProofSet,
  id: string,
): string {
  const clients = [...new Set(story.history.map((h) => h.client))]
    .filter((c) => !c.startsWith("final-"))
    .sort();
  const axisTop = 22;
  const lanesTop = axisTop + 16;
  const lanesBottom = laneY(story.nodes.length, lanesTop);
  const opsTop = lanesBottom + 22;
  const height = opsTop + clients.length * OP_ROW + 14;
  const layout: Layout = { axisTop, lanesTop, opsTop, height };
  const width = LEFT + PLOT_WIDTH + RIGHT;
  const parts: string[] = [];
  parts.push(
    `<svg id="${id}" class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">`,
  );
  const canvas: Canvas = { parts, story, f, proof, layout };
  axisSvg(canvas);
  lanesSvg(canvas);
  messagesSvg(canvas, messages);
  markersSvg(canvas);
  clientsSvg(canvas, clients);
  parts.push("</svg>");
  return parts.join("\n");
}

/** The time axis, and the faults on it. */
function axisSvg({ parts, story, f, layout }: Canvas): void {
  const { axisTop, height } = layout;
  // Time axis.
  const step = niceStep(f.t1 - f.t0, PLOT_WIDTH);
  parts.push(`<g class="axis">`);
  for (let t = Math.ceil(f.t0 / step) * step; t <= f.t1; t += step) {
    const x = fmt(f.x(t));
    parts.push(
      `<line x1="${x}" y1="${axisTop}" x2="${x}" y2="${height - 10}" class="grid"/>` +
        `<text x="${x}" y="${axisTop - 4}" text-anchor="middle">${t >= 1000 ? `${fmt(t / 1000, step < 1000 ? 2 : 0)}s` : `${fmt(t, 0)}ms`}</text>`,
    );
  }
  parts.push("</g>");
  // Faults on the axis.
  parts.push(`<g class="faults">`);
  for (const fault of story.faults) {
    if (fault.t < f.t0 || fault.t > f.t1) continue;
    const x = f.x(fault.t);
    parts.push(
      `<path class="fault" d="M${fmt(x - 4)} ${axisTop + 2} L${fmt(x + 4)} ${axisTop + 2} L${fmt(x)} ${axisTop + 10} Z"><title>${esc(`${fmt(fault.t)} ms: ${fault.text}`)}</title></path>`,
    );
  }
  parts.push("</g>");
}

/** A lane per member: its role and term, down, paused, and the links cut off from it. */
function lanesSvg({ parts, story, f, proof, layout }: Canvas): void {
  const segments = segmentsOf(story);
  const cuts = cutsOf(story);
  const { lanesTop } = layout;
  // Member lanes.
  story.nodes.forEach((node, i) => {
    const y = laneY(i, lanesTop);
    const involved = proof.nodes.has(node);
    parts.push(
      `<g class="lane${involved ? " involved" : ""}" data-node="${esc(node)}">` +
        `<text class="lane-label" x="${LEFT - 8}" y="${y + ROLE_HEIGHT - 4}" text-anchor="end">${esc(node)}</text>`,
    );
    for (const seg of segments.get(node) ?? []) {
      if (seg.to < f.t0 || seg.from > f.t1) continue;
      const x0 = f.x(seg.from);
      const w = Math.max(f.x(seg.to) - x0, 0.4);
      const s = seg.state;
      const title = esc(
        `${node}: ${s.status === "up" ? s.role : s.status} term ${s.term}, ${fmt(seg.from)}–${fmt(seg.to)} ms`,
      );
      if (s.status === "up") {
        parts.push(
          `<rect class="seg role-${s.role}" data-term="${s.term}" x="${fmt(x0)}" y="${y}" width="${fmt(w)}" height="${ROLE_HEIGHT}" fill="${ROLE_COLOURS[s.role] ?? "#ccc"}"><title>${title}</title></rect>`,
        );
        if (w > 22)
          parts.push(
            `<text class="term" x="${fmt(x0 + 3)}" y="${y + ROLE_HEIGHT - 5}">t${s.term}</text>`,
          );
      } else {
        parts.push(
          `<rect class="band ${s.status}" data-term="${s.term}" x="${fmt(x0)}" y="${y}" width="${fmt(w)}" height="${ROLE_HEIGHT}"><title>${title}</title></rect>`,
        );
        if (w > 46)
          parts.push(
            `<text class="band-label" x="${fmt(x0 + 3)}" y="${y + ROLE_HEIGHT - 5}">${s.status}</text>`,
          );
      }
    }
    for (const cut of cuts.get(node) ?? []) {
      if (cut.to < f.t0 || cut.from > f.t1) continue;
      const x0 = f.x(cut.from);
      const w = Math.max(f.x(cut.to) - x0, 0.4);
      parts.push(
        `<rect class="band partition" x="${fmt(x0)}" y="${y + ROLE_HEIGHT + 2}" width="${fmt(w)}" height="${CUT_HEIGHT}" fill-opacity="${fmt(0.25 + 0.75 * cut.fraction, 2)}"><title>${esc(`${node} cut off from ${cut.peers.join(", ")} (${fmt(cut.from)}–${fmt(cut.to)} ms)`)}</title></rect>`,
      );
    }
    parts.push("</g>");
  });
}

/** The messages, each a line from its sender's lane to its receiver's. */
function messagesSvg({ parts, story, f, layout }: Canvas, messages: readonly StoryMessage[]): void {
  const { lanesTop } = layout;
  // Messages.
  const laneOf = new Map(story.nodes.map((n, i) => [n, i]));
  parts.push(`<g class="messages">`);
  for (const m of messages) {
    const a = laneOf.get(m.from);
    const b = laneOf.get(m.to);
    if (a === undefined || b === undefined) continue;
    if (m.delivered < f.t0 || m.sent > f.t1) continue;
    const y1 = laneY(a, lanesTop) + ROLE_HEIGHT / 2;
    const y2 = laneY(b, lanesTop) + ROLE_HEIGHT / 2;
    parts.push(
      `<line class="msg" x1="${fmt(f.x(m.sent))}" y1="${fmt(y1)}" x2="${fmt(f.x(m.delivered))}" y2="${fmt(y2)}" stroke="${MESSAGE_COLOURS[m.type] ?? "#999"}"><title>${esc(`${fmt(m.sent, 2)}→${fmt(m.delivered, 2)} ms ${m.text}`)}</title></line>`,
    );
  }
  parts.push("</g>");
}

/** The heal and the violation, as lines across the timeline. */
function markersSvg({ parts, story, f, proof, layout }: Canvas): void {
  const { axisTop, lanesTop, height } = layout;
  // The heal and the violation.
  if (Number.isFinite(story.healMs) && story.healMs >= f.t0 && story.healMs <= f.t1) {
    const x = fmt(f.x(story.healMs));
    parts.push(
      `<line class="heal" x1="${x}" y1="${axisTop}" x2="${x}" y2="${height - 10}"/><text class="heal-label" x="${x}" y="${lanesTop - 2}" dx="3">healed</text>`,
    );
  }
  if (proof.at !== undefined && proof.at >= f.t0 && proof.at <= f.t1) {
    const x = fmt(f.x(proof.at));
    parts.push(
      `<line class="violation-line" x1="${x}" y1="${axisTop}" x2="${x}" y2="${height - 10}"/>`,
    );
  }
}

/** A row per client: its operations, the ones that prove a violation marked. */
function clientsSvg({ parts, story, f, proof, layout }: Canvas, clients: readonly string[]): void {
  const { opsTop } = layout;
  // Client operations.
  parts.push(
    `<text class="section-label" x="${LEFT - 8}" y="${opsTop - 8}" text-anchor="end">clients</text>`,
  );
  clients.forEach((client, row) => {
    const y = opsTop + row * OP_ROW;
    parts.push(
      `<g class="client" data-client="${esc(client)}"><text class="lane-label small" x="${LEFT - 8}" y="${y + OP_ROW - 3}" text-anchor="end">${esc(client)}</text>`,
    );
    const mine = story.history
      .map((op, i) => ({ op, i }))
      .filter((o) => o.op.client === client)
      .sort((x, y) => x.op.invoke - y.op.invoke);
    mine.forEach(({ op, i }, k) => {
      // An unknown outcome has no completion: the client gave up when it began its next one.
      const end = op.complete ?? mine[k + 1]?.op.invoke ?? story.endMs;
      if (end < f.t0 || op.invoke > f.t1) return;
      const x0 = f.x(op.invoke);
      const w = Math.max(f.x(end) - x0, 1.2);
      const cls = `op op-${op.status}${proof.ops.has(i) ? " proof" : ""}`;
      parts.push(
        `<rect class="${cls}" data-op="${i}" x="${fmt(x0)}" y="${y + 1}" width="${fmt(w)}" height="${OP_ROW - 3}"><title>${esc(opTitle(op, i))}</title></rect>`,
      );
    });
    parts.push("</g>");
  });
}

/** What an operation did: "put k1 \"v3\"", "get k2 = \"v1\"", "cas k1 null→\"v4\" = true". */
function describeOp(op: HistoryOp): string {
  const head = `${op.op} ${op.key}`;
  const out = op.status === "ok" ? ` = ${JSON.stringify(op.output)}` : "";
  switch (op.op) {
    case "put":
      return `${head} ${JSON.stringify(op.value)}`;
    case "get":
      return `${head}${out}`;
    case "delete":
      return head;
    case "cas":
      return `${head} ${JSON.stringify(op.expected)}→${JSON.stringify(op.value)}${out}`;
  }
}

function opTitle(op: HistoryOp, i: number): string {
  const when = `${fmt(op.invoke)}–${op.complete === null ? "?" : fmt(op.complete)} ms`;
  return `#${i} ${describeOp(op)} [${op.status}] ${when}`;
}

function opRow(op: HistoryOp, i: number, role: string): string {
  return `<tr class="proof-op" data-op="${i}"><td>#${i}</td><td>${esc(role)}</td><td>${esc(op.client)}</td><td>${esc(describeOp(op))}</td><td class="st-${op.status}">${op.status}</td><td>${fmt(op.invoke)}</td><td>${op.complete === null ? "—" : fmt(op.complete)}</td></tr>`;
}

function violationPanel(story: SimStory, proof: ProofSet): string {
  if (story.ok) return "";
  const parts: string[] = [`<section id="violation" class="violation"><h2>Violation</h2>`];
  if (story.violations.length > 0) {
    parts.push("<ul>");
    for (const v of story.violations.slice(0, 10))
      parts.push(
        `<li><b>${esc(v.invariant)}</b> on ${esc(v.node)} at ${fmt(v.t)} ms: ${esc(v.detail)}</li>`,
      );
    parts.push("</ul>");
  }
  const lin = story.linearizability;
  const rows: string[] = [];
  if (lin !== undefined && lin.ok === false) {
    parts.push(
      `<p>The history of key <b>${esc(lin.key)}</b> cannot be linearized: after the operations below (in that order) the key holds <b>${esc(JSON.stringify(lin.stateAfter))}</b>, and none of the next candidates is possible in that state.</p>`,
    );
    for (const o of lin.linearized.slice(-6)) rows.push(opRow(o.op, o.index, "linearized"));
    for (const o of lin.pending) rows.push(opRow(o.op, o.index, "impossible next"));
  } else if (lin !== undefined && lin.ok === "unknown") {
    parts.push("<p>The linearizability check gave up (search budget).</p>");
  }
  if (story.violations.length > 0) {
    for (const i of [...proof.ops].sort((a, b) => a - b)) {
      const op = story.history[i];
      if (op !== undefined) rows.push(opRow(op, i, "in flight at the violation"));
    }
  }
  if (rows.length > 0)
    parts.push(
      `<table class="proof"><thead><tr><th>op</th><th>role</th><th>client</th><th>operation</th><th>status</th><th>invoked ms</th><th>completed ms</th></tr></thead><tbody>${rows.join("")}</tbody></table>`,
    );
  if (story.livenessFailures.length > 0) {
    parts.push("<h3>Liveness</h3><ul>");
    for (const l of story.livenessFailures.slice(0, 10)) parts.push(`<li>${esc(l)}</li>`);
    parts.push("</ul>");
  }
  // A close-up of the moments before it, every message drawn.
  if (proof.at !== undefined) {
    const t1 = Math.min(story.endMs, proof.at + 5);
    const t0 = Math.max(0, t1 - 150);
    const inWindow = story.messages.filter((m) => m.delivered >= t0 && m.sent <= t1);
    parts.push(
      `<h3>The last ${fmt(t1 - t0, 0)} ms before it (${inWindow.length} messages)</h3><div class="scroll">${timeline(
        story,
        frame(t0, t1),
        inWindow.slice(-CLOSEUP_MESSAGES_MAX),
        proof,
        "closeup",
      )}</div>`,
    );
  }
  if (story.traceTail.length > 0)
    parts.push(
      `<h3>The events that led to it</h3><pre class="trace">${esc(story.traceTail.slice(-40).join("\n"))}</pre>`,
    );
  parts.push("</section>");
  return parts.join("\n");
}

function legend(): string {
  const swatch = (cls: string, fill: string, label: string): string =>
    `<span class="key"><svg width="18" height="12"><rect class="${cls}" width="18" height="12" ${fill ? `fill="${fill}"` : ""}/></svg>${label}</span>`;
  return `<div class="legend">${Object.entries(ROLE_COLOURS)
    .map(([role, c]) => swatch(`seg role-${role}`, c, role))
    .join(
      "",
    )}${swatch("band crashed", "", "crashed")}${swatch("band paused", "", "paused")}${swatch("band fenced", "", "fenced")}${swatch("band partition", "", "links cut")}${swatch("op op-ok", "", "op ok")}${swatch("op op-fail", "", "op failed")}${swatch("op op-unknown", "", "op unknown")}${swatch("op proof", "", "proof")}</div><div class="legend">${Object.entries(
    MESSAGE_COLOURS,
  )
    .map(
      ([type, c]) =>
        `<span class="key"><svg width="18" height="12"><line x1="0" y1="10" x2="18" y2="2" stroke="${c}" stroke-width="2"/></svg>${type}</span>`,
    )
    .join("")}</div>`;
}

const STYLE = `
body { font: 13px/1.4 system-ui, sans-serif; margin: 16px; color: #212529; background: #fff; }
h1 { font-size: 18px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 0 0 8px; }
h3 { font-size: 14px; margin: 14px 0 6px; }
.summary span { margin-right: 14px; }
.ok { color: #2f9e44; font-weight: bold; }
.failed { color: #e03131; font-weight: bold; }
.scroll { overflow-x: auto; border: 1px solid #dee2e6; margin: 8px 0; }
svg.timeline text { font-size: 11px; fill: #495057; }
svg.timeline .lane-label { font-size: 12px; font-weight: 600; fill: #212529; }
svg.timeline .lane-label.small { font-size: 10px; font-weight: 400; }
svg.timeline .involved .lane-label { fill: #e03131; }
svg.timeline .grid { stroke: #f1f3f5; }
svg.timeline .term, svg.timeline .band-label { font-size: 10px; fill: #212529; pointer-events: none; }
svg.timeline .band-label { fill: #fff; }
.band.crashed { fill: #495057; }
.band.fenced { fill: #000; }
.band.paused { fill: #adb5bd; stroke: #868e96; stroke-dasharray: 2 2; }
.band.partition { fill: #e03131; }
.fault { fill: #e8590c; }
.msg { stroke-width: 0.8; stroke-opacity: 0.55; }
.msg:hover { stroke-width: 2.5; stroke-opacity: 1; }
.heal { stroke: #2f9e44; stroke-dasharray: 4 3; }
.heal-label { fill: #2f9e44 !important; }
.violation-line { stroke: #e03131; stroke-width: 2; }
.op-ok { fill: #51cf66; }
.op-fail { fill: #ff8787; }
.op-unknown { fill: #ffd8a8; stroke: #f08c00; stroke-dasharray: 3 2; }
.op.proof { stroke: #c92a2a; stroke-width: 2.5; stroke-dasharray: none; }
.op.lit { stroke: #1c7ed6; stroke-width: 4; }
.legend { margin: 6px 0; }
.legend .key { margin-right: 12px; white-space: nowrap; }
.legend svg { vertical-align: middle; margin-right: 4px; }
.violation { border: 2px solid #e03131; background: #fff5f5; padding: 10px 14px; margin: 12px 0; }
table.proof { border-collapse: collapse; margin: 6px 0; }
table.proof td, table.proof th { border: 1px solid #ffc9c9; padding: 2px 8px; text-align: left; }
table.proof tr.proof-op { cursor: pointer; }
table.proof tr.proof-op:hover { background: #ffe3e3; }
.st-ok { color: #2f9e44; } .st-fail { color: #e03131; } .st-unknown { color: #f08c00; }
pre.trace { background: #f8f9fa; padding: 8px; max-height: 320px; overflow: auto; font-size: 11px; }
.controls button { margin-right: 4px; }
`;

const SCRIPT = `
(function () {
  var main = document.getElementById("run");
  var width = main.getAttribute("width") * 1;
  var zoom = 1;
  function setZoom(z) {
    zoom = Math.max(1, Math.min(16, z));
    main.setAttribute("width", String(width * zoom));
    document.getElementById("zoom-level").textContent = zoom + "x";
  }
  document.getElementById("zoom-in").addEventListener("click", function () { setZoom(zoom * 2); });
  document.getElementById("zoom-out").addEventListener("click", function () { setZoom(zoom / 2); });
  var rows = document.querySelectorAll("tr.proof-op");
  for (var i = 0; i < rows.length; i++) {
    rows[i].addEventListener("click", function (e) {
      var op = e.currentTarget.getAttribute("data-op");
      var lit = document.querySelectorAll(".op.lit");
      for (var j = 0; j < lit.length; j++) lit[j].classList.remove("lit");
      var bars = document.querySelectorAll('.op[data-op="' + op + '"]');
      for (var k = 0; k < bars.length; k++) bars[k].classList.add("lit");
      if (bars[0]) bars[0].scrollIntoView({ block: "center", inline: "center" });
    });
  }
})();
`;

/** The page. */
export function renderSimReport(story: SimStory): string {
  const proof = proofOf(story);
  const drawn = sampleMessages(story.messages, MESSAGES_DRAWN_MAX);
  const ops = story.history.filter((h) => !h.client.startsWith("final-"));
  const count = (s: string): number => ops.filter((h) => h.status === s).length;
  const crashes = story.states.filter((s) => s.status === "crashed").length;
  const sampled =
    drawn.length < story.messages.length + story.messagesDropped
      ? ` (${drawn.length} drawn: sampled, the rarer kinds first)`
      : "";
  const title = `ordo sim --seed ${story.seed}: ${story.ok ? "ok" : "FAILED"}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>Simulated run, seed ${story.seed} <span class="${story.ok ? "ok" : "failed"}">${story.ok ? "ok" : "FAILED"}</span></h1>
<div class="summary"><span>stack ${esc(story.stack)}</span><span>${story.nodes.length} members</span><span>${fmt(story.endMs / 1000, 2)} s virtual</span><span>${ops.length} client operations: ${count("ok")} ok, ${count("fail")} failed, ${count("unknown")} unknown</span><span>${story.messages.length + story.messagesDropped} messages${esc(sampled)}</span><span>${story.faults.length} faults</span><span>${crashes} crashes</span>${Number.isFinite(story.healMs) ? `<span>healed at ${fmt(story.healMs)} ms</span>` : ""}</div>
${legend()}
<div class="controls"><button id="zoom-out" type="button">−</button><button id="zoom-in" type="button">+</button> zoom <span id="zoom-level">1x</span> · hover a bar, band, line or ▼ fault for details</div>
${violationPanel(story, proof)}
<div class="scroll">${timeline(story, frame(0, story.endMs), drawn, proof, "run")}</div>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
