// etcd's concurrency recipes on the client, as etcd's clientv3/concurrency package builds them
// (Ordo serves no Lock or Election service, and etcdctl's own lock and elect do not use one):
// a Session is a lease kept alive; a Mutex or an Election under NAME is one key per session,
// NAME/<lease id in hex>, put with the session's lease, and the owner (leader) is the key with
// the lowest create revision. A waiter watches the key created just before its own until it is
// deleted, so waiters are served in order and a crashed holder's key goes with its lease.
// Compatible with etcdctl lock/elect: they contend for the same keys.
import type { KvClient } from "./kv-client.js";
import type { KeyValue } from "./wire.js";

/** A lease kept alive (renewed at a third of its TTL) until close() or until it is lost. */
export class Session {
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  /** Resolves with the reason once the lease is gone (expired, revoked, or renewal failed). */
  readonly done: Promise<string>;

  private constructor(
    readonly client: KvClient,
    readonly lease: string,
    readonly ttlSeconds: number,
  ) {
    this.done = this.keepAlive();
  }

  static async open(client: KvClient, ttlSeconds = 60): Promise<Session> {
    const grant = await client.leaseGrant(ttlSeconds);
    return new Session(client, grant.id, grant.ttl);
  }

  /** The lease id in hexadecimal, unpadded: the last part of the session's keys (etcd's %x). */
  get leaseHex(): string {
    return BigInt.asUintN(64, BigInt(this.lease)).toString(16);
  }

  private async keepAlive(): Promise<string> {
    while (!this.stopped) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, Math.max((this.ttlSeconds * 1000) / 3, 500));
      });
      if (this.stopped) break;
      try {
        const r = await this.client.leaseKeepAliveOnce(this.lease);
        if (r.ttl <= 0) return "session expired";
      } catch (e) {
        return `session lost: ${e instanceof Error ? e.message : String(e)}`;
      }
    }
    return "session closed";
  }

  /** Stops renewing and revokes the lease (its keys go with it). */
  async close(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.wake?.();
    await this.client.leaseRevoke(this.lease).catch(() => {});
  }
}

/**
 * etcd's waitDeletes: waits until no key under `prefix` with a create revision at most
 * `maxCreateRevision` remains, watching the newest such key each time. Ends early when
 * `signal` aborts (rejects with its reason).
 */
async function waitDeletes(
  client: KvClient,
  prefix: string,
  maxCreateRevision: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  for (;;) {
    signal?.throwIfAborted();
    const res = await client.get(prefix, { prefix: true, keysOnly: true });
    const older = res.kvs.filter((kv) => kv.createRevision <= maxCreateRevision);
    if (older.length === 0) return;
    const last = older.reduce((a, b) => (b.createRevision > a.createRevision ? b : a));
    const watch = client.watch(last.keyBytes, { startRevision: res.revision + 1, noPut: true });
    const off = closeOnAbort(watch, signal);
    try {
      for await (const e of watch) if (e.type === "delete") break;
    } finally {
      off();
      watch.close();
    }
  }
}

/** Puts `key` = value with the session's lease unless it exists; its create revision. */
async function createOwnKey(
  session: Session,
  key: string,
  value: string,
): Promise<{ createRevision: number; existing: KeyValue | undefined; revision: number }> {
  const t = await session.client.txn({
    compare: [{ key, target: "createRevision", op: "==", value: 0 }],
    success: [{ type: "put", key, value, lease: session.lease }],
    failure: [{ type: "get", key }],
  });
  if (t.succeeded) return { createRevision: t.revision, existing: undefined, revision: t.revision };
  const got = t.responses[0];
  const kv = got?.type === "get" ? got.kvs[0] : undefined;
  if (kv === undefined) throw new Error(`${key} vanished while being created`);
  return { createRevision: kv.createRevision, existing: kv, revision: t.revision };
}

/** etcd's Mutex: NAME/<lease hex>; held once every older key under NAME/ is gone. */
export class Mutex {
  readonly prefix: string;
  readonly key: string;
  /** The revision at which this session's key was created (etcdctl's ETCD_LOCK_REV). */
  revision = 0;

  constructor(
    private readonly session: Session,
    name: string,
  ) {
    this.prefix = `${name}/`;
    this.key = `${this.prefix}${session.leaseHex}`;
  }

  async lock(signal?: AbortSignal): Promise<void> {
    const own = await createOwnKey(this.session, this.key, "");
    this.revision = own.revision;
    try {
      await waitDeletes(this.session.client, this.prefix, own.createRevision - 1, signal);
    } catch (e) {
      await this.unlock().catch(() => {});
      throw e;
    }
  }

  async unlock(): Promise<void> {
    await this.session.client.delete(this.key);
  }
}

/** etcd's Election: the leader is the oldest key under NAME/; its value is the proclamation. */
export class Election {
  readonly prefix: string;
  readonly key: string;

  constructor(
    private readonly session: Session,
    name: string,
  ) {
    this.prefix = `${name}/`;
    this.key = `${this.prefix}${session.leaseHex}`;
  }

  /** Campaigns with `value`; resolves once this session leads. */
  async campaign(value: string, signal?: AbortSignal): Promise<void> {
    const own = await createOwnKey(this.session, this.key, value);
    if (own.existing !== undefined && own.existing.value !== value) await this.proclaim(value);
    try {
      await waitDeletes(this.session.client, this.prefix, own.createRevision - 1, signal);
    } catch (e) {
      await this.resign().catch(() => {});
      throw e;
    }
  }

  /** A new value from the leader, without another election. */
  async proclaim(value: string): Promise<void> {
    await this.session.client.put(this.key, value, { lease: this.session.lease });
  }

  async resign(): Promise<void> {
    await this.session.client.delete(this.key);
  }

  /**
   * The leader's key-value each time it changes (a new leader or a new proclamation), as etcd's
   * Observe; ends when `signal` aborts.
   */
  static async *observe(
    client: KvClient,
    name: string,
    signal?: AbortSignal,
  ): AsyncGenerator<KeyValue> {
    const prefix = `${name}/`;
    while (signal?.aborted !== true) {
      const res = await client.get(prefix, {
        prefix: true,
        sortOrder: "ASCEND",
        sortTarget: "CREATE",
        limit: 1,
      });
      let leader = res.kvs[0];
      let from = res.revision + 1;
      if (leader === undefined) {
        leader = await firstEvent(
          client,
          prefix,
          { prefix: true, startRevision: from },
          signal,
          "put",
        );
        if (leader === undefined) return;
        from = leader.modRevision + 1;
      }
      yield leader;
      // Every proclamation of this leader, until its key is deleted.
      const watch = client.watch(leader.keyBytes, { startRevision: from });
      const off = closeOnAbort(watch, signal);
      try {
        for await (const e of watch) {
          if (e.type === "delete") break;
          yield e.kv;
        }
      } finally {
        off();
        watch.close();
      }
    }
  }
}

async function firstEvent(
  client: KvClient,
  key: string,
  options: { prefix: boolean; startRevision: number },
  signal: AbortSignal | undefined,
  type: "put" | "delete",
): Promise<KeyValue | undefined> {
  const watch = client.watch(key, options);
  const off = closeOnAbort(watch, signal);
  try {
    for await (const e of watch) if (e.type === type) return e.kv;
    return undefined;
  } finally {
    off();
    watch.close();
  }
}

/**
 * Closes `watch` when `signal` aborts — at once if it already has: a signal that aborted while
 * the caller awaited something else (a get) fires no "abort" event for a listener added after,
 * and the watch would wait on for good (ordo elect -l hung on Ctrl-C when the leader resigned
 * just before). Returns the listener's removal.
 */
function closeOnAbort(watch: { close(): void }, signal: AbortSignal | undefined): () => void {
  if (signal === undefined) return () => {};
  const abort = (): void => watch.close();
  if (signal.aborted) {
    abort();
    return () => {};
  }
  signal.addEventListener("abort", abort, { once: true });
  return () => signal.removeEventListener("abort", abort);
}
