/**
 * What the waiting-room routes do, apart from HTTP. Joins are group-committed: concurrent joins for one
 * event travel to its queue entity as one Update per batch. Polls are answered from the read-side cache
 * (the entity's published view, its admission ranges, the purchase projections); the entity is queried
 * only to repair a cache that lost its view, at most once per event at a time. Fans near the front
 * long-poll: one read of the cached view per event and tick answers all of them the moment the queue
 * admits them, instead of at their next poll.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import { nanoid } from 'nanoid';
import { backOff } from 'exponential-backoff';
import type { PurchaseCache } from '../../../cache/purchase-cache';
import type { CachedQueueView, QueueCache } from '../../../cache/queue-cache';
import {
  claimAdmissionsUpdate,
  decodePlace,
  joinQueueUpdate,
  mix32,
  waitingPollAfterMs,
  queuePlacesQuery,
  queueSnapshotQuery,
  queueWorkflowId,
  shufflePosition,
  type AdmissionClaim,
  type AdmissionRange,
  type QueueView,
} from '../../../entities/queue/contract';
import { FailureCode } from '../../../failures';
import { GroupCommit } from '../../../lib/group-commit';
import {
  purchaseStatusQuery,
  purchaseWorkflowId,
  TERMINAL_STATES,
  type PurchaseStatus,
} from '../../../sagas/purchase/contract';
import { executeUpdate } from '../../../temporal/updates';
import { joinBatchSeconds, joinBatchSize } from '../../plugins/metrics';
import { HttpProblem } from '../../problem';
import type { QueueStatus } from '../../schemas/queue';
import type { EventService } from '../events/service';

export interface JoinBatching {
  /** Most fans per join Update. */
  maxBatch: number;
  /** How long the first join of an idle batch waits for company. */
  lingerMs: number;
}

export const DEFAULT_JOIN_BATCHING: JoinBatching = { maxBatch: 500, lingerMs: 20 };

const JOIN_DEADLINE_MS = 15_000;
const JOIN_ATTEMPTS = 3;
/** How long a repaired snapshot is reused for lookups the cache could not answer. */
const SNAPSHOT_REUSE_MS = 1_000;
const ADMITTED_POLL_MS = 1_000;
/**
 * A waiting fan fewer than this many turnovers of the purchase path (maxActivePurchases fans each) from the
 * front is told to long-poll, for LONG_POLL_MS at a time: it is next to go in, and a poll's pace would leave
 * its slot idle for up to half its expected wait. Far-back fans keep polling, so long-polls per event stay
 * under LONG_POLL_TURNOVERS × maxActivePurchases.
 */
const LONG_POLL_TURNOVERS = 2;
const LONG_POLL_MS = 20_000;
/** How often an event's long-polls look at the cached view (it is reused for VIEW_REUSE_MS anyway). */
const WATCH_INTERVAL_MS = 100;
const VIEW_REUSE_MS = 100;
/** When a fan refused by a full waiting room may try again. */
const FULL_ROOM_RETRY_AFTER_S = 30;
/** Purchase starts are fewer than joins and a fan waits on each: a short linger. */
const CLAIM_LINGER_MS = 5;
/** A join may rely on an event record this old (a close it misses is still refused by the entity). */
const EVENT_REUSE_MS = 1_000;

/** A fan's place in an event's waiting room: a position (> 0) or -(pre-queue index + 1) before opening. */
interface FanPlace {
  eventId: string;
  fanId: string;
  place: number;
}

/** A long-poll waiting for its position's admission (or the sale's end). */
interface Waiter {
  position: number;
  wake: () => void;
}

/** A fan's live admission: the position it may buy with, until `expiresAt` (epoch ms). */
export interface Admission {
  position: number;
  expiresAt: number;
}

interface Joined {
  place: number;
  fresh: boolean;
  rejected?: FailureCode;
}

export class QueueService {
  private readonly batchers = new Map<string, GroupCommit<string, Joined>>();
  private readonly lookups = new Map<string, GroupCommit<string, number>>();
  private readonly claimers = new Map<string, GroupCommit<string, AdmissionClaim>>();
  private readonly repairs = new Map<string, Promise<QueueView | undefined>>();
  private readonly snapshots = new Map<string, { at: number; view: QueueView }>();
  /** The newest view seen per event, reused for VIEW_REUSE_MS: a drop polls far more often than it changes. */
  private readonly views = new Map<string, { at: number; view: CachedQueueView }>();
  /** Long-polls per event; an event's watch runs while it has any. */
  private readonly waiters = new Map<string, Set<Waiter>>();

  constructor(
    private readonly client: Client,
    private readonly events: EventService,
    private readonly cache: QueueCache,
    private readonly purchases: PurchaseCache,
    private readonly batching: JoinBatching = DEFAULT_JOIN_BATCHING,
  ) {}

  /** Places the fan in the queue (or finds its place); `created` is false for a fan that had one. */
  async join(eventId: string, fanId: string): Promise<{ created: boolean; joined: QueueStatus }> {
    const event = await this.events.event(eventId, EVENT_REUSE_MS);
    if (event.definition.admission !== 'queue') {
      throw new HttpProblem(
        FailureCode.NO_WAITING_ROOM,
        `event ${eventId} sells directly: it has no waiting room`,
      );
    }
    if (event.closed) throw new HttpProblem(FailureCode.EVENT_CLOSED, `event ${eventId} is closed`);
    let place = await this.cache.placeOf(eventId, fanId).catch(() => undefined);
    let created = false;
    let view = await this.view(eventId);
    if (place === undefined) {
      // A queue that takes nobody new answers from the cache alone, unless the cache lost places (a
      // flush): then the entity tells known fans their place and refuses new ones.
      if (view.closed && (await this.cache.placesComplete(eventId).catch(() => false))) {
        throw closedProblem(eventId, view);
      }
      const joined = await this.batcher(eventId)
        .submit(fanId)
        .catch(async (err: unknown) => {
          // The queue entity finishes only when its event closes (the cached record may not say so yet).
          if (err instanceof WorkflowNotFoundError) {
            throw new HttpProblem(FailureCode.EVENT_CLOSED, `event ${eventId} is closed`);
          }
          throw err;
        });
      if (joined.rejected === FailureCode.OVERLOADED) {
        throw new HttpProblem(
          FailureCode.OVERLOADED,
          `the waiting room of ${eventId} is full: it takes no more fans, and the fans in it go on`,
          { retryAfterSeconds: FULL_ROOM_RETRY_AFTER_S },
        );
      }
      if (joined.rejected) throw new HttpProblem(joined.rejected, `event ${eventId} takes nobody new`);
      place = joined.place;
      created = joined.fresh;
      view = await this.view(eventId); // the batch's answer made it current
    }
    return { created, joined: await this.status({ eventId, fanId, place }, view) };
  }

  /**
   * The fan's standing, from the cache; 404 for a fan that never joined. With `waitMs`, a waiting fan's
   * answer waits until it is admitted, the sale ends or the time is up.
   */
  async me(eventId: string, fanId: string, waitMs = 0): Promise<QueueStatus> {
    const view = await this.view(eventId);
    const place = await this.placeOf(eventId, fanId);
    if (place === 0) {
      throw new HttpProblem(FailureCode.NOT_FOUND, `you have not joined the waiting room of ${eventId}`);
    }
    const status = await this.status({ eventId, fanId, place }, view);
    if (waitMs === 0 || status.state !== 'waiting') return status;
    await this.turnOf(eventId, status.position, waitMs);
    return this.status({ eventId, fanId, place }, await this.view(eventId));
  }

  /** Resolves once the cached view admits `position` or ends the sale, or after `waitMs`. */
  private turnOf(eventId: string, position: number, waitMs: number): Promise<void> {
    return new Promise((resolve) => {
      const watched = this.waiters.get(eventId);
      const waiting = watched ?? new Set<Waiter>();
      const waiter: Waiter = {
        position,
        wake: () => {
          clearTimeout(timer);
          waiting.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(waiter.wake, waitMs);
      waiting.add(waiter);
      if (!watched) {
        this.waiters.set(eventId, waiting);
        void this.watch(eventId, waiting); // after the add: the watch ends when the set is empty
      }
    });
  }

  /** One event's long-polls: a look at the cached view per tick wakes every fan it admitted. */
  private async watch(eventId: string, waiting: Set<Waiter>): Promise<void> {
    while (waiting.size > 0) {
      await sleep(WATCH_INTERVAL_MS);
      const view = await this.view(eventId).catch(() => undefined);
      if (!view) continue; // the cache is being repaired: the next tick, or the time limit, answers
      for (const waiter of waiting) {
        if (view.closed || waiter.position <= view.admittedThrough) waiter.wake();
      }
    }
    this.waiters.delete(eventId);
  }

  /**
   * Claims the fan's admission for a purchase about to start. The waiting room's entity decides, never the
   * cache: a live admission gets its position (and its slot is taken until the purchase ends); anything
   * else is 403 NOT_ADMITTED or ADMISSION_EXPIRED, or 409 ADMISSION_USED once its purchase has ended.
   * Claims travel in batches, like joins; claiming again answers the same.
   */
  async claimAdmission(eventId: string, fanId: string): Promise<Admission> {
    const claim = await this.claims(eventId)
      .submit(fanId)
      .catch((err: unknown) => {
        if (err instanceof WorkflowNotFoundError) {
          throw new HttpProblem(FailureCode.EVENT_CLOSED, `event ${eventId} is closed`);
        }
        throw err;
      });
    if (!('refused' in claim)) return claim;
    const at = claim.position ? ` (position ${claim.position})` : '';
    switch (claim.refused) {
      case FailureCode.ADMISSION_EXPIRED:
        throw new HttpProblem(
          FailureCode.ADMISSION_EXPIRED,
          `your admission${at} expired${claim.expiresAt ? ` at ${new Date(claim.expiresAt).toISOString()}` : ''}`,
        );
      case FailureCode.ADMISSION_USED:
        throw new HttpProblem(
          FailureCode.ADMISSION_USED,
          `your admission${at} was used by a purchase that ended`,
        );
      default:
        throw new HttpProblem(
          FailureCode.NOT_ADMITTED,
          `event ${eventId} sells through its waiting room: you are not admitted${at} yet`,
        );
    }
  }

  /** The fan's place from the cache, else from the entity (batched); 0 if the fan never joined. */
  private async placeOf(eventId: string, fanId: string): Promise<number> {
    const cached = await this.cache.placeOf(eventId, fanId).catch(() => undefined);
    if (cached !== undefined) return cached;
    if (await this.cache.placesComplete(eventId).catch(() => false)) return 0;
    return this.lookup(eventId).submit(fanId);
  }

  /** The queue's cached view (at most VIEW_REUSE_MS old); repaired from the entity when the cache lost it. */
  async view(eventId: string): Promise<CachedQueueView> {
    const memo = this.views.get(eventId);
    if (memo && Date.now() - memo.at < VIEW_REUSE_MS) return memo.view;
    const view = (await this.cache.get(eventId).catch(() => undefined)) ?? (await this.repair(eventId));
    if (!view) throw new HttpProblem(FailureCode.NOT_FOUND, `event ${eventId} has no waiting room`);
    return this.remember(view);
  }

  private remember(view: CachedQueueView): CachedQueueView {
    const memo = this.views.get(view.eventId);
    if (memo && memo.view.version > view.version) return memo.view;
    this.views.set(view.eventId, { at: Date.now(), view });
    return view;
  }

  /** Answers every long-poll now, as it stands (the API shuts down). */
  endLongPolls(): void {
    for (const waiting of this.waiters.values()) for (const waiter of waiting) waiter.wake();
  }

  /** Sends every pending join and waits for the answers (used when the API shuts down). */
  async drain(): Promise<void> {
    await Promise.all(
      [...this.batchers.values(), ...this.lookups.values(), ...this.claimers.values()].map((b) => b.drain()),
    );
  }

  private async status(claims: FanPlace, view: CachedQueueView, now = Date.now()): Promise<QueueStatus> {
    const { eventId, fanId } = claims;
    const position = positionOf(claims.place, view);
    const base = { fanId, position, admittedThrough: view.admittedThrough, ahead: 0 };
    if (position === 0) {
      const opensAt = view.opensAt ?? now;
      // Spread the pre-queue's first polls over two seconds after opening instead of one instant.
      const jitter = mix32(claims.place) % 2_000;
      return {
        ...base,
        state: 'pre-queue',
        pollAfterMs: Math.min(10_000, Math.max(500, opensAt - now + jitter)),
        opensAt: new Date(opensAt).toISOString(),
      };
    }
    if (position > view.admittedThrough) {
      if (view.closed) return { ...base, state: 'sold-out', pollAfterMs: 0 };
      const ahead = position - view.admittedThrough - 1;
      return {
        ...base,
        state: 'waiting',
        ahead,
        pollAfterMs: waitingPollAfterMs(ahead, claims.place, view),
        ...(ahead < LONG_POLL_TURNOVERS * view.maxActivePurchases && { longPollMs: LONG_POLL_MS }),
      };
    }
    const purchase = await this.purchases.get(eventId, fanId).catch(() => undefined);
    if (purchase) return this.withPurchase(base, purchase);
    if (view.closed) return { ...base, state: 'sold-out', pollAfterMs: 0 };
    const range = await this.admissionOf(eventId, position);
    if (range && now < range.expiresAt) {
      return {
        ...base,
        state: 'admitted',
        pollAfterMs: ADMITTED_POLL_MS,
        admission: { expiresAt: new Date(range.expiresAt).toISOString() },
      };
    }
    // Expired, unless a purchase was started in time that the cache lost (only a flush loses one).
    const cacheComplete = await this.cache.placesComplete(eventId).catch(() => false);
    const started = cacheComplete ? undefined : await this.purchaseOf(eventId, fanId);
    if (started) return this.withPurchase(base, started);
    return { ...base, state: 'expired', pollAfterMs: 0 };
  }

  private withPurchase(
    base: Omit<QueueStatus, 'state' | 'pollAfterMs'>,
    purchase: PurchaseStatus,
  ): QueueStatus {
    const done = TERMINAL_STATES.includes(purchase.state);
    return {
      ...base,
      state: done ? 'done' : 'purchasing',
      pollAfterMs: done ? 0 : ADMITTED_POLL_MS,
      purchaseId: purchase.purchaseId,
    };
  }

  private async admissionOf(eventId: string, position: number): Promise<AdmissionRange | undefined> {
    const cached = await this.cache.admissionOf(eventId, position).catch(() => undefined);
    if (cached) return cached;
    const memo = this.snapshots.get(eventId);
    const fresh = memo && Date.now() - memo.at < SNAPSHOT_REUSE_MS && memo.view.admittedThrough >= position;
    const view = fresh ? memo.view : await this.repair(eventId);
    return view?.ranges.find((range) => position >= range.from && position <= range.to);
  }

  private async purchaseOf(eventId: string, fanId: string): Promise<PurchaseStatus | undefined> {
    try {
      const status = await this.client.workflow
        .getHandle(purchaseWorkflowId(eventId, fanId))
        .query(purchaseStatusQuery);
      await this.purchases.project(status).catch(() => undefined);
      return status;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  }

  /** Reads the entity's whole view and writes it back to the cache; one query per event at a time. */
  private repair(eventId: string): Promise<QueueView | undefined> {
    let running = this.repairs.get(eventId);
    if (!running) {
      running = (async () => {
        try {
          const view = await this.client.workflow
            .getHandle(queueWorkflowId(eventId))
            .query(queueSnapshotQuery);
          this.snapshots.set(eventId, { at: Date.now(), view });
          await this.cache.project(view).catch(() => undefined);
          return view;
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) return undefined;
          throw err;
        } finally {
          this.repairs.delete(eventId);
        }
      })();
      this.repairs.set(eventId, running);
    }
    return running;
  }

  /** The event's group commit in `batches`, made on first use. */
  private batchesOf<O>(
    batches: Map<string, GroupCommit<string, O>>,
    eventId: string,
    make: () => GroupCommit<string, O>,
  ): GroupCommit<string, O> {
    let batch = batches.get(eventId);
    if (!batch) {
      batch = make();
      batches.set(eventId, batch);
    }
    return batch;
  }

  private batcher(eventId: string): GroupCommit<string, Joined> {
    return this.batchesOf(
      this.batchers,
      eventId,
      () =>
        new GroupCommit((fanIds) => this.commitJoins(eventId, fanIds), {
          ...this.batching,
          onBatch: (size, ms, failed) => {
            joinBatchSize.observe(size);
            joinBatchSeconds.observe({ outcome: failed ? 'failed' : 'ok' }, ms / 1000);
          },
        }),
    );
  }

  /** Admission claims, one Update per batch (retried into the next run across a continue-as-new). */
  private claims(eventId: string): GroupCommit<string, AdmissionClaim> {
    return this.batchesOf(
      this.claimers,
      eventId,
      () =>
        new GroupCommit(
          (fanIds) => this.sendBatch(eventId, claimAdmissionsUpdate, `claim-${nanoid()}`, fanIds),
          { maxBatch: this.batching.maxBatch, lingerMs: CLAIM_LINGER_MS },
        ),
    );
  }

  /** Place lookups the cache could not answer (it lost them), one Query per batch. */
  private lookup(eventId: string): GroupCommit<string, number> {
    return this.batchesOf(
      this.lookups,
      eventId,
      () => new GroupCommit((fanIds) => this.lookupPlaces(eventId, fanIds), this.batching),
    );
  }

  /** The entity's places for these fans (0: never joined), written back to the cache. */
  private async lookupPlaces(eventId: string, fanIds: string[]): Promise<number[]> {
    const places = await this.client.workflow
      .getHandle(queueWorkflowId(eventId))
      .query(queuePlacesQuery, fanIds)
      .catch((err: unknown) => {
        if (err instanceof WorkflowNotFoundError) return fanIds.map(() => 0);
        throw err;
      });
    await this.cache.putPlaces(eventId, placesFound(fanIds, places)).catch(() => undefined);
    return places;
  }

  /**
   * One Update carrying a batch of fans to the queue entity, under the batch's id. The run may continue as
   * new under the Update: it is sent again, and the next run knows everything the last one did.
   */
  private sendBatch<R>(
    eventId: string,
    update: UpdateDefinition<R, [{ batchId: string; fanIds: string[] }]>,
    batchId: string,
    fanIds: string[],
  ): Promise<R> {
    const handle = this.client.workflow.getHandle(queueWorkflowId(eventId));
    return backOff(
      () =>
        this.client.withDeadline(Date.now() + JOIN_DEADLINE_MS, () =>
          executeUpdate(handle, update, { args: [{ batchId, fanIds }], updateId: batchId }),
        ),
      {
        numOfAttempts: JOIN_ATTEMPTS,
        startingDelay: 50,
        retry: (err: unknown) => err instanceof WorkflowNotFoundError,
      },
    );
  }

  /** One Update for the whole batch; the answer's places go to the cache for repeated joins. */
  private async commitJoins(eventId: string, fanIds: string[]): Promise<Joined[]> {
    const answer = await this.sendBatch(eventId, joinQueueUpdate, `join-${nanoid()}`, fanIds);
    await this.cache.putPlaces(eventId, placesFound(fanIds, answer.places)).catch(async () => {
      await this.cache.markPlacesIncomplete(eventId).catch(() => undefined);
    });
    await this.cache.project({ ...answer.view, ranges: [] }).catch(() => undefined);
    this.remember(answer.view);
    const known = new Set(answer.known);
    return fanIds.map((_, i) => ({
      place: answer.places[i],
      fresh: !known.has(i),
      rejected: answer.places[i] === 0 ? answer.rejected : undefined,
    }));
  }
}

/** The fans that have a place (0: none), by fan id. */
function placesFound(fanIds: readonly string[], places: readonly number[]): Map<string, number> {
  const found = new Map<string, number>();
  fanIds.forEach((fanId, i) => {
    if (places[i]) found.set(fanId, places[i]!);
  });
  return found;
}

/** The fan's position: its own, or (pre-queue) the one the opening shuffle gave it; 0 before opening. */
export function positionOf(place: number, view: Pick<QueueView, 'shuffle'>): number {
  const decoded = decodePlace(place);
  if (!decoded) return 0;
  if ('position' in decoded) return decoded.position;
  const { shuffle } = view;
  if (!shuffle || decoded.prequeueIndex >= shuffle.size) return 0;
  return shufflePosition(decoded.prequeueIndex, shuffle.size, shuffle.seed) + 1;
}

function closedProblem(eventId: string, view: CachedQueueView): HttpProblem {
  return view.closed === 'sold-out'
    ? new HttpProblem(FailureCode.SOLD_OUT, `event ${eventId} is sold out`)
    : new HttpProblem(FailureCode.EVENT_CLOSED, `event ${eventId} is closed`);
}
