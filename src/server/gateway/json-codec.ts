// etcd messages ⇄ the JSON etcd's gateway speaks, by the .proto descriptors (proto-loader's, from
// api/), for every service the generic gateway routes serve.
//
// etcd 3.4's gateway is grpc-gateway with `JSONPb{OrigName: true}`, i.e. golang/protobuf's
// jsonpb: field names as in the .proto ("cluster_id", "ID", "TTL"; lowerCamelCase accepted on
// input), 64-bit integers as decimal strings (numbers accepted on input), bytes in standard
// base64 (URL-safe and unpadded accepted on input), enums by their etcd names ("DELETE",
// "NOSPACE"; numbers accepted on input), and fields holding their zero value left out of
// responses (EmitDefaults false). A field the message does not have is refused, as jsonpb
// refuses it. The vendored .proto files (etcd3's copy, proto/etcd) spell enum values in
// PascalCase ("NotEqual"); etcd's own are UPPER_SNAKE ("NOT_EQUAL"), which is what goes out.
//
// fromJson's result is the plain object proto-loader serializes; toJson takes what
// proto-loader's deserializer returns (longs and enums as strings, bytes as Buffers, defaults
// filled in). Both walk only the descriptor's fields, bounded by the nesting limit.
import { etcdProto } from "../../api/index.js";
import { KvError } from "../../kv/index.js";

/** Nesting of a request body's JSON beyond which it is refused (as the KV routes). */
export const JSON_DEPTH_MAX = 64;

interface FieldDescriptor {
  readonly name: string;
  readonly label: string;
  readonly type: string;
  readonly typeName: string;
}

interface EnumDescriptor {
  readonly name?: string;
  readonly value: readonly { readonly name: string; readonly number: number }[];
}

interface MessageDescriptor {
  readonly name: string;
  readonly field: readonly FieldDescriptor[];
  readonly enumType: readonly EnumDescriptor[];
}

/** One enum: etcd's name of each number, and the number of each accepted name. */
interface EnumInfo {
  readonly nameOf: ReadonlyMap<number, string>;
  readonly numberOf: ReadonlyMap<string, number>;
}

interface FieldInfo {
  readonly name: string;
  readonly repeated: boolean;
  readonly type: string;
  /** For TYPE_MESSAGE: the message's qualified name ("mvccpb.KeyValue"). */
  readonly message?: string;
  readonly enumInfo?: EnumInfo;
}

interface MessageInfo {
  readonly qualifiedName: string;
  readonly fields: readonly FieldInfo[];
  /** Field by its .proto name and by its lowerCamelCase name. */
  readonly byJsonName: ReadonlyMap<string, FieldInfo>;
}

const PACKAGES = ["etcdserverpb", "mvccpb", "authpb"] as const;
type PackageName = (typeof PACKAGES)[number];

const invalid = (message: string): KvError => new KvError("INVALID_ARGUMENT", message);

const camelCase = (name: string): string =>
  name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

/** "NotEqual" → "NOT_EQUAL", "Nospace" → "NOSPACE": etcd's spelling of a vendored name. */
export const etcdEnumName = (vendored: string): string =>
  vendored.replace(/(?<=[a-z0-9])([A-Z])/g, "_$1").toUpperCase();

function descriptorIn(pkg: PackageName, name: string): unknown {
  return (etcdProto()[pkg] as Record<string, unknown>)[name];
}

function enumInfoOf(descriptor: EnumDescriptor): EnumInfo {
  const nameOf = new Map<number, string>();
  const numberOf = new Map<string, number>();
  for (const v of descriptor.value) {
    nameOf.set(v.number, etcdEnumName(v.name));
    numberOf.set(etcdEnumName(v.name), v.number);
    numberOf.set(v.name, v.number);
  }
  return { nameOf, numberOf };
}

/**
 * A type name as proto-loader leaves it ("KeyValue" or "mvccpb.Event"), qualified: a short
 * name is looked up in its own package first.
 */
function resolve(pkg: PackageName, typeName: string, format: "DescriptorProto" | "Enum"): string {
  const dot = typeName.lastIndexOf(".");
  const name = typeName.slice(dot + 1);
  const named = typeName.slice(0, dot).replace(/^\./, "") as PackageName;
  const order = dot >= 0 ? [named] : [pkg, ...PACKAGES.filter((p) => p !== pkg)];
  for (const p of order) {
    const found = descriptorIn(p, name) as { format?: string } | undefined;
    if (found?.format?.includes(format) === true) return `${p}.${name}`;
  }
  throw new Error(`gateway: no descriptor for type ${typeName} (from ${pkg})`);
}

function enumOf(pkg: PackageName, message: MessageDescriptor, typeName: string): EnumInfo {
  const nested = message.enumType.find((e) => e.name === typeName);
  if (nested !== undefined) return enumInfoOf(nested);
  const [p, name] = resolve(pkg, typeName, "Enum").split(".") as [PackageName, string];
  return enumInfoOf((descriptorIn(p, name) as { type: EnumDescriptor }).type);
}

const infoCache = new Map<string, MessageInfo>();

/** The message `qualifiedName` ("etcdserverpb.LeaseGrantRequest"), as the walkers use it. */
export function messageInfo(qualifiedName: string): MessageInfo {
  const cached = infoCache.get(qualifiedName);
  if (cached !== undefined) return cached;
  const [pkg, name] = qualifiedName.split(".") as [PackageName, string];
  const descriptor = (descriptorIn(pkg, name) as { type?: MessageDescriptor } | undefined)?.type;
  if (descriptor === undefined) throw new Error(`gateway: no message ${qualifiedName}`);
  const fields = descriptor.field.map((f): FieldInfo => {
    const base = { name: f.name, repeated: f.label === "LABEL_REPEATED", type: f.type };
    if (f.type === "TYPE_MESSAGE")
      return { ...base, message: resolve(pkg, f.typeName, "DescriptorProto") };
    if (f.type === "TYPE_ENUM") return { ...base, enumInfo: enumOf(pkg, descriptor, f.typeName) };
    return base;
  });
  const byJsonName = new Map<string, FieldInfo>();
  for (const f of fields) {
    byJsonName.set(f.name, f);
    byJsonName.set(camelCase(f.name), f);
  }
  const info = { qualifiedName, fields, byJsonName };
  infoCache.set(qualifiedName, info);
  return info;
}

// ---- JSON → message -------------------------------------------------------------------------

/** Standard or URL-safe base64, padded or not, as jsonpb accepts. */
const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]*|[A-Za-z0-9_-]*)={0,2}$/;
const INTEGER_PATTERN = /^-?[0-9]+$/;

const INTEGER_RANGES: Readonly<Record<string, readonly [bigint, bigint]>> = {
  TYPE_INT64: [-(2n ** 63n), 2n ** 63n - 1n],
  TYPE_SINT64: [-(2n ** 63n), 2n ** 63n - 1n],
  TYPE_SFIXED64: [-(2n ** 63n), 2n ** 63n - 1n],
  TYPE_UINT64: [0n, 2n ** 64n - 1n],
  TYPE_FIXED64: [0n, 2n ** 64n - 1n],
  TYPE_INT32: [-(2n ** 31n), 2n ** 31n - 1n],
  TYPE_SINT32: [-(2n ** 31n), 2n ** 31n - 1n],
  TYPE_SFIXED32: [-(2n ** 31n), 2n ** 31n - 1n],
  TYPE_UINT32: [0n, 2n ** 32n - 1n],
  TYPE_FIXED32: [0n, 2n ** 32n - 1n],
};

function integerFromJson(value: unknown, field: FieldInfo): string | number {
  const range = INTEGER_RANGES[field.type];
  let text: string | undefined;
  if (typeof value === "number" && Number.isSafeInteger(value)) text = String(value);
  else if (typeof value === "string" && INTEGER_PATTERN.test(value)) text = value;
  const n = text === undefined ? undefined : BigInt(text);
  if (range === undefined || n === undefined || n < range[0] || n > range[1]) {
    throw invalid(`etcdserver: ${field.name} must be an integer (${field.type.slice(5)})`);
  }
  // 64-bit values stay decimal strings (proto-loader's longs); 32-bit ones are numbers.
  return field.type.endsWith("64") ? n.toString() : Number(n);
}

function scalarFromJson(value: unknown, field: FieldInfo): unknown {
  switch (field.type) {
    case "TYPE_BOOL":
      if (typeof value !== "boolean") throw invalid(`etcdserver: ${field.name} must be a boolean`);
      return value;
    case "TYPE_STRING":
      if (typeof value !== "string") throw invalid(`etcdserver: ${field.name} must be a string`);
      return value;
    case "TYPE_BYTES":
      if (typeof value !== "string" || !BASE64_PATTERN.test(value) || value.length % 4 === 1) {
        throw invalid(`etcdserver: ${field.name} must be a base64 string`);
      }
      return Buffer.from(value, "base64");
    case "TYPE_DOUBLE":
    case "TYPE_FLOAT":
      if (typeof value !== "number") throw invalid(`etcdserver: ${field.name} must be a number`);
      return value;
    case "TYPE_ENUM": {
      const info = field.enumInfo;
      const number =
        typeof value === "string" ? info?.numberOf.get(value) : Number(value as number);
      if (number === undefined || !Number.isSafeInteger(number)) {
        const names = [...(info?.nameOf.values() ?? [])].join(", ");
        throw invalid(`etcdserver: ${field.name} must be one of ${names}`);
      }
      return number;
    }
    default:
      return integerFromJson(value, field);
  }
}

function valueFromJson(value: unknown, field: FieldInfo, depth: number): unknown {
  if (field.message === undefined) return scalarFromJson(value, field);
  return messageFromJson(field.message, value, depth + 1);
}

/**
 * A request body's JSON (parsed) as the plain message proto-loader serializes; throws
 * INVALID_ARGUMENT (a KvError, mapped by statusOf) for anything jsonpb would refuse.
 */
export function messageFromJson(qualifiedName: string, json: unknown, depth = 0): object {
  if (depth > JSON_DEPTH_MAX) throw invalid("etcdserver: request nested too deep");
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw invalid(`etcdserver: ${qualifiedName} must be a JSON object`);
  }
  const info = messageInfo(qualifiedName);
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(json)) {
    const field = info.byJsonName.get(name);
    if (field === undefined) throw invalid(`unknown field "${name}" in ${qualifiedName}`);
    if (value === null) continue; // jsonpb: null leaves the field unset
    if (!field.repeated) {
      out[field.name] = valueFromJson(value, field, depth);
      continue;
    }
    if (!Array.isArray(value)) throw invalid(`etcdserver: ${field.name} must be a list`);
    out[field.name] = value.map((v: unknown) => valueFromJson(v, field, depth));
  }
  return out;
}

// ---- message → JSON -------------------------------------------------------------------------

/** A scalar as jsonpb writes it; undefined for its zero value (left out). */
function scalarToJson(value: unknown, field: FieldInfo): unknown {
  if (value === null || value === undefined) return undefined;
  if (value instanceof Uint8Array) {
    return value.length === 0 ? undefined : Buffer.from(value).toString("base64");
  }
  if (field.type === "TYPE_ENUM") {
    const number = typeof value === "number" ? value : field.enumInfo?.numberOf.get(String(value));
    if (number === undefined || number === 0) return undefined;
    return field.enumInfo?.nameOf.get(number) ?? number;
  }
  if (value === false || value === 0 || value === "" || value === "0") return undefined;
  return field.type.endsWith("64") ? String(value) : value;
}

function valueToJson(value: unknown, field: FieldInfo, depth: number): unknown {
  if (field.message === undefined) return scalarToJson(value, field);
  if (value === null || value === undefined) return undefined;
  return messageToJson(field.message, value, depth + 1);
}

/** A decoded message as etcd's gateway writes it: zero values left out, sub-messages kept. */
export function messageToJson(qualifiedName: string, message: unknown, depth = 0): object {
  if (depth > JSON_DEPTH_MAX) throw new Error(`gateway: ${qualifiedName} nested too deep`);
  const source = (message ?? {}) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const field of messageInfo(qualifiedName).fields) {
    const value = source[field.name];
    if (field.repeated) {
      if (!Array.isArray(value) || value.length === 0) continue;
      // jsonpb writes every element of a list, zero values too.
      out[field.name] = value.map((v: unknown) =>
        field.message === undefined
          ? (scalarToJson(v, field) ?? zeroOf(field))
          : messageToJson(field.message, v, depth + 1),
      );
      continue;
    }
    const json = valueToJson(value, field, depth);
    if (json !== undefined) out[field.name] = json;
  }
  return out;
}

function zeroOf(field: FieldInfo): unknown {
  if (field.type === "TYPE_ENUM") return field.enumInfo?.nameOf.get(0) ?? 0;
  if (field.type === "TYPE_BOOL") return false;
  if (field.type === "TYPE_STRING" || field.type === "TYPE_BYTES") return "";
  return field.type.endsWith("64") ? "0" : 0;
}
