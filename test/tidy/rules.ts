// What the tidy tests share: the APIs a deterministic folder may not name, and the source text
// with comments and string contents blanked, so that prose may mention what code may not use.

/** A clock, global randomness, timers, the environment, Node's crypto, global state, output. */
export const NONDETERMINISTIC_APIS: readonly RegExp[] = [
  /\bDate\b/,
  /\bMath\.random\b/,
  /\bperformance\b/,
  /\bsetTimeout\b|\bsetInterval\b|\bsetImmediate\b|\bqueueMicrotask\b/,
  /\bprocess\b/,
  /\bcrypto\b/,
  /\bglobalThis\b/,
  /\bconsole\b/,
];

export function codeOf(source: string): string {
  return source
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/\/\/.*$/gm, "")
    .replace(/"(?:[^"\\\n]|\\.)*"/g, '""')
    .replace(/`(?:[^`\\]|\\.)*`/g, "``");
}

/** The module specifiers a source file imports or re-exports from. */
export const importsOf = (source: string): string[] =>
  [...source.matchAll(/^(?:import|export)\b[^;]*?from "([^"]+)"/gms)].map((m) => m[1] as string);
