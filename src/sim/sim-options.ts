// What a simulated run is asked to do: the options of `ordo sim` and of the simulation tests.
import type { TestingFaults } from "../raft/index.js";
import type { SimObserver } from "./story.js";

/**
 * "all": every fault, a wiped disk now and then; "wipe": every fault, and wiped disks often
 * (a member that just voted, restarted at once); "none": no faults.
 */
export type FaultMode = "all" | "none" | "wipe";
/** "core": the Raft core with a minimal driver; "runtime": the full runtime with the MVCC store. */
export type SimStack = "core" | "runtime";

export interface SimOptions {
  readonly seed: number;
  /** Cluster size; by default 3, 5 or 7 chosen by the seed. */
  readonly nodes?: number;
  readonly faults?: FaultMode;
  readonly stack?: SimStack;
  /** Virtual milliseconds of faults before the cluster is healed. */
  readonly faultPhaseMs?: number;
  /** Virtual milliseconds after healing within which everything must recover. */
  readonly recoveryMs?: number;
  readonly testingFaults?: TestingFaults;
  /** Keep the full history in the result (for --history). */
  readonly keepHistory?: boolean;
  /** Trace lines kept for a failure report. */
  readonly traceLines?: number;
  /**
   * Change membership during the faults (runtime stack): add members (as learners or voters,
   * from empty logs), promote learners, remove members (the leader too), replace voters through
   * joint configurations, transfer leadership. Final checks cover the final configuration.
   */
  readonly reconfig?: boolean;
  /** Linearizable reads by ReadIndex (default) or the leader's lease (runtime stack). */
  readonly readMode?: "index" | "lease";
  /** The clock-rate difference lease mode is configured to tolerate (RaftOptions). Default 0.1. */
  readonly leaseClockDrift?: number;
  /**
   * Clock-rate skew to simulate, adversarially: a leader ticks at rate 1 (every TICK_MS) and
   * every other member at rate 1 + skew, so the leader's lease outlasts the followers' election
   * timeouts as much as the skew allows. Beyond leaseClockDrift, lease reads can be stale: the
   * checkers must catch it. Default 0 (every member ticks every TICK_MS).
   */
  readonly clockRateSkew?: number;
  /**
   * Told what happens, for a picture of the run (story.ts: StoryRecorder). It only reads: the
   * run is the same with or without it.
   */
  readonly observer?: SimObserver;
}
