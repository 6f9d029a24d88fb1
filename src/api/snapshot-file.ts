// The file `ordo snapshot save` and `etcdctl snapshot save` write from Maintenance.Snapshot's
// stream, read back by the client (restore) and written by the server. etcdctl insists that the
// file's length is a multiple of 512 (a bbolt file's page) plus the 32-byte digest, so the data
// is framed and padded:
//
//   file := "ORDOSNAP" u64be(snapshotLength) snapshot zeroPadding(to a multiple of 512) sha256
//
// `snapshot` is Ordo's KV snapshot encoding (KvStateMachine.snapshot()), not a bbolt file:
// `etcdctl snapshot status` and `etcdctl snapshot restore` cannot read it; readSnapshotFile can.
import { createHash } from "node:crypto";

/** etcdctl 3.4 accepts a snapshot stream only if its data is a whole number of 512-byte pages. */
export const SNAPSHOT_ALIGN_BYTES = 512;
export const SNAPSHOT_SHA_BYTES = 32;
const SNAPSHOT_MAGIC = Buffer.from("ORDOSNAP", "ascii");
const SNAPSHOT_PREAMBLE_BYTES = SNAPSHOT_MAGIC.length + 8;

/** A snapshot file that is not one: truncated, corrupt (digest), or not Ordo's format. */
export class SnapshotFileError extends Error {
  override readonly name = "SnapshotFileError";
}

/** The streamed data for a KV snapshot: preamble, the snapshot, zero padding (see the top). */
export function snapshotStreamData(snapshot: Uint8Array): Buffer {
  const used = SNAPSHOT_PREAMBLE_BYTES + snapshot.length;
  const total = Math.ceil(used / SNAPSHOT_ALIGN_BYTES) * SNAPSHOT_ALIGN_BYTES;
  const out = Buffer.alloc(total); // zero-filled: the padding
  SNAPSHOT_MAGIC.copy(out, 0);
  out.writeBigUInt64BE(BigInt(snapshot.length), SNAPSHOT_MAGIC.length);
  out.set(snapshot, SNAPSHOT_PREAMBLE_BYTES);
  if (out.length % SNAPSHOT_ALIGN_BYTES !== 0) throw new Error("snapshot data not aligned");
  return out;
}

/**
 * The KV snapshot inside a saved snapshot file (what `ordo snapshot save` and `etcdctl
 * snapshot save` write): checks the digest, the preamble and the padding.
 */
export function readSnapshotFile(file: Uint8Array): Uint8Array {
  const bytes = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  if (bytes.length < SNAPSHOT_PREAMBLE_BYTES + SNAPSHOT_SHA_BYTES) {
    throw new SnapshotFileError("snapshot file: too short");
  }
  const data = bytes.subarray(0, bytes.length - SNAPSHOT_SHA_BYTES);
  const sha = createHash("sha256").update(data).digest();
  if (!sha.equals(bytes.subarray(data.length)))
    throw new SnapshotFileError("snapshot file: SHA-256 mismatch");
  if (!data.subarray(0, SNAPSHOT_MAGIC.length).equals(SNAPSHOT_MAGIC)) {
    throw new SnapshotFileError("snapshot file: not an Ordo snapshot");
  }
  const length = data.readBigUInt64BE(SNAPSHOT_MAGIC.length);
  if (length > BigInt(data.length - SNAPSHOT_PREAMBLE_BYTES)) {
    throw new SnapshotFileError("snapshot file: length past the end");
  }
  const end = SNAPSHOT_PREAMBLE_BYTES + Number(length);
  if (data.subarray(end).some((b) => b !== 0))
    throw new SnapshotFileError("snapshot file: bad padding");
  return Uint8Array.from(data.subarray(SNAPSHOT_PREAMBLE_BYTES, end));
}
