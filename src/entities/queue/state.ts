/**
 * The waiting room's state, free of Temporal. Fans are remembered by a keyed 64-bit hash of their id, in
 * position order, so 50,000 fans cost 400 KB and travel through continue-as-new as one binary argument.
 * Admission is pure bookkeeping: positions are admitted in order while admitted-but-unfinished fans stay
 * under `maxActivePurchases` and seats may remain. Time and randomness are passed in.
 */
import { FailureCode } from '../../failures';
import {
  ADMISSION_GRACE_MS,
  ADMISSION_LOG_LIMIT,
  ADMIT_RATE_WINDOW_MS,
  MAX_WAITING_ROOM_FANS,
  shufflePosition,
  type ActiveAdmission,
  type AdmissionClaim,
  type AdmissionLogEntry,
  type AdmissionRange,
  type AdmissionUsed,
  type ClaimToCheck,
  type JoinAnswer,
  type PurchaseFinished,
  type PurchaseOutcome,
  type QueueSettings,
  type QueueSnapshot,
  type QueueView,
} from './contract';

const HASH_BYTES = 8;

/** A keyed 64-bit hash (two 32-bit lanes) of a fan id, as 16 hex digits. */
export function fanHash(fanId: string, key: [number, number]): string {
  let h1 = (0xdeadbeef ^ key[0]) >>> 0;
  let h2 = (0x41c6ce57 ^ key[1]) >>> 0;
  for (let i = 0; i < fanId.length; i++) {
    const c = fanId.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  h1 = (h1 ^ fanId.length) >>> 0;
  return (h1 >>> 0).toString(16).padStart(8, '0') + (h2 >>> 0).toString(16).padStart(8, '0');
}

export function packHashes(hashes: readonly string[]): Uint8Array {
  const bytes = new Uint8Array(hashes.length * HASH_BYTES);
  hashes.forEach((hash, i) => {
    for (let b = 0; b < HASH_BYTES; b++)
      bytes[i * HASH_BYTES + b] = parseInt(hash.slice(b * 2, b * 2 + 2), 16);
  });
  return bytes;
}

export function unpackHashes(bytes: Uint8Array | undefined): string[] {
  if (!bytes) return [];
  const hashes: string[] = new Array<string>(bytes.length / HASH_BYTES);
  for (let i = 0; i < hashes.length; i++) {
    let hash = '';
    for (let b = 0; b < HASH_BYTES; b++) hash += bytes[i * HASH_BYTES + b].toString(16).padStart(2, '0');
    hashes[i] = hash;
  }
  return hashes;
}

const noOutcomes = (): Record<PurchaseOutcome, number> => ({ completed: 0, failed: 0, cancelled: 0 });

/** Admitted fans buy in no more than a quarter more than the unsold seats (about a fifth of purchases fail). */
const OVERBOOKING = 1.25;
/**
 * An admitted fan who has not started buying this long after admission probably walked away: it keeps its
 * admission until it expires, but no longer stands for one of the unsold seats, nor (goneFansFreeSlots) for
 * one of the purchases the path can take at once.
 */
export const LIKELY_GONE_MS = 20_000;
/** With gone fans' slots given back, at most this many times maxActivePurchases hold an admission at once. */
const ADMITTED_AT_ONCE = 2;

/**
 * How many more fans may be admitted now. The fans engaged in buying (purchasing, or admitted moments ago)
 * stay under `maxActivePurchases`, the pace the purchase path can take, and near the end under the unsold
 * seats plus a quarter: admitting more would only start purchases bound to fail with SOLD_OUT. A fan who
 * walked away neither loads the purchase path nor buys a seat: counting it held a slot for its whole
 * admission TTL (in a 50,000-fan drop, 5 % of admitted fans walking away for 120 s each idled about a
 * quarter of the slots). Runs from before that rule count every admitted fan under maxActivePurchases;
 * with it, every admission still counts under twice that, so a crowd that comes back stays bounded.
 */
export function admissionRoom(
  settings: QueueSettings,
  sold: number,
  active: Iterable<ActiveAdmission>,
  now: number,
): number {
  let size = 0;
  let engaged = 0;
  for (const entry of active) {
    size++;
    if (entry.state === 'purchasing' || now < admittedAt(settings, entry) + LIKELY_GONE_MS) engaged++;
  }
  const seatRoom = Math.ceil((settings.capacity - sold) * OVERBOOKING) - engaged;
  if (!settings.goneFansFreeSlots) return Math.min(settings.maxActivePurchases - size, seatRoom);
  return Math.min(
    settings.maxActivePurchases - engaged,
    ADMITTED_AT_ONCE * settings.maxActivePurchases - size,
    seatRoom,
  );
}

/** A purchase is looked for this long after its admission was claimed (its start takes a few seconds). */
export const CLAIM_CHECK_MS = 60_000;

const admittedAt = (settings: QueueSettings, entry: ActiveAdmission): number =>
  entry.expiresAt - settings.admissionTtlMs;

export class QueueState {
  private readonly s: QueueSnapshot;
  /** Fan hashes by position (index = position - 1). */
  private readonly order: string[];
  /** Fan hashes in pre-queue arrival order, until the sale opens. */
  private prequeue: string[];
  /** Hash → position (> 0) or -(pre-queue index + 1). */
  private readonly index = new Map<string, number>();
  private readonly active = new Map<number, ActiveAdmission>();
  private readonly finished: Set<number>;
  /** Ranges created since the last `takeNewRanges`. */
  private fresh: AdmissionRange[] = [];

  constructor(
    readonly settings: QueueSettings,
    snapshot: QueueSnapshot | undefined,
    /** For a new queue: its random hash key, and the time (it opens now unless `opensAt` is set). */
    fresh: { key: () => [number, number]; now: number },
    order?: Uint8Array,
    prequeue?: Uint8Array,
  ) {
    this.s = snapshot
      ? {
          ...snapshot,
          ranges: [...snapshot.ranges],
          outcomes: { ...snapshot.outcomes },
          runs: snapshot.runs + 1,
        }
      : {
          hashKey: fresh.key(),
          opened: settings.opensAt === undefined,
          openedAt: settings.opensAt === undefined ? fresh.now : undefined,
          admittedThrough: 0,
          active: [],
          ranges: [],
          sold: 0,
          outcomes: noOutcomes(),
          expired: 0,
          peakActive: 0,
          log: [],
          version: 0,
          batches: 0,
          runs: 1,
        };
    this.order = unpackHashes(order);
    this.prequeue = unpackHashes(prequeue);
    this.order.forEach((hash, i) => this.index.set(hash, i + 1));
    this.prequeue.forEach((hash, i) => this.index.set(hash, -(i + 1)));
    for (const entry of this.s.active) this.active.set(entry.position, { ...entry });
    this.finished = new Set(this.s.finished ?? []);
  }

  get version(): number {
    return this.s.version;
  }

  get closed(): QueueSnapshot['closed'] {
    return this.s.closed;
  }

  get opened(): boolean {
    return this.s.opened;
  }

  get joined(): number {
    return this.order.length + this.prequeue.length;
  }

  /**
   * The next moment something changes by itself (after `now`): an unused admission's slot frees (expiry
   * plus grace), an unused admission starts to count as walked away, or a claim is due a look.
   */
  nextWake(now: number): number | undefined {
    let next: number | undefined;
    const consider = (at: number) => {
      if (at > now && (next === undefined || at < next)) next = at;
    };
    for (const entry of this.active.values()) {
      if (entry.claimedAt !== undefined) consider(entry.claimedAt + CLAIM_CHECK_MS);
      if (entry.state !== 'admitted') continue;
      consider(entry.expiresAt + ADMISSION_GRACE_MS);
      consider(admittedAt(this.settings, entry) + LIKELY_GONE_MS);
    }
    return next;
  }

  /**
   * Places a batch of fans. A fan already known keeps its place; new fans get the next positions in the
   * batch's order (or pre-queue slots before the sale opens). Then admits whoever may go in.
   */
  join(fanIds: readonly string[], now: number, seed: () => number): Omit<JoinAnswer, 'view'> {
    this.openIfDue(now, seed);
    const answer: Omit<JoinAnswer, 'view'> = { places: [], known: [] };
    let changed = false;
    fanIds.forEach((fanId, i) => {
      const hash = fanHash(fanId, this.s.hashKey);
      let place = this.index.get(hash);
      if (place !== undefined) {
        answer.known.push(i);
      } else if (this.s.closed) {
        answer.rejected = this.s.closed === 'sold-out' ? FailureCode.SOLD_OUT : FailureCode.EVENT_CLOSED;
        place = 0;
      } else if (this.joined >= (this.settings.maxFans ?? MAX_WAITING_ROOM_FANS)) {
        // Full: its state must stay small enough to carry through continue-as-new; the fans it has go on.
        answer.rejected = FailureCode.OVERLOADED;
        place = 0;
      } else if (this.s.opened) {
        this.order.push(hash);
        place = this.order.length;
        this.index.set(hash, place);
        changed = true;
      } else {
        this.prequeue.push(hash);
        place = -this.prequeue.length;
        this.index.set(hash, place);
        changed = true;
      }
      answer.places.push(place);
    });
    this.s.batches++;
    if (changed) this.bump();
    this.admit(now);
    return answer;
  }

  /** Each fan's place: a position (> 0), a pre-queue slot -(index + 1) (< 0), or 0 if it never joined. */
  placesOf(fanIds: readonly string[]): number[] {
    return fanIds.map((fanId) => this.index.get(fanHash(fanId, this.s.hashKey)) ?? 0);
  }

  /**
   * Opens the sale once `opensAt` has passed: the pre-queue takes positions 1…P in a shuffled order
   * (a fresh random seed, so arriving early or refreshing gives no edge), and later arrivals queue FIFO.
   */
  openIfDue(now: number, seed: () => number): boolean {
    if (this.s.opened || (this.settings.opensAt !== undefined && now < this.settings.opensAt)) return false;
    const size = this.prequeue.length;
    const shuffle = { seed: seed() >>> 0, size };
    const placed = new Array<string>(size);
    this.prequeue.forEach((hash, i) => {
      const position = shufflePosition(i, size, shuffle.seed) + 1;
      placed[position - 1] = hash;
      this.index.set(hash, position);
    });
    this.order.push(...placed);
    this.prequeue = [];
    this.s.opened = true;
    this.s.openedAt = now;
    this.s.shuffle = shuffle;
    this.bump();
    this.admit(now);
    return true;
  }

  /**
   * Purchases about to start: each fan with a live admission gets its position, marked purchasing (its slot
   * stays taken until the purchase ends); a fan that already claimed gets the same answer. Others are refused.
   */
  claimAdmissions(fanIds: readonly string[], now: number): AdmissionClaim[] {
    let changed = false;
    const answers = fanIds.map((fanId): AdmissionClaim => {
      const position = this.index.get(fanHash(fanId, this.s.hashKey)) ?? 0;
      if (position <= 0 || position > this.s.admittedThrough) return { refused: FailureCode.NOT_ADMITTED };
      if (this.finished.has(position)) return { refused: FailureCode.ADMISSION_USED, position };
      const entry = this.active.get(position);
      if (entry?.state === 'purchasing') return { position, expiresAt: entry.expiresAt };
      if (!entry || now >= entry.expiresAt) {
        return {
          refused: FailureCode.ADMISSION_EXPIRED,
          position,
          ...(entry && { expiresAt: entry.expiresAt }),
        };
      }
      entry.state = 'purchasing';
      entry.fanId = fanId;
      if (this.settings.checkClaims) entry.claimedAt = now;
      changed = true;
      return { position, expiresAt: entry.expiresAt };
    });
    if (changed) this.bump();
    return answers;
  }

  /** A purchase started with the admission of `position`: its slot stays taken until the purchase ends. */
  admissionUsed(signal: AdmissionUsed, now: number): void {
    if (this.finished.has(signal.position) || signal.position > this.s.admittedThrough) return;
    const entry = this.active.get(signal.position);
    if (entry) {
      entry.state = 'purchasing';
      entry.fanId = signal.fanId;
      delete entry.claimedAt;
    } else {
      // Its admission lapsed just before the signal arrived: the purchase still occupies a slot.
      this.active.set(signal.position, {
        position: signal.position,
        state: 'purchasing',
        fanId: signal.fanId,
        expiresAt: now,
      });
      this.s.peakActive = Math.max(this.s.peakActive, this.active.size);
    }
    this.bump();
  }

  /** A purchase ended (any outcome): its slot frees, a sale counts, and the next fans may go in. */
  purchaseFinished(signal: PurchaseFinished, now: number): void {
    if (this.finished.has(signal.position)) return; // told twice: counted once
    this.finished.add(signal.position);
    this.active.delete(signal.position);
    this.s.outcomes[signal.outcome]++;
    if (signal.outcome === 'completed') this.s.sold++;
    if (this.s.sold >= this.settings.capacity && !this.s.closed) {
      this.s.closed = 'sold-out';
      this.s.soldOutAt = now;
    }
    this.bump();
    this.admit(now);
  }

  /** Claimed admissions whose purchase should have started by `now`: the entity looks for them. */
  claimsToCheck(now: number): ClaimToCheck[] {
    const due: ClaimToCheck[] = [];
    for (const entry of this.active.values()) {
      if (entry.claimedAt !== undefined && entry.fanId && entry.claimedAt + CLAIM_CHECK_MS <= now)
        due.push({ position: entry.position, fanId: entry.fanId });
    }
    return due;
  }

  /**
   * What the look found: a claim whose purchase exists is settled (its end frees the slot); one whose
   * purchase never started gives its slot back, counted as expired, and the next fans may go in.
   */
  claimsChecked(checked: { position: number; started: boolean }[], now: number): void {
    let freed = 0;
    for (const { position, started } of checked) {
      const entry = this.active.get(position);
      if (!entry || entry.claimedAt === undefined) continue;
      if (started) {
        delete entry.claimedAt;
      } else {
        this.active.delete(position);
        freed++;
      }
    }
    this.s.expired += freed;
    this.bump();
    this.admit(now);
  }

  /** Frees the slots of admissions that ran out unused (their grace included), then admits. */
  expireDue(now: number): number {
    let expired = 0;
    for (const [position, entry] of this.active) {
      if (entry.state === 'admitted' && entry.expiresAt + ADMISSION_GRACE_MS <= now) {
        this.active.delete(position);
        expired++;
      }
    }
    this.s.ranges = this.s.ranges.filter((range) => range.expiresAt + ADMISSION_GRACE_MS > now);
    if (expired > 0) {
      this.s.expired += expired;
      this.bump();
    }
    this.admit(now); // also when fans merely started to count as walked away
    return expired;
  }

  close(): void {
    if (this.s.closed === 'closed') return;
    this.s.closed = 'closed';
    this.bump();
  }

  /** Ranges admitted since the last call (the workflow arms their expiry timers and publishes them). */
  takeNewRanges(): AdmissionRange[] {
    const fresh = this.fresh;
    this.fresh = [];
    return fresh;
  }

  /** Fans admitted per second over the last ADMIT_RATE_WINDOW_MS (or since opening, if sooner). */
  admitRate(now: number): number {
    if (this.s.openedAt === undefined || now <= this.s.openedAt) return 0;
    const since = Math.max(this.s.openedAt, now - ADMIT_RATE_WINDOW_MS);
    let admitted = 0;
    for (let i = this.s.log.length - 1; i >= 0 && this.s.log[i][2] >= since; i--) {
      admitted += this.s.log[i][1] - this.s.log[i][0] + 1;
    }
    return Math.round((admitted / Math.max(1, now - since)) * 1000 * 10) / 10;
  }

  view(ranges: AdmissionRange[] = this.s.ranges, now?: number): QueueView {
    let purchasing = 0;
    for (const entry of this.active.values()) if (entry.state === 'purchasing') purchasing++;
    const view: QueueView = {
      eventId: this.settings.eventId,
      version: this.s.version,
      opened: this.s.opened,
      joined: this.joined,
      admittedThrough: this.s.admittedThrough,
      active: this.active.size,
      purchasing,
      peakActive: this.s.peakActive,
      maxActivePurchases: this.settings.maxActivePurchases,
      sold: this.s.sold,
      capacity: this.settings.capacity,
      admissionTtlMs: this.settings.admissionTtlMs,
      outcomes: { ...this.s.outcomes },
      expired: this.s.expired,
      batches: this.s.batches,
      runs: this.s.runs,
      ranges: [...ranges],
    };
    if (this.settings.opensAt !== undefined) view.opensAt = this.settings.opensAt;
    if (this.s.shuffle) view.shuffle = { ...this.s.shuffle };
    if (this.s.closed) view.closed = this.s.closed;
    if (this.s.openedAt !== undefined) view.openedAt = this.s.openedAt;
    if (this.s.soldOutAt !== undefined) view.soldOutAt = this.s.soldOutAt;
    if (now !== undefined) view.admitRatePerSec = this.admitRate(now);
    return view;
  }

  admissionLog(): { log: AdmissionLogEntry[]; dropped: number } {
    return { log: this.s.log.map((entry) => [...entry]), dropped: this.s.logDropped ?? 0 };
  }

  /**
   * Everything a continued run needs: JSON state plus the two packed hash lists; `unpublished` are the
   * admission ranges the cache has not seen yet.
   */
  snapshot(unpublished: AdmissionRange[] = []): {
    snapshot: QueueSnapshot;
    order: Uint8Array;
    prequeue: Uint8Array;
  } {
    return {
      snapshot: {
        ...this.s,
        active: [...this.active.values()].map((entry) => ({ ...entry })),
        ranges: [...this.s.ranges],
        log: this.s.log.map((entry) => [...entry]),
        finished: [...this.finished],
        unpublished,
        outcomes: { ...this.s.outcomes },
      },
      order: packHashes(this.order),
      prequeue: packHashes(this.prequeue),
    };
  }

  /** Admits the next positions in order while slots are free, fans wait and seats may remain. */
  private admit(now: number): void {
    if (!this.s.opened || this.s.closed || this.s.sold >= this.settings.capacity) return;
    const room = admissionRoom(this.settings, this.s.sold, this.active.values(), now);
    const count = Math.min(room, this.order.length - this.s.admittedThrough);
    if (count <= 0) return;
    const range: AdmissionRange = {
      from: this.s.admittedThrough + 1,
      to: this.s.admittedThrough + count,
      expiresAt: now + this.settings.admissionTtlMs,
    };
    for (let position = range.from; position <= range.to; position++) {
      this.active.set(position, { position, state: 'admitted', expiresAt: range.expiresAt });
    }
    this.s.admittedThrough = range.to;
    this.s.ranges.push(range);
    this.s.log.push([range.from, range.to, now]);
    if (this.s.log.length > ADMISSION_LOG_LIMIT) {
      this.s.logDropped = (this.s.logDropped ?? 0) + this.s.log.length - ADMISSION_LOG_LIMIT;
      this.s.log.splice(0, this.s.log.length - ADMISSION_LOG_LIMIT);
    }
    this.fresh.push(range);
    this.s.peakActive = Math.max(this.s.peakActive, this.active.size);
    this.bump();
  }

  private bump(): void {
    this.s.version++;
  }
}
