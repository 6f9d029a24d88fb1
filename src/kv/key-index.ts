// The key index: every key with history, in bytewise order (for ranges) and by id (for point
// lookups). The order is a B+ tree (sorted-btree), so a new key costs O(log keys): a sorted
// array's insert moved every later pointer, which made loading a million keys quadratic (and
// was 2 % of a put's CPU at 100,000 keys).
import BTreeModule from "sorted-btree";
import { assert, compareBytes, copyBytes } from "../lib/index.js";
import { keyIdOf } from "./bytes.js";
import { KeyHistory, type SizeAccount } from "./key-history.js";
import type { RecordDigest } from "./record-digest.js";

/**
 * Which keys a request names, after etcd's range_end conventions: an empty range_end is the key
 * alone; "\0" is every key ≥ key (end null); anything else is the half-open [key, end), empty
 * when key ≥ end.
 */
export type KeySpan =
  | { readonly kind: "single"; readonly key: Uint8Array }
  | { readonly kind: "range"; readonly start: Uint8Array; readonly end: Uint8Array | null };

export function spanOf(key: Uint8Array, rangeEnd: Uint8Array | undefined): KeySpan {
  if (rangeEnd === undefined || rangeEnd.length === 0) return { kind: "single", key };
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return { kind: "range", start: key, end: null };
  return { kind: "range", start: key, end: rangeEnd };
}

export function spanContains(span: KeySpan, key: Uint8Array): boolean {
  if (span.kind === "single") return compareBytes(span.key, key) === 0;
  return (
    compareBytes(key, span.start) >= 0 && (span.end === null || compareBytes(key, span.end) < 0)
  );
}

// sorted-btree is CommonJS with its class as `exports.default`: imported from ESM, the default
// import is the module object.
const BTree = BTreeModule.default;

export class KeyIndex {
  private readonly tree = new BTree<Uint8Array, KeyHistory>(undefined, compareBytes);
  private readonly byId = new Map<string, KeyHistory>();
  /** Every history's bytes (KeyHistory.bytes) and record hashes, kept as they change. */
  private readonly account: SizeAccount = { bytes: 0, crc: 0, fnv: 0 };

  /** Stored bytes of every record history holds (RECORD_OVERHEAD_BYTES). */
  get storedBytes(): number {
    return this.account.bytes;
  }

  /** The sums of every record's hashes (record-digest.ts): equal record sets, equal sums. */
  get recordDigest(): Readonly<RecordDigest> {
    return this.account;
  }

  get size(): number {
    return this.tree.size;
  }

  /** Every key with history, in key order. */
  all(): IterableIterator<KeyHistory> {
    return this.tree.values();
  }

  get(key: Uint8Array): KeyHistory | undefined {
    return this.byId.get(keyIdOf(key));
  }

  getById(id: string): KeyHistory | undefined {
    return this.byId.get(id);
  }

  getOrCreate(key: Uint8Array): KeyHistory {
    const id = keyIdOf(key);
    const found = this.byId.get(id);
    if (found !== undefined) return found;
    const history = new KeyHistory(copyBytes(key), id);
    history.attach(this.account);
    const added = this.tree.set(history.key, history, false);
    assert(added, "kv: index maps disagree");
    this.byId.set(id, history);
    return history;
  }

  /** Appends a key known to sort after every key present (restoring a snapshot). */
  appendSorted(history: KeyHistory): void {
    const last = this.tree.maxKey();
    assert(last === undefined || compareBytes(last, history.key) < 0, "kv: append order");
    assert(history.records.length > 0, "kv: key without history");
    this.tree.set(history.key, history);
    this.byId.set(history.id, history);
    history.attach(this.account);
  }

  /** The keys with history that `span` names, in key order. */
  histories(span: KeySpan): KeyHistory[] {
    if (span.kind === "single") {
      const h = this.get(span.key);
      return h === undefined ? [] : [h];
    }
    const out: KeyHistory[] = [];
    if (span.end === null) {
      for (const h of this.tree.values(span.start)) out.push(h);
    } else if (compareBytes(span.start, span.end) < 0) {
      this.tree.forRange(span.start, span.end, false, (_k: Uint8Array, h: KeyHistory) => {
        out.push(h);
      });
    }
    return out;
  }

  /** Forgets keys whose history compaction emptied. */
  dropEmpty(): void {
    const empty: Uint8Array[] = [];
    for (const h of this.tree.values()) {
      if (h.records.length > 0) continue;
      empty.push(h.key);
      this.byId.delete(h.id);
    }
    if (empty.length > 0) this.tree.deleteKeys(empty);
    assert(this.byId.size === this.tree.size, "kv: index maps disagree");
  }
}
