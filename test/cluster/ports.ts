// Ports for member processes started by tests. They are chosen below Linux's ephemeral range
// (32768–60999): a port taken from the ephemeral range and released until the child process
// binds it could meanwhile become the local port of some outgoing connection. Each candidate
// is checked free when picked.
import { createServer } from "node:net";

const LOW = 20_000;
const HIGH = 32_000;
let next = LOW + ((process.pid * 7919) % (HIGH - LOW));

async function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

/** A free loopback port outside the ephemeral range. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = next;
    next = next + 1 >= HIGH ? LOW : next + 1;
    if (await canBind(port)) return port;
  }
  throw new Error("no free port found below the ephemeral range");
}
