// Integer flags of the `ordo` commands: a clear error naming the flag and what it takes, so a
// mistyped number exits 2 (main.ts) instead of becoming NaN further in.

/** A flag that must be a positive integer; `fallback` when it is not given. */
export function positiveInt(text: string | undefined, flag: string, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new Error(`${flag} must be a positive integer, not "${text}"`);
  return n;
}

/** A flag that must be a non-negative integer; undefined when it is not given. */
export function nonNegative(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${flag} must be a non-negative integer`);
  return n;
}
