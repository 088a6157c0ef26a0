/**
 * The waiting-room entity: wiring only. State and rules live in `state.ts`. Joins arrive as batched
 * Updates; purchase sagas signal when an admission is used and when the purchase ends. Every change is
 * published to the read-side cache (coalesced: one projection per loop turn), expiry is enforced by
 * never-cancelled timers, and the run continues as new, fan hashes packed as binary arguments.
 */
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  log,
  makeContinueAsNewFunc,
  patched,
  proxyLocalActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import { FailureCode } from '../../failures';
import type { QueueActivities } from './activities';
import {
  admissionUsedSignal,
  claimAdmissionsUpdate,
  closeQueueSignal,
  isFanId,
  joinQueueUpdate,
  MAX_JOIN_BATCH,
  MAX_FINISHED_BATCH,
  purchaseFinishedSignal,
  purchasesFinishedSignal,
  queueAdmissionLogQuery,
  queuePlacesQuery,
  queueSnapshotQuery,
  rolloverQueueSignal,
  type AdmissionRange,
  type QueueEntityInput,
  type QueueView,
} from './contract';
import { QueueState } from './state';

const { projectQueue, claimedPurchasesStarted } = proxyLocalActivities<QueueActivities>({
  startToCloseTimeout: '5s',
  retry: { initialInterval: '200ms', maximumInterval: '2s', maximumAttempts: 5 },
});

/** Expiry timers fire on whole seconds, so a stream of admissions arms at most one timer a second. */
const TIMER_GRANULARITY_MS = 1_000;

/** Admitted fans who walked away give their slot back (see admissionRoom). */
const GONE_FANS_FREE_SLOTS_PATCH = 'gone-fans-free-slots';
/** A claimed admission whose purchase never started gives its slot back (see QueueState.claimsChecked). */
const CHECK_CLAIMS_PATCH = 'queue-check-claims';
/** A look at claims that failed is made again this much later. */
const CLAIM_RETRY_MS = 10_000;

const random32 = (): number => Math.floor(Math.random() * 2 ** 32);

function invalid(message: string): never {
  throw ApplicationFailure.create({ type: FailureCode.VALIDATION, message, nonRetryable: true });
}

export async function queueEntity(
  input: QueueEntityInput,
  order?: Uint8Array,
  prequeue?: Uint8Array,
): Promise<QueueView> {
  const { settings } = input;
  const fresh = { key: (): [number, number] => [random32(), random32()], now: Date.now() };
  // A run started before the rule replays with the old one; every run after a deploy (a new queue, or a
  // continued one) gets the new rule.
  const rules = {
    ...settings,
    goneFansFreeSlots: patched(GONE_FANS_FREE_SLOTS_PATCH),
    checkClaims: patched(CHECK_CLAIMS_PATCH),
  };
  const queue = new QueueState(rules, input.snapshot, fresh, order, prequeue);
  // Every run publishes its view at once (a continued run also what its predecessor had not published).
  let published = -1;
  let unpublished: AdmissionRange[] = [...(input.snapshot?.unpublished ?? [])];
  let rollover = false;

  // Never-cancelled timers (a timer cancelled in the activation where it fires is rejected by the server).
  // One armed timer covers every later wake-up: when it fires it arms the next one.
  const armed = new Set<number>();
  const armExpiry = (dueAt: number): void => {
    const at = Math.ceil(dueAt / TIMER_GRANULARITY_MS) * TIMER_GRANULARITY_MS;
    for (const t of armed) if (t <= at) return;
    armed.add(at);
    void sleep(Math.max(1, at - Date.now())).then(() => {
      armed.delete(at);
      queue.expireDue(Date.now());
      settle();
    });
  };
  /** After any change: collect new admission ranges for publishing and keep an expiry timer armed. */
  const settle = (): void => {
    unpublished.push(...queue.takeNewRanges());
    const next = queue.nextWake(Date.now());
    if (next !== undefined) armExpiry(next);
  };

  if (!queue.opened && settings.opensAt !== undefined) {
    void sleep(Math.max(1, settings.opensAt - Date.now())).then(() => {
      queue.openIfDue(Date.now(), random32);
      settle();
    });
  }
  settle();

  setHandler(
    joinQueueUpdate,
    ({ fanIds }) => {
      const answer = queue.join(fanIds, Date.now(), random32);
      settle();
      return { ...answer, view: queue.view([], Date.now()) };
    },
    {
      validator: (batch) => {
        if (typeof batch?.batchId !== 'string' || batch.batchId.length === 0 || batch.batchId.length > 100)
          invalid('a join batch needs a batchId of 1-100 characters');
        if (!Array.isArray(batch.fanIds) || batch.fanIds.length === 0 || batch.fanIds.length > MAX_JOIN_BATCH)
          invalid(`a join batch holds 1-${MAX_JOIN_BATCH} fans`);
        if (!batch.fanIds.every(isFanId)) invalid('every fanId must match ^[a-z0-9][a-z0-9_-]{0,63}$');
      },
    },
  );
  setHandler(
    claimAdmissionsUpdate,
    ({ fanIds }) => {
      const answers = queue.claimAdmissions(fanIds, Date.now());
      settle();
      return answers;
    },
    {
      validator: (claims) => {
        if (typeof claims?.batchId !== 'string' || claims.batchId.length === 0 || claims.batchId.length > 100)
          invalid('a claim batch needs a batchId of 1-100 characters');
        if (
          !Array.isArray(claims.fanIds) ||
          claims.fanIds.length === 0 ||
          claims.fanIds.length > MAX_JOIN_BATCH
        )
          invalid(`a claim batch holds 1-${MAX_JOIN_BATCH} fans`);
        if (!claims.fanIds.every(isFanId)) invalid('every fanId must match ^[a-z0-9][a-z0-9_-]{0,63}$');
      },
    },
  );
  setHandler(admissionUsedSignal, (signal) => {
    queue.admissionUsed(signal, Date.now());
    settle();
  });
  setHandler(purchaseFinishedSignal, (signal) => {
    queue.purchaseFinished(signal, Date.now());
    settle();
  });
  setHandler(purchasesFinishedSignal, (signals) => {
    const now = Date.now();
    for (const signal of signals.slice(0, MAX_FINISHED_BATCH)) queue.purchaseFinished(signal, now);
    settle();
  });
  setHandler(closeQueueSignal, () => queue.close());
  setHandler(rolloverQueueSignal, () => {
    rollover = true;
  });
  setHandler(queueSnapshotQuery, () => queue.view(undefined, Date.now()));
  setHandler(queueAdmissionLogQuery, () => queue.admissionLog());
  setHandler(queuePlacesQuery, (fanIds) => queue.placesOf(fanIds));

  const wantsNewRun = (): boolean => rollover || workflowInfo().continueAsNewSuggested;
  let claimsLookAgainAt = 0;
  const claimsDue = (): boolean =>
    rules.checkClaims && Date.now() >= claimsLookAgainAt && queue.claimsToCheck(Date.now()).length > 0;
  const wake = (): boolean =>
    queue.version !== published || queue.closed === 'closed' || wantsNewRun() || claimsDue();

  for (;;) {
    await condition(wake);

    if (queue.version !== published) {
      const view = queue.view(unpublished, Date.now());
      unpublished = [];
      try {
        await projectQueue(view);
      } catch (err) {
        // Only a cache: keep the ranges for the next projection; a rebuild reads the full view anyway.
        unpublished = [...view.ranges, ...unpublished];
        log.warn('queue projection failed', { eventId: settings.eventId, version: view.version, err });
      }
      published = view.version;
    }

    if (claimsDue()) {
      // The API claims an admission, then starts the purchase: one that died (or failed) between the two
      // left the slot taken with no purchase to free it.
      const due = queue.claimsToCheck(Date.now());
      try {
        const started = await claimedPurchasesStarted(settings.eventId, due);
        queue.claimsChecked(
          due.map(({ position }, i) => ({ position, started: started[i] })),
          Date.now(),
        );
      } catch (err) {
        // Temporal busy or away: looked at again a while later (the slots stay taken meanwhile).
        log.warn('claimed admissions not checked', { eventId: settings.eventId, claims: due.length, err });
        claimsLookAgainAt = Date.now() + CLAIM_RETRY_MS;
        armExpiry(claimsLookAgainAt);
      }
      settle();
      continue;
    }

    if (queue.closed === 'closed') {
      await condition(allHandlersFinished);
      if (queue.version !== published) continue; // a handler changed the queue meanwhile: publish it first
      return queue.view();
    }
    if (wantsNewRun()) {
      // Straight away, unpublished changes included: under steady joins there may never be a quiet moment.
      await condition(allHandlersFinished);
      const next = queue.snapshot(unpublished);
      const continueAsNew = makeContinueAsNewFunc<typeof queueEntity>({
        typedSearchAttributes: workflowInfo().typedSearchAttributes,
      });
      await continueAsNew({ settings, snapshot: next.snapshot }, next.order, next.prequeue);
    }
  }
}
