// `ordo lease ...`: etcd leases through Ordo's client. Lease ids are printed and read in
// hexadecimal (16 digits), as etcdctl does; -w json|fields print etcdctl's shapes (decimal ids).
//   ordo lease grant TTL_SECONDS
//   ordo lease revoke ID
//   ordo lease keep-alive ID [--once]     (until Ctrl-C or the lease is gone; --count N to stop)
//   ordo lease ttl ID [--keys]
//   ordo lease list
import { parseArgs } from "node:util";
import { KvClient, leaseIdFromHex, leaseIdToHex } from "../client/index.js";
import { nonNegative } from "./int-flags.js";
import { client, common } from "./kv-commands.js";
import type { Output } from "./output.js";
import {
  base64,
  field,
  goQuote,
  headerFields,
  headerJson,
  num,
  omitEmpty,
  toJson,
  type WriteOut,
  writeOutOf,
} from "./write-out.js";

export const LEASE_USAGE =
  "usage: ordo lease grant TTL | revoke ID | keep-alive ID [--once] [--count N] | ttl ID [--keys] | list";

const KEEPALIVE_INTERVAL_MS_MIN = 500;

const leaseOptions = {
  ...common,
  once: { type: "boolean", default: false },
  keys: { type: "boolean", default: false },
  count: { type: "string" },
} as const;

export async function runLease(args: string[], out: Output): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: leaseOptions,
    allowPositionals: true,
    strict: true,
  });
  const [sub, arg, ...extra] = positionals;
  if (sub === undefined || extra.length > 0) throw new Error(LEASE_USAGE);
  if (sub !== "list" && arg === undefined) throw new Error(LEASE_USAGE);
  const format = writeOutOf(values);
  const c = client(values);
  const print: Print = (human, json, fields) =>
    out.stdout(
      format === "json" ? `${toJson(json)}\n` : format === "fields" ? fields : `${human}\n`,
    );
  try {
    switch (sub) {
      case "grant": {
        const ttl = nonNegative(arg, "TTL");
        if (ttl === undefined || ttl === 0) throw new Error("lease grant: TTL must be positive");
        const r = await c.leaseGrant(ttl);
        const hex = leaseIdToHex(r.id);
        print(
          `lease ${hex} granted with TTL(${r.ttl}s)`,
          { ...headerJson(r.header), ID: num(r.id), TTL: num(r.ttl), Error: "" },
          headerFields(r.header) + field("ID", r.id) + field("TTL", r.ttl),
        );
        return 0;
      }
      case "revoke": {
        const id = leaseIdFromHex(arg as string);
        const { header } = await c.leaseRevoke(id);
        print(
          `lease ${leaseIdToHex(id)} revoked`,
          { header: headerJson(header) },
          headerFields(header),
        );
        return 0;
      }
      case "ttl":
      case "timetolive":
        await leaseTtl(c, leaseIdFromHex(arg as string), values.keys ?? false, print);
        return 0;
      case "list":
        out.stdout(leaseListText(format, await c.leaseLeases()));
        return 0;
      case "keep-alive":
      case "keepalive":
        return await keepAlive(c, leaseIdFromHex(arg as string), values, format, out);
      default:
        throw new Error(LEASE_USAGE);
    }
  } finally {
    c.close();
  }
}

/** One answer: the simple line, etcdctl's JSON object, or its fields. */
type Print = (human: string, json: object, fields: string) => void;

/** `ordo lease ttl ID [--keys]`: etcdctl's lease timetolive. */
async function leaseTtl(c: KvClient, id: string, withKeys: boolean, print: Print): Promise<void> {
  const r = await c.leaseTimeToLive(id, { keys: withKeys });
  const hex = leaseIdToHex(id);
  const keyBytes = r.keyBytes ?? r.keys.map((k) => Buffer.from(k));
  const json = {
    ...headerJson(r.header),
    id: num(r.id),
    ttl: num(r.ttl),
    "granted-ttl": num(r.grantedTtl),
    keys: keyBytes.length === 0 ? null : keyBytes.map(base64),
  };
  const fields =
    headerFields(r.header) +
    field("ID", r.id) +
    field("TTL", r.ttl) +
    field("GrantedTTL", r.grantedTtl) +
    keyBytes.map((k) => field("Key", goQuote(k))).join("");
  if (r.ttl < 0) {
    print(`lease ${hex} already expired`, json, fields);
    return;
  }
  const keys = withKeys ? `, attached keys([${r.keys.join(" ")}])` : "";
  print(
    `lease ${hex} granted with TTL(${r.grantedTtl}s), remaining(${r.ttl}s)${keys}`,
    json,
    fields,
  );
}

/** `ordo lease list` in each of etcdctl's formats. */
function leaseListText(
  format: WriteOut,
  { ids, header }: Awaited<ReturnType<KvClient["leaseLeases"]>>,
): string {
  if (format === "json")
    return `${toJson({ ...headerJson(header), leases: omitEmpty(ids.map((id) => ({ id: num(id) }))) })}\n`;
  if (format === "fields") return headerFields(header) + ids.map((id) => field("ID", id)).join("");
  return `found ${ids.length} leases\n${ids.map((id) => `${leaseIdToHex(id)}\n`).join("")}`;
}

async function keepAlive(
  c: KvClient,
  id: string,
  values: { once?: boolean | undefined; count?: string | undefined },
  format: WriteOut,
  out: Output,
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
        // etcdctl says so in every format.
        out.stdout(`lease ${hex} expired or revoked.\n`);
        return 1;
      }
      if (format === "json")
        out.stdout(`${toJson({ ...headerJson(r.header), ID: num(r.id), TTL: num(r.ttl) })}\n`);
      else if (format === "fields")
        out.stdout(headerFields(r.header) + field("ID", r.id) + field("TTL", r.ttl));
      else out.stdout(`lease ${hex} keepalived with TTL(${r.ttl})\n`);
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
