// The key index: every key with history, in bytewise order (for ranges) and by id (for point
// lookups). A sorted array with binary search: inserting a new key moves pointers, O(keys),
// which is cheap next to the encode, log and fsync that precede every write at the sizes an
// etcd store holds (etcd itself suggests staying under a few million keys).
import { assert } from "./assert.js";
import { compareBytes, copyBytes, keyIdOf } from "./bytes.js";
import { KeyHistory } from "./key-history.js";

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

export class KeyIndex {
  private readonly sorted: KeyHistory[] = [];
  private readonly byId = new Map<string, KeyHistory>();

  get size(): number {
    return this.sorted.length;
  }

  /** Every key with history, in key order. */
  all(): readonly KeyHistory[] {
    return this.sorted;
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
    const at = this.lowerBound(key);
    assert(
      at === this.sorted.length || compareBytes(this.sorted[at]!.key, key) > 0,
      "kv: index order",
    );
    this.sorted.splice(at, 0, history);
    this.byId.set(id, history);
    return history;
  }

  /** Appends a key known to sort after every key present (restoring a snapshot). */
  appendSorted(history: KeyHistory): void {
    const last = this.sorted[this.sorted.length - 1];
    assert(last === undefined || compareBytes(last.key, history.key) < 0, "kv: append order");
    assert(history.records.length > 0, "kv: key without history");
    this.sorted.push(history);
    this.byId.set(history.id, history);
  }

  /** The keys with history that `span` names, in key order. */
  histories(span: KeySpan): KeyHistory[] {
    if (span.kind === "single") {
      const h = this.get(span.key);
      return h === undefined ? [] : [h];
    }
    const out: KeyHistory[] = [];
    for (let i = this.lowerBound(span.start); i < this.sorted.length; i++) {
      const h = this.sorted[i]!;
      if (span.end !== null && compareBytes(h.key, span.end) >= 0) break;
      out.push(h);
    }
    return out;
  }

  /** Forgets keys whose history compaction emptied. */
  dropEmpty(): void {
    let kept = 0;
    for (let i = 0; i < this.sorted.length; i++) {
      const h = this.sorted[i]!;
      if (h.records.length === 0) this.byId.delete(h.id);
      else this.sorted[kept++] = h;
    }
    this.sorted.length = kept;
    assert(this.byId.size === this.sorted.length, "kv: index maps disagree");
  }

  /** The first position whose key is ≥ key. */
  private lowerBound(key: Uint8Array): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareBytes(this.sorted[mid]!.key, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
