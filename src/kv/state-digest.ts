// KvStore.digest: the whole state in a few hundred bytes, for the runtime's divergence checks
// (StateMachine.digest). Equal states give equal bytes on every replica; a state that differs
// in any record, lease, revision, the auth state or the alarms gives other bytes (but for the odds of
// record-digest.ts). The key space enters as the index's running record sums, so this costs
// O(leases) and the auth state's size, not O(records) as encoding a snapshot does.
//
//   digest := "OKD" version=1 revision compactRevision keyCount storedBytes crc:u32 fnv:u32
//             leaseCount { id ttlSeconds expiryMs } authFlag [auth state]
//             alarmFlag [alarms (alarm-store.ts AlarmStore.encode)]
import { ByteWriter } from "../lib/index.js";
import { encodeLeases, type MvccState } from "./snapshot-codec.js";

const magic = [0x4f, 0x4b, 0x44]; // "OKD"
const digestVersion = 1;

export function encodeStateDigest(state: MvccState): Uint8Array {
  const w = new ByteWriter(256);
  for (const b of magic) w.u8(b);
  w.u8(digestVersion);
  w.uvarint(state.revision);
  w.uvarint(state.compactRevision);
  const index = state.index;
  w.uvarint(index.size);
  w.uvarint(index.storedBytes);
  w.u32(index.recordDigest.crc);
  w.u32(index.recordDigest.fnv);
  encodeLeases(w, state.lessor);
  w.bool(!state.auth.pristine);
  if (!state.auth.pristine) state.auth.encode(w);
  w.bool(!state.alarms.pristine);
  if (!state.alarms.pristine) state.alarms.encode(w);
  return w.finish();
}
