// Key ids: etcd keys are bytes; a Map keyed by them needs a string whose order is the bytes'.
import { assert } from "../lib/index.js";

const idChunkBytes = 4096;

/**
 * A string that names a key in a Map: one UTF-16 code unit per byte (all < 256), so plain
 * JavaScript string order equals bytewise key order.
 */
export function keyIdOf(key: Uint8Array): string {
  let id = "";
  for (let i = 0; i < key.length; i += idChunkBytes) {
    id += String.fromCharCode(...key.subarray(i, i + idChunkBytes));
  }
  assert(id.length === key.length, "kv: key id length");
  return id;
}
