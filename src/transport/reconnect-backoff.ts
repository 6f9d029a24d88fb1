// Delays between connection attempts to a peer: exponential from backoffMinMs to backoffMaxMs,
// with "equal jitter" (half the delay fixed, half random) so that nodes restarted together do
// not dial in lockstep, yet a delay never collapses to zero. Randomness is injected so tests
// can fix it; the transport is I/O, not the deterministic core, and uses Math.random.
import { assert } from "../lib/index.js";

/** Doublings before the delay is certainly capped; bounds the exponent. */
const DOUBLINGS_MAX = 40;

export class ReconnectBackoff {
  private attempts = 0;

  constructor(
    readonly backoffMinMs: number,
    readonly backoffMaxMs: number,
    private readonly random: () => number = Math.random,
  ) {
    assert(Number.isFinite(backoffMinMs) && backoffMinMs > 0, "backoff: min must be > 0");
    assert(Number.isFinite(backoffMaxMs) && backoffMaxMs >= backoffMinMs, "backoff: max < min");
  }

  /** Attempts since the last reset. */
  get failures(): number {
    return this.attempts;
  }

  /** The delay before the next attempt; each call doubles the next one, up to the max. */
  nextDelayMs(): number {
    const exponent = Math.min(this.attempts, DOUBLINGS_MAX);
    this.attempts++;
    return this.jittered(Math.min(this.backoffMaxMs, this.backoffMinMs * 2 ** exponent));
  }

  /**
   * The longest delay, for when the peer answered and said no (wrong cluster or node): trying
   * again soon cannot help, and it must not become a hot loop.
   */
  longestDelayMs(): number {
    this.attempts = DOUBLINGS_MAX;
    return this.jittered(this.backoffMaxMs);
  }

  /** A connection worked: start again from the shortest delay. */
  reset(): void {
    this.attempts = 0;
  }

  private jittered(ceilingMs: number): number {
    const r = this.random();
    assert(r >= 0 && r < 1, "backoff: random out of [0, 1)");
    const delay = ceilingMs / 2 + (r * ceilingMs) / 2;
    assert(delay >= ceilingMs / 2 && delay <= ceilingMs, "backoff: delay out of range");
    return Math.round(delay);
  }
}
