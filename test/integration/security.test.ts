/**
 * The security suite: each hole of contract v1 tried as an attacker would, against the real stack, and
 * refused. A fan acts only as the fan its token names; the waiting room's entity, not the cache, decides
 * who may buy; the seat entities, not the cache, decide SOLD_OUT; one client cannot stuff the queue; a full
 * waiting room refuses newcomers and keeps serving its fans. Every refusal is problem+json and changes
 * nothing. (Token forgery: test/unit/fan-identity.test.ts; stream and long-poll caps: caps.test.ts; a
 * second ticket scan: purchase.test.ts.)
 */
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/api/app';
import { QueueCache } from '../../src/cache/queue-cache';
import { PurchaseCache } from '../../src/cache/purchase-cache';
import { queueSnapshotQuery, queueWorkflowId } from '../../src/entities/queue/contract';
import { purchaseWorkflowId } from '../../src/sagas/purchase/contract';
import type { ProviderStore } from '../../src/providers/store';
import { joinQueue, queueMe } from '../support/fans';
import {
  appOptions,
  createTestEvent,
  eventually,
  fanHeaders,
  fanToken,
  finalStatus,
  openProviderStore,
  openStack,
  startPurchase,
  uniqueId,
  type Stack,
} from '../support/stack';

let stack: Stack;
let store: ProviderStore;

beforeAll(async () => {
  stack = await openStack();
  store = openProviderStore();
});
afterAll(async () => {
  store.close();
  await stack.close();
});

type Answer = { statusCode: number; headers: Record<string, unknown>; json(): unknown };

/** A refusal: the status and code of the contract, as problem+json. */
function expectProblem(response: Answer, status: number, code: string): void {
  expect({ status: response.statusCode, code: (response.json() as { code?: string }).code }).toEqual({
    status,
    code,
  });
  expect(response.headers['content-type']).toMatch(/application\/problem\+json/);
}

const as = async (fanId: string, call: { method?: 'GET' | 'POST'; url: string; payload?: object }) =>
  stack.app.inject({
    method: call.method ?? 'GET',
    url: call.url,
    payload: call.payload,
    headers: await fanHeaders(fanId),
  });

const queueView = (eventId: string) =>
  stack.client.workflow.getHandle(queueWorkflowId(eventId)).query(queueSnapshotQuery);

describe('a fan acts only as itself', () => {
  it('direct event: another fan’s purchase is 404 to read and to cancel, and goes on untouched', async () => {
    const eventId = await createTestEvent(stack);
    const victim = await startPurchase(stack, eventId, { fanId: 'victim', seatId: 'A1' });
    expect(victim.statusCode).toBe(202);
    // v1's attack: name the victim in the body. v2 refuses the body and the attacker only ever buys for itself.
    expectProblem(
      await as('attacker', {
        method: 'POST',
        url: `/events/${eventId}/purchases`,
        payload: { fanId: 'victim', paymentToken: 'tok_ok' },
      }),
      400,
      'VALIDATION',
    );
    const own = await as('attacker', {
      method: 'POST',
      url: `/events/${eventId}/purchases`,
      payload: { paymentToken: 'tok_ok' },
    });
    expect((own.json() as { purchaseId: string }).purchaseId).toBe(purchaseWorkflowId(eventId, 'attacker'));

    expectProblem(await as('attacker', { url: `/purchases/${victim.purchaseId}` }), 404, 'NOT_FOUND');
    expectProblem(
      await as('attacker', { method: 'POST', url: `/purchases/${victim.purchaseId}/cancel` }),
      404,
      'NOT_FOUND',
    );
    const done = await finalStatus(stack, victim);
    expect(done).toMatchObject({ state: 'completed', seatId: 'A1' });
    expect(store.chargesFor(victim.purchaseId)).toHaveLength(1);
  });

  it('queue event: joining “again” gives the attacker its own place, never the victim’s admission', async () => {
    const eventId = await createTestEvent(stack, {
      admission: 'queue',
      maxActivePurchases: 1,
      rows: 1,
      seatsPerRow: 3,
    });
    const victim = await joinQueue(stack, eventId, 'victim');
    await eventually(async () => (await queueMe(stack, eventId, victim.token)).admission);
    const attacker = await joinQueue(stack, eventId, 'attacker');
    expect(attacker.body).toMatchObject({ fanId: 'attacker', position: 2 });
    expect((await queueMe(stack, eventId, attacker.token)).state).toBe('waiting');
    // The attacker cannot buy, nor spend the victim's admission with a declined card.
    expectProblem(
      await as('attacker', {
        method: 'POST',
        url: `/events/${eventId}/purchases`,
        payload: { paymentToken: 'tok_declined' },
      }),
      403,
      'NOT_ADMITTED',
    );
    const bought = await startPurchase(stack, eventId, { fanId: 'victim' });
    expect(bought.statusCode).toBe(202);
    expect((await finalStatus(stack, bought)).state).toBe('completed');
  });

  it('dashed ids: event E with fan vip-alice and event E-vip with fan alice are two purchases', async () => {
    const base = uniqueId('ev');
    const first = await createTestEvent(stack, { eventId: base });
    const second = await createTestEvent(stack, { eventId: `${base}-vip` });
    const a = await startPurchase(stack, first, { fanId: 'vip-alice', seatId: 'A1' });
    const b = await startPurchase(stack, second, { fanId: 'alice', seatId: 'A1' });
    expect([a.statusCode, b.statusCode]).toEqual([202, 202]);
    expect(a.purchaseId).not.toBe(b.purchaseId);
    expect((await finalStatus(stack, a)).state).toBe('completed');
    expect((await finalStatus(stack, b)).state).toBe('completed');
    expectProblem(await as('alice', { url: `/purchases/${a.purchaseId}` }), 404, 'NOT_FOUND');
    expectProblem(await as('vip-alice', { url: `/purchases/${b.purchaseId}` }), 404, 'NOT_FOUND');
  });
});

describe('the entities decide, not the cache', () => {
  it('a forged cache admission admits nobody: the queue entity refuses the purchase', async () => {
    const eventId = await createTestEvent(stack, { admission: 'queue', maxActivePurchases: 1 });
    const first = await joinQueue(stack, eventId, 'first');
    const waiting = await joinQueue(stack, eventId, 'waiting');
    await eventually(async () => (await queueMe(stack, eventId, first.token)).admission);
    // Forge the cache: everyone admitted, with a live admission range.
    const cache = new QueueCache(stack.redis);
    const view = await queueView(eventId);
    const forged = {
      ...view,
      version: view.version + 1_000,
      admittedThrough: 50,
      ranges: [{ from: 1, to: 50, expiresAt: Date.now() + 60_000 }],
    };
    await cache.project(forged);
    // The cache can mislead a poll (once the API's 100 ms view memo has moved on)…
    await eventually(async () =>
      (await queueMe(stack, eventId, waiting.token)).state === 'admitted' ? true : undefined,
    );
    const refused = await as('waiting', {
      method: 'POST',
      url: `/events/${eventId}/purchases`,
      payload: { paymentToken: 'tok_ok' },
    });
    expectProblem(refused, 403, 'NOT_ADMITTED'); // …but not admit
    expect((await queueView(eventId)).purchasing).toBe(0);
    expect(await stack.app.purchaseCache.get(eventId, 'waiting')).toBeUndefined();
  });

  it('a flushed cache refuses no admitted fan: its place and admission come from the entity', async () => {
    const eventId = await createTestEvent(stack, { admission: 'queue', maxActivePurchases: 1 });
    const fan = await joinQueue(stack, eventId, 'flushed-fan');
    await eventually(async () => (await queueMe(stack, eventId, fan.token)).admission);
    await stack.redis.flushall();
    expect((await queueMe(stack, eventId, fan.token)).position).toBe(1);
    const bought = await startPurchase(stack, eventId, { fanId: 'flushed-fan' });
    expect(bought.statusCode).toBe(202);
    expect((await finalStatus(stack, bought)).state).toBe('completed');
  });

  it('an empty cache never answers SOLD_OUT while the seat entities have a seat', async () => {
    const eventId = await createTestEvent(stack, { rows: 1, seatsPerRow: 2 });
    await stack.redis.flushall(); // no counters, no seat map: "0 available, 0 held"
    const bought = await startPurchase(stack, eventId, { fanId: uniqueId('fan') });
    expect(bought.statusCode).toBe(202);
    expect((await finalStatus(stack, bought)).state).toBe('completed');
    const second = await startPurchase(stack, eventId, { fanId: uniqueId('fan') });
    expect((await finalStatus(stack, second)).state).toBe('completed');
    // Now truly sold out: the entities confirm it and the API refuses at once.
    const third = await as(uniqueId('fan'), {
      method: 'POST',
      url: `/events/${eventId}/purchases`,
      payload: { paymentToken: 'tok_ok' },
    });
    expectProblem(third, 409, 'SOLD_OUT');
  });

  it('one purchase per fan: buying twice is the same purchase, and a forged "already bought" refuses nobody', async () => {
    const eventId = await createTestEvent(stack);
    const first = await startPurchase(stack, eventId, { fanId: 'twice', seatId: 'A1' });
    const again = await startPurchase(stack, eventId, { fanId: 'twice', seatId: 'A2' });
    expect([first.statusCode, again.statusCode]).toEqual([202, 200]);
    expect(again.purchaseId).toBe(first.purchaseId);
    expect((await finalStatus(stack, first)).seatId).toBe('A1');
    expect(store.chargesFor(first.purchaseId)).toHaveLength(1);

    // A record for a fan who never bought (a forged or stale cache) is checked against the saga.
    await new PurchaseCache(stack.redis).project({
      purchaseId: purchaseWorkflowId(eventId, 'never-bought'),
      eventId,
      fanId: 'never-bought',
      state: 'completed',
      version: 99,
    });
    const real = await startPurchase(stack, eventId, { fanId: 'never-bought' });
    expect(real.statusCode).toBe(202);
    expect((await finalStatus(stack, real)).state).toBe('completed');
  });
});

describe('abuse limits', () => {
  let limited: FastifyInstance;

  beforeAll(async () => {
    limited = await buildApp(
      appOptions(stack, {
        trustProxy: ['127.0.0.1'],
        rateLimits: {
          windowSec: 60,
          limits: {
            join: { perFan: 3, perAddress: 20 },
            poll: { perFan: 5, perAddress: 1_000 },
            purchase: { perFan: 3, perAddress: 100 },
            verify: { perAddress: 4 },
          },
        },
      }),
    );
    await limited.ready();
  });
  afterAll(async () => limited.close());

  const join = async (eventId: string, fanId: string, address: string) =>
    limited.inject({
      method: 'POST',
      url: `/events/${eventId}/queue`,
      headers: { authorization: `Bearer ${await fanToken(fanId)}`, 'x-forwarded-for': address },
    });

  it('one client stuffing bot fans into the queue is stopped at its address limit; others still join', async () => {
    const eventId = await createTestEvent(stack, { admission: 'queue' });
    const bots = Array.from({ length: 30 }, (_, i) => `bot-${i}`);
    const answers = [];
    for (const bot of bots) answers.push(await join(eventId, bot, '203.0.113.7'));
    const placed = answers.filter((a) => a.statusCode === 202);
    const refused = answers.filter((a) => a.statusCode === 429);
    expect([placed.length, refused.length]).toEqual([20, 10]);
    for (const answer of refused) {
      expectProblem(answer, 429, 'RATE_LIMITED');
      expect(Number(answer.headers['retry-after'])).toBeGreaterThan(0);
    }
    expect((await queueView(eventId)).joined).toBe(20); // refused bots got no place
    expect((await join(eventId, 'real-fan', '198.51.100.20')).statusCode).toBe(202);
  });

  it('one fan polling too fast is limited, whatever address it uses', async () => {
    const eventId = await createTestEvent(stack, { admission: 'queue' });
    expect((await join(eventId, 'eager', '198.51.100.30')).statusCode).toBe(202);
    const token = await fanToken('eager');
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      const poll = await limited.inject({
        url: `/events/${eventId}/queue/me`,
        headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': `198.51.100.${40 + i}` },
      });
      statuses.push(poll.statusCode);
      if (poll.statusCode === 429) expectProblem(poll, 429, 'RATE_LIMITED');
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
  });

  it('ticket verification is limited per address', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const response = await limited.inject({
        method: 'POST',
        url: '/tickets/verify',
        payload: { qr: 'not-a-qr' },
        headers: { 'x-forwarded-for': '192.0.2.99' },
      });
      statuses.push(response.statusCode);
    }
    expect(statuses).toEqual([422, 422, 422, 422, 429, 429]);
  });
});

describe('a full waiting room', () => {
  it('answers 503 OVERLOADED to new fans and goes on admitting the fans it has, without a failed task', async () => {
    const eventId = await createTestEvent(stack, {
      admission: 'queue',
      waitingRoomCapacity: 3,
      maxActivePurchases: 1,
      rows: 1,
      seatsPerRow: 3,
    });
    const fans = ['room-1', 'room-2', 'room-3'];
    for (const fanId of fans) expect((await joinQueue(stack, eventId, fanId)).statusCode).toBe(202);
    const late = await stack.app.inject({
      method: 'POST',
      url: `/events/${eventId}/queue`,
      headers: await fanHeaders('room-4'),
    });
    expectProblem(late, 503, 'OVERLOADED');
    expect(late.headers['retry-after']).toBe('30');
    // A fan it has is still answered, joining again included.
    expect((await joinQueue(stack, eventId, 'room-2')).statusCode).toBe(200);

    for (const fanId of fans) {
      await eventually(async () => (await queueMe(stack, eventId, await fanToken(fanId))).admission, 30_000);
      const bought = await startPurchase(stack, eventId, { fanId });
      expect((await finalStatus(stack, bought)).state).toBe('completed');
    }
    const history = await stack.client.workflow.getHandle(queueWorkflowId(eventId)).fetchHistory();
    const failedTasks = (history.events ?? []).filter((e) => e.workflowTaskFailedEventAttributes);
    expect(failedTasks).toEqual([]);
    expect((await queueView(eventId)).joined).toBe(3);
  });
});
