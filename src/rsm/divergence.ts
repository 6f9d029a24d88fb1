// Divergence detection: replicas compare hashes of their state at the same log index, through
// the log. Every so many applied entries the leader proposes a HashCheck; each replica hashes
// its state when that entry applies and keeps the hash; the leader's own hash travels in a
// HashReport entry, and a replica whose hash at that index differs raises an alarm, for the
// operator (etcd's CORRUPT alarm).

export interface DivergenceAlarm {
  readonly index: number;
  readonly ours: string;
  readonly leaders: string;
}

const HASHES_KEPT = 16;
const ALARMS_KEPT = 100;

export class DivergenceDetector {
  private readonly hashes = new Map<number, string>();
  private readonly alarmList: DivergenceAlarm[] = [];
  private appliedSinceCheck = 0;

  /** `every`: applied entries between checks (0 disables). */
  constructor(private readonly every: number) {}

  get alarms(): readonly DivergenceAlarm[] {
    return this.alarmList;
  }

  /** One more entry applied. */
  applied(): void {
    this.appliedSinceCheck++;
  }

  /** True when the leader should propose a HashCheck now (and the count starts again). */
  checkDue(): boolean {
    if (this.every <= 0 || this.appliedSinceCheck < this.every) return false;
    this.appliedSinceCheck = 0;
    return true;
  }

  /** A HashCheck applied at `index`, where our state hashes to `hash`. */
  recordHash(index: number, hash: string): void {
    this.hashes.set(index, hash);
    if (this.hashes.size > HASHES_KEPT)
      this.hashes.delete(this.hashes.keys().next().value as number);
  }

  /** The leader's hash at `index` arrived: an alarm if ours at that index differs. */
  compare(index: number, leaders: string): DivergenceAlarm | undefined {
    const ours = this.hashes.get(index);
    if (ours === undefined || ours === leaders) return undefined;
    // A digest's hash ("d:…") and a snapshot's are not comparable (a member of another
    // version, or a state machine that gained a digest): nothing is known.
    if (ours.startsWith("d:") !== leaders.startsWith("d:")) return undefined;
    const alarm = { index, ours, leaders };
    this.alarmList.push(alarm);
    if (this.alarmList.length > ALARMS_KEPT) this.alarmList.shift();
    return alarm;
  }

  /** A snapshot replaced the state: hashes of the old one compare nothing. */
  reset(): void {
    this.hashes.clear();
  }
}
