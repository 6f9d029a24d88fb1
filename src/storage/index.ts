// The public surface of storage/: the durable write-ahead log (a LogStorage), its errors, and
// the read-only views of a data directory that `ordo wal verify` and `ordo wal dump` use.

export { acquireDirLock, type DirLock, LOCK_FILE } from "./dir-lock.js";
export {
  fsyncDirectory,
  makeDirectories,
  replaceFileDurably,
  writeFully,
} from "./durable-fs.js";
export { CorruptionError, StorageError, type StorageErrorCode } from "./errors.js";
export {
  type SegmentName,
  type SnapshotName,
  segmentFileName,
  snapshotFileName,
} from "./file-names.js";
export { LatencyWindow, quantile } from "./latency-window.js";
export type { WalRecord } from "./record-codec.js";
export {
  type DamagedSnapshot,
  type DataDirListing,
  listDataDir,
  type Recovered,
  type RecoveredSegment,
  type RepairReport,
  recoverDataDir,
  type TornTail,
} from "./recovery.js";
export {
  type ScanEnd,
  type ScannedBatch,
  type ScannedRecord,
  scanSegment,
} from "./segment-scanner.js";
export { readSnapshotFile } from "./snapshot-file.js";
export {
  type RecoveryReport,
  type WalLogger,
  type WalLogLevel,
  type WalOptions,
  type WalStats,
  WalStorage,
} from "./wal-storage.js";
