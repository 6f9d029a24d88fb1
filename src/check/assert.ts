// Assertions for the checkers. check/ may import nothing outside itself (DESIGN.md), so it
// keeps its own copy of the core's two helpers rather than reaching into raft/.
// A failed assert is a bug in the checker, never a verdict about the history being checked.

/** Thrown when an internal invariant of a checker does not hold. */
export class CheckerAssertionError extends Error {
  override readonly name = "CheckerAssertionError";
}

export function assert(condition: unknown, message = "assertion failed"): asserts condition {
  if (!condition) throw new CheckerAssertionError(message);
}

export function assertNever(value: never, what = "value"): never {
  throw new CheckerAssertionError(`unexpected ${what}: ${JSON.stringify(value)}`);
}
