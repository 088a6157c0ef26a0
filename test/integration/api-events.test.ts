/**
 * The first slice of the HTTP API (`app.inject`) against the real dev server, worker and Redis.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import { eventWorkflowId } from '../../src/entities/event/contract';
import { seatIds, seatStateQuery, seatWorkflowId } from '../../src/entities/seat/contract';
import { mapLimit } from '../../src/lib/concurrency';
import { adminHeaders, eventually, openStack, uniqueId, type Stack } from '../support/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await openStack();
});
afterAll(async () => stack.close());

const eventBody = (eventId: string, extra: Record<string, unknown> = {}) => ({
  eventId,
  name: `Test ${eventId}`,
  rows: 2,
  seatsPerRow: 3,
  priceCents: 5000,
  admission: 'direct',
  ...extra,
});

const createEvent = (payload: unknown, headers: Record<string, string> = adminHeaders()) =>
  stack.app.inject({ method: 'POST', url: '/events', headers, payload: payload as Record<string, unknown> });

async function eventWorkflowExists(eventId: string): Promise<boolean> {
  try {
    await stack.client.workflow.getHandle(eventWorkflowId(eventId)).describe();
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

function expectProblem(
  response: { statusCode: number; headers: Record<string, unknown>; json(): unknown },
  status: number,
  code: string,
) {
  expect(response.statusCode).toBe(status);
  expect(String(response.headers['content-type'])).toContain('application/problem+json');
  const body = response.json() as Record<string, unknown>;
  expect(body).toMatchObject({ status, code });
  expect(typeof body.detail).toBe('string');
  expect(typeof body.title).toBe('string');
  expect(typeof body.type).toBe('string');
}

describe('POST /events', () => {
  it('creates an event once; the same body again is 200; a different body is 409 EVENT_EXISTS', async () => {
    const eventId = uniqueId('ev');
    const first = await createEvent(eventBody(eventId));
    expect(first.statusCode).toBe(201);
    expect(first.json()).toEqual({ eventId, capacity: 6, admission: 'direct', status: 'on-sale' });

    const again = await createEvent(eventBody(eventId));
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(first.json());

    expectProblem(await createEvent(eventBody(eventId, { priceCents: 9999 })), 409, 'EVENT_EXISTS');

    const summary = await stack.app.inject({ url: `/events/${eventId}` });
    expect(summary.json()).toMatchObject({
      capacity: 6,
      available: 6,
      held: 0,
      sold: 0,
      status: 'on-sale',
      priceCents: 5000,
    });
  });

  it('creates concert-1 sized events: 500 seat workflows, each answering seatState, listed by search attribute', async () => {
    const eventId = uniqueId('concert');
    const response = await createEvent(eventBody(eventId, { rows: 20, seatsPerRow: 25, priceCents: 7500 }));
    expect(response.statusCode).toBe(201);
    expect(response.json()).toMatchObject({ capacity: 500 });

    const ids = seatIds(20, 25);
    const states = await mapLimit(ids, 25, (seatId) =>
      stack.client.workflow.getHandle(seatWorkflowId(eventId, seatId)).query(seatStateQuery),
    );
    expect(states.map((s) => s.seatId)).toEqual(ids);
    expect(states.every((s) => s.status === 'available')).toBe(true);

    const count = await eventually(async () => {
      const { count: n } = await stack.client.workflow.count(
        `EventId = '${eventId}' AND WorkflowType = 'seatEntity'`,
      );
      return n === 500 ? n : undefined;
    });
    expect(count).toBe(500);

    const map = await stack.app.inject({ url: `/events/${eventId}/seats` });
    expect(map.statusCode).toBe(200);
    const seats = (map.json() as { seats: { seatId: string; status: string }[] }).seats;
    expect(seats.map((s) => s.seatId)).toEqual(ids);

    const summary = await stack.app.inject({ url: `/events/${eventId}` });
    expect(summary.json()).toMatchObject({ capacity: 500, available: 500, held: 0, sold: 0 });

    const seat = await stack.app.inject({ url: `/events/${eventId}/seats/T25` });
    expect(seat.json()).toEqual({ seatId: 'T25', status: 'available', version: 0 });
  });
});

describe('bad input to POST /events changes nothing', () => {
  type Build = (id: string) => { payload: unknown; headers?: Record<string, string>; raw?: string };
  const cases: [string, number, string, Build][] = [
    ['missing admin token', 401, 'UNAUTHORIZED', (id) => ({ payload: eventBody(id), headers: {} })],
    [
      'wrong admin token',
      401,
      'UNAUTHORIZED',
      (id) => ({ payload: eventBody(id), headers: { authorization: 'Bearer nope' } }),
    ],
    ['malformed JSON', 400, 'VALIDATION', (id) => ({ payload: eventBody(id), raw: `{"eventId":"${id}",` })],
    ['wrong type', 400, 'VALIDATION', (id) => ({ payload: eventBody(id, { rows: 'twenty' }) })],
    ['unknown field', 400, 'VALIDATION', (id) => ({ payload: eventBody(id, { vip: true }) })],
    [
      'capacity over 10,000',
      400,
      'VALIDATION',
      (id) => ({ payload: eventBody(id, { rows: 101, seatsPerRow: 100 }) }),
    ],
    ['zero rows', 400, 'VALIDATION', (id) => ({ payload: eventBody(id, { rows: 0 }) })],
    ['bad admission', 400, 'VALIDATION', (id) => ({ payload: eventBody(id, { admission: 'vip' }) })],
    ['bad onSaleAt', 400, 'VALIDATION', (id) => ({ payload: eventBody(id, { onSaleAt: 'tomorrow' }) })],
    [
      'an onSaleAt at a leap second (valid RFC 3339, no JavaScript date)',
      400,
      'VALIDATION',
      (id) => ({ payload: eventBody(id, { onSaleAt: '2026-12-31T23:59:60Z' }) }),
    ],
  ];

  it.each(cases)('%s → %i %s', async (_name, status, code, build) => {
    const eventId = uniqueId('bad');
    const { payload, headers, raw } = build(eventId);
    const response = raw
      ? await stack.app.inject({
          method: 'POST',
          url: '/events',
          headers: { ...adminHeaders(), 'content-type': 'application/json', ...headers },
          payload: raw,
        })
      : await createEvent(payload, headers ?? adminHeaders());
    expectProblem(response, status, code);
    expect(await eventWorkflowExists(eventId)).toBe(false);
  });

  it('rejects an id outside the pattern', async () => {
    expectProblem(await createEvent(eventBody('Bad Id!')), 400, 'VALIDATION');
    expect(await eventWorkflowExists('Bad Id!')).toBe(false);
  });
});

describe('POST /events/:eventId/close', () => {
  it('closes every seat entity, shows the event closed, and is idempotent', async () => {
    const eventId = uniqueId('close');
    expect((await createEvent(eventBody(eventId))).statusCode).toBe(201);
    expectProblem(
      await stack.app.inject({ method: 'POST', url: `/events/${eventId}/close` }),
      401,
      'UNAUTHORIZED',
    );

    const closed = await stack.app.inject({
      method: 'POST',
      url: `/events/${eventId}/close`,
      headers: adminHeaders(),
    });
    expect(closed.statusCode).toBe(200);
    expect(closed.json()).toMatchObject({ eventId, status: 'closed' });
    for (const seatId of seatIds(2, 3)) {
      const handle = stack.client.workflow.getHandle(seatWorkflowId(eventId, seatId));
      const { status } = await eventually(async () => {
        const description = await handle.describe();
        return description.status.name === 'COMPLETED' ? description : undefined;
      });
      expect(status.name).toBe('COMPLETED');
    }
    const again = await stack.app.inject({
      method: 'POST',
      url: `/events/${eventId}/close`,
      headers: adminHeaders(),
    });
    expect(again.json()).toMatchObject({ status: 'closed' });
    expect((await stack.app.inject({ url: `/events/${eventId}` })).json()).toMatchObject({
      status: 'closed',
    });
    expectProblem(
      await stack.app.inject({
        method: 'POST',
        url: `/events/${uniqueId('nope')}/close`,
        headers: adminHeaders(),
      }),
      404,
      'NOT_FOUND',
    );
  });
});

describe('reads', () => {
  it('answers 404 for an unknown event or seat and 400 for a malformed seat id', async () => {
    expectProblem(await stack.app.inject({ url: `/events/${uniqueId('nope')}` }), 404, 'NOT_FOUND');
    expectProblem(await stack.app.inject({ url: `/events/${uniqueId('nope')}/seats` }), 404, 'NOT_FOUND');
    const eventId = uniqueId('small');
    expect((await createEvent(eventBody(eventId))).statusCode).toBe(201);
    expectProblem(await stack.app.inject({ url: `/events/${eventId}/seats/Z9` }), 404, 'NOT_FOUND');
    expectProblem(await stack.app.inject({ url: `/events/${eventId}/seats/a-1` }), 400, 'VALIDATION');
    expectProblem(await stack.app.inject({ url: `/events/Not_Valid!` }), 400, 'VALIDATION');
  });

  it('serves health, readiness, metrics and the OpenAPI document', async () => {
    expect((await stack.app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
    expect((await stack.app.inject({ url: '/readyz' })).json()).toEqual({
      status: 'ready',
      temporal: true,
      redis: true,
    });
    const metrics = await stack.app.inject({ url: '/metrics' });
    expect(metrics.body).toContain('ticketdrop_http_request_duration_seconds');
    const openapi = (await stack.app.inject({ url: '/openapi.json' })).json() as {
      paths: Record<string, unknown>;
    };
    expect(Object.keys(openapi.paths)).toEqual(
      expect.arrayContaining([
        '/events',
        '/events/{eventId}',
        '/events/{eventId}/seats',
        '/events/{eventId}/seats/{seatId}',
      ]),
    );
    expect((await stack.app.inject({ url: '/docs' })).statusCode).toBeLessThan(400);
  });
});
