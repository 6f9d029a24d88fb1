// The determinism trap: while a state machine applies an entry (in tests and the simulator),
// the clock, Math.random, timers and crypto randomness throw, so a nondeterministic state
// machine fails loudly at the offending call instead of silently diverging replicas.
import { DeterminismViolation } from "./errors.js";

type AnyFn = (...args: unknown[]) => unknown;

const trapped =
  (what: string): AnyFn =>
  () => {
    throw new DeterminismViolation(
      `${what} called inside StateMachine.apply: use ctx.timestampMs and ctx.random, which are the same on every replica`,
    );
  };

interface Saved {
  readonly target: Record<string, unknown>;
  readonly key: string;
  readonly value: unknown;
}

/** Runs `fn` with nondeterministic globals trapped; restores them afterwards, even on throw. */
export function withDeterminismTrap<T>(fn: () => T): T {
  const g = globalThis as unknown as Record<string, unknown>;
  const saved: Saved[] = [];
  const replace = (
    target: Record<string, unknown> | undefined,
    key: string,
    what: string,
  ): void => {
    if (target === undefined || typeof target[key] !== "function") return;
    saved.push({ target, key, value: target[key] });
    target[key] = trapped(what);
  };
  const RealDate = Date;
  const TrappedDate = new Proxy(RealDate, {
    construct(target, args: unknown[]): object {
      if (args.length === 0) trapped("new Date()")();
      return Reflect.construct(target, args) as object;
    },
    apply(_target, _this, args: unknown[]) {
      return trapped("Date()")(...args);
    },
    get(target, prop, receiver) {
      if (prop === "now") return trapped("Date.now");
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
  replace(Math as unknown as Record<string, unknown>, "random", "Math.random");
  replace(g, "setTimeout", "setTimeout");
  replace(g, "setInterval", "setInterval");
  replace(g, "setImmediate", "setImmediate");
  replace(g.performance as Record<string, unknown> | undefined, "now", "performance.now");
  replace(
    g.crypto as Record<string, unknown> | undefined,
    "getRandomValues",
    "crypto.getRandomValues",
  );
  replace(g.crypto as Record<string, unknown> | undefined, "randomUUID", "crypto.randomUUID");
  const process = g.process as Record<string, unknown> | undefined;
  replace(process, "hrtime", "process.hrtime");
  saved.push({ target: g, key: "Date", value: RealDate });
  g.Date = TrappedDate;
  try {
    return fn();
  } finally {
    for (let i = saved.length - 1; i >= 0; i--) {
      const s = saved[i] as Saved;
      s.target[s.key] = s.value;
    }
  }
}
