// The byte codec shared by every folder that reads or writes a binary format (transport/ wire
// messages, rsm/ envelopes and snapshots, kv/ commands and snapshots). It imports nothing and
// uses no Node or DOM API, so the core folders may use it.
export { ByteReader } from "./byte-reader.js";
export { ByteWriter, VARINT_BYTES_MAX } from "./byte-writer.js";
export { DecodeError, EncodeError } from "./errors.js";
export { decodeUtf8Strict, utf8ByteLength, writeUtf8 } from "./utf8.js";
