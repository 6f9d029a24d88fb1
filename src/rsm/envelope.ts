// What the runtime puts in a log entry's data. Every envelope carries who proposed it (node and
// request id, so the proposer can resolve its promise when it applies the entry) and the
// leader-assigned time and random seed that the state machine sees in ApplyContext.
import { ByteReader, ByteWriter, DecodeError } from "./bytes.js";

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

/** Bytes of the fixed fields and length prefixes, plus slack for short strings. */
const ENVELOPE_OVERHEAD_BYTES = 96;

export function encodeEnvelope(e: Envelope): Uint8Array {
  const payload =
    e.kind === "Command" ? e.command.length : e.kind === "MemberContext" ? e.context.length : 0;
  const w = new ByteWriter(ENVELOPE_OVERHEAD_BYTES + 3 * e.proposer.length + payload)
    .u8(ENVELOPE_VERSION)
    .u8(KIND_CODES[e.kind]);
  w.string(e.proposer).uint(e.requestId).f64(e.timestampMs).u32(e.seed);
  switch (e.kind) {
    case "Command":
      w.string(e.clientId).uint(e.seq).bytes(e.command);
      break;
    case "HashReport":
      w.uint(e.checkIndex).string(e.hash);
      break;
    case "MemberContext":
      w.string(e.node).bytes(e.context);
      break;
    case "Refusal":
      w.string(e.message);
      break;
    case "RegisterSession":
    case "HashCheck":
      break;
  }
  return w.finish();
}

export function decodeEnvelope(data: Uint8Array): Envelope {
  const r = new ByteReader(data);
  const version = r.u8();
  if (version !== ENVELOPE_VERSION) throw new DecodeError(`unknown envelope version ${version}`);
  const code = r.u8();
  const proposer = r.string();
  const requestId = r.uint();
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
        clientId: r.string(),
        seq: r.uint(),
        command: r.bytes(),
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
        checkIndex: r.uint(),
        hash: r.string(),
      };
      break;
    case 5:
      e = {
        kind: "MemberContext",
        proposer,
        requestId,
        timestampMs,
        seed,
        node: r.string(),
        context: r.bytes(),
      };
      break;
    case 6:
      e = { kind: "Refusal", proposer, requestId, timestampMs, seed, message: r.string() };
      break;
    default:
      throw new DecodeError(`unknown envelope kind ${code}`);
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
  const version = r.u8();
  if (version !== ENVELOPE_VERSION) throw new DecodeError(`unknown envelope version ${version}`);
  r.u8(); // kind
  r.skipBytes(); // proposer
  r.uint(); // requestId
  const at = r.offset;
  r.f64();
  r.u32();
  const out = data.slice();
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setFloat64(at, timestampMs);
  view.setUint32(at + 8, seed >>> 0);
  return out;
}
