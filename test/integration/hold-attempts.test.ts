/**
 * A hold's activity retried while its earlier attempt's Update still waits at a seat whose worker is away
 * (a stalled or starved worker, a server slow to deliver): seen in a `slow-store` chaos drop, where the
 * retry got the earlier send's late refusal and its tombstone then released a live hold, so the fan was
 * charged and refunded NOT_HOLDER. Each attempt is judged on its own send. The seat runs on a task queue
 * of its own, with no worker until the test starts one; the activity runs here, as the worker would run it.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Worker } from '@temporalio/worker';
import { PurchaseCache } from '../../src/cache/purchase-cache';
import {
  SEAT_WORKFLOW_TYPE,
  seatStateQuery,
  seatWorkflowId,
  type SeatEntityInput,
} from '../../src/entities/seat/contract';
import { createSeatActivities } from '../../src/entities/seat/activities';
import { Knobs } from '../../src/providers/knobs';
import { Notifier } from '../../src/providers/notifier';
import { PaymentGateway } from '../../src/providers/payments';
import type { ProviderStore } from '../../src/providers/store';
import { createPurchaseActivities } from '../../src/sagas/purchase/activities';
import { connectNative } from '../../src/temporal/connection';
import { openProviderStore, openStack, uniqueId, type Stack } from '../support/stack';

let stack: Stack;
let store: ProviderStore;

beforeAll(async () => {
  stack = await openStack();
  store = openProviderStore();
});

afterAll(async () => {
  store?.close();
  await stack?.close();
});

it('a hold retried while its first send waits at a stalled seat holds it, not refused by that send', async () => {
  const eventId = uniqueId('stuck-seat');
  const taskQueue = uniqueId('stuck-seat');
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../src/workflows'),
    logger: new DefaultLogger('WARN'),
  });
  const args: [SeatEntityInput] = [{ eventId, seatId: 'A1' }];
  const seat = await stack.client.workflow.start(SEAT_WORKFLOW_TYPE, {
    workflowId: seatWorkflowId(eventId, 'A1'),
    taskQueue,
    args,
  });
  const knobs = new Knobs(store);
  const activities = createPurchaseActivities({
    client: stack.client,
    seatCache: stack.cache,
    purchaseCache: new PurchaseCache(stack.redis),
    payments: new PaymentGateway(store, knobs),
    notifier: new Notifier(store, knobs),
    store,
    signingSecret: stack.config.signingSecret,
  });
  const purchaseId = uniqueId('purchase');
  const hold = { eventId, purchaseId, seatId: 'A1', ttlMs: 60_000, sender: 'task@3' };

  // The first attempt's send reaches no worker: no answer within its deadline, and it stays at the seat.
  await expect(
    new MockActivityEnvironment({ attempt: 1 }).run(activities.reserveSeat, hold),
  ).rejects.toThrow();
  // The retry is sent; the seat's worker comes back while it waits, the first send's deadline long past.
  const retried = new MockActivityEnvironment({ attempt: 2 }).run(activities.reserveSeat, hold);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const connection = await connectNative(stack.config.temporal);
  const held = await Worker.create({
    connection,
    taskQueue,
    workflowBundle,
    activities: createSeatActivities({ cache: stack.cache }),
  })
    .then((worker) =>
      worker.runUntil(async () => {
        const answer = await retried;
        return { answer, view: await seat.query(seatStateQuery) };
      }),
    )
    .finally(() => connection.close());

  expect(held.answer).toMatchObject({ seatId: 'A1', holdId: expect.stringContaining(purchaseId) });
  expect(held.view).toMatchObject({ seatId: 'A1', status: 'held' });
}, 120_000);
