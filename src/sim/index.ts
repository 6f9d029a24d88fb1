// The deterministic simulator's public surface.

export { renderSimReport } from "./html-report.js";
export { MemoryStorage } from "./memory-storage.js";
export { type RunSeedsOptions, runSeeds, type SeedSummary } from "./runner.js";
export {
  describeMessage,
  type FaultMode,
  runSeed,
  runSeedAsync,
  type SimOptions,
  type SimResult,
  type SimStack,
  Simulation,
} from "./simulation.js";
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
