/**
 * The read-side cache: version compare-and-set, convergence to the entities after a burst, and a full
 * rebuild from the entities after Redis loses everything.
 *
 * The worker is this file's own, on a task queue of its own: its keeper rebuilds only the events made
 * here, so what the rebuild tests see does not depend on how many events other files left open.
 */
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { rebuildEvent } from '../../src/cache/rebuild';
import {
  confirmSeatUpdate,
  holdSeatUpdate,
  releaseSeatUpdate,
  seatIds,
  seatStateQuery,
  seatWorkflowId,
  type SeatView,
} from '../../src/entities/seat/contract';
import { mapLimit } from '../../src/lib/concurrency';
import { PurchaseCache } from '../../src/cache/purchase-cache';
import Redis from 'ioredis';
import { CacheKeeper, epochKey, pendingKey, rebuiltKey } from '../../src/cache/keeper';
import { SeatCache } from '../../src/cache/seat-cache';
import { startNodeService, type Service } from '../../tools/dev/services';
import {
  adminHeaders,
  createTestEvent,
  eventually,
  finalStatus,
  openStack,
  startPurchase,
  uniqueId,
  type Stack,
} from '../support/stack';

const taskQueue = uniqueId('cache');
let stack: Stack;
let worker: Service | undefined;
beforeAll(async () => {
  stack = await openStack({ taskQueue });
  worker = await startNodeService('worker', 'tools/faults/worker.ts', /worker ready/, {
    env: { ...process.env, TICKETDROP_TASK_QUEUE: taskQueue },
    logFile: path.join(process.env.TICKETDROP_TEST_LOGS!, 'cache-worker.log'),
  });
});
afterAll(async () => {
  await worker?.stop();
  await stack?.close();
});

async function createEvent(rows: number, seatsPerRow: number): Promise<string> {
  const eventId = uniqueId('cache');
  const response = await stack.app.inject({
    method: 'POST',
    url: '/events',
    headers: adminHeaders(),
    payload: { eventId, name: eventId, rows, seatsPerRow, priceCents: 100, admission: 'direct' },
  });
  expect(response.statusCode).toBe(201);
  return eventId;
}

const seatHandle = (eventId: string, seatId: string): WorkflowHandle =>
  stack.client.workflow.getHandle(seatWorkflowId(eventId, seatId));

async function entityViews(eventId: string, ids: string[]): Promise<SeatView[]> {
  return mapLimit(ids, 20, (seatId) => seatHandle(eventId, seatId).query(seatStateQuery));
}

/** Resolves once every cached seat equals its entity and the counters equal the seat records. */
async function expectConverged(eventId: string, ids: string[]): Promise<void> {
  const truth = await entityViews(eventId, ids);
  await eventually(
    async () => {
      const cached = await stack.cache.getSeats(eventId);
      return truth.every((view) => JSON.stringify(cached.get(view.seatId)) === JSON.stringify(view))
        ? true
        : undefined;
    },
    20_000,
    'cache convergence',
  );
  const counts = await stack.cache.getCounts(eventId);
  const expected = { available: 0, held: 0, sold: 0 };
  for (const view of truth) expected[view.status] += 1;
  expect(counts).toEqual(expected);
}

describe('read-side cache', () => {
  it('never lets a stale version overwrite a newer one, and counters follow the records', async () => {
    const eventId = uniqueId('cas');
    expect(await stack.cache.projectSeat(eventId, { seatId: 'A1', status: 'available', version: 0 })).toBe(
      true,
    );
    expect(await stack.cache.projectSeat(eventId, { seatId: 'A1', status: 'sold', version: 2 })).toBe(true);
    expect(
      await stack.cache.projectSeat(eventId, { seatId: 'A1', status: 'held', version: 1, holdExpiresAt: 5 }),
    ).toBe(false);
    expect(await stack.cache.projectSeat(eventId, { seatId: 'A1', status: 'sold', version: 2 })).toBe(false);
    expect(await stack.cache.getSeat(eventId, 'A1')).toEqual({ seatId: 'A1', status: 'sold', version: 2 });
    expect(await stack.cache.getCounts(eventId)).toEqual({ available: 0, held: 0, sold: 1 });
  });

  it('converges to the entities after a burst of transitions', async () => {
    const eventId = await createEvent(4, 10);
    const ids = seatIds(4, 10);
    await mapLimit(ids, 20, async (seatId, i) => {
      const handle = seatHandle(eventId, seatId);
      const holdId = `b-${seatId}`;
      await handle.executeUpdate(holdSeatUpdate, {
        args: [{ holdId, purchaseId: `p-${seatId}`, ttlMs: 60_000 }],
      });
      if (i % 3 === 0)
        await handle.executeUpdate(confirmSeatUpdate, { args: [{ holdId, ticketId: `t-${seatId}` }] });
      if (i % 3 === 1) await handle.executeUpdate(releaseSeatUpdate, { args: [{ holdId }] });
    });
    await expectConverged(eventId, ids);
    const summary = (await stack.app.inject({ url: `/events/${eventId}` })).json();
    expect(summary).toMatchObject({ capacity: 40, sold: 14, held: 13, available: 13 });
  });

  it('is restored from the entities after FLUSHALL, by the rebuild and by a read that finds it empty', async () => {
    const eventId = await createEvent(3, 5);
    const ids = seatIds(3, 5);
    await seatHandle(eventId, 'B2').executeUpdate(holdSeatUpdate, {
      args: [{ holdId: 'x', purchaseId: 'p', ttlMs: 60_000 }],
    });
    await seatHandle(eventId, 'C5').executeUpdate(holdSeatUpdate, {
      args: [{ holdId: 'y', purchaseId: 'q', ttlMs: 60_000 }],
    });
    await seatHandle(eventId, 'C5').executeUpdate(confirmSeatUpdate, {
      args: [{ holdId: 'y', ticketId: 't' }],
    });
    await expectConverged(eventId, ids);

    await stack.redis.flushall();
    expect(await stack.cache.getEvent(eventId)).toBeUndefined();
    expect(await rebuildEvent({ client: stack.client, cache: stack.cache }, eventId)).toEqual({ seats: 15 });
    await expectConverged(eventId, ids);
    expect(await stack.cache.getEvent(eventId)).toMatchObject({
      definition: { eventId, rows: 3, seatsPerRow: 5 },
    });

    await stack.redis.flushall();
    const summary = await stack.app.inject({ url: `/events/${eventId}` });
    expect(summary.statusCode).toBe(200);
    expect(summary.json()).toMatchObject({ capacity: 15, available: 13, held: 1, sold: 1 });
    const map = (await stack.app.inject({ url: `/events/${eventId}/seats` })).json() as { seats: SeatView[] };
    expect(map.seats.filter((s) => s.status !== 'available').map((s) => [s.seatId, s.status])).toEqual([
      ['B2', 'held'],
      ['C5', 'sold'],
    ]);
  });

  it('reads seats from their histories, with no worker, and asks a seat whose hold may have expired', async () => {
    const eventId = await createEvent(1, 4);
    const ids = seatIds(1, 4);
    const hold = (seatId: string, holdId: string, ttlMs = 60_000) =>
      seatHandle(eventId, seatId).executeUpdate(holdSeatUpdate, {
        args: [{ holdId, purchaseId: `p-${holdId}`, ttlMs }],
      });
    await hold('A1', 'h1');
    await hold('A2', 'h2');
    await seatHandle(eventId, 'A2').executeUpdate(confirmSeatUpdate, {
      args: [{ holdId: 'h2', ticketId: 't' }],
    });
    await hold('A3', 'h3');
    await seatHandle(eventId, 'A3').executeUpdate(releaseSeatUpdate, { args: [{ holdId: 'h3' }] });
    await seatHandle(eventId, 'A4').executeUpdate(releaseSeatUpdate, {
      args: [{ holdId: 'nobody', tombstone: true }],
    });
    await expectConverged(eventId, ids);

    // Every seat's view is its newest Update's answer: the rebuild needs no worker to replay a seat.
    await worker?.stop();
    worker = undefined;
    try {
      await stack.redis.flushall();
      expect(await rebuildEvent({ client: stack.client, cache: stack.cache }, eventId)).toEqual({ seats: 4 });
      const cached = await stack.cache.getSeats(eventId);
      expect(ids.map((id) => [id, cached.get(id)?.status])).toEqual([
        ['A1', 'held'],
        ['A2', 'sold'],
        ['A3', 'available'],
        ['A4', 'available'],
      ]);
    } finally {
      worker = await startNodeService('worker', 'tools/faults/worker.ts', /worker ready/, {
        env: { ...process.env, TICKETDROP_TASK_QUEUE: taskQueue },
        logFile: path.join(process.env.TICKETDROP_TEST_LOGS!, 'cache-worker-2.log'),
      });
    }
    await expectConverged(eventId, ids);

    // A hold whose timer fired since its answer may have ended: that seat is asked, and is available.
    await hold('A4', 'short', 500);
    await eventually(
      async () =>
        (await seatHandle(eventId, 'A4').query(seatStateQuery)).status === 'available' ? true : undefined,
      20_000,
      'the hold to expire',
    );
    await stack.redis.flushall();
    expect(await rebuildEvent({ client: stack.client, cache: stack.cache }, eventId)).toEqual({ seats: 4 });
    await expectConverged(eventId, ids);
  });

  it('restores purchase statuses too when the rebuild is given the purchase cache', async () => {
    const eventId = await createTestEvent(stack, { rows: 1, seatsPerRow: 3 });
    const started = await startPurchase(stack, eventId, { fanId: 'ada', seatId: 'A2' });
    expect((await finalStatus(stack, started)).state).toBe('completed');
    const purchases = new PurchaseCache(stack.redis);

    await stack.redis.flushall();
    expect(await purchases.get(eventId, 'ada')).toBeUndefined();
    await rebuildEvent({ client: stack.client, cache: stack.cache, purchaseCache: purchases }, eventId);
    expect(await purchases.get(eventId, 'ada')).toMatchObject({ state: 'completed', seatId: 'A2' });
  });

  it('rebuilds itself after a flush, with no request to trigger it: seats, counts, purchases, failures', async () => {
    const eventId = await createTestEvent(stack, { rows: 1, seatsPerRow: 4 });
    const bought = await startPurchase(stack, eventId, { fanId: 'kept', seatId: 'A1' });
    const declined = await startPurchase(stack, eventId, {
      fanId: 'declined',
      seatId: 'A2',
      paymentToken: 'tok_declined',
    });
    expect((await finalStatus(stack, bought)).state).toBe('completed');
    expect((await finalStatus(stack, declined)).state).toBe('failed');
    await seatHandle(eventId, 'A3').executeUpdate(holdSeatUpdate, {
      args: [{ holdId: 'kept-hold', purchaseId: 'p', ttlMs: 60_000 }],
    });
    const ids = seatIds(1, 4);
    await expectConverged(eventId, ids);
    const purchases = new PurchaseCache(stack.redis);
    const failures = await purchases.failures(eventId);
    expect(failures).toEqual([{ code: 'PAYMENT_DECLINED', count: 1 }]);
    // The worker's keeper has written its epoch (at its start, or after an earlier test's flush).
    await eventually(
      async () => (await stack.redis.get(epochKey(taskQueue))) ?? undefined,
      60_000,
      'the epoch',
    );

    await stack.redis.flushall();
    // No request reads the event: the worker notices the lost epoch and rebuilds from the entities.
    await eventually(
      async () => (await stack.redis.get(epochKey(taskQueue))) ?? undefined,
      60_000,
      'a rebuild',
    );
    await expectConverged(eventId, ids);
    expect(await stack.cache.getEvent(eventId)).toMatchObject({
      definition: { eventId, rows: 1, seatsPerRow: 4 },
    });
    expect(await stack.cache.getCounts(eventId)).toMatchObject({ sold: 1, held: 1, available: 2 });
    expect(await purchases.get(eventId, 'kept')).toMatchObject({ state: 'completed', seatId: 'A1' });
    expect(await purchases.get(eventId, 'declined')).toMatchObject({
      state: 'failed',
      failure: { code: 'PAYMENT_DECLINED' },
    });
    expect(await purchases.failures(eventId)).toEqual(failures);
  });

  it('resumes a rebuild an earlier attempt left half done, and waits while another holds the lock', async () => {
    const older = await createEvent(1, 2);
    const newer = await createEvent(1, 3);
    // A database of its own: the worker's keeper (on database 0) never touches it.
    const redis = new Redis(stack.config.redis.url, { db: 7, maxRetriesPerRequest: 1 });
    try {
      await redis.flushdb();
      const cache = new SeatCache(redis);
      const lines: string[] = [];
      const keeper = new CacheKeeper(
        redis,
        { client: stack.client, cache },
        { taskQueue, log: (l) => lines.push(l) },
      );
      // Another process holds the lock: this look waits (no rebuild, no epoch).
      await redis.set(pendingKey(taskQueue), 'someone-else', 'PX', 15_000);
      expect(await keeper.check()).toBeUndefined();
      expect(await redis.get(epochKey(taskQueue))).toBeNull();
      await redis.del(pendingKey(taskQueue));

      // An earlier attempt rebuilt the older event before it failed: this one rebuilds the rest only.
      await redis.sadd(rebuiltKey(taskQueue), older);
      const outcome = await keeper.check();
      expect(outcome).toMatchObject({ resumed: 1, reason: 'start' });
      expect(await redis.get(epochKey(taskQueue))).not.toBeNull();
      expect(await redis.exists(rebuiltKey(taskQueue))).toBe(0);
      expect([...(await cache.getSeats(newer)).keys()].sort()).toEqual(['A1', 'A2', 'A3']);
      expect((await cache.getSeats(older)).size).toBe(0);
    } finally {
      await redis.flushdb();
      redis.disconnect();
    }
  });

  it('answers reads with 503 UNAVAILABLE and Retry-After while Redis is unreachable', async () => {
    const eventId = await createEvent(1, 2);
    stack.redis.disconnect();
    try {
      const response = await stack.app.inject({ url: `/events/${eventId}` });
      expect(response.statusCode).toBe(503);
      expect(response.json()).toMatchObject({ code: 'UNAVAILABLE' });
      expect(response.headers['retry-after']).toBe('1');
      expect((await stack.app.inject({ url: '/readyz' })).json()).toEqual({
        status: 'degraded',
        temporal: true,
        redis: false,
      });
      // The authoritative seat view does not need the cache.
      const seat = await stack.app.inject({ url: `/events/${eventId}/seats/A1` });
      expect(seat.json()).toEqual({ seatId: 'A1', status: 'available', version: 0 });
    } finally {
      await stack.redis.connect();
    }
  });
});
