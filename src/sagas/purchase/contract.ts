/**
 * The purchase saga's contract: reserve → pay → issue → confirm → notify, each step with its undo.
 * One purchase per fan per event: `purchase-<eventId>:<fanId>` is also the purchase id.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { FailureCode } from '../../failures';
import type { PaymentToken } from '../../providers/payments';

export const PURCHASE_WORKFLOW_TYPE = 'purchase';
export const CONFIRMATION_WORKFLOW_TYPE = 'confirmation';

/**
 * Event and fan ids may both contain `-`, so they are joined with `:`, which neither may contain: no two
 * (event, fan) pairs share a purchase (`purchase-a:b-c` and `purchase-a-b:c` are two). The entities' ids
 * need no such separator: `seat-<eventId>-<seatId>` ends in a seat id, which has no `-`.
 */
export const PAIR_SEPARATOR = ':';
const PURCHASE_PREFIX = 'purchase-';
export const purchaseWorkflowId = (eventId: string, fanId: string): string =>
  `${PURCHASE_PREFIX}${eventId}${PAIR_SEPARATOR}${fanId}`;
/** The (event, fan) pair a purchase id names, if it is one (ids never contain the separator). */
export function pairOfPurchaseId(purchaseId: string): { eventId: string; fanId: string } | undefined {
  if (!purchaseId.startsWith(PURCHASE_PREFIX)) return undefined;
  const pair = purchaseId.slice(PURCHASE_PREFIX.length).split(PAIR_SEPARATOR);
  if (pair.length !== 2 || !pair[0] || !pair[1]) return undefined;
  return { eventId: pair[0], fanId: pair[1] };
}

/**
 * A purchase's confirmation: its id with the prefix changed. The saga derives it from its purchase id, so a run
 * started under an earlier id scheme still starts the child it recorded.
 */
export const confirmationIdOf = (purchaseId: string): string =>
  `confirmation-${purchaseId.startsWith(PURCHASE_PREFIX) ? purchaseId.slice(PURCHASE_PREFIX.length) : purchaseId}`;
export const confirmationWorkflowId = (eventId: string, fanId: string): string =>
  confirmationIdOf(purchaseWorkflowId(eventId, fanId));

/** The hold a purchase places on a seat: the same for every attempt, so a retried hold finds its own. */
export const holdIdOf = (purchaseId: string, seatId: string): string => `${purchaseId}:${seatId}`;

/** Seats tried per look at the cache, and looks, before a best-available purchase gives up (SOLD_OUT). */
export const BEST_AVAILABLE_TRIES = 8;
export const BEST_AVAILABLE_ROUNDS = 3;
/**
 * Looks at the cache for purchases started with `waitForHeldSeats`: each look excludes only the seats the
 * purchase can never hold, so a seat refused as held is tried again once it is back on sale.
 */
export const BEST_AVAILABLE_ROUNDS_WAITING = 6;
/**
 * How long a best-available pick waits while every free seat is gone but others are held: a hold ends in
 * a sale or back on sale within a purchase's two payment attempts and a few steps (the slack), at the
 * latest at its TTL.
 */
export const heldSeatWaitMs = (input: Pick<PurchaseInput, 'holdTtlMs' | 'paymentTimeoutMs'>): number =>
  Math.min(input.holdTtlMs, 2 * input.paymentTimeoutMs + HELD_SEAT_WAIT_SLACK_MS);
const HELD_SEAT_WAIT_SLACK_MS = 15_000;
/**
 * How many of the best seats a best-available purchase picks among, so racing fans spread out: at least
 * this many, and at least as many as the event lets purchases run at once (each of them may be racing).
 * With 24 for 100 racing purchases, a drop's purchases mostly found their picks taken (17 tries for one
 * fan): sold out 111 s; with 100, 82 s (docs/BENCHMARKS.md).
 */
export const BEST_AVAILABLE_SPREAD = 24;

/** The signing purpose of ticket QR codes (see lib/signing). */
export const QR_PURPOSE = 'ticket-qr';

export type PurchaseState =
  'reserving' | 'paying' | 'issuing' | 'confirming' | 'completed' | 'failed' | 'cancelled';
export const TERMINAL_STATES: readonly PurchaseState[] = ['completed', 'failed', 'cancelled'];

export interface Ticket {
  ticketId: string;
  seatId: string;
  qr: string;
}

export interface PurchaseFailure {
  code: FailureCode;
  message: string;
  /**
   * When the saga met it (workflow time, ms): for SOLD_OUT, the moment its last look found no seat. The
   * audit checks the seats at that moment, not at the close, which comes after the compensations.
   */
  at?: number;
}

export interface PurchaseStatus {
  purchaseId: string;
  eventId: string;
  fanId: string;
  state: PurchaseState;
  /** Bumped on every change: the read-side cache keeps only the newest. */
  version: number;
  seatId?: string;
  ticket?: Ticket;
  failure?: PurchaseFailure;
  /** Compensations that ran, in order (e.g. "refund", "release"). */
  compensations?: string[];
  /** Fingerprint of the request that started it: a different request by the same fan is refused. */
  requestDigest?: string;
  /** Queue events: the waiting-room position whose admission it used. */
  position?: number;
}

export interface NotifyPolicy {
  maxAttempts: number;
  initialIntervalMs: number;
}

export interface PurchaseInput {
  purchaseId: string;
  eventId: string;
  fanId: string;
  /** Absent: the best available seat is chosen. */
  seatId?: string;
  /**
   * Best available only: the first round of seats to try, picked by the API from the read cache when it
   * started the purchase (the input is history from the first event, so a retried task holds the same
   * seats). Absent or all taken: the saga picks (again) itself. Runs started before the field existed
   * have none and pick from the start.
   */
  candidates?: string[];
  paymentToken: PaymentToken;
  priceCents: number;
  holdTtlMs: number;
  /** Start-to-close limit of one charge attempt. */
  paymentTimeoutMs: number;
  notify: NotifyPolicy;
  /**
   * Queue events: the waiting-room position whose admission this purchase uses. `claimed`: the entity
   * already marked it in use when the API claimed it, so the saga does not tell it again.
   */
  admission?: { position: number; claimed?: boolean };
  requestDigest?: string;
  /**
   * Started by code whose late-hold guards never ask a patch after a local activity's answer (a replay
   * may see that answer one workflow task earlier than the run did): an unanswered hold always leaves a
   * tombstone, and whether a retried first task releases its other candidates is decided in the run's
   * first activation. Runs started before the field existed keep their patches where they asked them.
   */
  holdGuards?: true;
  /**
   * Started by code that answers SOLD_OUT only when no seat is left for the purchase: a best-available
   * pick excludes only the seats it can never hold (sold, or refused HOLD_LATE), and one that finds every
   * other seat held waits (in the pick activity) for a hold to end, up to heldSeatWaitMs.
   */
  waitForHeldSeats?: true;
  /**
   * Started by code that, at the purchase's end, releases the candidates after the seat it held when the
   * run's history shows a lost workflow task (any task, not only the first): the lost task may have held
   * one of them.
   */
  releaseAfterLostTasks?: true;
}

/**
 * The saga's steps in order, each with the activity (or child) that runs it and the undo it registers.
 * The workflow runs these names; the debugging views read them to show steps and compensations.
 */
export const PURCHASE_SAGA: readonly SagaStep[] = [
  { step: 'reserve', activity: 'reserveSeat', undo: { step: 'release', activity: 'releaseSeat' } },
  {
    step: 'payment',
    activity: 'chargePayment',
    // Registered before the charge: a charge that timed out on our side may still have landed.
    undo: { step: 'refund', activity: 'refundPayment' },
    undoFromStart: true,
  },
  { step: 'issue', activity: 'issueTicket', undo: { step: 'void-ticket', activity: 'voidTicket' } },
  { step: 'confirm', activity: 'confirmSeat' },
  { step: 'notify', child: CONFIRMATION_WORKFLOW_TYPE },
];

export interface SagaStep {
  step: string;
  activity?: string;
  child?: string;
  undo?: { step: string; activity: string };
  /** The undo is owed as soon as the step starts, not only once it succeeded. */
  undoFromStart?: boolean;
}

export const purchaseStatusQuery = defineQuery<PurchaseStatus>('purchaseStatus');
/** Cancels a purchase that has not captured payment; resolves with the final status. */
export const cancelPurchaseUpdate = defineUpdate<PurchaseStatus>('cancelPurchase');

export interface ConfirmationInput {
  purchaseId: string;
  eventId: string;
  fanId: string;
  seatId: string;
  ticketId: string;
  notify: NotifyPolicy;
}

export interface ChannelResult {
  status: 'sent' | 'failed';
  /** Attempts made, when the channel gave up. */
  attempts?: number;
  error?: string;
}

export interface ConfirmationResult {
  email: ChannelResult;
  sms: ChannelResult;
}
