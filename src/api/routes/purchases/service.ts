/**
 * What the purchase routes do, apart from HTTP: admit and start purchase sagas, answer status from the
 * read-side cache (long-polling it), cancel through the saga's Update, and verify ticket QR codes.
 */
import {
  ApplicationFailure,
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type Client,
} from '@temporalio/client';
import { setTimeout as sleep } from 'node:timers/promises';
import { createHash } from 'node:crypto';
import { backOff } from 'exponential-backoff';
import { nanoid } from 'nanoid';
import type { PurchaseCache } from '../../../cache/purchase-cache';
import { purchasesStarted } from '../../plugins/metrics';
import type { QueueCache } from '../../../cache/queue-cache';
import { bestAvailable } from '../../../cache/best-available';
import type { CachedEvent, SeatCache } from '../../../cache/seat-cache';
import type { PurchaseConfig } from '../../../config';
import {
  EVENT_ID_SEARCH_ATTRIBUTE,
  redeemTicketUpdate,
  seatExists,
  seatIds,
  seatStateQuery,
  seatTicketQuery,
  seatWorkflowId,
} from '../../../entities/seat/contract';
import { FailureCode } from '../../../failures';
import { mapLimit } from '../../../lib/concurrency';
import { verifyToken } from '../../../lib/signing';
import {
  cancelPurchaseUpdate,
  PURCHASE_WORKFLOW_TYPE,
  pairOfPurchaseId,
  purchaseStatusQuery,
  purchaseWorkflowId,
  QR_PURPOSE,
  TERMINAL_STATES,
  type PurchaseInput,
  type PurchaseStatus,
} from '../../../sagas/purchase/contract';
import { executeUpdate } from '../../../temporal/updates';
import { HttpProblem, problemFromTemporal } from '../../problem';
import type { CreatePurchaseBody } from '../../schemas/purchases';
import type { EventDefinition } from '../../../entities/event/contract';
import type { EventService } from '../events/service';
import type { Admission, QueueService } from '../queue/service';

const POLL_INTERVAL_MS = 100;
/** Seat entities asked at once when the cache says an event sold out. */
const SOLD_OUT_CHECK_CONCURRENCY = 50;
const SOLD_OUT_RECHECK_MS = 1_000;
const CANCEL_DEADLINE_MS = 30_000;
/**
 * A gate's scan has its answer within this, however many times it is sent. A seat's new run can wait
 * 10 s for its first workflow task when an Update raced its continue-as-new (the task sits on the old
 * worker's sticky queue until its schedule-to-start timeout), so the budget outlasts that.
 */
const REDEEM_DEADLINE_MS = 15_000;
/** One send of a scan: an Update the closing run dropped is sent again after this. */
const REDEEM_ATTEMPT_MS = 2_500;
/** Scans sent again while a seat's run is between runs (continue-as-new). */
const REDEEM_ATTEMPTS = 7;

/** When a refused scan's ticket was first used, as the seat's refusal carries it (older seats: undefined). */
function usedAtOf(err: unknown): number | undefined {
  if (!(err instanceof WorkflowUpdateFailedError) || !(err.cause instanceof ApplicationFailure))
    return undefined;
  const [details] = err.cause.details ?? [];
  const usedAt = (details as { usedAt?: unknown } | undefined)?.usedAt;
  return typeof usedAt === 'number' ? usedAt : undefined;
}

/** A purchase as the fan asking for it names it: the id, and the (event, fan) pair it must belong to. */
interface PurchaseRef {
  purchaseId: string;
  eventId: string;
  fanId: string;
}

/** The ticket a QR code names. */
interface TicketCheck {
  ticketId: string;
  eventId: string;
  seatId: string;
}

/** What makes two purchase requests by one fan the same request. */
const digestOf = (body: CreatePurchaseBody): string =>
  createHash('sha256')
    .update(`${body.seatId ?? '*'}|${body.paymentToken}`)
    .digest('base64url')
    .slice(0, 16);

const isTerminal = (status: PurchaseStatus): boolean => TERMINAL_STATES.includes(status.state);

export class PurchaseService {
  private readonly confirmedSoldOut = new Set<string>();
  private readonly soldOutChecks = new Map<string, Promise<boolean>>();
  /** When the seat entities last showed a seat left although the cache said sold out, and what it said. */
  private readonly seatsLeft = new Map<string, { at: number; seen: string }>();

  constructor(
    private readonly client: Client,
    private readonly events: EventService,
    private readonly seatCache: SeatCache,
    private readonly purchaseCache: PurchaseCache,
    private readonly queueCache: QueueCache,
    private readonly queue: QueueService,
    private readonly taskQueue: string,
    private readonly signingSecret: string,
    private readonly config: PurchaseConfig,
  ) {}

  /**
   * Starts the fan's purchase, or returns the one the fan already has (`created: false`). On a queue event
   * the fan must hold a live admission, used once: a different request afterwards is refused.
   */
  async create(
    eventId: string,
    fanId: string,
    body: CreatePurchaseBody,
  ): Promise<{ created: boolean; purchaseId: string }> {
    const event = await this.events.event(eventId);
    const { definition } = event;
    const purchaseId = purchaseWorkflowId(eventId, fanId);
    const answer = (created: boolean) => ({ created, purchaseId });
    if (body.seatId && !seatExists(body.seatId, definition.rows, definition.seatsPerRow)) {
      throw new HttpProblem(FailureCode.NOT_FOUND, `event ${eventId} has no seat ${body.seatId}`);
    }
    const queued = definition.admission === 'queue';
    const requestDigest = digestOf(body);
    const ref = { purchaseId, eventId, fanId };
    /** The fan's purchase exists: the same request is answered with it, a different one refused. */
    const already = (existing: PurchaseStatus) => {
      if (queued && existing.requestDigest && existing.requestDigest !== requestDigest) {
        throw new HttpProblem(
          FailureCode.ADMISSION_USED,
          `this admission was used for purchase ${purchaseId}; one purchase per fan per event`,
        );
      }
      return answer(false);
    };
    const existing = await this.existing(ref);
    if (existing) return already(existing);
    if (event.closed) throw new HttpProblem(FailureCode.EVENT_CLOSED, `event ${eventId} is closed`);
    if (definition.onSaleAt && Date.parse(definition.onSaleAt) > Date.now()) {
      throw new HttpProblem(
        FailureCode.NOT_ADMITTED,
        `event ${eventId} goes on sale at ${definition.onSaleAt}`,
      );
    }
    if (await this.soldOut(eventId, definition)) {
      throw new HttpProblem(FailureCode.SOLD_OUT, `event ${eventId} is sold out`);
    }
    let admission: Admission | undefined;
    if (queued) {
      try {
        admission = await this.queue.claimAdmission(eventId, fanId);
      } catch (err) {
        // A retry of a purchase the cache lost (a flush) is still the same purchase.
        const started = err instanceof HttpProblem ? await this.fromSaga(ref) : undefined;
        if (started) return already(started);
        throw err;
      }
    }

    const input: PurchaseInput = {
      purchaseId,
      eventId,
      fanId,
      seatId: body.seatId,
      paymentToken: body.paymentToken,
      priceCents: definition.priceCents,
      holdTtlMs: definition.holdTtlSeconds * 1000,
      paymentTimeoutMs: this.config.paymentTimeoutMs,
      notify: {
        maxAttempts: this.config.notifyMaxAttempts,
        initialIntervalMs: this.config.notifyInitialIntervalMs,
      },
      requestDigest,
      holdGuards: true,
      waitForHeldSeats: true,
      releaseAfterLostTasks: true,
    };
    if (admission) input.admission = { position: admission.position, claimed: true };
    if (!body.seatId) {
      const candidates = await this.candidates(event, purchaseId);
      if (candidates.length > 0) input.candidates = candidates;
    }
    try {
      await this.client.workflow.start(PURCHASE_WORKFLOW_TYPE, {
        workflowId: purchaseId,
        taskQueue: this.taskQueue,
        args: [input],
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        typedSearchAttributes: [{ key: EVENT_ID_SEARCH_ATTRIBUTE, value: eventId }],
      });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return answer(false);
      throw err;
    }
    purchasesStarted.inc();
    const initial: PurchaseStatus = {
      purchaseId,
      eventId,
      fanId,
      state: 'reserving',
      version: 1,
    };
    if (body.seatId) initial.seatId = body.seatId;
    initial.requestDigest = requestDigest;
    await this.purchaseCache.project(initial).catch(() => undefined); // the saga projects every later state
    return answer(true);
  }

  /**
   * The first best-available seats to try, from the cache's seat map, so the saga's first workflow task
   * holds a seat instead of waiting for a pick activity. None when the cache has no seat map (the saga
   * then picks itself, after rebuilding it).
   */
  private async candidates(event: CachedEvent, purchaseId: string): Promise<string[]> {
    try {
      const seats = await this.seatCache.getSeats(event.definition.eventId);
      return seats.size > 0 ? bestAvailable(event, seats, purchaseId) : [];
    } catch {
      return [];
    }
  }

  /**
   * Whether every seat is sold. The cache's counters only say when to ask: a sell-out is confirmed by the
   * seat entities themselves (once per event and process; sold is final), so a forged or stale cache can
   * never refuse a fan SOLD_OUT while a seat is left.
   */
  private async soldOut(eventId: string, definition: EventDefinition): Promise<boolean> {
    if (this.confirmedSoldOut.has(eventId)) return true;
    const counts = await this.seatCache.getCounts(eventId).catch(() => undefined);
    const queue =
      definition.admission === 'queue'
        ? await this.queueCache.get(eventId).catch(() => undefined)
        : undefined;
    const cacheSaysSoldOut =
      (counts && counts.available === 0 && counts.held === 0) || queue?.closed === 'sold-out';
    if (!cacheSaysSoldOut) return false;
    // A cache that says "sold out" while a seat is left (stale, or forged) and has not changed since is
    // checked again at most once a second, not with a scan of every seat per request.
    const seen = `${counts?.available}:${counts?.held}:${counts?.sold}:${queue?.closed}`;
    const refuted = this.seatsLeft.get(eventId);
    if (refuted?.seen === seen && Date.now() - refuted.at < SOLD_OUT_RECHECK_MS) return false;
    let confirming = this.soldOutChecks.get(eventId);
    if (!confirming) {
      confirming = (async () => {
        const seats = seatIds(definition.rows, definition.seatsPerRow);
        const states = await mapLimit(seats, SOLD_OUT_CHECK_CONCURRENCY, (seatId) =>
          this.client.workflow.getHandle(seatWorkflowId(eventId, seatId)).query(seatStateQuery),
        );
        const all = states.every((seat) => seat.status === 'sold');
        if (all) this.confirmedSoldOut.add(eventId);
        else this.seatsLeft.set(eventId, { at: Date.now(), seen });
        return all;
      })().finally(() => this.soldOutChecks.delete(eventId));
      this.soldOutChecks.set(eventId, confirming);
    }
    return confirming;
  }

  /** The (event, fan) pair `purchaseId` must belong to for `fanId` to see it; 404 for anyone else's. */
  refOf(purchaseId: string, fanId: string): PurchaseRef {
    const pair = pairOfPurchaseId(purchaseId);
    if (!pair || pair.fanId !== fanId)
      throw new HttpProblem(FailureCode.NOT_FOUND, `no purchase ${purchaseId}`);
    return { purchaseId, ...pair };
  }

  /** The purchase's status; with `waitMs`, waits (polling the cache) until it is final or time is up. */
  async status(claims: PurchaseRef, waitMs = 0): Promise<PurchaseStatus> {
    const deadline = Date.now() + waitMs;
    let status = await this.read(claims);
    while (!isTerminal(status) && Date.now() < deadline) {
      await sleep(Math.min(POLL_INTERVAL_MS, Math.max(0, deadline - Date.now())));
      status = (await this.cachedStatus(claims.eventId, claims.fanId)) ?? status;
    }
    return status;
  }

  async cancel(claims: PurchaseRef): Promise<PurchaseStatus> {
    const status = await this.read(claims);
    if (isTerminal(status)) {
      throw new HttpProblem(FailureCode.NOT_CANCELLABLE, `purchase is ${status.state}: too late to cancel`);
    }
    const handle = this.client.workflow.getHandle(claims.purchaseId);
    return this.client.withDeadline(Date.now() + CANCEL_DEADLINE_MS, () =>
      handle.executeUpdate(cancelPurchaseUpdate),
    );
  }

  /** Checks a ticket QR: the signature, then that the seat entity records that very ticket as sold. */
  async verifyTicket(qr: string): Promise<TicketCheck & { valid: true }> {
    const ticket = this.ticketOf(qr);
    let sold: { ticketId?: string; usedAt?: number };
    try {
      sold = await this.seat(ticket).query(seatTicketQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError)
        throw new HttpProblem(FailureCode.TICKET_INVALID, 'no such seat');
      throw err;
    }
    if (sold.ticketId !== ticket.ticketId) {
      throw new HttpProblem(
        FailureCode.TICKET_INVALID,
        'this ticket is not the one the seat was sold under (void or replayed)',
      );
    }
    const usedAt = sold.usedAt === undefined ? undefined : new Date(sold.usedAt).toISOString();
    return { valid: true, ...ticket, ...(usedAt && { usedAt }) };
  }

  /**
   * A gate's scan: the seat entity marks the ticket used, once. A later scan is refused TICKET_USED with
   * the first scan's time; the same scan sent again (its `scanId`) gets its first answer.
   */
  async redeemTicket(qr: string, scanId = `scan-${nanoid()}`): Promise<TicketCheck & { usedAt: string }> {
    const ticket = this.ticketOf(qr);
    const handle = this.seat(ticket);
    // Whether the seat's workflow runs: true, false once its event closed, undefined if it never existed.
    const running = () =>
      handle.describe().then(
        (d) => d.status.name === 'RUNNING',
        () => undefined,
      );
    const giveUpAt = Date.now() + REDEEM_DEADLINE_MS;
    try {
      const use = await backOff(
        () =>
          this.client.withDeadline(Math.min(giveUpAt, Date.now() + REDEEM_ATTEMPT_MS), () =>
            executeUpdate(handle, redeemTicketUpdate, {
              args: [{ ticketId: ticket.ticketId, scanId }],
              updateId: `redeem:${scanId}`,
            }),
          ),
        {
          // 50 ms doubling to 1 s, about 3 s in all: a continue-as-new takes well under that, also under load.
          numOfAttempts: REDEEM_ATTEMPTS,
          startingDelay: 50,
          maxDelay: 1_000,
          // A run that continued as new under the Update reads as not found, or (an Update the closing run
          // dropped) never answers: send it again, same update id, to reach the new run.
          retry: async (err: unknown) =>
            (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError && Date.now() < giveUpAt) ||
            (err instanceof WorkflowNotFoundError && (await running()) === true),
        },
      );
      return { ...ticket, usedAt: new Date(use.usedAt).toISOString() };
    } catch (err) {
      const problem = problemFromTemporal(err);
      if (problem?.code === FailureCode.TICKET_USED) {
        const usedAt = usedAtOf(err) ?? (await handle.query(seatTicketQuery)).usedAt;
        throw new HttpProblem(FailureCode.TICKET_USED, problem.detail, {
          extra: usedAt === undefined ? {} : { usedAt: new Date(usedAt).toISOString() },
        });
      }
      if (err instanceof WorkflowNotFoundError) {
        const state = await running();
        if (state === undefined) throw new HttpProblem(FailureCode.TICKET_INVALID, 'no such seat');
        if (state === false)
          throw new HttpProblem(FailureCode.EVENT_CLOSED, `event ${ticket.eventId} is closed`);
        throw new HttpProblem(FailureCode.UNAVAILABLE, 'the seat is between runs; retry shortly');
      }
      throw problem ?? err;
    }
  }

  /** The ticket a QR names, if TicketDrop signed it. */
  private ticketOf(qr: string): TicketCheck {
    const claims = verifyToken<{ t: string; e: string; s: string }>(this.signingSecret, QR_PURPOSE, qr);
    if (
      !claims ||
      typeof claims.t !== 'string' ||
      typeof claims.e !== 'string' ||
      typeof claims.s !== 'string'
    ) {
      throw new HttpProblem(
        FailureCode.TICKET_INVALID,
        'the QR code is not a valid TicketDrop ticket (bad signature)',
      );
    }
    return { ticketId: claims.t, eventId: claims.e, seatId: claims.s };
  }

  private seat(ticket: TicketCheck) {
    return this.client.workflow.getHandle(seatWorkflowId(ticket.eventId, ticket.seatId));
  }

  /**
   * The fan's purchase on this event, if the saga exists: a cached record is confirmed by the saga itself,
   * so a forged or stale record never answers for a purchase that was not started.
   */
  private async existing(ref: PurchaseRef): Promise<PurchaseStatus | undefined> {
    if (!(await this.cachedStatus(ref.eventId, ref.fanId))) return undefined;
    return this.fromSaga(ref);
  }

  /** The saga's own status, if it exists and is the pair's (written back to the cache). */
  private async fromSaga(ref: PurchaseRef): Promise<PurchaseStatus | undefined> {
    let status: PurchaseStatus;
    try {
      status = await this.client.workflow.getHandle(ref.purchaseId).query(purchaseStatusQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
    if (status.purchaseId !== ref.purchaseId || status.eventId !== ref.eventId || status.fanId !== ref.fanId)
      return undefined;
    await this.purchaseCache.project(status).catch(() => undefined);
    return status;
  }

  private async cachedStatus(eventId: string, fanId: string): Promise<PurchaseStatus | undefined> {
    return this.purchaseCache.get(eventId, fanId).catch(() => undefined);
  }

  /**
   * From the cache; from the saga itself (and written back) when the cache has lost it. Only a purchase of
   * the very (event, fan) pair asked for is returned: anything else is "not found".
   */
  private async read(claims: PurchaseRef): Promise<PurchaseStatus> {
    const notFound = () => new HttpProblem(FailureCode.NOT_FOUND, `no purchase ${claims.purchaseId}`);
    const ours = (status: PurchaseStatus) =>
      status.purchaseId === claims.purchaseId &&
      status.eventId === claims.eventId &&
      status.fanId === claims.fanId;
    const cached = await this.cachedStatus(claims.eventId, claims.fanId);
    if (cached) {
      if (!ours(cached)) throw notFound();
      return cached;
    }
    const status = await this.fromSaga(claims);
    if (!status) throw notFound();
    return status;
  }
}
