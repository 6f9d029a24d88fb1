// CRC-32C (Castagnoli), the checksum of every WAL record and snapshot file. One wrapper so the
// implementation can be swapped in one place. @node-rs/crc32 is native (SSE4.2 / ARMv8 CRC
// instructions) and ships prebuilt binaries inside its npm packages.
import { crc32c as nativeCrc32c } from "@node-rs/crc32";

/** CRC-32C of `bytes`, continuing from `previous` (the CRC of the bytes before) when given. */
export function crc32c(bytes: Uint8Array, previous = 0): number {
  return nativeCrc32c(bytes, previous) >>> 0;
}
