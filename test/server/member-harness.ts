// What the in-process member tests share (Member.start on loopback, fast ticks, no logs):
// temporary data directories and started members, all stopped and removed after the file's
// tests, and a bounded poll of a condition.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import type { PeerSpec } from "../../src/server/cluster-config.js";
import { Member, type MemberOptions } from "../../src/server/member.js";
import { waitFor as waitUntil } from "../cluster/processes.js";

export interface MemberHarness {
  /** A fresh temporary directory, removed after the tests. */
  tempDir(): string;
  /** Starts a member (stopped after the tests) with the file's cluster token. */
  startMember(
    name: string,
    dataDir: string,
    initialCluster: PeerSpec[],
    extra?: Partial<MemberOptions>,
  ): Promise<Member>;
}

/** A harness for one test file: `label` names its directories and its cluster token. */
export function memberHarness(label: string): MemberHarness {
  const dirs: string[] = [];
  const members: Member[] = [];
  after(async () => {
    for (const m of members) await m.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  return {
    tempDir: () => {
      const d = mkdtempSync(join(tmpdir(), `ordo-member-${label}-`));
      dirs.push(d);
      return d;
    },
    startMember: async (name, dataDir, initialCluster, extra = {}) => {
      const m = await Member.start({
        name,
        dataDir,
        clientHost: "127.0.0.1",
        clientPort: 0,
        initialCluster,
        clusterToken: `${label}-test`,
        tickMs: 20,
        logger: () => {},
        ...extra,
      });
      members.push(m);
      return m;
    },
  };
}

/** Polls `probe` until it yields a value; fails after `timeoutMs` (test/cluster's waitFor). */
export const waitFor = <T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
): Promise<T> => waitUntil(what, timeoutMs, async () => probe());

/** A member's client endpoint. */
export const endpoint = (m: Member): string => `127.0.0.1:${m.clientPort}`;
