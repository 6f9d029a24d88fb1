// Time for the runtime, injected: the real clock in production, a simulated one in tests and
// the simulator. The Raft core never sees it; it only gets tick() calls.

export interface Clock {
  /** Wall-clock time in Unix milliseconds (used to stamp entries on the leader). */
  nowMs(): number;
  /**
   * Monotonic milliseconds (any origin), which keep running while the process is paused. Lease
   * reads count the core's ticks by it, so a pause (GC, SIGSTOP, a stalled VM) cannot stretch a
   * lease: the ticks it missed are made up before the next read or tick.
   */
  monotonicMs(): number;
  /** Calls `callback` every `intervalMs`; returns a function that stops it. */
  every(intervalMs: number, callback: () => void): () => void;
  /** Calls `callback` once after `delayMs`; returns a function that cancels it. */
  after(delayMs: number, callback: () => void): () => void;
}

export const systemClock: Clock = {
  nowMs: () => Date.now(),
  monotonicMs: () => performance.now(),
  every: (intervalMs, callback) => {
    const handle = setInterval(callback, intervalMs);
    return () => clearInterval(handle);
  },
  after: (delayMs, callback) => {
    const handle = setTimeout(callback, delayMs);
    return () => clearTimeout(handle);
  },
};
