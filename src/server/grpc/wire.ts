// The header-level pieces of gRPC over HTTP/2 (PROTOCOL-HTTP2.md) the server needs: reading
// grpc-timeout, percent-encoding grpc-message, turning what a handler failed with into a
// status, and the response header and trailer blocks. Kept apart from the call and server so
// each rule can be tested on its own.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http2";
import * as grpc from "@grpc/grpc-js";

/** A status as it goes out in trailers. */
export interface CallStatus {
  readonly code: grpc.status;
  readonly details: string;
  readonly metadata?: grpc.Metadata | undefined;
}

const TIMEOUT_UNIT_MS: Record<string, number> = {
  H: 3_600_000,
  M: 60_000,
  S: 1_000,
  m: 1,
  u: 0.001,
  n: 0.000_001,
};

/** The spec's TimeoutValue is at most 8 ASCII digits; the unit is one of H M S m u n. */
const TIMEOUT_PATTERN = /^(\d{1,8})([HMSmun])$/;

/** grpc-timeout in milliseconds; undefined when the header is malformed. */
export function parseGrpcTimeout(value: string): number | undefined {
  const match = TIMEOUT_PATTERN.exec(value.trim());
  if (match === null) return undefined;
  return Number(match[1]) * TIMEOUT_UNIT_MS[match[2]!]!;
}

/**
 * grpc-message's encoding: UTF-8, then every byte outside printable ASCII (0x20-0x7E) and
 * '%' itself as %XX. Plain ASCII text, the common case, is returned as is.
 */
export function percentEncode(text: string): string {
  let plain = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return text;
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    out +=
      byte < 0x20 || byte > 0x7e || byte === 0x25
        ? `%${byte.toString(16).toUpperCase().padStart(2, "0")}`
        : String.fromCharCode(byte);
  }
  return out;
}

/**
 * What a handler passed as an error, as grpc-js reads it: an object with a numeric `code`
 * (and `details`, else `message`), or an Error without a code (UNKNOWN, its message).
 */
export function statusOfHandlerError(error: unknown): CallStatus {
  if (typeof error === "object" && error !== null) {
    const e = error as { code?: unknown; details?: unknown; message?: unknown; metadata?: unknown };
    const code =
      typeof e.code === "number" && Number.isInteger(e.code) && e.code >= 0 && e.code <= 16
        ? (e.code as grpc.status)
        : grpc.status.UNKNOWN;
    const details =
      typeof e.details === "string"
        ? e.details
        : typeof e.message === "string"
          ? e.message
          : "Unknown error";
    const metadata = e.metadata instanceof grpc.Metadata ? e.metadata : undefined;
    return { code, details, metadata };
  }
  return { code: grpc.status.UNKNOWN, details: String(error) };
}

export const GRPC_CONTENT_TYPE = "application/grpc+proto";

/** The response header block every call starts with; shared, never modified. */
export const RESPONSE_HEADERS: OutgoingHttpHeaders = Object.freeze({
  ":status": 200,
  "content-type": GRPC_CONTENT_TYPE,
  "grpc-accept-encoding": "identity",
}) as OutgoingHttpHeaders;

/** The trailers of a call that succeeded; shared, never modified. */
export const OK_TRAILERS: OutgoingHttpHeaders = Object.freeze({
  "grpc-status": "0",
}) as OutgoingHttpHeaders;

/** Trailers for `status`, with its metadata (binary values base64 per the spec). */
export function trailersOf(status: CallStatus): OutgoingHttpHeaders {
  if (status.code === grpc.status.OK && status.details === "" && status.metadata === undefined)
    return OK_TRAILERS;
  const trailers: OutgoingHttpHeaders = {
    ...(status.metadata?.toHttp2Headers() ?? {}),
    "grpc-status": String(status.code),
  };
  if (status.details !== "") trailers["grpc-message"] = percentEncode(status.details);
  return trailers;
}

/** A trailers-only response: the status in the one header block that also ends the stream. */
export function trailersOnlyOf(status: CallStatus): OutgoingHttpHeaders {
  return { ...RESPONSE_HEADERS, ...trailersOf(status) };
}

/** Request headers that are transport, not metadata for the handler (grpc-js drops the same). */
const TRANSPORT_HEADERS = [
  "grpc-timeout",
  "grpc-encoding",
  "grpc-accept-encoding",
  "accept-encoding",
  "te",
  "content-type",
] as const;

/** The call's metadata from its request headers; `-bin` values base64-decoded. */
export function metadataOf(headers: IncomingHttpHeaders): grpc.Metadata {
  const metadata = grpc.Metadata.fromHttp2Headers(headers);
  for (const key of TRANSPORT_HEADERS) metadata.remove(key);
  return metadata;
}
