// Assertions, for every folder: a failed assert is a programmer error, never a bad request or a
// verdict about a checked history. The node stops rather than let its state drift from the others.

/** Thrown when an internal invariant does not hold. Never caught to carry on. */
export class AssertionError extends Error {
  override readonly name = "AssertionError";
}

export function assert(condition: unknown, message = "assertion failed"): asserts condition {
  if (!condition) throw new AssertionError(message);
}

export function assertNever(value: never, what = "value"): never {
  throw new AssertionError(`unexpected ${what}: ${String(value)}`);
}
