/**
 * The purchase saga. Each completed step registers its undo; on any failure (or a cancel before payment
 * is captured) the undos run newest first in a non-cancellable scope, retried until done, and the
 * workflow fails with the contract's failure code, so `temporal workflow list` groups failures by cause.
 */
import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ParentClosePolicy,
  TimeoutFailure,
  condition,
  isCancellation,
  log,
  metricMeter,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import type { PurchaseOutcome } from '../../entities/queue/contract';
import { EVENT_ID_SEARCH_ATTRIBUTE, refusingSeat } from '../../entities/seat/contract';
import { FailureCode, isFailureCode } from '../../failures';
import type { Hold, PurchaseActivities } from './activities';
import {
  BEST_AVAILABLE_ROUNDS,
  BEST_AVAILABLE_ROUNDS_WAITING,
  cancelPurchaseUpdate,
  CONFIRMATION_WORKFLOW_TYPE,
  confirmationIdOf,
  heldSeatWaitMs,
  holdIdOf,
  purchaseStatusQuery,
  TERMINAL_STATES,
  type ChannelResult,
  type ConfirmationInput,
  type ConfirmationResult,
  type PurchaseFailure,
  type PurchaseInput,
  type PurchaseStatus,
} from './contract';

/**
 * Seat claims run as local activities: the seat entity answers in milliseconds and the Update is
 * idempotent, so a retry after a crash is safe, and each claim costs one marker event instead of an
 * activity's three events plus a workflow task.
 */
const seats = proxyLocalActivities<PurchaseActivities>({
  startToCloseTimeout: '15s',
  retry: { initialInterval: '200ms', maximumInterval: '2s', maximumAttempts: 5 },
});
/** Undo steps: retried until done. */
const undo = proxyActivities<PurchaseActivities>({
  startToCloseTimeout: '15s',
  retry: { initialInterval: '500ms', maximumInterval: '30s' },
});
/** Short, idempotent, local: no history of their own beyond a marker. */
const local = proxyLocalActivities<PurchaseActivities>({
  startToCloseTimeout: '5s',
  retry: { initialInterval: '100ms', maximumAttempts: 5 },
});
/**
 * A best-available pick: an activity, not a local one, so its result is history before the workflow sees
 * it (a local activity's is only once its task completes).
 */
const picker = proxyActivities<PurchaseActivities>({
  startToCloseTimeout: '5s',
  retry: { initialInterval: '100ms', maximumAttempts: 5 },
});
/** A pick that may wait for held seats to end (see PurchaseInput.waitForHeldSeats): heartbeats while it waits. */
const waitingPicker = (input: PurchaseInput) =>
  proxyActivities<PurchaseActivities>({
    startToCloseTimeout: heldSeatWaitMs(input) + 10_000,
    heartbeatTimeout: '5s',
    retry: { initialInterval: '100ms', maximumAttempts: 5 },
  });
/** Messages to the waiting room must arrive (a lost one would hold a slot for good): retried until done. */
const messenger = proxyLocalActivities<PurchaseActivities>({
  startToCloseTimeout: '10s',
  retry: { initialInterval: '200ms', maximumInterval: '5s' },
});

/** A retried first task releases the candidates its lost attempt may have held (see releaseLostHolds). */
const RELEASE_LOST_HOLDS_PATCH = 'release-lost-holds';
/** A hold with no answer leaves a tombstone on its seat before the purchase gives up (see holdOrTombstone). */
const TOMBSTONE_UNANSWERED_HOLDS_PATCH = 'tombstone-unanswered-holds';

/**
 * Runs started with `holdGuards` decide whether a retried first task releases its other candidates here,
 * in the run's first activation. Older runs ask RELEASE_LOST_HOLDS_PATCH (and TOMBSTONE_UNANSWERED_HOLDS_PATCH)
 * right after a hold's local activity answered; a replay can see that answer one workflow task earlier
 * than the run did (a lost first task whose hold answered into its retry), where `patched()` is false.
 */
const RELEASE_LOST_HOLDS_AT_START_PATCH = 'release-lost-holds-at-start';

/** A seat's answers that refuse a hold for good: a best-available purchase tries its next candidate. */
const REFUSED_HOLD: readonly FailureCode[] = [FailureCode.SEAT_TAKEN, FailureCode.HOLD_LATE];

/** What an activity's failure carries (its cause), or the error itself. */
const causeOf = (err: unknown): unknown => (err instanceof ActivityFailure ? err.cause : err);

/** A refused seat this purchase can never hold: sold, or its hold refused as late (its hold id is spent). */
const neverHeld = (err: unknown): boolean => {
  const cause = causeOf(err);
  if (!(cause instanceof ApplicationFailure)) return false;
  return cause.type === FailureCode.HOLD_LATE || refusingSeat(cause.details)?.status === 'sold';
};

/** Whether an error is the seat's (or the contract's) final answer, as opposed to no answer at all. */
const answered = (err: unknown): boolean => {
  const cause = causeOf(err);
  return cause instanceof ApplicationFailure && isFailureCode(cause.type);
};

/**
 * Holds a seat. A hold that got no answer after every attempt (timeouts, a server away) may still reach
 * the seat later, when nobody would release it: before the purchase gives up, it leaves a tombstone there
 * (release it if it is there, refuse it should it arrive).
 */
async function holdOrTombstone(input: PurchaseInput, seatId: string): Promise<Hold> {
  const { eventId, purchaseId, holdTtlMs: ttlMs } = input;
  // The workflow task that sends it (its history length at the start): a lost task and its retry differ.
  const sender = `task@${workflowInfo().historyLength}`;
  try {
    return await seats.reserveSeat({ eventId, purchaseId, seatId, ttlMs, sender });
  } catch (err) {
    const unanswered = !isCancellation(err) && !answered(err);
    if (unanswered && (input.holdGuards === true || patched(TOMBSTONE_UNANSWERED_HOLDS_PATCH))) {
      await undo
        .releaseSeat({ eventId, seatId, holdId: holdIdOf(purchaseId, seatId), tombstone: true })
        .catch((releaseErr: unknown) => {
          if (isCancellation(releaseErr)) throw releaseErr;
        });
    }
    throw err;
  }
}

/** Maps whatever ended the saga to the contract's failure vocabulary. */
function toFailure(err: unknown): PurchaseFailure {
  if (isCancellation(err))
    return { code: FailureCode.CANCELLED, message: 'purchase cancelled before payment was captured' };
  const cause = causeOf(err);
  if (cause instanceof ApplicationFailure && isFailureCode(cause.type))
    return { code: cause.type, message: cause.message };
  if (err instanceof ActivityFailure && cause instanceof TimeoutFailure) {
    return err.activityType === 'chargePayment'
      ? { code: FailureCode.PAYMENT_TIMEOUT, message: 'the payment gateway did not answer in time' }
      : { code: FailureCode.PROVIDER_UNAVAILABLE, message: `${err.activityType} timed out` };
  }
  return { code: FailureCode.INTERNAL, message: err instanceof Error ? err.message : String(err) };
}

/**
 * Tells the waiting room (queue events only) that the admission is in use, and later that the purchase
 * ended, so its slot goes to the next fan. Local activities: no extra workflow task per message. The
 * start is told once, on the first `use()`; the end is told after the start has been delivered, so the
 * queue entity sees them in order.
 */
function admissionReporter(input: PurchaseInput): {
  use: () => Promise<void>;
  finished: (outcome: PurchaseOutcome, code?: FailureCode) => Promise<void>;
} {
  const { admission, eventId, fanId } = input;
  if (!admission) return { use: () => Promise.resolve(), finished: async () => undefined };
  const warn = (err: unknown) => {
    if (isCancellation(err)) throw err;
    log.warn('waiting room not told', { eventId, fanId, err });
  };
  const { position } = admission;
  let used: Promise<void> | undefined = admission.claimed ? Promise.resolve() : undefined;
  const use = () =>
    (used ??= messenger.tellQueue({ kind: 'admission-used', eventId, position, fanId }).catch(warn));
  return {
    use,
    finished: async (outcome, code) => {
      await use();
      await messenger
        .tellQueue({ kind: 'purchase-finished', eventId, position, fanId, outcome, code })
        .catch(warn);
    },
  };
}

/** A reservation: the hold, the candidates after the held seat, and whether they were released already. */
interface Reserved {
  hold: Hold;
  after: string[];
  released: boolean;
}

/**
 * Holds the asked seat, or the best available one. The candidates are picked once and recorded (by the API
 * in the input, or by a pick activity), then held one by one: a hold retried after a lost answer goes to
 * the same seat under the same Update id and finds its own hold, instead of leaving it behind on a seat
 * nobody buys until its TTL runs out.
 *
 * The pick must be history before any seat is touched: a workflow task lost after a hold (a worker
 * killed, a task timed out on a starved worker) would otherwise pick again on retry, get other seats from
 * the changed cache and leave the first hold behind. So the pick is an activity (its result is history
 * before the workflow goes on), not a local one (whose result is history only once its task completes).
 */
async function reserve(
  input: PurchaseInput,
  claiming: () => void,
  releaseLost: (after: string[]) => boolean,
): Promise<Reserved> {
  const { eventId, purchaseId } = input;
  if (input.seatId) {
    claiming();
    return { hold: await holdOrTombstone(input, input.seatId), after: [], released: false };
  }
  const waiting = input.waitForHeldSeats === true;
  // From the run's first activation: the same in a replay, and a retried pick does not wait longer.
  const waitUntil = waiting ? Date.now() + heldSeatWaitMs(input) : undefined;
  const pick = waiting ? waitingPicker(input).pickSeats : picker.pickSeats;
  const tried: string[] = [];
  const never: string[] = [];
  for (let round = 0; round < (waiting ? BEST_AVAILABLE_ROUNDS_WAITING : BEST_AVAILABLE_ROUNDS); round++) {
    // The first round the API picked, when it had a seat map: no pick activity, no task to wait for it.
    const fromInput = round === 0 && Boolean(input.candidates?.length);
    const picked = fromInput
      ? input.candidates!
      : await pick({
          eventId,
          purchaseId,
          exclude: waiting ? never : tried,
          ...(waitUntil && { waitUntil }),
        });
    claiming();
    for (const [i, seatId] of picked.entries()) {
      tried.push(seatId);
      try {
        const hold = await holdOrTombstone(input, seatId);
        // Held in the first task: a lost earlier attempt at it may have held a later candidate.
        const after = picked.slice(i + 1);
        const released = fromInput && releaseLost(after);
        if (released) await releaseLostHolds(input, after);
        return { hold, after, released };
      } catch (err) {
        if (isCancellation(err) || !REFUSED_HOLD.includes(toFailure(err).code)) throw err;
        if (neverHeld(err)) never.push(seatId);
      }
    }
  }
  throw ApplicationFailure.create({
    type: FailureCode.SOLD_OUT,
    message: `no seat free after ${tried.length} tries`,
    nonRetryable: true,
  });
}

/**
 * A first workflow task lost after it had sent holds (a worker killed, or starved past the task's timeout)
 * takes its local activities' answers with it (unless the run goes on in the worker's cache, answers and
 * all). A retry that runs it from the start holds the API's candidates again in order, and
 * finds its own hold where it gets that far (same hold id); but a candidate that was taken the first time
 * may be free now, and the retry then stops short of a seat the lost task held. So a retried first task
 * releases its hold on every candidate after the one it held, as a tombstone: a seat it does not hold
 * remembers the release, and refuses the lost attempt's hold should it still be on its way.
 */
async function releaseLostHolds(input: PurchaseInput, after: string[]): Promise<void> {
  const { eventId, purchaseId } = input;
  await Promise.all(
    after.map((seatId) =>
      undo
        .releaseSeat({ eventId, seatId, holdId: holdIdOf(purchaseId, seatId), tombstone: true })
        .catch((err: unknown) => {
          if (isCancellation(err)) throw err;
        }),
    ),
  );
}

/**
 * Counts a purchase's end on the worker's metrics, by outcome and code, and each compensation it ran
 * (the workflow meter records nothing on replay).
 */
function countEnd(outcome: string, code = 'none', compensations: string[] = []): void {
  metricMeter
    .createCounter('ticketdrop_purchases_ended', 'purchases', 'Purchases ended, by outcome and failure code')
    .add(1, { outcome, code });
  const ran = metricMeter.createCounter(
    'ticketdrop_compensations',
    'steps',
    'Compensation steps run, by step',
  );
  for (const step of compensations) ran.add(1, { step: step.split(':')[0] });
}

/** History events before a run's first workflow task runs: started, task scheduled, task started. */
const FIRST_TASK_EVENTS = 3;

export async function purchase(input: PurchaseInput): Promise<PurchaseStatus> {
  // More events than a first task starts with: an earlier attempt at it was lost.
  const retriedFirstTask = workflowInfo().historyLength > FIRST_TASK_EVENTS;
  // A run that goes on in the worker's cache after its first task was lost saw a first task of 3 events;
  // its replay sees the retried one. The patch marker records what the run decided.
  const releaseLostAtStart =
    input.holdGuards === true && retriedFirstTask && patched(RELEASE_LOST_HOLDS_AT_START_PATCH);
  const releaseLost = (after: string[]): boolean =>
    after.length > 0 &&
    (input.holdGuards === true ? releaseLostAtStart : retriedFirstTask && patched(RELEASE_LOST_HOLDS_PATCH));
  const { purchaseId, eventId, fanId } = input;
  const status: PurchaseStatus = { purchaseId, eventId, fanId, state: 'reserving', version: 1 };
  if (input.seatId) status.seatId = input.seatId;
  if (input.requestDigest) status.requestDigest = input.requestDigest;
  if (input.admission) status.position = input.admission.position;
  // The waiting room hears of the admission's use along with the first seat claim, not before the pick:
  // a local activity holds back the commands of its workflow task, and under load a message to the busy
  // queue entity took about a second.
  const queue = admissionReporter(input);
  const { chargePayment } = proxyActivities<PurchaseActivities>({
    startToCloseTimeout: input.paymentTimeoutMs,
    // A hanging gateway gets two attempts, then the fan is answered and the seat goes back on sale.
    scheduleToCloseTimeout: 2 * input.paymentTimeoutMs + 1_000,
    heartbeatTimeout: Math.min(input.paymentTimeoutMs, 2_000),
    // On cancel, wait for the gateway's answer: either it stopped (no charge) or the charge landed (refund).
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: {
      initialInterval: '200ms',
      maximumAttempts: 3,
      nonRetryableErrorTypes: [FailureCode.PAYMENT_DECLINED],
    },
  });
  const compensations: { name: string; run: () => Promise<void> }[] = [];
  const flow = new CancellationScope();
  let reserved: Reserved | undefined;
  // Off the fan's path, at the end: the candidates a lost workflow task may have held.
  const releaseStranded = async (): Promise<void> => {
    if (input.releaseAfterLostTasks !== true || !reserved?.after.length || reserved.released) return;
    await seats
      .releaseAfterLostTasks({
        eventId,
        purchaseId,
        seats: reserved.after,
        run: { workflowId: workflowInfo().workflowId, runId: workflowInfo().runId },
      })
      .catch((err: unknown) => {
        if (isCancellation(err)) throw err;
        log.warn('candidates after a lost task not released', { purchaseId, err });
      });
  };
  let captured = false;
  const finished = () => TERMINAL_STATES.includes(status.state);

  setHandler(purchaseStatusQuery, () => status);
  setHandler(
    cancelPurchaseUpdate,
    async () => {
      flow.cancel();
      await condition(finished);
      return status;
    },
    {
      validator: () => {
        if (captured || finished()) {
          throw ApplicationFailure.create({
            type: FailureCode.NOT_CANCELLABLE,
            message: `purchase is ${status.state}${captured ? ' and payment was captured' : ''}: too late to cancel`,
            nonRetryable: true,
          });
        }
      },
    },
  );

  const move = async (patch: Partial<PurchaseStatus>): Promise<void> => {
    Object.assign(status, patch, { version: status.version + 1 });
    try {
      await local.projectPurchase({ ...status });
    } catch (err) {
      if (isCancellation(err)) throw err;
      log.warn('purchase projection failed', { purchaseId, err }); // only a cache: polls fall back to a query
    }
  };

  // The read side learns of each step while the step runs: the projection goes out with the step's own
  // command instead of a task before it (fewer activations and round trips per purchase).
  const moveThen = async <T>(patch: Partial<PurchaseStatus>, step: () => Promise<T>): Promise<T> => {
    const [, result] = await Promise.all([move(patch), step()]);
    return result;
  };

  try {
    await flow.run(async () => {
      // Not cancellable mid-flight: a hold that lands must be known, so that its release is registered.
      reserved = await CancellationScope.nonCancellable(() =>
        reserve(input, () => void queue.use(), releaseLost),
      );
      const { hold } = reserved;
      compensations.push({
        name: 'release',
        run: () => undo.releaseSeat({ eventId, seatId: hold.seatId, holdId: hold.holdId }),
      });

      // Derived in the workflow, so a retry or a replay presents the same key and is never charged twice.
      const idempotencyKey = `pay:${purchaseId}:${workflowInfo().firstExecutionRunId}`;
      // Registered before the charge: a charge that timed out on our side may still have landed.
      compensations.push({ name: 'refund', run: () => undo.refundPayment({ idempotencyKey }) });
      await moveThen({ state: 'paying', seatId: hold.seatId }, () =>
        chargePayment({
          idempotencyKey,
          token: input.paymentToken,
          amountCents: input.priceCents,
          purchaseId,
          eventId,
          fanId,
        }),
      );
      captured = !flow.consideredCancelled;

      const ticket = await moveThen({ state: 'issuing' }, () =>
        local.issueTicket({ purchaseId, eventId, seatId: hold.seatId, fanId }),
      );
      compensations.push({ name: 'void-ticket', run: () => undo.voidTicket({ ticketId: ticket.ticketId }) });

      await moveThen({ state: 'confirming' }, () =>
        seats.confirmSeat({
          eventId,
          seatId: hold.seatId,
          holdId: hold.holdId,
          ticketId: ticket.ticketId,
        }),
      );
      status.ticket = ticket;
    });
  } catch (err) {
    const failure = { ...toFailure(err), at: Date.now() };
    await CancellationScope.nonCancellable(async () => {
      const ran: string[] = [];
      for (const step of compensations.reverse()) {
        try {
          await step.run();
          ran.push(step.name);
        } catch (stepErr) {
          // Only a final contract answer gets here (e.g. the event closed): nothing left to undo.
          ran.push(`${step.name}:${toFailure(stepErr).code}`);
        }
      }
      const state = failure.code === FailureCode.CANCELLED ? 'cancelled' : 'failed';
      await moveThen({ state, failure, compensations: ran }, () =>
        Promise.all([queue.finished(state, failure.code), releaseStranded()]),
      );
      countEnd(state, failure.code, ran);
    });
    // The final status travels with the failure: a cache rebuild reads it from the close event, without
    // asking a worker to replay the purchase for a query.
    throw ApplicationFailure.create({
      type: failure.code,
      message: failure.message,
      nonRetryable: true,
      details: [{ ...status }],
    });
  }

  await moveThen({ state: 'completed' }, () => Promise.all([queue.finished('completed'), releaseStranded()]));
  countEnd('completed');
  const args: [ConfirmationInput] = [
    {
      purchaseId,
      eventId,
      fanId,
      seatId: status.seatId!,
      ticketId: status.ticket!.ticketId,
      notify: input.notify,
    },
  ];
  await startChild(CONFIRMATION_WORKFLOW_TYPE, {
    workflowId: confirmationIdOf(purchaseId),
    args,
    // The confirmation outlives the purchase: its failures show in its own result, never in the purchase.
    // Waiting for it to end instead saved the server a load of the closed parent when the child ended,
    // but cost the purchase another workflow task (docs/BENCHMARKS.md): not kept.
    parentClosePolicy: ParentClosePolicy.ABANDON,
    typedSearchAttributes: [{ key: EVENT_ID_SEARCH_ATTRIBUTE, value: eventId }],
  });
  return status;
}

/** Sends the confirmation by email and SMS in parallel, each retried with backoff. Never fails. */
export async function confirmation(input: ConfirmationInput): Promise<ConfirmationResult> {
  // Local: short provider calls, so both channels run in the first workflow task and record one marker each.
  const { sendNotification } = proxyLocalActivities<PurchaseActivities>({
    startToCloseTimeout: '10s',
    retry: {
      initialInterval: input.notify.initialIntervalMs,
      backoffCoefficient: 2,
      maximumAttempts: input.notify.maxAttempts,
    },
  });
  const send = async (channel: 'email' | 'sms'): Promise<ChannelResult> => {
    try {
      await sendNotification({ channel, purchaseId: input.purchaseId, fanId: input.fanId });
      return { status: 'sent' };
    } catch (err) {
      const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
      return {
        status: 'failed',
        attempts: input.notify.maxAttempts,
        error: cause instanceof Error ? cause.message : String(cause),
      };
    }
  };
  const [email, sms] = await Promise.all([send('email'), send('sms')]);
  return { email, sms };
}
