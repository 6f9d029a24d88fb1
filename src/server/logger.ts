// Structured logging with levels (pino), adapted to the runtime's Logger signature.
import pino from "pino";
import type { Logger, LogLevel } from "../rsm/index.js";

export function createLogger(name: string, level: LogLevel | "silent" = "info"): Logger {
  const base = pino({ name, level }, pino.destination(2));
  return (lvl, message, fields) => base[lvl](fields ?? {}, message);
}
