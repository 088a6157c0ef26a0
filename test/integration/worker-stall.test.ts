/**
 * The worker stalls (SIGSTOP: starved of CPU, or paused by its host) right after a purchase's first hold
 * answered, past its workflow task's timeout. The task is lost, and the hold's answer goes on into the
 * retry. The purchase completes with one seat and one charge, leaves no hold behind, and its history
 * replays with today's code: seen in a `slow-store` chaos drop, where such a purchase could not be
 * replayed (test/fixtures/nondeterminism/README.md). Whether the retry runs the workflow from the start
 * or goes on in the worker's cache, and which task the hold's answer lands in, is the worker's timing:
 * the outcomes and the replay must hold in every case. A worker and task queue of its own.
 */
import path from 'node:path';
import { temporal as proto } from '@temporalio/proto';
import { bundleWorkflowCode, DefaultLogger, Worker } from '@temporalio/worker';
import { seatIds, seatStateQuery, seatWorkflowId } from '../../src/entities/seat/contract';
import type { ProviderStore } from '../../src/providers/store';
import { startNodeService, type Service } from '../../tools/dev/services';
import {
  createTestEvent,
  eventually,
  finalStatus,
  openProviderStore,
  openStack,
  startPurchase,
  uniqueId,
  type Stack,
} from '../support/stack';

const { EventType } = proto.api.enums.v1;
const STALL_MS = 14_000; // past the 10 s workflow task timeout
const taskQueue = uniqueId('stall');
let stack: Stack;
let worker: Service;
let store: ProviderStore;

beforeAll(async () => {
  stack = await openStack({ taskQueue });
  store = openProviderStore();
  worker = await startNodeService('stall-worker', 'tools/faults/worker.ts', /worker ready/, {
    env: {
      ...process.env,
      TICKETDROP_TASK_QUEUE: taskQueue,
      TICKETDROP_FAULT_STALL_AFTER_HOLD_MS: String(STALL_MS),
    },
    logFile: path.join(process.env.TICKETDROP_TEST_LOGS!, 'stall-worker.log'),
  });
});

afterAll(async () => {
  if (worker?.child.pid) process.kill(worker.child.pid, 'SIGCONT'); // never leave it stopped
  await worker?.stop();
  store?.close();
  await stack?.close();
});

it('a first task lost while the worker stalled after its hold: one seat, one charge, no hold left, replays', async () => {
  const eventId = await createTestEvent(stack, { rows: 1, seatsPerRow: 4 });
  const started = await startPurchase(stack, eventId, { fanId: uniqueId('fan') });
  expect(started.statusCode).toBe(202);

  const done = await finalStatus(stack, started, 120_000);
  expect(done.state).toBe('completed');
  const handle = stack.client.workflow.getHandle(started.purchaseId);
  const events = (await handle.fetchHistory()).events ?? [];
  // The case under test happened: the first task did not complete, a later attempt did.
  const types = events.map((e) => e.eventType);
  expect(types.indexOf(EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT)).toBeGreaterThan(0);

  // No hold outlives the purchase: the seat it bought is sold, every other seat is free again.
  const views = await eventually(async () => {
    const all = await Promise.all(
      seatIds(1, 4).map((seatId) =>
        stack.client.workflow.getHandle(seatWorkflowId(eventId, seatId)).query(seatStateQuery),
      ),
    );
    return all.some((v) => v.status === 'held') ? undefined : all;
  }, 30_000);
  expect(views.filter((v) => v.status === 'sold').map((v) => v.seatId)).toEqual([done.seatId]);
  expect(store.chargesFor(started.purchaseId)).toHaveLength(1);

  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../src/workflows'),
    logger: new DefaultLogger('WARN'),
  });
  await Worker.runReplayHistory({ workflowBundle }, { events }, started.purchaseId);
}, 180_000);
