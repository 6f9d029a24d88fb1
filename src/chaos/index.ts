// The public surface of chaos/: `ordo chaos` — real faults on real member processes.
export * from "./checks.js";
export { ChaosCluster, freePorts, type MemberStatus } from "./cluster.js";
export { MemberProcess } from "./member-process.js";
export { ChaosNetwork, type LinkFault } from "./proxy.js";
export {
  type ChaosOptions,
  type ChaosPhaseProgress,
  type ChaosReport,
  rerunCommand,
  runChaos,
} from "./run.js";
export * from "./schedule.js";
