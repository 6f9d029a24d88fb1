// The leaf every folder builds on: the byte codec of every binary format (transport/ wire
// messages, rsm/ envelopes and snapshots, kv/ commands and snapshots), byte helpers, UTF-8,
// CRC-32C (pure; storage/ has a native one for the WAL, tested to agree) and assertions. It
// imports nothing and uses no Node or DOM API, so the core folders may use it.
export { AssertionError, assert, assertNever } from "./assert.js";
export { ByteReader } from "./byte-reader.js";
export { ByteWriter, VARINT_BYTES_MAX } from "./byte-writer.js";
export { bytesEqual, compareBytes, copyBytes, EMPTY_BYTES, prefixEnd } from "./bytes.js";
export { CRC32C_INIT, crc32c, crc32cFinish, crc32cUpdate } from "./crc32c.js";
export { DecodeError, EncodeError } from "./errors.js";
export {
  decodeUtf8,
  decodeUtf8Strict,
  encodeUtf8,
  utf8ByteLength,
  writeUtf8,
} from "./utf8.js";
