// Hand-written protobuf (de)serializers for the two hottest etcd calls, KV.Range and KV.Put:
// the request decoders and response encoders that @grpc/proto-loader would otherwise run
// (protobufjs decode + toObject, fromObject + encode: under etcd's benchmark tool about a tenth
// of a member's CPU on serializable ranges). They read and write exactly the objects the
// proto-loader options in proto.ts give (keepCase, int64 as decimal strings, enums by name,
// defaults filled in), so etcd-mapping.ts and every handler are unchanged; a test checks both
// paths agree on random and edge-case messages. Every other method keeps proto-loader's.
//
// Wire format (protobuf encoding): a message is a sequence of fields, each a varint key
// (field number << 3 | wire type) followed by a varint (type 0), 8 bytes (1), a varint length
// and that many bytes (2) or 4 bytes (5). Unknown fields are skipped, as protobufjs does; a
// known field with the wrong wire type, a truncated field or an over-long varint is an error
// (the call ends INTERNAL "Error deserializing request", as with proto-loader).
import type * as grpc from "@grpc/grpc-js";
import { serviceDefinition } from "../api/index.js";
import type {
  EtcdKeyValue,
  EtcdPutResponse,
  EtcdRangeResponse,
  EtcdResponseHeader,
} from "./etcd-mapping.js";

const EMPTY = Buffer.alloc(0);

class WireError extends Error {}

/** A forward-only reader over one message's bytes. */
class Reader {
  pos = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly end = buf.length,
  ) {}

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** A varint as a number when it is below 2^53, else as a decimal string of its int64 value. */
  varint(): number | string {
    let n = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new WireError("truncated varint");
      const b = this.buf[this.pos++] as number;
      if (i < 7) {
        n += (b & 0x7f) * scale;
        scale *= 128;
        if (b < 0x80) return n;
      } else {
        // Past 49 bits: finish exactly with BigInt (rare: negative or huge int64 values).
        this.pos -= i + 1;
        return this.bigVarint();
      }
    }
    throw new WireError("varint longer than 10 bytes");
  }

  private bigVarint(): string {
    let n = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new WireError("truncated varint");
      const b = this.buf[this.pos++] as number;
      n |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if (b < 0x80) {
        const signed = BigInt.asIntN(64, n);
        return signed >= -(2n ** 53n) && signed < 2n ** 53n
          ? String(Number(signed))
          : String(signed);
      }
    }
    throw new WireError("varint longer than 10 bytes");
  }

  /** A small non-negative varint (keys, lengths, enums, bools). */
  uint32(): number {
    const v = this.varint();
    if (typeof v !== "number" || v > 0xffffffff) throw new WireError("varint out of range");
    return v;
  }

  bytes(): Buffer {
    const length = this.uint32();
    if (length > this.end - this.pos) throw new WireError("truncated bytes field");
    const out = length === 0 ? EMPTY : this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        this.advance(8);
        return;
      case 2:
        this.advance(this.uint32());
        return;
      case 5:
        this.advance(4);
        return;
      default:
        throw new WireError(`wire type ${wireType}`);
    }
  }

  private advance(n: number): void {
    if (n > this.end - this.pos) throw new WireError("truncated field");
    this.pos += n;
  }
}

/** int64 as proto-loader gives it with `longs: String`. */
const int64Text = (v: number | string): string => (typeof v === "number" ? String(v) : v);

function expectWireType(actual: number, expected: number, field: number): void {
  if (actual !== expected) throw new WireError(`field ${field}: wire type ${actual}`);
}

// The names in proto/etcd/rpc.proto (etcd's own spelling).
const SORT_ORDERS = ["None", "Ascend", "Descend"] as const;
const SORT_TARGETS = ["Key", "Version", "Create", "Mod", "Value"] as const;

/** An enum (an int32) as proto-loader gives it with `enums: String`: its name, or the number. */
function enumText(names: readonly string[], v: number | string): string | number {
  const n = typeof v === "number" && v <= 0x7fffffff ? v : Number(BigInt.asIntN(32, BigInt(v)));
  return names[n] ?? n;
}

/** A bool: any non-zero varint is true. */
const boolOf = (v: number | string): boolean => v !== 0 && v !== "0";

/** How a known field is read: its name in the decoded object, its wire type, its value. */
interface FieldSpec {
  readonly name: string;
  readonly wireType: 0 | 2;
  readonly read: (r: Reader) => unknown;
}

const bytesSpec = (name: string): FieldSpec => ({ name, wireType: 2, read: (r) => r.bytes() });
const int64Spec = (name: string): FieldSpec => ({
  name,
  wireType: 0,
  read: (r) => int64Text(r.varint()),
});
const boolSpec = (name: string): FieldSpec => ({
  name,
  wireType: 0,
  read: (r) => boolOf(r.varint()),
});
const enumSpec = (name: string, names: readonly string[]): FieldSpec => ({
  name,
  wireType: 0,
  read: (r) => enumText(names, r.varint()),
});

/**
 * Reads one message's fields into `m` (its defaults): `fields[n]` says how field n is read;
 * a field it does not list is skipped.
 */
function decodeFields(
  buf: Buffer,
  m: Record<string, unknown>,
  fields: readonly (FieldSpec | undefined)[],
): Record<string, unknown> {
  const r = new Reader(buf);
  while (!r.done) {
    const key = r.uint32();
    const field = key >>> 3;
    const wt = key & 7;
    const spec = fields[field];
    if (spec === undefined) {
      r.skip(wt);
    } else {
      expectWireType(wt, spec.wireType, field);
      m[spec.name] = spec.read(r);
    }
  }
  return m;
}

/** etcdserverpb.RangeRequest's fields, by number. */
const RANGE_REQUEST_FIELDS: readonly (FieldSpec | undefined)[] = [
  undefined,
  bytesSpec("key"),
  bytesSpec("range_end"),
  int64Spec("limit"),
  int64Spec("revision"),
  enumSpec("sort_order", SORT_ORDERS),
  enumSpec("sort_target", SORT_TARGETS),
  boolSpec("serializable"),
  boolSpec("keys_only"),
  boolSpec("count_only"),
  int64Spec("min_mod_revision"),
  int64Spec("max_mod_revision"),
  int64Spec("min_create_revision"),
  int64Spec("max_create_revision"),
];

/** etcdserverpb.RangeRequest, as proto-loader decodes it. */
export function decodeRangeRequest(buf: Buffer): Record<string, unknown> {
  const m: Record<string, unknown> = {
    key: EMPTY,
    range_end: EMPTY,
    limit: "0",
    revision: "0",
    sort_order: "None",
    sort_target: "Key",
    serializable: false,
    keys_only: false,
    count_only: false,
    min_mod_revision: "0",
    max_mod_revision: "0",
    min_create_revision: "0",
    max_create_revision: "0",
  };
  return decodeFields(buf, m, RANGE_REQUEST_FIELDS);
}

/** etcdserverpb.PutRequest's fields, by number. */
const PUT_REQUEST_FIELDS: readonly (FieldSpec | undefined)[] = [
  undefined,
  bytesSpec("key"),
  bytesSpec("value"),
  int64Spec("lease"),
  boolSpec("prev_kv"),
  boolSpec("ignore_value"),
  boolSpec("ignore_lease"),
];

/** etcdserverpb.PutRequest, as proto-loader decodes it. */
export function decodePutRequest(buf: Buffer): Record<string, unknown> {
  const m: Record<string, unknown> = {
    key: EMPTY,
    value: EMPTY,
    lease: "0",
    prev_kv: false,
    ignore_value: false,
    ignore_lease: false,
  };
  return decodeFields(buf, m, PUT_REQUEST_FIELDS);
}

// ---- encoding ------------------------------------------------------------------------------

/** The varint bytes of an int64/uint64 decimal string (two's complement for negatives). */
function varintOfText(text: string): number[] {
  const n = Number(text);
  const out: number[] = [];
  if (Number.isSafeInteger(n) && n >= 0) {
    let v = n;
    while (v >= 0x80) {
      out.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    out.push(v);
    return out;
  }
  let v = BigInt.asUintN(64, BigInt(text));
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

/** Builds one response: sizes first, then one allocation. */
class Writer {
  private readonly parts: (number | number[] | Uint8Array)[] = [];
  length = 0;

  /** A varint field of a non-negative safe integer, omitted when 0 (proto3). */
  uintField(field: number, v: number): void {
    if (v === 0) return;
    this.tag(field, 0);
    this.varint(v);
  }

  /** An int64 field given as a decimal string, omitted when "0". */
  int64Field(field: number, text: string): void {
    if (text === "0") return;
    this.tag(field, 0);
    const n = Number(text);
    if (Number.isSafeInteger(n) && n > 0) this.varint(n);
    else this.raw(varintOfText(text));
  }

  boolField(field: number, v: boolean): void {
    if (!v) return;
    this.tag(field, 0);
    this.varint(1);
  }

  bytesField(field: number, b: Uint8Array): void {
    if (b.length === 0) return;
    this.tag(field, 2);
    this.varint(b.length);
    this.parts.push(b);
    this.length += b.length;
  }

  /** A nested message, written by `fill` into a writer of its own. */
  messageField(field: number, fill: (w: Writer) => void): void {
    const inner = new Writer();
    fill(inner);
    this.tag(field, 2);
    this.varint(inner.length);
    this.parts.push(...inner.parts);
    this.length += inner.length;
  }

  /** Pre-encoded bytes (a cached field). */
  raw(bytes: number[] | Uint8Array): void {
    this.parts.push(bytes);
    this.length += bytes.length;
  }

  finish(): Buffer {
    const out = Buffer.allocUnsafe(this.length);
    let pos = 0;
    for (const p of this.parts) {
      if (typeof p === "number") out[pos++] = p;
      else if (p instanceof Uint8Array) {
        out.set(p, pos);
        pos += p.length;
      } else {
        for (const b of p) out[pos++] = b;
      }
    }
    return out;
  }

  private tag(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  private varint(v: number): void {
    while (v >= 0x80) {
      this.parts.push((v % 0x80) | 0x80);
      this.length++;
      v = Math.floor(v / 0x80);
    }
    this.parts.push(v);
    this.length++;
  }
}

/** Encoded cluster_id + member_id fields, which every response of a member repeats. */
const headerIdCache = new Map<string, Uint8Array>();
const HEADER_ID_CACHE_MAX = 64;

function headerIds(h: EtcdResponseHeader): Uint8Array {
  const key = `${h.cluster_id}/${h.member_id}`;
  let bytes = headerIdCache.get(key);
  if (bytes === undefined) {
    const w = new Writer();
    w.int64Field(1, h.cluster_id);
    w.int64Field(2, h.member_id);
    bytes = w.finish();
    if (headerIdCache.size >= HEADER_ID_CACHE_MAX) headerIdCache.clear();
    headerIdCache.set(key, bytes);
  }
  return bytes;
}

function writeHeader(w: Writer, h: EtcdResponseHeader): void {
  w.raw(headerIds(h));
  w.int64Field(3, h.revision);
  w.int64Field(4, h.raft_term);
}

function writeKeyValue(w: Writer, kv: EtcdKeyValue): void {
  w.bytesField(1, kv.key);
  w.int64Field(2, kv.create_revision);
  w.int64Field(3, kv.mod_revision);
  w.int64Field(4, kv.version);
  w.bytesField(5, kv.value);
  w.int64Field(6, kv.lease);
}

/** etcdserverpb.RangeResponse from the object etcd-mapping builds. */
export function encodeRangeResponse(m: EtcdRangeResponse): Buffer {
  const w = new Writer();
  if (m.header !== undefined) w.messageField(1, (h) => writeHeader(h, m.header));
  for (const kv of m.kvs ?? []) w.messageField(2, (k) => writeKeyValue(k, kv));
  w.boolField(3, m.more === true);
  w.int64Field(4, m.count ?? "0");
  return w.finish();
}

/** etcdserverpb.PutResponse from the object etcd-mapping builds. */
export function encodePutResponse(m: EtcdPutResponse): Buffer {
  const w = new Writer();
  if (m.header !== undefined) w.messageField(1, (h) => writeHeader(h, m.header));
  const prev = m.prev_kv;
  if (prev !== undefined) w.messageField(2, (k) => writeKeyValue(k, prev));
  return w.finish();
}

/**
 * The KV service definition with Range and Put (de)serialized by the functions above; the
 * other methods as proto-loader made them.
 */
export function kvServiceDefinition(): grpc.ServiceDefinition {
  const base = serviceDefinition("KV");
  const range = base.Range as grpc.MethodDefinition<unknown, unknown>;
  const put = base.Put as grpc.MethodDefinition<unknown, unknown>;
  return {
    ...base,
    Range: {
      ...range,
      requestDeserialize: decodeRangeRequest,
      responseSerialize: (m: unknown) => encodeRangeResponse(m as EtcdRangeResponse),
    },
    Put: {
      ...put,
      requestDeserialize: decodePutRequest,
      responseSerialize: (m: unknown) => encodePutResponse(m as EtcdPutResponse),
    },
  };
}
