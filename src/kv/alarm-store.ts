// The replicated alarms (etcd's AlarmStore, etcdserver/api/v3alarm/alarms.go): which member
// raised which alarm. Alarms change only by the Alarm command, applied from the log, so every
// replica holds the same set, and the snapshot carries it (a restarted or caught-up member
// still knows the cluster is out of space).
//
// Today only NOSPACE lives here (etcd's space quota, raised by a member whose backend would
// exceed --quota-backend-bytes). Ordo's CORRUPT alarm is the runtime's divergence check, per
// member and not replicated; the server lists it beside these.
import { assert, type ByteReader, type ByteWriter } from "../lib/index.js";
import { invalidArgumentError } from "./errors.js";
import type { ResponseHeader } from "./types.js";

/** etcd's AlarmType, in protobuf order (NONE = 0: "every type" in a Get). */
export const ALARM_TYPES = ["NONE", "NOSPACE", "CORRUPT"] as const;
export type AlarmType = (typeof ALARM_TYPES)[number];

/** etcd's AlarmRequest.AlarmAction, in protobuf order. */
export const ALARM_ACTIONS = ["GET", "ACTIVATE", "DEACTIVATE"] as const;
export type AlarmAction = (typeof ALARM_ACTIONS)[number];

/** One raised alarm (etcd's AlarmMember). memberId: etcd's uint64 id, decimal. */
export interface AlarmMember {
  readonly memberId: string;
  readonly alarm: AlarmType;
}

const U64_MAX = (1n << 64n) - 1n;

/** A canonical decimal uint64 (etcd's member id): digits, no leading zero, at most 2^64 - 1. */
export function isMemberId(text: string): boolean {
  return /^(0|[1-9][0-9]{0,19})$/.test(text) && BigInt(text) <= U64_MAX;
}

/** Member ids order as the numbers they are (shorter first, then by digits). */
function compareMemberIds(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareAlarms(a: AlarmMember, b: AlarmMember): number {
  const byType = ALARM_TYPES.indexOf(a.alarm) - ALARM_TYPES.indexOf(b.alarm);
  return byType !== 0 ? byType : compareMemberIds(a.memberId, b.memberId);
}

/** At most this many alarms are kept (a member id per type; far above any cluster's size). */
export const ALARMS_MAX = 1024;

export class AlarmStore {
  /** Sorted by type, then member id; no duplicates. */
  private list: AlarmMember[] = [];

  /** True when no alarm is raised (the snapshot then omits the alarm section). */
  get pristine(): boolean {
    return this.list.length === 0;
  }

  /** The alarms of `type`, or every alarm for NONE (etcd's AlarmStore.Get), in order. */
  get(type: AlarmType = "NONE"): AlarmMember[] {
    return type === "NONE" ? [...this.list] : this.list.filter((a) => a.alarm === type);
  }

  has(type: AlarmType): boolean {
    return this.list.some((a) => a.alarm === type);
  }

  /**
   * Raises `alarm` for `memberId`; returns the alarm (etcd returns the existing one when it was
   * already raised). Throws INVALID_ARGUMENT for a bad id or type, before any change.
   */
  activate(memberId: string, alarm: AlarmType): AlarmMember {
    checkAlarm(memberId, alarm);
    const existing = this.list.find((a) => a.memberId === memberId && a.alarm === alarm);
    if (existing !== undefined) return existing;
    if (this.list.length >= ALARMS_MAX) {
      throw invalidArgumentError(`at most ${ALARMS_MAX} alarms may be raised`);
    }
    const added: AlarmMember = { memberId, alarm };
    this.list.push(added);
    this.list.sort(compareAlarms);
    return added;
  }

  /** Clears `alarm` for `memberId`; returns it, or undefined when it was not raised. */
  deactivate(memberId: string, alarm: AlarmType): AlarmMember | undefined {
    checkAlarm(memberId, alarm);
    const i = this.list.findIndex((a) => a.memberId === memberId && a.alarm === alarm);
    if (i < 0) return undefined;
    const [removed] = this.list.splice(i, 1);
    assert(removed !== undefined, "kv: alarm vanished");
    return removed;
  }

  /** Appends the alarms, in order: count { memberId alarmType }. */
  encode(w: ByteWriter): void {
    w.uvarint(this.list.length);
    for (const a of this.list) {
      w.stringVarint(a.memberId);
      w.u8(ALARM_TYPES.indexOf(a.alarm));
    }
  }

  /** Reads what encode wrote, checking ids, types and order; a DecodeError for anything else. */
  static decode(r: ByteReader): AlarmStore {
    const store = new AlarmStore();
    const count = r.count("alarms", ALARMS_MAX, 3);
    let prev: AlarmMember | undefined;
    for (let i = 0; i < count; i++) {
      const memberId = r.stringVarint("alarm member id", 20);
      if (!isMemberId(memberId)) r.fail(`bad alarm member id ${JSON.stringify(memberId)}`);
      const alarm = r.oneOf(ALARM_TYPES, "alarm type");
      if (alarm === "NONE") r.fail("alarm of type NONE");
      const next: AlarmMember = { memberId, alarm };
      if (prev !== undefined && compareAlarms(prev, next) >= 0) r.fail("alarms out of order");
      store.list.push(next);
      prev = next;
    }
    return store;
  }
}

function checkAlarm(memberId: string, alarm: AlarmType): void {
  if (!isMemberId(memberId)) {
    throw invalidArgumentError(`alarm member id ${JSON.stringify(memberId)} is not a uint64`);
  }
  if (!ALARM_TYPES.includes(alarm) || alarm === "NONE") {
    throw invalidArgumentError(`cannot raise or clear an alarm of type ${String(alarm)}`);
  }
}

/** etcd's AlarmRequest. memberId: whose alarm ("0" with GET: any). */
export interface AlarmRequest {
  readonly action: AlarmAction;
  readonly memberId: string;
  readonly alarm: AlarmType;
}

/** etcd's AlarmResponse: the alarms listed, raised or cleared. */
export interface AlarmResponse {
  readonly header: ResponseHeader;
  readonly alarms: readonly AlarmMember[];
}
