// The space quota at the API layer, as etcd 3.4's quotaKVServer / quotaLeaseServer
// (etcdserver/api/v3rpc/quota.go) with backendQuota (etcdserver/quota.go): before a Put, Txn or
// LeaseGrant is proposed, the member compares its dbSize plus the request's cost with
// --quota-backend-bytes; a request that does not fit makes the member raise NOSPACE through the
// log (AlarmRequest ACTIVATE NOSPACE under its own id) and is refused with ErrGRPCNoSpace,
// RESOURCE_EXHAUSTED "etcdserver: mvcc: database space exceeded". Once the alarm is applied every
// member's apply refuses those writes too (kv/kv-state-machine.ts, etcd's applierV3Capped), so
// the refusal holds whichever member a client talks to.
//
// etcd also raises the alarm from apply (quotaApplierV3: a write that fit at its proposer but
// leaves this member over quota); the member does the same with afterWrite(), off the apply path.
import {
  type AlarmRequest,
  type AlarmResponse,
  type AlarmStore,
  encodeCommand,
  noSpaceError,
  type PlainKvCommand,
  quotaAvailable,
  quotaCostOf,
} from "../kv/index.js";
import { responseOf } from "./kv-service.js";

export interface SpaceQuotaParts {
  /** The quota in bytes (kv/ quotaBytesOf); undefined: no quota (etcd's passthroughQuota). */
  readonly quotaBytes: number | undefined;
  /** This member's dbSize (etcd's backend Size): the largest since the last defragment. */
  readonly dbSize: () => number;
  /** The replicated alarms (KvStore.alarms). */
  readonly alarms: () => AlarmStore;
  /** This member's etcd id (decimal). */
  readonly memberId: () => string;
  /** Proposes AlarmRequest{ACTIVATE, memberId, NOSPACE}; resolves once applied here. */
  readonly raiseNoSpace: (memberId: string) => Promise<void>;
  /** Hears a failed alarm proposal (the refusal stands; the next write tries again). */
  readonly onRaiseError?: (error: unknown) => void;
}

export class SpaceQuota {
  private raising: Promise<void> | undefined;
  private checkPending = false;

  constructor(private readonly parts: SpaceQuotaParts) {}

  get quotaBytes(): number | undefined {
    return this.parts.quotaBytes;
  }

  /**
   * etcd's quotaAlarmer.check: resolves when `command` may be proposed; otherwise raises NOSPACE
   * (waiting for it, as etcd waits for its Alarm call) and throws NO_SPACE. Commands the quota
   * does not cover (Range, DeleteRange, Compaction, ...) always pass.
   */
  async check(command: PlainKvCommand): Promise<void> {
    const quota = this.parts.quotaBytes;
    if (quota === undefined) return;
    const cost = quotaCostOf(command);
    if (cost === undefined || quotaAvailable(this.parts.dbSize(), cost, quota)) return;
    await this.raise();
    throw noSpaceError();
  }

  /**
   * etcd's quotaApplierV3: after a write applied here, a member over its quota raises NOSPACE
   * (once: nothing is proposed while its alarm is raised or being raised).
   */
  afterWrite(): void {
    const quota = this.parts.quotaBytes;
    if (quota === undefined || quotaAvailable(this.parts.dbSize(), 0, quota)) return;
    void this.raise();
  }

  /** afterWrite() on the next turn of the event loop, once however many writes ask for it. */
  afterWriteSoon(): void {
    if (this.checkPending) return;
    this.checkPending = true;
    setImmediate(() => {
      this.checkPending = false;
      this.afterWrite();
    });
  }

  /** One alarm proposal at a time; none when this member's NOSPACE is already raised. */
  private raise(): Promise<void> {
    const memberId = this.parts.memberId();
    const raised = this.parts
      .alarms()
      .get("NOSPACE")
      .some((a) => a.memberId === memberId);
    if (raised) return Promise.resolve();
    if (this.raising !== undefined) return this.raising;
    const raising = this.parts.raiseNoSpace(memberId).then(
      () => {},
      (e: unknown) => {
        try {
          this.parts.onRaiseError?.(e);
        } catch {
          // A logger's failure must not become the caller's.
        }
      },
    );
    this.raising = raising;
    void raising.finally(() => {
      if (this.raising === raising) this.raising = undefined;
    });
    return raising;
  }
}

/**
 * Proposes an Alarm command through `propose` (the runtime's, resolving with the encoded result
 * once applied here) and answers its response; a KvError for a refused one.
 */
export async function proposeAlarm(
  propose: (command: Uint8Array) => Promise<Uint8Array>,
  request: AlarmRequest,
): Promise<AlarmResponse> {
  return responseOf(await propose(encodeCommand({ type: "Alarm", request })), "Alarm");
}
