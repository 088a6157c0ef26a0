/**
 * The waiting-room entity's contract: the only part of `entities/queue` other domains import.
 * `queue-<eventId>` holds an event's durable fan order. The API sends it joins in batches (one Update per
 * batch, never one message per fan); purchase sagas signal when an admission is used and when the
 * purchase ends, so the entity admits the next fans at the pace purchases finish.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { FailureCode } from '../../failures';

export const QUEUE_WORKFLOW_TYPE = 'queueEntity';

export const queueWorkflowId = (eventId: string): string => `queue-${eventId}`;

/** Queue entities run on a task queue of their own, so join batches never wait behind purchase tasks. */
export const waitingRoomTaskQueue = (taskQueue: string): string => `${taskQueue}-waiting-room`;

export const FAN_ID_PATTERN = '^[a-z0-9][a-z0-9_-]{0,63}$';
const FAN_ID = new RegExp(FAN_ID_PATTERN);
export const isFanId = (value: unknown): value is string => typeof value === 'string' && FAN_ID.test(value);

/**
 * Most fans one waiting-room entity holds: each costs 8 bytes of the input it carries through
 * continue-as-new, which must stay below Temporal's 2 MiB payload limit (1.6 MB here, with room to spare).
 */
export const MAX_WAITING_ROOM_FANS = 200_000;

/** Most fans in one join Update: keeps each Update's payload (≤ ~66 KB) far below the 2 MiB limit. */
export const MAX_JOIN_BATCH = 1_000;
/**
 * How long after an admission's expiry its slot is still held for it. A purchase started just before the
 * expiry announces itself by a signal that needs a moment to arrive (longer under a drop's load); freeing
 * the slot earlier could admit one fan too many.
 */
export const ADMISSION_GRACE_MS = 15_000;
/** Admission log entries kept (older ones are dropped and counted): bounds the continue-as-new input. */
export const ADMISSION_LOG_LIMIT = 5_000;

export interface QueueSettings {
  eventId: string;
  capacity: number;
  maxActivePurchases: number;
  admissionTtlMs: number;
  /** Most fans it takes; later joins are refused OVERLOADED (absent in queues created before the cap). */
  maxFans?: number;
  /** Epoch ms when the sale opens; arrivals before it wait in the shuffled pre-queue. */
  opensAt?: number;
  /**
   * Set by the entity for its runs (never in an event's input): an admitted fan who probably walked away
   * gives its slot under maxActivePurchases back. Runs started before the rule keep the slot taken.
   */
  goneFansFreeSlots?: boolean;
  /**
   * Set by the entity for its runs: an admission claimed for a purchase that never started (the API died
   * between the claim and the start, or the start failed) gives its slot back once checked.
   */
  checkClaims?: boolean;
}

export type QueueClosed = 'sold-out' | 'closed';

/** A run of positions admitted together, all with the same expiry. */
export interface AdmissionRange {
  from: number;
  to: number;
  /** Epoch ms: the admission token of these positions expires then. */
  expiresAt: number;
}

/** How the pre-queue was shuffled at opening: position = shufflePosition(index, size, seed) + 1. */
export interface PrequeueShuffle {
  seed: number;
  size: number;
}

export type PurchaseOutcome = 'completed' | 'failed' | 'cancelled';

/** What the entity publishes to the read-side cache, and answers to `queueSnapshot`. */
export interface QueueView {
  eventId: string;
  /** Bumped on every change: the cache keeps only the newest. */
  version: number;
  opened: boolean;
  opensAt?: number;
  shuffle?: PrequeueShuffle;
  /** Fans with a place: positions handed out plus the pre-queue. */
  joined: number;
  /** Every position up to here has been admitted. */
  admittedThrough: number;
  /** Admitted fans that have not finished: unused admissions plus purchases in flight. */
  active: number;
  purchasing: number;
  peakActive: number;
  maxActivePurchases: number;
  sold: number;
  capacity: number;
  outcomes: Record<PurchaseOutcome, number>;
  /** Admissions that ran out unused. */
  expired: number;
  closed?: QueueClosed;
  /** Fans admitted per second over the last 30 s (paces the polls). */
  admitRatePerSec?: number;
  /** How long an admission lasts (views published before it was added lack it). */
  admissionTtlMs?: number;
  /** Epoch ms when the sale opened, and when the last seat sold. */
  openedAt?: number;
  soldOutAt?: number;
  /** Join batches applied, and runs (continue-as-new) so far. */
  batches: number;
  runs: number;
  /** Admission ranges whose tokens are still live (all of them in a snapshot, only new ones when published). */
  ranges: AdmissionRange[];
}

export interface JoinBatch {
  batchId: string;
  fanIds: string[];
}

/**
 * The answer to a join batch, compact because it is kept in the queue's history: per fan (aligned with
 * `fanIds`) a place that is a position (> 0), a pre-queue slot -(index + 1) (< 0) before the sale opens,
 * or 0 when the queue takes nobody new (`rejected` says why).
 */
export interface JoinAnswer {
  places: number[];
  /** Indexes into `fanIds` of fans that already had their place (and keep it). */
  known: number[];
  rejected?: FailureCode;
  view: QueueView;
}

export type Place = { position: number } | { prequeueIndex: number } | undefined;

export function decodePlace(place: number): Place {
  if (place > 0) return { position: place };
  if (place < 0) return { prequeueIndex: -place - 1 };
  return undefined;
}

export interface AdmissionUsed {
  position: number;
  fanId: string;
}

export interface PurchaseFinished {
  position: number;
  fanId: string;
  outcome: PurchaseOutcome;
  code?: FailureCode;
}

/** Purchases about to start on a queue event, one per fan: the entity decides who may buy. */
export interface AdmissionClaims {
  batchId: string;
  fanIds: string[];
}

/**
 * The entity's answer per fan (aligned with `fanIds`): the admitted position, now marked purchasing (the
 * same answer again for a fan that had claimed it), or why there is none.
 */
export type AdmissionClaim =
  | { position: number; expiresAt: number }
  | {
      refused:
        | typeof FailureCode.NOT_ADMITTED
        | typeof FailureCode.ADMISSION_EXPIRED
        | typeof FailureCode.ADMISSION_USED;
      position?: number;
      expiresAt?: number;
    };

/** Joins one batch of fans; positions are contiguous in the batch's arrival order. */
export const joinQueueUpdate = defineUpdate<JoinAnswer, [JoinBatch]>('joinQueue');
/**
 * The purchase start's check, made by the API before the purchase saga starts: only a fan whose admission
 * is live gets a position; its slot is taken until the purchase ends (`purchaseFinished`).
 */
export const claimAdmissionsUpdate = defineUpdate<AdmissionClaim[], [AdmissionClaims]>('claimAdmissions');
/** Sent by purchases the API started before admissions were claimed (kept for those in flight). */
export const admissionUsedSignal = defineSignal<[AdmissionUsed]>('admissionUsed');
export const purchaseFinishedSignal = defineSignal<[PurchaseFinished]>('purchaseFinished');
/**
 * Several purchases ended (what workers send now: one signal, one store write and one look-up of the
 * current run for every purchase that ended at about the same time). Repeats are ignored, as for one.
 */
export const purchasesFinishedSignal = defineSignal<[PurchaseFinished[]]>('purchasesFinished');
/** Purchase ends per `purchasesFinished` signal at most. */
export const MAX_FINISHED_BATCH = 200;
/** The event closed: the queue takes nobody more and finishes. */
export const closeQueueSignal = defineSignal('closeQueue');
/** Operator/test lever: continue as new at the next quiet moment. */
export const rolloverQueueSignal = defineSignal('rolloverQueue');
/** The whole view, with every live admission range (rebuilds the cache). */
export const queueSnapshotQuery = defineQuery<QueueView>('queueSnapshot');
/** Each fan's place (as a join answers it; 0 for a fan that never joined): repairs a flushed cache. */
export const queuePlacesQuery = defineQuery<number[], [string[]]>('queuePlaces');
/** The admissions made, in order: [first position, last position, epoch ms] (for the auditor). */
export const queueAdmissionLogQuery = defineQuery<{ log: AdmissionLogEntry[]; dropped: number }>(
  'queueAdmissionLog',
);

export type AdmissionLogEntry = [from: number, to: number, at: number];

export interface QueueEntityInput {
  settings: QueueSettings;
  /** Present in a continued run. */
  snapshot?: QueueSnapshot;
}

/** The JSON part of the state carried through continue-as-new (fan hashes travel as binary arguments). */
export interface QueueSnapshot {
  hashKey: [number, number];
  opened: boolean;
  shuffle?: PrequeueShuffle;
  admittedThrough: number;
  active: ActiveAdmission[];
  ranges: AdmissionRange[];
  sold: number;
  outcomes: Record<PurchaseOutcome, number>;
  expired: number;
  peakActive: number;
  closed?: QueueClosed;
  openedAt?: number;
  soldOutAt?: number;
  /** The latest admissions, in order (at most ADMISSION_LOG_LIMIT; `logDropped` older ones not kept). */
  log: AdmissionLogEntry[];
  logDropped?: number;
  /** Positions whose purchase has ended: a late or repeated signal for them changes nothing. */
  finished?: number[];
  /** Admission ranges not yet published when the run continued: the new run publishes them first. */
  unpublished?: AdmissionRange[];
  version: number;
  batches: number;
  runs: number;
}

export interface ActiveAdmission {
  position: number;
  state: 'admitted' | 'purchasing';
  expiresAt: number;
  fanId?: string;
  /** Claimed by the API for a purchase not yet seen to have started (a claim carries no later word). */
  claimedAt?: number;
}

/** A claimed admission whose purchase the entity looks for (a claim this old should have started one). */
export interface ClaimToCheck {
  position: number;
  fanId: string;
}

/**
 * Shuffles the pre-queue without storing a permutation: a 4-round Feistel network over the smallest
 * even bit width that covers `size`, cycle-walked back into [0, size). A bijection on [0, size) for any
 * seed, so every pre-queue fan gets exactly one position; the API computes a fan's position from its
 * pre-queue index and the published seed.
 */
export function shufflePosition(index: number, size: number, seed: number): number {
  if (!Number.isInteger(index) || index < 0 || index >= size) throw new RangeError('index out of range');
  let bits = 2;
  while (2 ** bits < size) bits += 2;
  const half = bits / 2;
  const mask = 2 ** half - 1;
  let x = index;
  do {
    let left = Math.floor(x / 2 ** half);
    let right = x & mask;
    for (let round = 0; round < 4; round++) {
      const f = mix32((right ^ Math.imul(seed ^ (round + 1), 0x9e3779b1)) >>> 0) & mask;
      [left, right] = [right, (left ^ f) & mask];
    }
    x = left * 2 ** half + right;
  } while (x >= size);
  return x;
}

/** murmur3's 32-bit finalizer. */
export function mix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * How long a waiting fan should wait before polling again. With a recent admission rate, half the time
 * the fans ahead should take to go in (so a fan learns of its admission soon after it happens); without
 * one, 1 s plus 2 ms per fan ahead. Always 1-30 s: fans far back poll rarely, so 50,000 of them cost the
 * API a few thousand polls a second, and a fan learns of a sell-out within its interval.
 */
export function pollAfterMs(ahead: number, admitRatePerSec = 0): number {
  const wait =
    admitRatePerSec > 0 ? (Math.max(0, ahead) / admitRatePerSec) * 500 : 1_000 + 2 * Math.max(0, ahead);
  return Math.round(Math.min(MAX_POLL_AFTER_MS, Math.max(1_000, wait)));
}

export const MAX_POLL_AFTER_MS = 30_000;

/**
 * How many polls a second the waiting crowd may send at the sale's expected end: about what one API process
 * answers on this kind of machine beside the purchases (docs/BENCHMARKS.md). The crowd's polls at the end
 * are spread so that they stay within it.
 */
export const SALE_END_POLLS_PER_SEC = 3_000;
/** The shortest spread of the crowd's polls at the sale's expected end. */
export const SALE_END_MIN_SPREAD_MS = 4_000;
/** Purchase outcomes needed before their success share is trusted; until then most purchases succeed. */
const OUTCOMES_TRUSTED = 20;
const DEFAULT_SUCCESS_SHARE = 0.8;
/**
 * A fan is far back when the fans ahead of it would buy this many times the seats left: it gets in only
 * if most of their purchases fail. Such a fan may sleep until the sale's expected end, up to
 * SALE_END_MAX_WAIT_MS, rather than poll every 30 s for a place it will almost surely not get.
 */
const FAR_BACK_MARGIN = 2;
/**
 * The longest a far-back fan is asked to wait, and never more than half the event's admission TTL, so an
 * admission that comes after all is not missed.
 */
export const SALE_END_MAX_WAIT_MS = 60_000;

type SaleView = Pick<QueueView, 'capacity' | 'sold' | 'admitRatePerSec' | 'outcomes' | 'closed'>;

/**
 * When the sale is expected to end, in ms from now: the seats not sold yet over the rate they are selling
 * at (fans admitted a second times the share of purchases that succeed). Rather early than late: a
 * purchase that fails frees its seat again, admissions run out unused, and both make the real end later.
 * Undefined without an admission rate, or once the queue closed.
 */
export function saleEndsInMs(view: SaleView): number | undefined {
  return saleEnd(view)?.endsInMs;
}

function saleEnd(view: SaleView): { endsInMs: number; success: number; unsold: number } | undefined {
  const rate = view.admitRatePerSec ?? 0;
  if (view.closed || rate <= 0) return undefined;
  const { completed, failed, cancelled } = view.outcomes;
  const ended = completed + failed + cancelled;
  const success = Math.max(0.05, ended >= OUTCOMES_TRUSTED ? completed / ended : DEFAULT_SUCCESS_SHARE);
  const unsold = Math.max(0, view.capacity - view.sold);
  return { endsInMs: (unsold / (rate * success)) * 1_000, success, unsold };
}

/**
 * A waiting fan's next poll, knowing when the sale should end. At most its own pace (`pollAfterMs`), and
 * no later than the expected end plus the fan's slot in a spread, so a fan hears of a sell-out soon after
 * it happens instead of up to 30 s later. A far-back fan (FAR_BACK_MARGIN) sleeps until the expected end
 * and its slot, up to SALE_END_MAX_WAIT_MS, instead of every 30 s: the crowd's polls leave the CPU to the
 * purchases. The slot is fixed by the fan's place; the spread is as long as the waiting crowd needs to
 * stay within SALE_END_POLLS_PER_SEC, and at least SALE_END_MIN_SPREAD_MS. A poll before the end gets a
 * new estimate and its slot again.
 */
export function waitingPollAfterMs(
  ahead: number,
  place: number,
  view: SaleView & Pick<QueueView, 'joined' | 'admittedThrough' | 'admissionTtlMs'>,
): number {
  const wait = pollAfterMs(ahead, view.admitRatePerSec);
  const end = saleEnd(view);
  if (!end) return wait;
  const waiting = Math.max(0, view.joined - view.admittedThrough);
  const spread = Math.max(SALE_END_MIN_SPREAD_MS, (waiting / SALE_END_POLLS_PER_SEC) * 1_000);
  const atEnd = end.endsInMs + (mix32(place) % Math.round(spread));
  const farBack = ahead * end.success > FAR_BACK_MARGIN * end.unsold;
  const longest = Math.min(SALE_END_MAX_WAIT_MS, (view.admissionTtlMs ?? 0) / 2);
  const latest = farBack ? Math.max(wait, longest) : wait;
  return Math.round(Math.min(latest, Math.max(1_000, atEnd)));
}
/** The window over which the admission rate is measured. */
export const ADMIT_RATE_WINDOW_MS = 30_000;
