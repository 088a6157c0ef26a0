/**
 * Workers killed with SIGKILL in the middle of a purchase: after a restart the purchase completes, the fan
 * is charged exactly once and no seat is left held. Runs its own worker processes on a task queue of its
 * own.
 */
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, DefaultLogger, Worker } from '@temporalio/worker';
import { startNodeService, type Service } from '../../tools/dev/services';
import { bestAvailable } from '../../src/cache/best-available';
import {
  holdSeatUpdate,
  releaseSeatUpdate,
  seatStateQuery,
  seatWorkflowId,
} from '../../src/entities/seat/contract';
import { purchaseWorkflowId } from '../../src/sagas/purchase/contract';
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
  // A payment attempt of 6 s, so a charge lost with its worker still has time for its retry once the
  // worker is back: a restarted worker takes several seconds to start on a busy machine (the test
  // services' 2.5 s attempts leave the retry under 4 s for it).
  stack = await openStack({ taskQueue, purchase: { paymentTimeoutMs: 6_000 } });
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

it('a first task lost after its hold, with a seat taken then and free on the retry, leaves no hold behind', async () => {
  // The retry holds the API's candidates again in order: the first one, taken by another hold when the
  // lost task tried it, has come free, so the retry stops there. The lost task's hold on the second one
  // must not stay behind until its TTL.
  for (const worker of workers) await worker.stop();
  const helper = await startWorker('crash-worker-5');
  const eventId = await createTestEvent(stack, { rows: 1, seatsPerRow: 2 });
  const fanId = uniqueId('fan');
  const purchaseId = purchaseWorkflowId(eventId, fanId);
  const [event, seats] = await Promise.all([stack.cache.getEvent(eventId), stack.cache.getSeats(eventId)]);
  const [first, second] = bestAvailable(event, seats, purchaseId);
  // Another purchase holds the first candidate for 15 s, out of the cache's sight (it projects nothing).
  const blockedUntil = Date.now() + 15_000;
  await stack.client.workflow.getHandle(seatWorkflowId(eventId, first)).executeUpdate(holdSeatUpdate, {
    args: [{ holdId: 'blocker', purchaseId: 'blocker', ttlMs: 15_000, callerProjects: true }],
  });
  await helper.stop();

  const crashing = await startWorker('crash-worker-6', { TICKETDROP_FAULT_CRASH_AFTER_HOLD: 'true' });
  const started = await startPurchase(stack, eventId, { fanId });
  expect(started.statusCode).toBe(202);
  await crashing.exited; // it held the second candidate, then killed itself before its task completed
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, blockedUntil - Date.now()) + 500));

  await startWorker('crash-worker-7');
  const done = await finalStatus(stack, started, 90_000);
  expect(done).toMatchObject({ state: 'completed', seatId: first });
  const other = await eventually(async () => {
    const view = await stack.client.workflow.getHandle(seatWorkflowId(eventId, second)).query(seatStateQuery);
    return view.status === 'available' ? view : undefined;
  }, 20_000);
  expect(other.status).toBe('available');
  expect(store.chargesFor(started.purchaseId)).toHaveLength(1);
});

it('a seat whose first task after a worker kill took two Updates replays on a fresh worker', async () => {
  // Seen in a chaos drop: a killed worker's seat got a hold and another purchase's tombstone in one task
  // on the next worker, which upserted SeatStatus after both answers; every later worker replayed the
  // upsert between them (a nondeterminism error) and the seat was stuck.
  for (const worker of workers) await worker.stop();
  const first = await startWorker('crash-worker-8');
  const eventId = await createTestEvent(stack, { rows: 1, seatsPerRow: 1 });
  const seat = stack.client.workflow.getHandle(seatWorkflowId(eventId, 'A1'));
  await seat.query(seatStateQuery); // its first task is done, on the worker about to die
  first.child.kill('SIGKILL');
  await new Promise((resolve) => first.child.once('exit', resolve));

  const hold = seat.executeUpdate(holdSeatUpdate, {
    args: [{ holdId: 'h-kept', purchaseId: 'p-kept', ttlMs: 60_000 }],
    updateId: 'hold-kept',
  });
  const tombstone = seat.executeUpdate(releaseSeatUpdate, {
    args: [{ holdId: 'h-other', tombstone: true }],
    updateId: 'tombstone-other',
  });
  await new Promise((resolve) => setTimeout(resolve, 500)); // both wait for the seat's next task
  await startWorker('crash-worker-9');
  await expect(hold).resolves.toMatchObject({ status: 'held' });
  await tombstone;

  const { events } = await seat.fetchHistory();
  const completed = (events ?? []).filter(
    (e) => e.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
  );
  expect(completed).toHaveLength(2);
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../src/workflows'),
    logger: new DefaultLogger('WARN'),
  });
  await Worker.runReplayHistory({ workflowBundle }, { events }, seat.workflowId);
}, 120_000);
