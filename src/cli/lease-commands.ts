// `ordo lease ...`: etcd leases through Ordo's client. Lease ids are printed and read in
// hexadecimal, as etcdctl does (--json output also carries the decimal id).
//   ordo lease grant TTL_SECONDS
//   ordo lease revoke ID
//   ordo lease keep-alive ID [--once]     (until Ctrl-C or the lease is gone; --count N to stop)
//   ordo lease ttl ID [--keys]
//   ordo lease list
import { parseArgs } from "node:util";
import { KvClient, leaseIdFromHex, leaseIdToHex } from "../client/index.js";
import { client, common, nonNegative } from "./kv-commands.js";
import type { Output } from "./output.js";

export const LEASE_USAGE =
  "usage: ordo lease grant TTL | revoke ID | keep-alive ID [--once] [--count N] | ttl ID [--keys] | list";

const KEEPALIVE_INTERVAL_MS_MIN = 500;

export async function runLease(args: string[], out: Output): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      ...common,
      once: { type: "boolean", default: false },
      keys: { type: "boolean", default: false },
      count: { type: "string" },
    },
    allowPositionals: true,
    strict: true,
  });
  const [sub, arg, ...extra] = positionals;
  if (sub === undefined || extra.length > 0) throw new Error(LEASE_USAGE);
  if (sub !== "list" && arg === undefined) throw new Error(LEASE_USAGE);
  const c = client(values);
  const json = values.json ?? false;
  const print = (human: string, data: object): void =>
    out.stdout(json ? `${JSON.stringify(data)}\n` : `${human}\n`);
  try {
    switch (sub) {
      case "grant": {
        const ttl = nonNegative(arg, "TTL");
        if (ttl === undefined || ttl === 0) throw new Error("lease grant: TTL must be positive");
        const r = await c.leaseGrant(ttl);
        const hex = leaseIdToHex(r.id);
        print(`lease ${hex} granted with TTL(${r.ttl}s)`, { id: r.id, hex, ttl: r.ttl });
        return 0;
      }
      case "revoke": {
        const id = leaseIdFromHex(arg as string);
        await c.leaseRevoke(id);
        print(`lease ${leaseIdToHex(id)} revoked`, { id, hex: leaseIdToHex(id), revoked: true });
        return 0;
      }
      case "ttl":
      case "timetolive": {
        const id = leaseIdFromHex(arg as string);
        const r = await c.leaseTimeToLive(id, { keys: values.keys ?? false });
        const hex = leaseIdToHex(id);
        if (r.ttl < 0) {
          print(`lease ${hex} already expired`, { ...r, hex });
          return 0;
        }
        const keys = values.keys ? `, attached keys([${r.keys.join(" ")}])` : "";
        print(`lease ${hex} granted with TTL(${r.grantedTtl}s), remaining(${r.ttl}s)${keys}`, {
          ...r,
          hex,
        });
        return 0;
      }
      case "list": {
        const ids = await c.leaseList();
        if (json)
          out.stdout(
            `${JSON.stringify({ leases: ids.map((id) => ({ id, hex: leaseIdToHex(id) })) })}\n`,
          );
        else
          out.stdout(
            `found ${ids.length} leases\n${ids.map((id) => `${leaseIdToHex(id)}\n`).join("")}`,
          );
        return 0;
      }
      case "keep-alive":
      case "keepalive":
        return await keepAlive(c, leaseIdFromHex(arg as string), values, print);
      default:
        throw new Error(LEASE_USAGE);
    }
  } finally {
    c.close();
  }
}

async function keepAlive(
  c: KvClient,
  id: string,
  values: { once?: boolean | undefined; count?: string | undefined },
  print: (human: string, data: object) => void,
): Promise<number> {
  const hex = leaseIdToHex(id);
  const count = values.once ? 1 : nonNegative(values.count, "--count");
  let stopped = false;
  let wake: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const stop = (): void => {
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
    wake?.();
  };
  process.once("SIGINT", stop);
  try {
    for (let sent = 0; !stopped && (count === undefined || sent < count); sent++) {
      const r = await c.leaseKeepAliveOnce(id);
      if (KvClient.leaseGone(r)) {
        print(`lease ${hex} expired or revoked.`, { id, hex, ttl: 0, expired: true });
        return 1;
      }
      print(`lease ${hex} keepalived with TTL(${r.ttl})`, { id, hex, ttl: r.ttl });
      if (count !== undefined && sent + 1 >= count) break;
      // etcd's client renews at a third of the TTL.
      const waitMs = Math.max((r.ttl * 1000) / 3, KEEPALIVE_INTERVAL_MS_MIN);
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, waitMs);
      });
    }
    return 0;
  } finally {
    process.off("SIGINT", stop);
  }
}
