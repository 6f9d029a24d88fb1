// Ordo's client library.
export {
  type GetOptions,
  type GetResult,
  type KeyValue,
  KvClient,
  KvClientError,
  prefixRangeEnd,
} from "./kv-client.js";
