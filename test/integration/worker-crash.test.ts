/**
 * Workers killed with SIGKILL in the middle of a purchase: after a restart the purchase completes, the fan
 * is charged exactly once and no seat is left held. Runs its own worker processes on a task queue of its
 * own.
 */
import path from 'node:path';
import { startNodeService, type Service } from '../../tools/dev/services';
import { seatStateQuery, seatWorkflowId } from '../../src/entities/seat/contract';
import { Knobs } from '../../src/providers/knobs';
import type { ProviderStore } from '../../src/providers/store';
import {
  adminHeaders,
  createTestEvent,
  eventually,
  finalStatus,
  openProviderStore,
  openStack,
  setKnobs,
  purchaseStatus,
  startPurchase,
  uniqueId,
  type Stack,
} from '../support/stack';

const taskQueue = uniqueId('crash');
let stack: Stack;
let store: ProviderStore;
let knobs: Knobs;
const workers: Service[] = [];

const startWorker = async (label: string, env: Record<string, string> = {}): Promise<Service> => {
  const worker = await startNodeService(label, 'tools/faults/worker.ts', /worker ready/, {
    env: { ...process.env, TICKETDROP_TASK_QUEUE: taskQueue, ...env },
    logFile: path.join(process.env.TICKETDROP_TEST_LOGS!, `${label}.log`),
  });
  workers.push(worker);
  return worker;
};

beforeAll(async () => {
  stack = await openStack({ taskQueue });
  store = openProviderStore();
  knobs = new Knobs(store);
});

afterAll(async () => {
  knobs.reset();
  for (const worker of workers) await worker.stop();
  store.close();
  await stack.close();
});

it('a worker killed mid-payment and restarted completes the purchase with exactly one charge', async () => {
  const first = await startWorker('crash-worker-1');
  const eventId = uniqueId('crash');
  const created = await stack.app.inject({
    method: 'POST',
    url: '/events',
    headers: adminHeaders(),
    payload: { eventId, name: eventId, rows: 1, seatsPerRow: 3, priceCents: 9900, admission: 'direct' },
  });
  expect(created.statusCode).toBe(201);

  await setKnobs(knobs, { paymentLatencyMs: [1_500, 1_500] });
  const started = await startPurchase(stack, eventId, { fanId: uniqueId('fan'), seatId: 'A2' });
  await eventually(async () =>
    (await purchaseStatus(stack, started)).state === 'paying' ? true : undefined,
  );
  await new Promise((resolve) => setTimeout(resolve, 300)); // the charge is now in flight on this worker
  first.child.kill('SIGKILL');
  await new Promise((resolve) => first.child.once('exit', resolve));
  expect(store.chargesFor(started.purchaseId)).toEqual([]);

  knobs.reset();
  await startWorker('crash-worker-2');
  const done = await finalStatus(stack, started, 90_000);
  expect(done).toMatchObject({ state: 'completed', seatId: 'A2' });
  const charges = store.chargesFor(started.purchaseId);
  expect(charges).toHaveLength(1);
  expect(charges[0]).toMatchObject({ status: 'captured', amountCents: 9900 });
});

it('a worker killed right after a best-available hold: the purchase keeps that seat and leaves no hold behind', async () => {
  // The pick is a local activity: if it were not history before the hold, the retried task would pick
  // again from a cache that now shows the seat held, buy another one and strand the first hold.
  for (const worker of workers) await worker.stop(); // only the crashing worker may take the hold
  const first = await startWorker('crash-worker-3', { TICKETDROP_FAULT_CRASH_AFTER_HOLD: 'true' });
  const eventId = await createTestEvent(stack);
  const started = await startPurchase(stack, eventId, { fanId: uniqueId('fan') });
  expect(started.statusCode).toBe(202);
  await first.exited; // it killed itself right after the hold

  await startWorker('crash-worker-4');
  const done = await finalStatus(stack, started, 90_000);
  expect(done.state).toBe('completed');
  const seats = await Promise.all(
    ['A1', 'A2', 'A3', 'A4', 'A5'].map((seatId) =>
      stack.client.workflow.getHandle(seatWorkflowId(eventId, seatId)).query(seatStateQuery),
    ),
  );
  expect(seats.filter((s) => s.status === 'sold').map((s) => s.seatId)).toEqual([done.seatId]);
  expect(seats.filter((s) => s.status === 'held')).toEqual([]);
  expect(store.chargesFor(started.purchaseId)).toHaveLength(1);
});
