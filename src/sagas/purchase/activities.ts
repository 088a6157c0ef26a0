/**
 * The purchase saga's activities, built from injected clients. Seat claims are Updates sent to the seat
 * entity from here (a workflow cannot send Updates), with a deterministic update id and a deadline.
 * Provider errors become ApplicationFailures typed with the shared failure codes.
 */
import { createHash } from 'node:crypto';
import { Context, log } from '@temporalio/activity';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure, type UpdateDefinition } from '@temporalio/common';
import type { PurchaseCache } from '../../cache/purchase-cache';
import { bestAvailable } from '../../cache/best-available';
import { rebuildEvent } from '../../cache/rebuild';
import type { SeatCache } from '../../cache/seat-cache';
import {
  confirmSeatUpdate,
  holdSeatUpdate,
  refusingSeat,
  releaseSeatUpdate,
  seatWorkflowId,
  type CallerProjects,
  tombstoneUpdateId,
  type SeatView,
} from '../../entities/seat/contract';
import {
  admissionUsedSignal,
  MAX_FINISHED_BATCH,
  purchasesFinishedSignal,
  queueWorkflowId,
  type PurchaseFinished,
  type PurchaseOutcome,
} from '../../entities/queue/contract';
import { FailureCode, isFailureCode } from '../../failures';
import { singleFlight } from '../../lib/concurrency';
import { GroupCommit } from '../../lib/group-commit';
import { signToken } from '../../lib/signing';
import { executeUpdate } from '../../temporal/updates';
import { NO_METRICS, type WorkerMetrics } from '../../observe/worker-metrics';
import type { Channel, Notifier } from '../../providers/notifier';
import {
  GatewayUnavailable,
  PaymentDeclined,
  type ChargeRequest,
  type PaymentGateway,
} from '../../providers/payments';
import type { ProviderStore } from '../../providers/store';
import { holdIdOf, QR_PURPOSE, type PurchaseStatus, type Ticket } from './contract';

const SEAT_UPDATE_DEADLINE_MS = 10_000;
/** A seat's answers that refuse a hold: the purchase moves on to another seat. */
const REFUSED_HOLD = new Set<string>([FailureCode.SEAT_TAKEN, FailureCode.HOLD_LATE]);
const CHARGE_HEARTBEAT_MS = 200;
/** How often a pick that found every seat sold or held looks at the cache again. */
const HELD_RECHECK_MS = 250;
/** How long a purchase end waits for others to share its signal to the waiting room. */
const FINISHED_LINGER_MS = 10;

export type QueueMessage =
  | { kind: 'admission-used'; eventId: string; position: number; fanId: string }
  | {
      kind: 'purchase-finished';
      eventId: string;
      position: number;
      fanId: string;
      outcome: PurchaseOutcome;
      code?: FailureCode;
    };

export interface PurchaseActivityDeps {
  client: Client;
  seatCache: SeatCache;
  purchaseCache: PurchaseCache;
  payments: PaymentGateway;
  notifier: Notifier;
  store: ProviderStore;
  signingSecret: string;
  /** Holds and releases counted for the worker's metrics (none when omitted). */
  metrics?: WorkerMetrics;
}

export interface Hold {
  seatId: string;
  holdId: string;
  holdExpiresAt: number;
}

/**
 * The Update id of one send of a hold: one per attempt of one sender. Temporal joins an Update to one in
 * flight under the same id, and answers it with that one's outcome: a retry sharing its id with an earlier
 * attempt still on its way to a stalled seat would get that attempt's late refusal (HOLD_LATE), decided on
 * the earlier deadline, and its tombstone would then release the hold another send had placed.
 */
const holdUpdateId = (holdId: string, sender: string | undefined, attempt: number): string =>
  `hold:${holdId}${sender === undefined ? '' : `:${sender}`}#${attempt}`;

const nonRetryable = (type: FailureCode, message: string, details?: unknown[]) =>
  ApplicationFailure.create({ type, message, nonRetryable: true, ...(details && { details }) });

/**
 * Sends one Update to a seat entity and projects the answer into the read-side cache (the entity then
 * answers without waiting for its own projection; a stale write loses to a newer version). Contract
 * rejections come back as non-retryable typed failures.
 */
async function seatUpdate<Arg extends CallerProjects>(
  { client, seatCache }: Pick<PurchaseActivityDeps, 'client' | 'seatCache'>,
  eventId: string,
  seatId: string,
  update: UpdateDefinition<SeatView, [Arg]>,
  arg: Arg,
  updateId: string,
): Promise<SeatView> {
  const handle = client.workflow.getHandle(seatWorkflowId(eventId, seatId));
  try {
    const view = await client.withDeadline(Date.now() + SEAT_UPDATE_DEADLINE_MS, () =>
      executeUpdate(handle, update, { args: [{ ...arg, callerProjects: true }], updateId }),
    );
    await seatCache.projectSeat(eventId, view).catch((err: unknown) => {
      // Only a cache: the seat's next transition or a rebuild brings it back in line.
      log.warn('seat projection failed', { eventId, seatId, version: view.version, err });
    });
    return view;
  } catch (err) {
    if (
      err instanceof WorkflowUpdateFailedError &&
      err.cause instanceof ApplicationFailure &&
      isFailureCode(err.cause.type)
    ) {
      // A refused hold's seat view corrects the cache that offered the seat (a stale write loses).
      const seat = refusingSeat(err.cause.details);
      if (seat) await seatCache.projectSeat(eventId, seat).catch(() => undefined);
      throw nonRetryable(err.cause.type, err.cause.message, seat && [{ seat }]);
    }
    if (err instanceof WorkflowNotFoundError) {
      // Also raised when the run closed under the update (continue-as-new): only a finished seat is final.
      const description = await handle.describe().catch(() => undefined);
      if (!description) throw nonRetryable(FailureCode.NOT_FOUND, `event ${eventId} has no seat ${seatId}`);
      if (description.status.name !== 'RUNNING')
        throw nonRetryable(FailureCode.EVENT_CLOSED, `event ${eventId} is closed`);
    }
    throw err;
  }
}

export function createPurchaseActivities(deps: PurchaseActivityDeps) {
  const { client, seatCache, purchaseCache, payments, notifier, store, signingSecret } = deps;
  const metrics = deps.metrics ?? NO_METRICS;

  const cached = (eventId: string) => Promise.all([seatCache.getEvent(eventId), seatCache.getSeats(eventId)]);
  /**
   * The cache is only a cache: one that lost the event or its seat map (a flush, an eviction) is rebuilt
   * from the seat entities before a pick, so a lost cache never fails a purchase SOLD_OUT. One rebuild at a
   * time per event in this process: the purchases that find it lost meanwhile wait for the same one.
   */
  const rebuild = singleFlight<string, unknown>();
  const seatMap = async (eventId: string) => {
    const [event, seats] = await cached(eventId);
    if (event && seats.size > 0) return { event, seats };
    await rebuild(eventId, () => rebuildEvent({ client, cache: seatCache }, eventId));
    const [rebuiltEvent, rebuiltSeats] = await cached(eventId);
    return { event: rebuiltEvent, seats: rebuiltSeats };
  };

  const candidates = async (eventId: string, purchaseId: string, exclude: Set<string>): Promise<string[]> => {
    const { event, seats } = await seatMap(eventId);
    return bestAvailable(event, seats, purchaseId, exclude);
  };
  /**
   * Gives up on the sends of a hold made until now. Stamped with its send time: a send of the same hold
   * after it (a retried workflow task holding again while this lost one's tombstone is on its way) is not
   * released or refused by it.
   */
  const tombstone = (eventId: string, seatId: string, holdId: string, sender?: string) => {
    metrics.releases.add(1, { kind: 'tombstone' });
    const sentAt = Date.now();
    return seatUpdate(
      deps,
      eventId,
      seatId,
      releaseSeatUpdate,
      { holdId, tombstone: true, sentAt, ...(sender !== undefined && { sender }) },
      tombstoneUpdateId(holdId, sentAt),
    );
  };
  const soldOut = (eventId: string, tried: number) =>
    nonRetryable(
      FailureCode.SOLD_OUT,
      tried ? `no seat free after ${tried} tries` : `event ${eventId} has no available seat`,
    );

  /**
   * Purchase ends travel to the waiting room in batches, one signal for those that ended together: a
   * signal per purchase cost the store a current-run look-up and a write each. A failed batch fails
   * every message in it, and each is sent again by its own retry (the entity ignores repeats).
   */
  const finishers = new Map<string, GroupCommit<PurchaseFinished, void>>();
  const finishedBatch = (eventId: string): GroupCommit<PurchaseFinished, void> => {
    let batch = finishers.get(eventId);
    if (!batch) {
      const handle = client.workflow.getHandle(queueWorkflowId(eventId));
      batch = new GroupCommit<PurchaseFinished, void>(
        async (ends) => {
          await handle.signal(purchasesFinishedSignal, ends);
          return ends.map(() => undefined);
        },
        { maxBatch: MAX_FINISHED_BATCH, lingerMs: FINISHED_LINGER_MS },
      );
      finishers.set(eventId, batch);
    }
    return batch;
  };

  return {
    /**
     * Best-available candidates for a purchase, read from the cache: available seats in row order, the
     * best few shuffled per purchase so concurrent buyers spread out. The workflow records the answer and
     * holds the candidates one by one, so a retried hold always goes to the seat it was meant for.
     */
    async pickSeats(input: {
      eventId: string;
      purchaseId: string;
      exclude: string[];
      /**
       * Epoch ms until which a pick that finds no free seat waits while other purchases hold seats (their
       * holds end in a sale or back on sale); SOLD_OUT once none is held or the time is up. Absent: at once.
       */
      waitUntil?: number;
    }): Promise<string[]> {
      const { eventId, purchaseId, waitUntil } = input;
      const exclude = new Set(input.exclude);
      for (;;) {
        const picked = await candidates(eventId, purchaseId, exclude);
        if (picked.length > 0) return picked;
        if (waitUntil === undefined) throw soldOut(eventId, exclude.size);
        // Every seat is sold, held, or one this purchase can never hold: wait for the counters to move.
        const seen = await seatCache.getCounts(eventId);
        let now = seen;
        while (now.held > 0 && now.held === seen.held && now.available === seen.available) {
          if (Date.now() >= waitUntil) {
            throw nonRetryable(
              FailureCode.SOLD_OUT,
              `no seat free: ${now.held} held by other purchases, none back on sale in time`,
            );
          }
          Context.current().heartbeat();
          await Context.current().sleep(Math.min(HELD_RECHECK_MS, Math.max(1, waitUntil - Date.now())));
          now = await seatCache.getCounts(eventId);
        }
        if (now.held === 0 && now.available === seen.available) throw soldOut(eventId, exclude.size);
      }
    },

    /**
     * Holds one seat for the purchase: the asked one, or a candidate `pickSeats` recorded. Each attempt's
     * send is an Update of its own (holdUpdateId); the seat answers an attempt that finds its own hold
     * there with that hold (the same hold id), so none is left behind. The hold says
     * until when this attempt waits for it; one that arrives later is refused (HOLD_LATE). A retry refused
     * the seat leaves a tombstone: an earlier attempt's send may still be on its way, and the purchase is
     * moving on, so that hold must be refused should it arrive. With a `sender` (the workflow task that
     * sent it), that tombstone is for this sender's sends only: this may be a lost task's local activity,
     * still running while the task's retry holds the seat under the same hold id.
     */
    async reserveSeat(input: {
      eventId: string;
      purchaseId: string;
      seatId: string;
      ttlMs: number;
      sender?: string;
    }): Promise<Hold> {
      const { eventId, purchaseId, seatId, ttlMs, sender } = input;
      const holdId = holdIdOf(purchaseId, seatId);
      const sentAt = Date.now();
      const deadline = sentAt + SEAT_UPDATE_DEADLINE_MS;
      try {
        const view = await seatUpdate(
          deps,
          eventId,
          seatId,
          holdSeatUpdate,
          { holdId, purchaseId, ttlMs, deadline, sentAt, ...(sender !== undefined && { sender }) },
          holdUpdateId(holdId, sender, Context.current().info.attempt),
        );
        metrics.holds.add(1, { outcome: 'held' });
        return { seatId, holdId, holdExpiresAt: view.holdExpiresAt ?? Date.now() + ttlMs };
      } catch (err) {
        metrics.holds.add(1, {
          outcome: err instanceof ApplicationFailure ? (err.type ?? 'error') : 'no answer',
        });
        const refused = err instanceof ApplicationFailure && REFUSED_HOLD.has(err.type ?? '');
        if (refused && Context.current().info.attempt > 1) await tombstone(eventId, seatId, holdId, sender);
        throw err;
      }
    },

    /** Releases a hold; `tombstone`: also when the seat does not hold it, refusing it should it arrive. */
    async releaseSeat(input: {
      eventId: string;
      seatId: string;
      holdId: string;
      tombstone?: boolean;
    }): Promise<void> {
      const { eventId, seatId, holdId } = input;
      if (input.tombstone) {
        await tombstone(eventId, seatId, holdId);
        return;
      }
      metrics.releases.add(1, { kind: 'release' });
      await seatUpdate(deps, eventId, seatId, releaseSeatUpdate, { holdId }, `release:${holdId}`);
    },

    /**
     * Releases, as tombstones, the candidates a lost workflow task of this purchase may have held: its
     * local activities' answers went with it, and its retry may have held an earlier candidate that was
     * taken the first time. Only when the run's history shows a lost task (timed out or failed); returns
     * the seats released.
     */
    async releaseAfterLostTasks(input: {
      eventId: string;
      purchaseId: string;
      seats: string[];
      run: { workflowId: string; runId: string };
    }): Promise<string[]> {
      const { workflowId, runId } = input.run;
      const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
      const lost = (history.events ?? []).some(
        (e) => e.workflowTaskTimedOutEventAttributes || e.workflowTaskFailedEventAttributes,
      );
      if (!lost) return [];
      const { eventId, purchaseId, seats } = input;
      await Promise.all(seats.map((seatId) => tombstone(eventId, seatId, holdIdOf(purchaseId, seatId))));
      return seats;
    },

    async confirmSeat(input: {
      eventId: string;
      seatId: string;
      holdId: string;
      ticketId: string;
    }): Promise<void> {
      const { eventId, seatId, holdId, ticketId } = input;
      await seatUpdate(deps, eventId, seatId, confirmSeatUpdate, { holdId, ticketId }, `confirm:${holdId}`);
    },

    /** One attempt at the gateway (the attempt number and the cancel signal come from the activity). */
    async chargePayment(input: Omit<ChargeRequest, 'attempt' | 'signal'>): Promise<{ chargeId: string }> {
      const context = Context.current();
      // Heartbeats carry a cancel to us: the gateway then stops before it records a charge.
      const beat = setInterval(() => context.heartbeat(), CHARGE_HEARTBEAT_MS);
      try {
        const record = await payments.charge({
          ...input,
          attempt: context.info.attempt,
          signal: context.cancellationSignal,
        });
        return { chargeId: record.chargeId };
      } catch (err) {
        if (err instanceof PaymentDeclined) throw nonRetryable(FailureCode.PAYMENT_DECLINED, err.message);
        if (err instanceof GatewayUnavailable) {
          throw ApplicationFailure.create({ type: FailureCode.PROVIDER_UNAVAILABLE, message: err.message });
        }
        throw err;
      } finally {
        clearInterval(beat);
      }
    },

    /** Refunds whatever the key charged; a no-op when nothing was captured. */
    async refundPayment(input: { idempotencyKey: string }): Promise<void> {
      await payments.refund(input.idempotencyKey);
    },

    async issueTicket(input: {
      purchaseId: string;
      eventId: string;
      seatId: string;
      fanId: string;
    }): Promise<Ticket> {
      const ticketId = `tkt_${createHash('sha256').update(`${input.purchaseId}:${input.seatId}`).digest('hex').slice(0, 20)}`;
      const qr = signToken(signingSecret, QR_PURPOSE, { t: ticketId, e: input.eventId, s: input.seatId });
      store.recordTicket({ ...input, ticketId, qr, status: 'issued' });
      return { ticketId, seatId: input.seatId, qr };
    },

    async voidTicket(input: { ticketId: string }): Promise<void> {
      store.voidTicket(input.ticketId);
    },

    /** Projects the purchase status into the read-side cache (stale versions are ignored). */
    async projectPurchase(status: PurchaseStatus): Promise<void> {
      await purchaseCache.project(status);
    },

    /**
     * Tells the waiting room that an admission is in use, or that its purchase ended. Sent from a local
     * activity rather than as the workflow's own signal command, which would cost the saga an extra
     * workflow task each time. At least once: the queue entity ignores repeats. A queue that has
     * finished (its event closed) needs no news.
     */
    async tellQueue(message: QueueMessage): Promise<void> {
      const handle = client.workflow.getHandle(queueWorkflowId(message.eventId));
      try {
        if (message.kind === 'admission-used') {
          await handle.signal(admissionUsedSignal, { position: message.position, fanId: message.fanId });
        } else {
          const { position, fanId, outcome, code } = message;
          await finishedBatch(message.eventId).submit({ position, fanId, outcome, code });
        }
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      }
    },

    async sendNotification(input: { channel: Channel; purchaseId: string; fanId: string }): Promise<void> {
      const recipient =
        input.channel === 'email' ? `${input.fanId}@fans.ticketdrop.test` : `+1-555-${input.fanId}`;
      try {
        await notifier.send(input.channel, input.purchaseId, recipient);
      } catch (err) {
        throw ApplicationFailure.create({
          type: FailureCode.PROVIDER_UNAVAILABLE,
          message: (err as Error).message,
        });
      }
    },
  };
}

export type PurchaseActivities = ReturnType<typeof createPurchaseActivities>;
