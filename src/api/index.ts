// The public surface of api/: what Ordo's server and client share about the wire — etcd's v3
// API definitions (proto/etcd), Ordo's metadata keys, and the snapshot file format.
export { MEMBER_NAME_METADATA_KEY, SEQ_METADATA_KEY, SESSION_METADATA_KEY } from "./metadata.js";
export {
  etcdProto,
  PROTO_LOADER_OPTIONS,
  serviceClient,
  serviceDefinition,
} from "./proto.js";
export {
  readSnapshotFile,
  SNAPSHOT_ALIGN_BYTES,
  SNAPSHOT_SHA_BYTES,
  SnapshotFileError,
  snapshotStreamData,
} from "./snapshot-file.js";
