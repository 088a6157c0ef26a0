/**
 * The worker stalls (SIGSTOP: starved of CPU, or paused by its host) right after a purchase's first hold
 * answered, past its workflow task's timeout. The task is lost, and the hold's answer goes on into the
 * retry. The purchase completes with one seat and one charge, leaves no hold behind, and its history
 * replays with today's code: seen in a `slow-store` chaos drop, where such a purchase could not be
 * replayed (test/fixtures/nondeterminism/README.md). Whether the retry runs the workflow from the start
 * or goes on in the worker's cache, and which task the hold's answer lands in, is the worker's timing:
 * the outcomes and the replay must hold in every case. A worker and task queue of its own, a fresh
 * worker per test (it stalls once).
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { temporal as proto } from '@temporalio/proto';
import { bundleWorkflowCode, DefaultLogger, Worker } from '@temporalio/worker';
import { bestAvailable } from '../../src/cache/best-available';
import {
  holdSeatUpdate,
  releaseSeatUpdate,
  seatIds,
  seatStateQuery,
  seatWorkflowId,
  type SeatView,
} from '../../src/entities/seat/contract';
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
/** When a stalled worker is killed, from its stop: past its task's 10 s timeout, before it wakes up. */
const KILL_AFTER_STOP_MS = STALL_MS - 2_000;
/** A hold that lapses while the worker stalls: long enough for the purchase's first task to be refused. */
const AGAIN_TTL_MS = 6_000;
const taskQueue = uniqueId('stall');
let stack: Stack;
let worker: Service | undefined;
let store: ProviderStore;

beforeAll(async () => {
  stack = await openStack({ taskQueue });
  store = openProviderStore();
});

/** A worker for the test's queue: one that stalls after its first hold, or a plain one. */
const startWorker = (stall: boolean): Promise<Service> =>
  startNodeService(stall ? 'stall-worker' : 'worker', 'tools/faults/worker.ts', /worker ready/, {
    env: {
      ...process.env,
      TICKETDROP_TASK_QUEUE: taskQueue,
      ...(stall && { TICKETDROP_FAULT_STALL_AFTER_HOLD_MS: String(STALL_MS) }),
    },
    logFile: path.join(process.env.TICKETDROP_TEST_LOGS!, `${stall ? 'stall-' : ''}worker.log`),
  });

/** Whether a process is stopped (SIGSTOP): its state in /proc/<pid>/stat is `T`. */
const isStopped = (pid: number): boolean => {
  try {
    return /^\d+ \(.*\) T /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

beforeEach(async () => {
  worker = await startWorker(true);
});

afterEach(async () => {
  if (worker?.child.pid) process.kill(worker.child.pid, 'SIGCONT'); // never leave it stopped
  await worker?.stop();
  worker = undefined;
});

afterAll(async () => {
  store?.close();
  await stack?.close();
});

const replays = async (workflowId: string, events: proto.api.history.v1.IHistoryEvent[]) => {
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../src/workflows'),
    logger: new DefaultLogger('WARN'),
  });
  await Worker.runReplayHistory({ workflowBundle }, { events }, workflowId);
};

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

  await replays(started.purchaseId, events);
}, 180_000);

it('a later task lost after its hold, whose retry held an earlier candidate: that later one is released', async () => {
  const eventId = await createTestEvent(stack, { rows: 1, seatsPerRow: 3 });
  const seat = (seatId: string) => stack.client.workflow.getHandle(seatWorkflowId(eventId, seatId));
  // Another purchase's hold; `quiet`: the cache is not told (a projection still on its way).
  const hold = (seatId: string, holdId: string, quiet = false, ttlMs = 120_000) =>
    seat(seatId).executeUpdate(holdSeatUpdate, {
      args: [{ holdId, purchaseId: 'other', ttlMs, ...(quiet && { callerProjects: true }) }],
    });
  const release = (seatId: string, holdId: string, quiet = false) =>
    seat(seatId).executeUpdate(releaseSeatUpdate, {
      args: [{ holdId, ...(quiet && { callerProjects: true }) }],
    });

  // Others hold every seat; the cache knows of two, so the API offers the fan A1 only, which is refused.
  await hold('A2', 'other-A2');
  await hold('A3', 'other-A3');
  await hold('A1', 'other-A1', true);
  await eventually(async () => ((await stack.cache.getCounts(eventId)).held === 2 ? true : undefined));
  const started = await startPurchase(stack, eventId, { fanId: uniqueId('fan') });
  expect(started.statusCode).toBe(202);
  // The refusal told the cache A1 is held: the purchase's next pick waits for a seat to come back.
  await eventually(async () => ((await stack.cache.getCounts(eventId)).held === 3 ? true : undefined));

  // A2 and A3 come back on the cache's map, but the one this purchase tries first is taken again at
  // once, for a few seconds: its first hold is refused, the second one is held, and the worker stalls in
  // that task. The worker is this queue's only one: nothing that needs one (a query, an Update) can happen
  // while it stands still, so the first candidate comes free by its hold lapsing, not by a release.
  const views = new Map<string, SeatView>(
    ['A2', 'A3'].map((seatId) => [seatId, { seatId, status: 'available', version: 0 }]),
  );
  const [first, second] = bestAvailable(undefined, views, started.purchaseId);
  const firstFreed = await release(first!, `other-${first}`, true);
  await hold(first!, 'other-again', true, AGAIN_TTL_MS);
  const secondFreed = await release(second!, `other-${second}`, true);
  await stack.cache.projectSeats(eventId, [firstFreed, secondFreed]);

  // While the worker stands still, the first candidate comes free. The stalled worker is then replaced,
  // past its task's timeout, by one that replays the purchase from its history: the retried task holds the
  // first candidate instead. (Left to wake up, the stalled worker races its own stale task: mostly the retry
  // replays, but the SDK core at times goes on in its cache with the lost task's answers, "Trying to send a
  // new WFT for a run which already has one!", and buys the second candidate; that path is the first test's.)
  const stalled = worker!.child.pid!;
  await eventually(async () => (isStopped(stalled) ? true : undefined), 60_000);
  await sleep(KILL_AFTER_STOP_MS);
  process.kill(stalled, 'SIGKILL');
  await worker!.exited;
  worker = await startWorker(false);
  const done = await finalStatus(stack, started, 120_000);
  expect(done).toMatchObject({ state: 'completed', seatId: first });
  const events = (await stack.client.workflow.getHandle(started.purchaseId).fetchHistory()).events ?? [];
  expect(events.map((e) => e.eventType)).toContain(EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT);

  // The lost task's hold on the second candidate does not outlive the purchase.
  await eventually(
    async () => ((await seat(second!).query(seatStateQuery)).status === 'available' ? true : undefined),
    30_000,
  );
  expect((await seat(first!).query(seatStateQuery)).status).toBe('sold');
  expect((await seat('A1').query(seatStateQuery)).status).toBe('held');
  expect(store.chargesFor(started.purchaseId)).toHaveLength(1);
  await replays(started.purchaseId, events);
}, 180_000);
