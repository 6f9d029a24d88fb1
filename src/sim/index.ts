// The deterministic simulator's public surface.
export { MemoryStorage } from "./memory-storage.js";
export { type RunSeedsOptions, runSeeds, type SeedSummary } from "./runner.js";
export {
  describeMessage,
  type FaultMode,
  runSeed,
  type SimOptions,
  type SimResult,
  Simulation,
} from "./simulation.js";
