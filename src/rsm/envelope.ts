// What the runtime puts in a log entry's data. Every envelope carries who proposed it (node and
// request id, so the proposer can resolve its promise when it applies the entry) and the
// leader-assigned time and random seed that the state machine sees in ApplyContext.
import { ByteReader, ByteWriter, utf8ByteLength } from "../lib/index.js";

export type Envelope =
  | {
      readonly kind: "Command";
      readonly proposer: string;
      readonly requestId: number;
      timestampMs: number;
      seed: number;
      /** Client session (thesis §6.3), or "" for none. */
      readonly clientId: string;
      readonly seq: number;
      readonly command: Uint8Array;
    }
  | {
      readonly kind: "RegisterSession";
      readonly proposer: string;
      readonly requestId: number;
      timestampMs: number;
      seed: number;
    }
  | {
      /** Every replica records a hash of its state at this entry. */
      readonly kind: "HashCheck";
      readonly proposer: string;
      readonly requestId: number;
      timestampMs: number;
      seed: number;
    }
  | {
      /** The leader's hash at a HashCheck entry: replicas compare theirs (divergence detection). */
      readonly kind: "HashReport";
      readonly proposer: string;
      readonly requestId: number;
      timestampMs: number;
      seed: number;
      readonly checkIndex: number;
      readonly hash: string;
    }
  | {
      /** Replaces a member's context (the runtime's per-member data; see RsmNode.membership()). */
      readonly kind: "MemberContext";
      readonly proposer: string;
      readonly requestId: number;
      timestampMs: number;
      seed: number;
      readonly node: string;
      readonly context: Uint8Array;
    }
  | {
      /**
       * The leader refused a proposal a follower forwarded (a configuration change): the
       * refusal travels through the log so the proposer, named by proposer and requestId,
       * learns the reason instead of timing out.
       */
      readonly kind: "Refusal";
      readonly proposer: string;
      readonly requestId: number;
      timestampMs: number;
      seed: number;
      readonly message: string;
    };

const KIND_CODES = {
  Command: 1,
  RegisterSession: 2,
  HashCheck: 3,
  HashReport: 4,
  MemberContext: 5,
  Refusal: 6,
} as const;
const ENVELOPE_VERSION = 1;

/** Version, kind, proposer's length, requestId, time, seed. */
const ENVELOPE_HEADER_BYTES = 1 + 1 + 4 + 8 + 8 + 4;

/** The exact encoded size, so the writer allocates once and its buffer is the result. */
function envelopeBytes(e: Envelope): number {
  const header = ENVELOPE_HEADER_BYTES + utf8ByteLength(e.proposer);
  switch (e.kind) {
    case "Command":
      return header + 4 + utf8ByteLength(e.clientId) + 8 + 4 + e.command.byteLength;
    case "HashReport":
      return header + 8 + 4 + utf8ByteLength(e.hash);
    case "MemberContext":
      return header + 4 + utf8ByteLength(e.node) + 4 + e.context.byteLength;
    case "Refusal":
      return header + 4 + utf8ByteLength(e.message);
    case "RegisterSession":
    case "HashCheck":
      return header;
  }
}

/**
 * Layout: version u8, kind u8, proposer stringU32, requestId u64, timestampMs f64, seed u32,
 * then the kind's fields. The result is kept (it is the entry's data, in the log), so it is
 * sized exactly: the writer's own buffer, not a copy of it.
 */
export function encodeEnvelope(e: Envelope): Uint8Array {
  const w = new ByteWriter(envelopeBytes(e)).u8(ENVELOPE_VERSION).u8(KIND_CODES[e.kind]);
  // `>>> 0`: the seed is a u32 on the wire; any number is taken modulo 2^32, as always.
  w.stringU32(e.proposer)
    .u64(e.requestId)
    .f64(e.timestampMs)
    .u32(e.seed >>> 0);
  switch (e.kind) {
    case "Command":
      w.stringU32(e.clientId).u64(e.seq).bytesU32(e.command);
      break;
    case "HashReport":
      w.u64(e.checkIndex).stringU32(e.hash);
      break;
    case "MemberContext":
      w.stringU32(e.node).bytesU32(e.context);
      break;
    case "Refusal":
      w.stringU32(e.message);
      break;
    case "RegisterSession":
    case "HashCheck":
      break;
  }
  return w.finishExact();
}

export function decodeEnvelope(data: Uint8Array): Envelope {
  const r = new ByteReader(data);
  const version = r.u8("envelope version");
  if (version !== ENVELOPE_VERSION) r.fail(`unknown envelope version ${version}`);
  const code = r.u8("envelope kind");
  const proposer = r.stringU32("proposer");
  const requestId = r.u64("requestId");
  const timestampMs = r.f64();
  const seed = r.u32();
  let e: Envelope;
  switch (code) {
    case 1:
      e = {
        kind: "Command",
        proposer,
        requestId,
        timestampMs,
        seed,
        clientId: r.stringU32("clientId"),
        seq: r.u64("seq"),
        // A copy, not a view of the entry: the state machine may keep or change what it is
        // given, and the entry's bytes stay in the log (and may be sent to followers).
        command: r.bytesU32("command"),
      };
      break;
    case 2:
      e = { kind: "RegisterSession", proposer, requestId, timestampMs, seed };
      break;
    case 3:
      e = { kind: "HashCheck", proposer, requestId, timestampMs, seed };
      break;
    case 4:
      e = {
        kind: "HashReport",
        proposer,
        requestId,
        timestampMs,
        seed,
        checkIndex: r.u64("checkIndex"),
        hash: r.stringU32("hash"),
      };
      break;
    case 5:
      e = {
        kind: "MemberContext",
        proposer,
        requestId,
        timestampMs,
        seed,
        node: r.stringU32("node"),
        // A copy: member contexts are kept for as long as the member is.
        context: r.bytesU32("context"),
      };
      break;
    case 6:
      e = {
        kind: "Refusal",
        proposer,
        requestId,
        timestampMs,
        seed,
        message: r.stringU32("message"),
      };
      break;
    default:
      return r.fail(`unknown envelope kind ${code}`);
  }
  r.end();
  return e;
}

/**
 * The leader's stamp on an encoded envelope (a proposal a follower forwarded): a copy of `data`
 * with its time and seed replaced, without decoding the rest. Throws DecodeError when the
 * header is malformed; a body that does not decode is skipped alike by every replica on apply.
 */
export function restampEnvelope(data: Uint8Array, timestampMs: number, seed: number): Uint8Array {
  const r = new ByteReader(data);
  const version = r.u8("envelope version");
  if (version !== ENVELOPE_VERSION) r.fail(`unknown envelope version ${version}`);
  r.u8("envelope kind");
  r.skipBytesU32("proposer");
  r.u64("requestId");
  const at = r.offset;
  r.f64("timestampMs");
  r.u32("seed");
  const out = data.slice();
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setFloat64(at, timestampMs);
  view.setUint32(at + 8, seed >>> 0);
  return out;
}
