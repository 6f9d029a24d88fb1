// Structured logging (pino), adapted to the runtime's Logger signature, in the shape of etcd's
// zap logs: one JSON object per line on stderr, the level by name and an ISO-8601 UTC time
// first, then the member's name, the fields, and the message:
//   {"level":"info","ts":"2026-12-03T11:40:56.880Z","member":"n1","term":1,"msg":"leader changed"}
// A field named like one of those keys is written with a trailing underscore ("msg_"), so no
// key appears twice in one object.
import pino from "pino";
import type { Logger, LogLevel } from "../rsm/index.js";

const RESERVED = new Set(["level", "ts", "member", "msg"]);

export function createLogger(
  name: string,
  level: LogLevel | "silent" = "info",
  destination: pino.DestinationStream = pino.destination(2),
): Logger {
  const base = pino(
    {
      level,
      base: { member: name },
      timestamp: () => `,"ts":"${new Date().toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  return (lvl, message, fields) => {
    let safe = fields ?? {};
    if (Object.keys(safe).some((k) => RESERVED.has(k)))
      safe = Object.fromEntries(
        Object.entries(safe).map(([k, v]) => [RESERVED.has(k) ? `${k}_` : k, v]),
      );
    base[lvl](safe, message);
  };
}
