/**
 * Floods of long-lived requests meet their caps: change streams and purchase long-polls, per client address
 * and in total, answer `503 OVERLOADED` with `Retry-After` past them, and serve again once slots free up.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/api/app';
import {
  appOptions,
  createTestEvent,
  finalStatus,
  openStack,
  startPurchase,
  uniqueId,
  type StartedPurchase,
  type Stack,
} from '../support/stack';

let stack: Stack;
let app: FastifyInstance;
let origin: string;

beforeAll(async () => {
  stack = await openStack();
  app = await buildApp(
    appOptions(stack, {
      caps: { streams: { total: 3, perClient: 2 }, longPolls: { total: 3, perClient: 2 } },
    }),
  );
  await app.listen({ host: '127.0.0.1', port: 0 });
  origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await app.close();
  await stack.close();
});

const expectOverloaded = (response: {
  statusCode: number;
  headers: Record<string, unknown>;
  json(): unknown;
}) => {
  expect(response.statusCode).toBe(503);
  expect(response.headers['retry-after']).toBe('2');
  expect(response.json()).toMatchObject({ code: 'OVERLOADED' });
};

it('change streams: two per client address; the third is refused, and a closed stream frees its slot', async () => {
  const eventId = await createTestEvent(stack);
  const url = `${origin}/events/${eventId}/changes`;
  const open = async () => {
    const controller = new AbortController();
    const response = await fetch(url, { signal: controller.signal });
    return { response, close: () => controller.abort() };
  };
  const first = await open();
  const second = await open();
  expect([first.response.status, second.response.status]).toEqual([200, 200]);
  const third = await open();
  expect(third.response.status).toBe(503);
  expect(third.response.headers.get('retry-after')).toBe('2');
  expect(await third.response.json()).toMatchObject({ code: 'OVERLOADED' });

  first.close();
  const again = await (async () => {
    for (let i = 0; i < 50; i++) {
      const attempt = await open();
      if (attempt.response.status === 200) return attempt;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error('the closed stream never freed its slot');
  })();
  again.close();
  second.close();
});

it('long-polls: a client past its cap is refused at once, another client is served, then the first again', async () => {
  const eventId = await createTestEvent(stack);
  // A purchase whose charge hangs stays unfinished long enough to keep long-polls waiting.
  const pending = await startPurchase(stack, eventId, {
    fanId: uniqueId('fan'),
    seatId: 'A1',
    paymentToken: 'tok_timeout',
  });
  const poll = (started: StartedPurchase, remoteAddress = '127.0.0.1', waitMs = 1_500) =>
    app.inject({
      url: `/purchases/${started.purchaseId}?waitMs=${waitMs}`,
      headers: { authorization: `Bearer ${started.token}` },
      remoteAddress,
    });
  const waiting = [poll(pending), poll(pending)];
  await new Promise((resolve) => setTimeout(resolve, 200));
  const refusedAt = Date.now();
  expectOverloaded(await poll(pending));
  expect(Date.now() - refusedAt).toBeLessThan(1_000);
  // Another address still has room under the total (3).
  expect((await poll(pending, '127.0.0.2', 100)).statusCode).toBe(200);
  // A plain poll (no wait) holds no slot.
  expect((await poll(pending, '127.0.0.1', 0)).statusCode).toBe(200);
  for (const response of await Promise.all(waiting)) expect(response.statusCode).toBe(200);
  expect((await poll(pending, '127.0.0.1', 100)).statusCode).toBe(200);
  await finalStatus(stack, pending);
});
