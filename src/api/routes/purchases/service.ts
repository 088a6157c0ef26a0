/**
 * What the purchase routes do, apart from HTTP: admit and start purchase sagas, answer status from the
 * read-side cache (long-polling it), cancel through the saga's Update, and verify ticket QR codes.
 */
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  WorkflowNotFoundError,
  type Client,
} from '@temporalio/client';
import { setTimeout as sleep } from 'node:timers/promises';
import { createHash } from 'node:crypto';
import { nanoid } from 'nanoid';
import type { PurchaseCache } from '../../../cache/purchase-cache';
import type { QueueCache } from '../../../cache/queue-cache';
import type { SeatCache } from '../../../cache/seat-cache';
import type { PurchaseConfig } from '../../../config';
import {
  EVENT_ID_SEARCH_ATTRIBUTE,
  redeemTicketUpdate,
  seatExists,
  seatTicketQuery,
  seatWorkflowId,
} from '../../../entities/seat/contract';
import { FailureCode } from '../../../failures';
import { verifyToken } from '../../../lib/signing';
import {
  cancelPurchaseUpdate,
  PURCHASE_WORKFLOW_TYPE,
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
import { issuePurchaseToken, readAdmissionToken, type PurchaseClaims } from '../../tokens';
import type { EventService } from '../events/service';

const POLL_INTERVAL_MS = 100;
const CANCEL_DEADLINE_MS = 30_000;
const REDEEM_DEADLINE_MS = 10_000;

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
  constructor(
    private readonly client: Client,
    private readonly events: EventService,
    private readonly seatCache: SeatCache,
    private readonly purchaseCache: PurchaseCache,
    private readonly queueCache: QueueCache,
    private readonly taskQueue: string,
    private readonly signingSecret: string,
    private readonly config: PurchaseConfig,
  ) {}

  /**
   * Starts the fan's purchase, or returns the one the fan already has (`created: false`). A queue event
   * needs the fan's admission token; its admission is used once (a different request is refused).
   */
  async create(
    eventId: string,
    body: CreatePurchaseBody,
    admissionToken?: string,
  ): Promise<{ created: boolean; purchaseId: string; token: string }> {
    const event = await this.events.event(eventId);
    const { definition } = event;
    const purchaseId = purchaseWorkflowId(eventId, body.fanId);
    const answer = (created: boolean) => ({
      created,
      purchaseId,
      token: issuePurchaseToken(this.signingSecret, { purchaseId, eventId, fanId: body.fanId }),
    });
    if (body.seatId && !seatExists(body.seatId, definition.rows, definition.seatsPerRow)) {
      throw new HttpProblem(FailureCode.NOT_FOUND, `event ${eventId} has no seat ${body.seatId}`);
    }
    const queued = definition.admission === 'queue';
    const admission = queued
      ? readAdmissionToken(admissionToken, this.signingSecret, eventId, body.fanId)
      : undefined;
    const requestDigest = digestOf(body);
    const existing = await this.cachedStatus(eventId, body.fanId);
    if (existing) {
      if (queued && existing.requestDigest && existing.requestDigest !== requestDigest) {
        throw new HttpProblem(
          FailureCode.ADMISSION_USED,
          `this admission was used for purchase ${purchaseId}; one purchase per fan per event`,
        );
      }
      return answer(false);
    }
    if (event.closed) throw new HttpProblem(FailureCode.EVENT_CLOSED, `event ${eventId} is closed`);
    if (definition.onSaleAt && Date.parse(definition.onSaleAt) > Date.now()) {
      throw new HttpProblem(
        FailureCode.NOT_ADMITTED,
        `event ${eventId} goes on sale at ${definition.onSaleAt}`,
      );
    }
    if (admission && admission.expiresAt <= Date.now()) {
      // A retry of a purchase the cache lost (a flush) is still the same purchase.
      if (
        await this.client.workflow
          .getHandle(purchaseId)
          .describe()
          .catch(() => undefined)
      )
        return answer(false);
      throw new HttpProblem(
        FailureCode.ADMISSION_EXPIRED,
        `the admission expired at ${new Date(admission.expiresAt).toISOString()}`,
      );
    }
    const queue = queued ? await this.queueCache.get(eventId).catch(() => undefined) : undefined;
    const counts = await this.seatCache.getCounts(eventId).catch(() => undefined);
    if ((counts && counts.available === 0 && counts.held === 0) || queue?.closed === 'sold-out') {
      throw new HttpProblem(FailureCode.SOLD_OUT, `event ${eventId} is sold out`);
    }

    const input: PurchaseInput = {
      purchaseId,
      eventId,
      fanId: body.fanId,
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
    };
    if (admission) input.admission = { position: admission.position };
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
    const initial: PurchaseStatus = {
      purchaseId,
      eventId,
      fanId: body.fanId,
      state: 'reserving',
      version: 1,
    };
    if (body.seatId) initial.seatId = body.seatId;
    initial.requestDigest = requestDigest;
    await this.purchaseCache.project(initial).catch(() => undefined); // the saga projects every later state
    return answer(true);
  }

  /** The purchase's status; with `waitMs`, waits (polling the cache) until it is final or time is up. */
  async status(claims: PurchaseClaims, waitMs = 0): Promise<PurchaseStatus> {
    const deadline = Date.now() + waitMs;
    let status = await this.read(claims);
    while (!isTerminal(status) && Date.now() < deadline) {
      await sleep(Math.min(POLL_INTERVAL_MS, Math.max(0, deadline - Date.now())));
      status = (await this.cachedStatus(claims.eventId, claims.fanId)) ?? status;
    }
    return status;
  }

  async cancel(claims: PurchaseClaims): Promise<PurchaseStatus> {
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
    try {
      const use = await this.client.withDeadline(Date.now() + REDEEM_DEADLINE_MS, () =>
        executeUpdate(handle, redeemTicketUpdate, {
          args: [{ ticketId: ticket.ticketId, scanId }],
          updateId: `redeem:${scanId}`,
        }),
      );
      return { ...ticket, usedAt: new Date(use.usedAt).toISOString() };
    } catch (err) {
      const problem = problemFromTemporal(err);
      if (problem?.code === FailureCode.TICKET_USED) {
        const { usedAt } = await handle.query(seatTicketQuery);
        throw new HttpProblem(FailureCode.TICKET_USED, problem.detail, {
          extra: usedAt === undefined ? {} : { usedAt: new Date(usedAt).toISOString() },
        });
      }
      if (err instanceof WorkflowNotFoundError) {
        // A seat whose event closed has finished; one that never existed has no description.
        const running = await handle.describe().then(
          (d) => d.status.name === 'RUNNING',
          () => undefined,
        );
        if (running === undefined) throw new HttpProblem(FailureCode.TICKET_INVALID, 'no such seat');
        throw new HttpProblem(FailureCode.EVENT_CLOSED, `event ${ticket.eventId} is closed`);
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

  private async cachedStatus(eventId: string, fanId: string): Promise<PurchaseStatus | undefined> {
    return this.purchaseCache.get(eventId, fanId).catch(() => undefined);
  }

  /**
   * From the cache; from the saga itself (and written back) when the cache has lost it. Only a purchase of
   * the very (event, fan) pair asked for is returned: anything else is "not found".
   */
  private async read(claims: PurchaseClaims): Promise<PurchaseStatus> {
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
    let status: PurchaseStatus;
    try {
      status = await this.client.workflow.getHandle(claims.purchaseId).query(purchaseStatusQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw notFound();
      throw err;
    }
    if (!ours(status)) throw notFound();
    await this.purchaseCache.project(status).catch(() => undefined);
    return status;
  }
}
