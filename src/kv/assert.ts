// Assertions for the key-value state machine. kv/ may import only types from the Raft core, so
// it carries its own two-line copy. A failed assert is a programmer error, never a bad request:
// the node stops rather than let this replica's state drift from the others.

/** Thrown when an internal invariant of the store does not hold. Never caught to carry on. */
export class KvAssertionError extends Error {
  override readonly name = "AssertionError";
}

export function assert(condition: unknown, message = "kv: assertion failed"): asserts condition {
  if (!condition) throw new KvAssertionError(message);
}

export function assertNever(value: never, what = "value"): never {
  throw new KvAssertionError(`kv: unexpected ${what}: ${String(value)}`);
}
