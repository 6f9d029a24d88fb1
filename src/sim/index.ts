// The deterministic simulator's public surface.

export { renderSimReport } from "./html-report.js";
export { MemoryStorage } from "./memory-storage.js";
export { type RunSeedsOptions, runSeedAsync, runSeeds, type SeedSummary } from "./runner.js";
export type { FaultMode, SimOptions, SimStack } from "./sim-options.js";
export { runSeed, Simulation } from "./simulation.js";
export {
  type LinkChange,
  MESSAGES_KEPT_MAX,
  type MemberStatus,
  type SimObserver,
  type SimStory,
  type StateChange,
  type StoryFault,
  type StoryMessage,
  StoryRecorder,
  type StoryViolation,
} from "./story.js";
export { describeMessage } from "./trace.js";
export type { SimResult } from "./verdict.js";
