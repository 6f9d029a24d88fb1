// Ports for member processes started by tests. They are chosen below Linux's ephemeral range
// (32768–60999): a port taken from the ephemeral range and released until the child process
// binds it could meanwhile become the local port of some outgoing connection. Each candidate
// is checked free when picked, and claimed by a lock file (O_EXCL) in the temp directory
// holding the picking process's pid: test files run as concurrent processes, and two of them
// could otherwise pick the same free port before either child has bound it. A claim whose
// process is gone is taken over; a process's claims are released when it exits.
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const LOW = 20_000;
const HIGH = 32_000;
let next = LOW + ((process.pid * 7919) % (HIGH - LOW));
const CLAIMS = join(tmpdir(), "ordo-test-ports");
const claimed: string[] = [];
process.once("exit", () => {
  for (const file of claimed) rmSync(file, { force: true });
});

async function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Claims `port` for this process; false when a live process holds it. */
function claim(port: number): boolean {
  mkdirSync(CLAIMS, { recursive: true });
  const file = join(CLAIMS, String(port));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      claimed.push(file);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      let text: string | undefined;
      try {
        text = readFileSync(file, "utf8");
      } catch {
        continue; // removed meanwhile: try again
      }
      // An empty claim is one being written right now.
      const owner = Number(text);
      if (text === "" || owner === process.pid || alive(owner)) return false;
      rmSync(file, { force: true }); // a claim left by a process that is gone
    }
  }
  return false;
}

/** A free loopback port outside the ephemeral range, claimed for this process. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 500; attempt++) {
    const port = next;
    next = next + 1 >= HIGH ? LOW : next + 1;
    if (claim(port) && (await canBind(port))) return port;
  }
  throw new Error("no free port found below the ephemeral range");
}
