// The deterministic simulator's public surface.
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
