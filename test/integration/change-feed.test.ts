/**
 * The cache's change feed: every projection write that changes something publishes one message stamped
 * with Redis's clock; failures are counted once per purchase; the API's one subscriber fans messages
 * out to its watchers and lets go of a channel when the last watcher leaves.
 */
import { changesChannel, readHistory, type ChangeMessage } from '../../src/cache/changes';
import { PurchaseCache } from '../../src/cache/purchase-cache';
import { QueueCache } from '../../src/cache/queue-cache';
import { waitForRedis, type RedisClient } from '../../src/cache/redis';
import type { QueueView } from '../../src/entities/queue/contract';
import { purchaseWorkflowId, type PurchaseStatus } from '../../src/sagas/purchase/contract';
import { eventually, openStack, uniqueId, type Stack } from '../support/stack';

let stack: Stack;
let subscriber: RedisClient;
const received = new Map<string, ChangeMessage[]>();

beforeAll(async () => {
  stack = await openStack();
  subscriber = stack.redis.duplicate();
  subscriber.on('message', (channel: string, message: string) => {
    received.set(channel, [...(received.get(channel) ?? []), JSON.parse(message) as ChangeMessage]);
  });
  await waitForRedis(subscriber);
});
afterAll(async () => {
  subscriber.disconnect();
  await stack.close();
});

/** A fresh event id whose channel this file listens to. */
async function watchedEvent(): Promise<{ eventId: string; messages: () => ChangeMessage[] }> {
  const eventId = uniqueId('feed');
  await subscriber.subscribe(changesChannel(eventId));
  return { eventId, messages: () => received.get(changesChannel(eventId)) ?? [] };
}

function queueView(eventId: string, version: number, joined: number, admittedThrough: number): QueueView {
  return {
    eventId,
    version,
    opened: true,
    joined,
    admittedThrough,
    active: 0,
    purchasing: 0,
    peakActive: 0,
    maxActivePurchases: 10,
    sold: 0,
    capacity: 10,
    outcomes: { completed: 0, failed: 0, cancelled: 0 },
    expired: 0,
    ranges: [],
  } as unknown as QueueView;
}

describe('the change feed', () => {
  it('publishes each seat change with the counters after it and the Redis time, and ignores stale writes', async () => {
    const { eventId, messages } = await watchedEvent();
    const before = Date.now();
    await stack.cache.projectSeats(eventId, [
      { seatId: 'A1', status: 'available', version: 0 },
      { seatId: 'A2', status: 'available', version: 0 },
    ]);
    expect(await stack.cache.projectSeat(eventId, { seatId: 'A1', status: 'held', version: 1 })).toBe(true);
    expect(await stack.cache.projectSeat(eventId, { seatId: 'A1', status: 'held', version: 1 })).toBe(false);
    expect(await stack.cache.projectSeat(eventId, { seatId: 'A1', status: 'sold', version: 2 })).toBe(true);

    const seats = await eventually(async () => (messages().length >= 4 ? messages() : undefined));
    expect(seats.map((m) => m.type === 'seat' && [m.seatId, m.status, m.available, m.held, m.sold])).toEqual([
      ['A1', 'available', 1, 0, 0],
      ['A2', 'available', 2, 0, 0],
      ['A1', 'held', 1, 1, 0],
      ['A1', 'sold', 1, 0, 1],
    ]);
    for (const m of seats) {
      expect(m.t).toBeGreaterThanOrEqual(before - 1_000);
      expect(m.t).toBeLessThanOrEqual(Date.now() + 1_000);
    }
    const history = await readHistory(stack.redis, eventId);
    expect(history.sold[history.sold.length - 1][1]).toBe(1);
  });

  it("publishes the waiting room's counts and records fans waiting for the chart", async () => {
    const { eventId, messages } = await watchedEvent();
    const queue = new QueueCache(stack.redis);
    expect(await queue.project(queueView(eventId, 2, 30, 10))).toBe(true);
    expect(await queue.project(queueView(eventId, 1, 5, 0))).toBe(false); // stale: neither kept nor published
    const [change] = await eventually(async () => (messages().length >= 1 ? messages() : undefined));
    expect(change).toMatchObject({ type: 'queue', joined: 30, admitted: 10, waiting: 20 });
    expect((await readHistory(stack.redis, eventId)).waiting.map(([, waiting]) => waiting)).toEqual([20]);
  });

  it('counts a failed purchase once under its final code, however often its status is written', async () => {
    const { eventId, messages } = await watchedEvent();
    const purchases = new PurchaseCache(stack.redis);
    const status = (fanId: string, version: number, patch: Partial<PurchaseStatus>): PurchaseStatus => ({
      purchaseId: purchaseWorkflowId(eventId, fanId),
      eventId,
      fanId,
      state: 'paying',
      version,
      ...patch,
    });
    const declined = { state: 'failed', failure: { code: 'PAYMENT_DECLINED', message: 'declined' } } as const;
    await purchases.project(status('ada', 1, {}));
    await purchases.project(status('ada', 2, declined));
    await purchases.project(status('ada', 2, declined)); // the saga's retry
    await purchases.project(status('ada', 3, declined)); // a read-repair or a rebuild writing it again
    await purchases.project(status('bob', 2, declined));
    await purchases.project(
      status('cy', 2, { state: 'cancelled', failure: { code: 'CANCELLED', message: 'cancelled' } }),
    );
    await purchases.project(status('dee', 2, { state: 'completed' }));

    expect(await purchases.failures(eventId)).toEqual([
      { code: 'PAYMENT_DECLINED', count: 2 },
      { code: 'CANCELLED', count: 1 },
    ]);
    const counted = await eventually(async () => {
      const failures = messages().flatMap((m) => (m.type === 'purchase' && m.failure ? [m.failure] : []));
      return failures.length >= 3 ? failures : undefined;
    });
    expect(counted).toEqual([
      { code: 'PAYMENT_DECLINED', count: 1 },
      { code: 'PAYMENT_DECLINED', count: 2 },
      { code: 'CANCELLED', count: 1 },
    ]);
  });

  it("fans one subscriber's messages out to every watcher of the event, until the last one leaves", async () => {
    const eventId = uniqueId('feed');
    const seen: string[][] = [[], []];
    const watcher = (i: number) => ({
      message: (raw: string) => seen[i].push((JSON.parse(raw) as { seatId: string }).seatId),
      resync: () => undefined,
      close: () => undefined,
    });
    const stopFirst = await stack.app.changeFeed.watch(eventId, watcher(0));
    const stopSecond = await stack.app.changeFeed.watch(eventId, watcher(1));
    await stack.cache.projectSeat(eventId, { seatId: 'B1', status: 'held', version: 1 });
    await eventually(async () => (seen[0].length === 1 && seen[1].length === 1 ? true : undefined));

    stopFirst();
    await stack.cache.projectSeat(eventId, { seatId: 'B2', status: 'held', version: 1 });
    await eventually(async () => (seen[1].length === 2 ? true : undefined));
    expect(seen).toEqual([['B1'], ['B1', 'B2']]);

    stopSecond();
    await eventually(async () => {
      const [, subscribers] = (await stack.redis.pubsub('NUMSUB', changesChannel(eventId))) as [
        string,
        number,
      ];
      return subscribers === 0 ? true : undefined;
    });
  });
});
