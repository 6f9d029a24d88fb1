// The binary encoding of Raft messages (every variant of raft/types.ts Message; a new variant
// fails to compile here until it has a tag and an encoding).
//
// A message is: tag u8 (messageTags below), from string, to string, term varint, then the
// fields of its type in the order written in writeBody. Numbers (terms, indexes, counts,
// lengths) are unsigned LEB128 varints of at most 8 bytes (values < 2^53); booleans and entry
// types are one byte; strings and byte fields are a varint length and the bytes (strings
// UTF-8). No padding, no field numbers: both ends speak the same version, which the
// connection handshake checks (handshake.ts), and a new field means a new version.
//
// decodeMessage is total over byte strings: it returns a structurally typed Message or throws
// DecodeError — for truncation, trailing bytes, unknown tags, out-of-range numbers, counts or
// lengths beyond the input or the limits below, and invalid UTF-8. Semantic checks (ids,
// index arithmetic) are the core's (raft/message-check.ts).

import { assert, assertNever, ByteReader, ByteWriter } from "../lib/index.js";
import {
  asIndex,
  asNodeId,
  asTerm,
  type ConfState,
  type Entry,
  type EntryType,
  MESSAGE_TYPE_CODES,
  type Message,
  type NodeId,
  type SnapshotMeta,
  type Term,
} from "../raft/index.js";
import { wireError } from "./errors.js";
import { FRAME_HEADER_BYTES } from "./frame.js";

/** Bytes a node id (or the cluster id) may take in UTF-8. */
export const idBytesMax = 255;
/** Bytes a ReadIndex / heartbeat context may take in UTF-8. */
export const contextBytesMax = 64 * 1024;
/** Entries one AppendRequest (or proposals one ProposalForward) may carry; the frame bounds bytes. */
export const entriesMax = 1 << 20;
/** Ids in each list of a configuration. */
export const confIdsMax = 4096;

/** Type tags on the wire: the core's MESSAGE_TYPE_CODES (1–15; 16 is snapshot-chunks.ts's). */
export const messageTags = MESSAGE_TYPE_CODES;

const knownTags: ReadonlySet<number> = new Set(Object.values(messageTags));

const entryTypeCodes = { Normal: 0, ConfChange: 1 } as const satisfies Record<EntryType, number>;

/** Smallest encodings, used to bound counts by the bytes left: index, term, type, length. */
const ENTRY_BYTES_MIN = 4;
const ID_BYTES_MIN = 1;
/** Type and length. */
const PROPOSAL_BYTES_MIN = 2;
/** Fixed overhead per entry above its data, for sizing the buffer once. */
const ENTRY_OVERHEAD_BYTES_MAX = 8 + 8 + 1 + 8;
const HEADER_OVERHEAD_BYTES = 128;
/** Size of the reused encoding buffer; messages expected to be larger get their own. */
const SCRATCH_BYTES = 64 * 1024;
const scratch = new ByteWriter(SCRATCH_BYTES);

export function encodeMessage(m: Message): Uint8Array {
  const hintBytes = encodedSizeHint(m);
  // Small messages (nearly all) are built in one reused buffer and copied out at their exact
  // size: one allocation per message. Large ones get a buffer of their own, sized once, and
  // returned as a view of it (nothing else holds that buffer).
  const small = hintBytes <= SCRATCH_BYTES;
  const w = small ? scratch : new ByteWriter(hintBytes);
  if (small) scratch.reset(SCRATCH_BYTES);
  try {
    writeMessage(w, m);
  } catch (e) {
    throw wireError(e);
  }
  const out = small ? w.copy() : w.finish();
  assert(out.byteLength > 0 && out[0] === messageTags[m.type], "codec: encoding lost its tag");
  return out;
}

/**
 * Appends `m` to `w` as one whole frame (frame.ts): the 4-byte length, then encodeMessage's
 * bytes. The transport builds its write batches this way, with no buffer per message.
 * Returns the frame's size in bytes, header included.
 */
export function writeMessageFrame(w: ByteWriter, m: Message): number {
  const start = w.byteLength;
  try {
    w.u32(0); // the length, patched below
    writeMessage(w, m);
    w.setU32(start, w.byteLength - start - FRAME_HEADER_BYTES);
  } catch (e) {
    throw wireError(e);
  }
  const frameBytes = w.byteLength - start;
  assert(frameBytes > FRAME_HEADER_BYTES, "codec: empty frame");
  return frameBytes;
}

export function decodeMessage(bytes: Uint8Array): Message {
  try {
    const r = new ByteReader(bytes);
    const m = readMessage(r);
    r.end("message");
    return m;
  } catch (e) {
    throw wireError(e);
  }
}

function writeMessage(w: ByteWriter, m: Message): void {
  w.u8(messageTags[m.type]);
  writeEnvelope(w, m.from, m.to, m.term);
  writeBody(w, m);
}

// String.prototype.isWellFormed is in Node 20 but not in the ES2022 library types.
const isWellFormed = (s: string): boolean =>
  (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/**
 * A string field: UTF-8 with a varint length, at most `bytesMax` bytes. A lone surrogate is
 * refused (our bug): it would arrive as U+FFFD, a different string.
 */
export function writeText(w: ByteWriter, text: string, bytesMax: number, what: string): void {
  assert(isWellFormed(text), `writer: ${what} is not well-formed UTF-16`);
  w.stringVarint(text, bytesMax, what);
}

/** Common leading fields of every message and of snapshot chunks. */
export function writeEnvelope(w: ByteWriter, from: NodeId, to: NodeId, term: Term): void {
  writeText(w, from, idBytesMax, "from");
  writeText(w, to, idBytesMax, "to");
  w.uvarint(term);
}

/** Who sent a message, to whom, in which term: what every message starts with. */
interface Envelope {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: Term;
}

export function readEnvelope(r: ByteReader): Envelope {
  const from = asNodeId(r.stringVarint("from", idBytesMax));
  const to = asNodeId(r.stringVarint("to", idBytesMax));
  const term = asTerm(r.uvarint("term"));
  return { from, to, term };
}

export function writeSnapshotMeta(w: ByteWriter, meta: SnapshotMeta): void {
  w.uvarint(meta.index);
  w.uvarint(meta.term);
  writeIds(w, meta.confState.voters, "voters");
  writeIds(w, meta.confState.votersOutgoing, "votersOutgoing");
  writeIds(w, meta.confState.learners, "learners");
  w.u8(meta.confState.autoLeave === true ? 1 : 0);
}

export function readSnapshotMeta(r: ByteReader): SnapshotMeta {
  const index = asIndex(r.uvarint("snapshot index"));
  const term = asTerm(r.uvarint("snapshot term"));
  const voters = readIds(r, "voters");
  const votersOutgoing = readIds(r, "votersOutgoing");
  const learners = readIds(r, "learners");
  const autoLeave = r.u8("autoLeave");
  if (autoLeave > 1) r.fail(`bad autoLeave flag ${autoLeave}`);
  const confState: ConfState =
    autoLeave === 1
      ? { voters, votersOutgoing, learners, autoLeave: true }
      : { voters, votersOutgoing, learners };
  return { index, term, confState };
}

function writeBody(w: ByteWriter, m: Message): void {
  switch (m.type) {
    case "VoteRequest":
      w.bool(m.preVote);
      w.uvarint(m.lastLogIndex);
      w.uvarint(m.lastLogTerm);
      w.bool(m.transfer);
      return;
    case "VoteResponse":
      w.bool(m.preVote);
      w.bool(m.granted);
      w.uvarint(m.commit);
      w.uvarint(m.commitTerm);
      return;
    case "AppendRequest":
      w.uvarint(m.prevLogIndex);
      w.uvarint(m.prevLogTerm);
      w.uvarint(m.commit);
      writeEntries(w, m.entries);
      return;
    case "AppendResponse":
      w.bool(m.success);
      w.uvarint(m.index);
      w.uvarint(m.hintIndex);
      w.uvarint(m.hintTerm);
      return;
    case "Heartbeat":
      w.uvarint(m.commit);
      writeText(w, m.context, contextBytesMax, "context");
      return;
    case "HeartbeatResponse":
    case "ReadIndexRequest":
      writeText(w, m.context, contextBytesMax, "context");
      return;
    case "ReadIndexResponse":
      writeText(w, m.context, contextBytesMax, "context");
      w.uvarint(m.index);
      return;
    case "InstallSnapshot":
      writeSnapshotMeta(w, m.snapshot.meta);
      w.bytesVarint(m.snapshot.data);
      return;
    case "TimeoutNow":
      return;
    case "ProposalForward":
      w.list(m.proposals, (p) => {
        w.u8(entryTypeCodes[p.type]);
        w.bytesVarint(p.data);
      });
      return;
    default:
      assertNever(m, "message");
  }
}

function readMessage(r: ByteReader): Message {
  const tag = r.u8("message tag");
  if (!knownTags.has(tag)) r.fail(`unknown message tag ${tag}`);
  const envelope = readEnvelope(r);
  const { from, to, term } = envelope;
  switch (tag) {
    case messageTags.VoteRequest:
    case messageTags.VoteResponse:
    case messageTags.AppendRequest:
    case messageTags.AppendResponse:
      return readVoteOrAppend(r, tag, envelope);
    case messageTags.Heartbeat: {
      const commit = asIndex(r.uvarint("commit"));
      const context = r.stringVarint("context", contextBytesMax);
      return { type: "Heartbeat", from, to, term, commit, context };
    }
    case messageTags.HeartbeatResponse:
      return {
        type: "HeartbeatResponse",
        from,
        to,
        term,
        context: r.stringVarint("context", contextBytesMax),
      };
    case messageTags.InstallSnapshot: {
      const meta = readSnapshotMeta(r);
      // A copy: the snapshot outlives the frame (it is restored and kept as the log's base).
      const data = r.bytesVarint("snapshot data");
      return { type: "InstallSnapshot", from, to, term, snapshot: { meta, data } };
    }
    case messageTags.ReadIndexRequest:
      return {
        type: "ReadIndexRequest",
        from,
        to,
        term,
        context: r.stringVarint("context", contextBytesMax),
      };
    case messageTags.ReadIndexResponse: {
      const context = r.stringVarint("context", contextBytesMax);
      const index = asIndex(r.uvarint("index"));
      return { type: "ReadIndexResponse", from, to, term, context, index };
    }
    case messageTags.TimeoutNow:
      return { type: "TimeoutNow", from, to, term };
    case messageTags.ProposalForward:
      return { type: "ProposalForward", from, to, term, proposals: readProposals(r) };
    default:
      return r.fail(`unknown message tag ${tag}`);
  }
}

/** Raft's election and replication messages, after their envelope. */
function readVoteOrAppend(r: ByteReader, tag: number, envelope: Envelope): Message {
  const { from, to, term } = envelope;
  switch (tag) {
    case messageTags.VoteRequest: {
      const preVote = r.bool("preVote");
      const lastLogIndex = asIndex(r.uvarint("lastLogIndex"));
      const lastLogTerm = asTerm(r.uvarint("lastLogTerm"));
      const transfer = r.bool("transfer");
      return { type: "VoteRequest", from, to, term, preVote, lastLogIndex, lastLogTerm, transfer };
    }
    case messageTags.VoteResponse: {
      const preVote = r.bool("preVote");
      const granted = r.bool("granted");
      const commit = asIndex(r.uvarint("commit"));
      const commitTerm = asTerm(r.uvarint("commitTerm"));
      return { type: "VoteResponse", from, to, term, preVote, granted, commit, commitTerm };
    }
    case messageTags.AppendRequest: {
      const prevLogIndex = asIndex(r.uvarint("prevLogIndex"));
      const prevLogTerm = asTerm(r.uvarint("prevLogTerm"));
      const commit = asIndex(r.uvarint("commit"));
      const entries = readEntries(r);
      return { type: "AppendRequest", from, to, term, prevLogIndex, prevLogTerm, entries, commit };
    }
    case messageTags.AppendResponse: {
      const success = r.bool("success");
      const index = asIndex(r.uvarint("index"));
      const hintIndex = asIndex(r.uvarint("hintIndex"));
      const hintTerm = asTerm(r.uvarint("hintTerm"));
      return { type: "AppendResponse", from, to, term, success, index, hintIndex, hintTerm };
    }
    default:
      return r.fail(`unknown message tag ${tag}`);
  }
}

function writeEntries(w: ByteWriter, entries: readonly Entry[]): void {
  w.list(entries, (e) => {
    // Each entry carries its own index: the encoding is faithful even to a malformed run, and
    // the core, not the transport, decides what a run must look like.
    w.uvarint(e.index);
    w.uvarint(e.term);
    w.u8(entryTypeCodes[e.type]);
    w.bytesVarint(e.data);
  });
}

function readEntries(r: ByteReader): Entry[] {
  return r.list("entry count", entriesMax, ENTRY_BYTES_MIN, (): Entry => {
    const index = asIndex(r.uvarint("entry index"));
    const term = asTerm(r.uvarint("entry term"));
    const type = readEntryType(r);
    // A copy: entries are kept in the log long after the frame that carried them is gone.
    const data = r.bytesVarint("entry data");
    return { index, term, type, data };
  });
}

function readProposals(r: ByteReader): { type: EntryType; data: Uint8Array }[] {
  return r.list("proposal count", entriesMax, PROPOSAL_BYTES_MIN, () => {
    const type = readEntryType(r);
    // A copy: the leader appends the data to its log.
    return { type, data: r.bytesVarint("proposal data") };
  });
}

function readEntryType(r: ByteReader): EntryType {
  const code = r.u8("entry type");
  if (code === entryTypeCodes.Normal) return "Normal";
  if (code === entryTypeCodes.ConfChange) return "ConfChange";
  return r.fail(`unknown entry type ${code}`);
}

function writeIds(w: ByteWriter, ids: readonly NodeId[], what: string): void {
  w.list(ids, (id) => writeText(w, id, idBytesMax, what));
}

function readIds(r: ByteReader, what: string): NodeId[] {
  return r.list(`${what} count`, confIdsMax, ID_BYTES_MIN, () =>
    asNodeId(r.stringVarint(what, idBytesMax)),
  );
}

/** Bytes of the byte fields `m` carries (entry, proposal, snapshot data): a lower bound on its size. */
export function messageDataBytes(m: Message): number {
  if (m.type === "AppendRequest") return m.entries.reduce((n, e) => n + e.data.byteLength, 0);
  if (m.type === "ProposalForward") return m.proposals.reduce((n, p) => n + p.data.byteLength, 0);
  if (m.type === "InstallSnapshot") return m.snapshot.data.byteLength;
  return 0;
}

/** Enough bytes for `m` in almost every case, so the writer allocates once. */
function encodedSizeHint(m: Message): number {
  if (m.type === "AppendRequest") {
    let bytes = HEADER_OVERHEAD_BYTES;
    for (const e of m.entries) bytes += ENTRY_OVERHEAD_BYTES_MAX + e.data.byteLength;
    return bytes;
  }
  if (m.type === "ProposalForward") {
    let bytes = HEADER_OVERHEAD_BYTES;
    for (const p of m.proposals) bytes += ENTRY_OVERHEAD_BYTES_MAX + p.data.byteLength;
    return bytes;
  }
  if (m.type === "InstallSnapshot") return HEADER_OVERHEAD_BYTES * 4 + m.snapshot.data.byteLength;
  return HEADER_OVERHEAD_BYTES;
}
