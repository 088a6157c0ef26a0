/**
 * The purchase saga end to end: API → purchase workflow → seat entity, simulated providers, the real
 * worker, dev server and Redis.
 */
import { confirmationWorkflowId, purchaseWorkflowId } from '../../src/sagas/purchase/contract';
import {
  holdSeatUpdate,
  releaseSeatUpdate,
  rolloverSeatSignal,
  seatStateQuery,
  seatWorkflowId,
} from '../../src/entities/seat/contract';
import { Knobs } from '../../src/providers/knobs';
import type { ProviderStore } from '../../src/providers/store';
import { FaultSwitch } from '../../tools/faults/faults';
import {
  adminHeaders,
  createTestEvent,
  fanHeaders,
  finalStatus,
  openProviderStore,
  openStack,
  setKnobs,
  purchaseStatus,
  startPurchase,
  uniqueId,
  eventually,
  type Stack,
} from '../support/stack';

let stack: Stack;
let store: ProviderStore;
let knobs: Knobs;
let faults: FaultSwitch;
beforeAll(async () => {
  stack = await openStack();
  store = openProviderStore();
  knobs = new Knobs(store);
  faults = new FaultSwitch(store);
});
afterEach(() => {
  knobs.reset();
  faults.reset();
});
afterAll(async () => {
  store.close();
  await stack.close();
});

const seatState = (eventId: string, seatId: string) =>
  stack.client.workflow.getHandle(seatWorkflowId(eventId, seatId)).query(seatStateQuery);

/**
 * The confirmation child's result. The purchase reports `completed` before it starts the child (fans learn
 * the outcome first), so the child may not exist yet when the test asks.
 */
const confirmationResult = (eventId: string, fanId: string) =>
  eventually(
    () => stack.client.workflow.getHandle(confirmationWorkflowId(eventId, fanId)).result(),
    30_000,
    'the confirmation workflow',
  );

const verify = (qr: string) => stack.app.inject({ method: 'POST', url: '/tickets/verify', payload: { qr } });
const gateHeaders = () => ({ authorization: `Bearer ${process.env.TICKETDROP_GATE_TOKEN}` });
const redeem = (payload: { qr: string; scanId?: string }, headers: Record<string, string> = gateHeaders()) =>
  stack.app.inject({ method: 'POST', url: '/tickets/redeem', payload, headers });

describe('purchase saga', () => {
  it('happy path: completed, seat sold, exactly one charge, ticket verifies, email and SMS sent', async () => {
    const eventId = await createTestEvent(stack);
    const fanId = uniqueId('fan');
    const started = await startPurchase(stack, eventId, { fanId, seatId: 'A3' });
    expect(started.statusCode).toBe(202);
    expect(started.purchaseId).toBe(purchaseWorkflowId(eventId, fanId));

    const done = await finalStatus(stack, started);
    expect(done).toMatchObject({ state: 'completed', seatId: 'A3', ticket: { seatId: 'A3' } });
    expect(await seatState(eventId, 'A3')).toMatchObject({ status: 'sold' });

    const charges = store.chargesFor(started.purchaseId);
    expect(charges).toHaveLength(1);
    expect(charges[0]).toMatchObject({ status: 'captured', amountCents: 4200, fanId });

    const verified = await verify(done.ticket!.qr);
    expect(verified.statusCode).toBe(200);
    expect(verified.json()).toEqual({ valid: true, ticketId: done.ticket!.ticketId, eventId, seatId: 'A3' });

    const result = await confirmationResult(eventId, fanId);
    expect(result).toEqual({ email: { status: 'sent' }, sms: { status: 'sent' } });
    expect(store.notificationsFor(started.purchaseId).map((n) => n.channel)).toEqual(['email', 'sms']);

    const again = await startPurchase(stack, eventId, { fanId, seatId: 'A3' });
    expect(again.statusCode).toBe(200);
    expect(again.purchaseId).toBe(started.purchaseId);
    expect(store.chargesFor(started.purchaseId)).toHaveLength(1);

    const summary = (await stack.app.inject({ url: `/events/${eventId}` })).json();
    expect(summary).toMatchObject({ sold: 1, available: 4, held: 0 });
  });

  it('a best-available pick whose cache lost the seat map rebuilds it from the entities, not SOLD_OUT', async () => {
    const eventId = await createTestEvent(stack);
    // The counts and the event record stay, so the API lets the purchase start; the seat map is gone.
    await stack.redis.del(`td:{${eventId}}:seats`);
    const got = await finalStatus(stack, await startPurchase(stack, eventId, { fanId: uniqueId('fan') }));
    expect(got).toMatchObject({ state: 'completed' });
    expect((await seatState(eventId, got.seatId!)).status).toBe('sold');
    expect(await stack.redis.hlen(`td:{${eventId}}:seats`)).toBe(5);
  });

  it('every free seat held by other purchases: a best-available fan waits for one to end, not SOLD_OUT', async () => {
    const eventId = await createTestEvent(stack, { rows: 1, seatsPerRow: 2 });
    for (const seatId of ['A1', 'A2']) {
      await stack.client.workflow.getHandle(seatWorkflowId(eventId, seatId)).executeUpdate(holdSeatUpdate, {
        args: [{ holdId: `other-${seatId}`, purchaseId: 'other', ttlMs: 60_000 }],
      });
    }
    await eventually(async () => ((await stack.cache.getCounts(eventId)).held === 2 ? true : undefined));
    const waiting = await startPurchase(stack, eventId, { fanId: uniqueId('fan') });
    expect(waiting.statusCode).toBe(202);
    // Both holds are there for 2 s: the purchase is still reserving, not failed.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(await purchaseStatus(stack, waiting)).toMatchObject({ state: 'reserving' });

    // The other purchase gives A2 back (its payment failed): the waiting fan buys it.
    await stack.client.workflow
      .getHandle(seatWorkflowId(eventId, 'A2'))
      .executeUpdate(releaseSeatUpdate, { args: [{ holdId: 'other-A2' }] });
    expect(await finalStatus(stack, waiting)).toMatchObject({ state: 'completed', seatId: 'A2' });

    // A1 comes back too, to the next waiting fan; then no seat is left and a late fan hears SOLD_OUT at once.
    const buyer = await startPurchase(stack, eventId, { fanId: uniqueId('fan') });
    await stack.client.workflow
      .getHandle(seatWorkflowId(eventId, 'A1'))
      .executeUpdate(releaseSeatUpdate, { args: [{ holdId: 'other-A1' }] });
    expect(await finalStatus(stack, buyer)).toMatchObject({ state: 'completed', seatId: 'A1' });
    const late = await startPurchase(stack, eventId, { fanId: uniqueId('fan') });
    expect(late.statusCode).toBe(409);
  });

  it('dashed ids never share a purchase: event a with fan b-c and event a-b with fan c buy apart', async () => {
    const a = await createTestEvent(stack, { eventId: uniqueId('dash') });
    const ab = await createTestEvent(stack, { eventId: `${a}-b` });
    const one = await startPurchase(stack, a, { fanId: 'b-c', seatId: 'A1' });
    const two = await startPurchase(stack, ab, { fanId: 'c', seatId: 'A1' });
    expect([one.statusCode, two.statusCode]).toEqual([202, 202]);
    expect(two.purchaseId).not.toBe(one.purchaseId);
    expect(await finalStatus(stack, one)).toMatchObject({ state: 'completed', eventId: a, fanId: 'b-c' });
    expect(await finalStatus(stack, two)).toMatchObject({ state: 'completed', eventId: ab, fanId: 'c' });
    expect((await seatState(a, 'A1')).status).toBe('sold');
    expect((await seatState(ab, 'A1')).status).toBe('sold');
  });

  it('a hold whose answer was lost is retried on the same seat: the fan gets it, no stray hold is left', async () => {
    await setKnobs(faults, { seatAnswerLoss: true });
    const eventId = await createTestEvent(stack);
    // One after the other: the best-available fan must not race the other for A5.
    const asked = await startPurchase(stack, eventId, { fanId: uniqueId('fan'), seatId: 'A5' });
    expect(await finalStatus(stack, asked)).toMatchObject({ state: 'completed', seatId: 'A5' });
    const bestAvailable = await startPurchase(stack, eventId, { fanId: uniqueId('fan') });
    const got = await finalStatus(stack, bestAvailable);
    expect(got.state).toBe('completed');
    const states = await Promise.all(['A1', 'A2', 'A3', 'A4', 'A5'].map((seat) => seatState(eventId, seat)));
    const byStatus = (status: string) =>
      states
        .filter((s) => s.status === status)
        .map((s) => s.seatId)
        .sort();
    expect(byStatus('sold')).toEqual([got.seatId, 'A5'].sort());
    expect(byStatus('held')).toEqual([]);
    expect(byStatus('available')).toHaveLength(3);
  });

  it('a hold delivered after its purchase moved on never takes the seat', async () => {
    const eventId = await createTestEvent(stack);
    // Another purchase holds A2 while this fan's first hold on it is held up on its way for 3 s.
    const other = stack.client.workflow.getHandle(seatWorkflowId(eventId, 'A2'));
    await other.executeUpdate(holdSeatUpdate, {
      args: [{ holdId: 'other-hold', purchaseId: 'other', ttlMs: 60_000 }],
    });
    await setKnobs(faults, { lateHold: { seatId: 'A2', delayMs: 3_000 } });
    const late = await startPurchase(stack, eventId, { fanId: uniqueId('fan'), seatId: 'A2' });
    // The retry got the seat's answer: taken. The purchase is over, with nothing of its own to release.
    expect(await finalStatus(stack, late)).toMatchObject({
      state: 'failed',
      failure: { code: 'SEAT_TAKEN' },
    });
    await other.executeUpdate(releaseSeatUpdate, { args: [{ holdId: 'other-hold' }] });
    expect((await seatState(eventId, 'A2')).status).toBe('available');

    // The first hold arrives after the seat came free: refused, so the seat stays on sale.
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    expect((await seatState(eventId, 'A2')).status).toBe('available');
    const taken = await startPurchase(stack, eventId, { fanId: uniqueId('fan'), seatId: 'A2' });
    expect(await finalStatus(stack, taken)).toMatchObject({ state: 'completed', seatId: 'A2' });
  });

  it('two fans claim the same seat at the same moment: one completes, the other fails SEAT_TAKEN', async () => {
    const eventId = await createTestEvent(stack);
    const fans = [uniqueId('fan'), uniqueId('fan')];
    const started = await Promise.all(
      fans.map((fanId) => startPurchase(stack, eventId, { fanId, seatId: 'A1' })),
    );
    const outcomes = await Promise.all(started.map((s) => finalStatus(stack, s)));

    expect(outcomes.map((o) => o.state).sort()).toEqual(['completed', 'failed']);
    const winner = outcomes.find((o) => o.state === 'completed')!;
    const loser = outcomes.find((o) => o.state === 'failed')!;
    expect(loser.failure?.code).toBe('SEAT_TAKEN');
    expect(store.chargesFor(loser.purchaseId)).toEqual([]);
    expect(await seatState(eventId, 'A1')).toEqual({ seatId: 'A1', status: 'sold', version: 2 });
    expect((await verify(winner.ticket!.qr)).statusCode).toBe(200);
  });

  it('10 racing best-available purchases spread over as many of the best seats as may race, not the first 24', async () => {
    // 200 seats, at most 100 purchases at once: picks are shuffled among the best 100 available seats.
    // When a fan picks, up to 9 others may already hold seats (the cache shows a hold as soon as it lands),
    // so the best 100 available reach rank 108 at most. Shuffled among the best 24 only, every fan would
    // land below rank 24 + 9.
    const eventId = await createTestEvent(stack, { rows: 8, seatsPerRow: 25, maxActivePurchases: 100 });
    const fans = Array.from({ length: 10 }, (_, i) => `fan-${i}-${uniqueId('x')}`);
    const started = await Promise.all(fans.map((fanId) => startPurchase(stack, eventId, { fanId })));
    const outcomes = await Promise.all(started.map((s) => finalStatus(stack, s)));
    expect(outcomes.map((o) => o.state)).toEqual(Array(10).fill('completed'));
    // Rank of a seat in row order: A1 is 0, A25 is 24, B1 is 25, …
    const ranks = outcomes.map((o) => (o.seatId!.charCodeAt(0) - 65) * 25 + Number(o.seatId!.slice(1)) - 1);
    expect(Math.max(...ranks)).toBeLessThan(100 + 9); // nobody got worse than the best 100 available
    expect(ranks.filter((r) => r >= 24 + 9).length).toBeGreaterThan(0); // and they did not all fight over 24
  });

  it('50 concurrent best-available purchases on 20 seats: 20 completed, 30 SOLD_OUT, no seat twice', async () => {
    const eventId = await createTestEvent(stack, { rows: 2, seatsPerRow: 10 });
    const fans = Array.from({ length: 50 }, (_, i) => `fan-${i}-${uniqueId('x')}`);
    const started = await Promise.all(fans.map((fanId) => startPurchase(stack, eventId, { fanId })));
    const refusedAtTheDoor = started.filter((s) => s.statusCode === 409).length;
    const outcomes = await Promise.all(
      started.filter((s) => s.statusCode === 202).map((s) => finalStatus(stack, s)),
    );

    const completed = outcomes.filter((o) => o.state === 'completed');
    expect(completed).toHaveLength(20);
    expect(new Set(completed.map((o) => o.seatId)).size).toBe(20);
    const soldOut = outcomes.filter((o) => o.failure?.code === 'SOLD_OUT').length + refusedAtTheDoor;
    expect(soldOut).toBe(30);
    const summary = (await stack.app.inject({ url: `/events/${eventId}` })).json();
    expect(summary).toMatchObject({ sold: 20, available: 0, held: 0, status: 'sold-out' });
    const captured = store
      .allCharges()
      .filter((c) => c.purchaseId.startsWith(purchaseWorkflowId(eventId, '')) && c.status === 'captured');
    expect(captured).toHaveLength(20);
  });
});

describe('payment outcomes', () => {
  it('tok_declined: PAYMENT_DECLINED, the seat is available again, nothing captured', async () => {
    const eventId = await createTestEvent(stack);
    const started = await startPurchase(stack, eventId, {
      fanId: uniqueId('fan'),
      seatId: 'A2',
      paymentToken: 'tok_declined',
    });
    const done = await finalStatus(stack, started);
    expect(done).toMatchObject({ state: 'failed', failure: { code: 'PAYMENT_DECLINED' } });
    expect(done.compensations).toEqual(['refund', 'release']);
    expect((await seatState(eventId, 'A2')).status).toBe('available');
    expect(store.chargesFor(started.purchaseId).filter((c) => c.status === 'captured')).toEqual([]);
    // The seat map shows it too, as soon as the fan has the answer.
    const summary = (await stack.app.inject({ url: `/events/${eventId}` })).json();
    expect(summary).toMatchObject({ sold: 0, available: 5, held: 0 });
  });

  it('tok_timeout: PAYMENT_TIMEOUT, the seat is released, nothing captured', async () => {
    const eventId = await createTestEvent(stack);
    const started = await startPurchase(stack, eventId, {
      fanId: uniqueId('fan'),
      seatId: 'A4',
      paymentToken: 'tok_timeout',
    });
    const done = await finalStatus(stack, started);
    expect(done).toMatchObject({ state: 'failed', failure: { code: 'PAYMENT_TIMEOUT' } });
    expect((await seatState(eventId, 'A4')).status).toBe('available');
    expect(store.chargesFor(started.purchaseId)).toEqual([]);
  });

  it('tok_flaky: completed after a retry, with exactly one charge', async () => {
    const eventId = await createTestEvent(stack);
    const started = await startPurchase(stack, eventId, {
      fanId: uniqueId('fan'),
      seatId: 'A5',
      paymentToken: 'tok_flaky',
    });
    const done = await finalStatus(stack, started);
    expect(done.state).toBe('completed');
    expect(store.chargesFor(started.purchaseId)).toHaveLength(1);
    const history = await stack.client.workflow.getHandle(started.purchaseId).fetchHistory();
    const failedAttempts = (history.events ?? []).filter(
      (e) => e.activityTaskCompletedEventAttributes || e.activityTaskStartedEventAttributes,
    );
    expect(failedAttempts.some((e) => (e.activityTaskStartedEventAttributes?.attempt ?? 0) >= 2)).toBe(true);
  });

  it('a hold that expires during a slow payment is refunded and fails HOLD_EXPIRED; the seat is not sold', async () => {
    await setKnobs(knobs, { paymentLatencyMs: [1_600, 1_600] });
    const eventId = await createTestEvent(stack, { holdTtlSeconds: 1 });
    const started = await startPurchase(stack, eventId, { fanId: uniqueId('fan'), seatId: 'A1' });
    const done = await finalStatus(stack, started);
    expect(done).toMatchObject({ state: 'failed', failure: { code: 'HOLD_EXPIRED' } });
    expect(done.compensations).toEqual(['void-ticket', 'refund', 'release']);
    const charges = store.chargesFor(started.purchaseId);
    expect(charges).toHaveLength(1);
    expect(charges[0].status).toBe('refunded');
    expect((await seatState(eventId, 'A1')).status).toBe('available');
  });

  it('an email outage does not fail the purchase; the confirmation result shows it', async () => {
    await setKnobs(knobs, { emailOutage: true });
    const eventId = await createTestEvent(stack);
    const fanId = uniqueId('fan');
    const started = await startPurchase(stack, eventId, { fanId, seatId: 'A1' });
    expect((await finalStatus(stack, started)).state).toBe('completed');
    const result = await confirmationResult(eventId, fanId);
    expect(result.email).toMatchObject({
      status: 'failed',
      attempts: 3,
      error: expect.stringContaining('outage'),
    });
    expect(result.sms).toEqual({ status: 'sent' });
  });
});

describe('cancel', () => {
  it('before capture: cancelled, seat released, no charge; after capture: 409 NOT_CANCELLABLE', async () => {
    await setKnobs(knobs, { paymentLatencyMs: [1_500, 1_500] });
    const eventId = await createTestEvent(stack);
    const started = await startPurchase(stack, eventId, { fanId: uniqueId('fan'), seatId: 'A2' });
    await eventually(async () =>
      (await purchaseStatus(stack, started)).state === 'paying' ? true : undefined,
    );

    const cancelled = await stack.app.inject({
      method: 'POST',
      url: `/purchases/${started.purchaseId}/cancel`,
      headers: { authorization: `Bearer ${started.token}` },
    });
    expect(cancelled.statusCode).toBe(200);
    expect(cancelled.json()).toMatchObject({ state: 'cancelled', failure: { code: 'CANCELLED' } });
    expect((await seatState(eventId, 'A2')).status).toBe('available');
    expect(store.chargesFor(started.purchaseId)).toEqual([]);

    knobs.reset();
    const other = await startPurchase(stack, eventId, { fanId: uniqueId('fan'), seatId: 'A3' });
    expect((await finalStatus(stack, other)).state).toBe('completed');
    const late = await stack.app.inject({
      method: 'POST',
      url: `/purchases/${other.purchaseId}/cancel`,
      headers: { authorization: `Bearer ${other.token}` },
    });
    expect(late.statusCode).toBe(409);
    expect(late.json()).toMatchObject({ code: 'NOT_CANCELLABLE' });
    expect(store.chargesFor(other.purchaseId)[0].status).toBe('captured');
  });
});

describe('bad input changes nothing and charges nobody', () => {
  it('answers problem+json for unknown events and seats, bad tokens, sold-out events and queue events', async () => {
    const eventId = await createTestEvent(stack, { rows: 1, seatsPerRow: 1 });
    const fanId = uniqueId('fan');
    const headers = await fanHeaders(fanId);
    const post = async (id: string, payload: Record<string, unknown>, as = headers) =>
      stack.app.inject({ method: 'POST', url: `/events/${id}/purchases`, payload, headers: as });

    const cases: [Promise<{ statusCode: number; json(): unknown }>, number, string][] = [
      [post(uniqueId('nope'), { paymentToken: 'tok_ok' }), 404, 'NOT_FOUND'],
      [post(eventId, { seatId: 'B9', paymentToken: 'tok_ok' }), 404, 'NOT_FOUND'],
      [post(eventId, { paymentToken: 'visa-4242' }), 400, 'VALIDATION'],
      [post(eventId, { paymentToken: 'tok_nope' }), 400, 'VALIDATION'],
      // v2: a body naming a fan is refused (the token says who buys).
      [post(eventId, { fanId, paymentToken: 'tok_ok' }), 400, 'VALIDATION'],
      [post(eventId, { paymentToken: 'tok_ok', coupon: 'free' }), 400, 'VALIDATION'],
      [post(eventId, { paymentToken: 'tok_ok' }, {}), 401, 'UNAUTHORIZED'],
    ];
    for (const [response, status, code] of cases) {
      const r = await response;
      expect(r.statusCode).toBe(status);
      expect(r.json()).toMatchObject({ code });
    }
    expect(store.chargesFor(purchaseWorkflowId(eventId, fanId))).toEqual([]);

    const queueEvent = await createTestEvent(stack, { admission: 'queue' });
    const notAdmitted = await post(queueEvent, { paymentToken: 'tok_ok' });
    expect(notAdmitted.statusCode).toBe(403);
    expect(notAdmitted.json()).toMatchObject({ code: 'NOT_ADMITTED' });

    const buyer = await startPurchase(stack, eventId, { fanId: uniqueId('fan') });
    expect((await finalStatus(stack, buyer)).state).toBe('completed');
    const soldOut = await post(eventId, { paymentToken: 'tok_ok' }, await fanHeaders(uniqueId('fan')));
    expect(soldOut.statusCode).toBe(409);
    expect(soldOut.json()).toMatchObject({ code: 'SOLD_OUT' });
  });

  it("answers 404 to another fan's purchase, refuses a missing token, a tampered QR and a voided ticket's QR", async () => {
    const eventId = await createTestEvent(stack);
    const mine = await startPurchase(stack, eventId, { fanId: uniqueId('fan'), seatId: 'A1' });
    const theirs = await startPurchase(stack, eventId, { fanId: uniqueId('fan'), seatId: 'A2' });
    const done = await finalStatus(stack, mine);

    const swapped = await stack.app.inject({
      url: `/purchases/${mine.purchaseId}`,
      headers: { authorization: `Bearer ${theirs.token}` },
    });
    expect(swapped.statusCode).toBe(404); // never 403: the id leaks nothing
    expect(swapped.json()).toMatchObject({ code: 'NOT_FOUND' });
    const anonymous = await stack.app.inject({ url: `/purchases/${mine.purchaseId}` });
    expect(anonymous.statusCode).toBe(401);
    const forged = await stack.app.inject({
      url: `/purchases/${mine.purchaseId}`,
      headers: { authorization: `Bearer ${mine.token}x` },
    });
    expect(forged.statusCode).toBe(401);
    const cancelOther = await stack.app.inject({
      method: 'POST',
      url: `/purchases/${mine.purchaseId}/cancel`,
      headers: { authorization: `Bearer ${theirs.token}` },
    });
    expect(cancelOther.statusCode).toBe(404);
    expect((await purchaseStatus(stack, mine)).state).toBe('completed'); // untouched

    const [body, signature] = done.ticket!.qr.split('.');
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, string>;
    const tampered = `${Buffer.from(JSON.stringify({ ...payload, s: 'A5' })).toString('base64url')}.${signature}`;
    const tamperedAnswer = await verify(tampered);
    expect(tamperedAnswer.statusCode).toBe(422);
    expect(tamperedAnswer.json()).toMatchObject({ code: 'TICKET_INVALID' });
    expect((await verify('not-a-qr')).statusCode).toBe(422);

    // A ticket issued and then voided (its hold expired before confirmation) must not verify.
    await setKnobs(knobs, { paymentLatencyMs: [1_600, 1_600] });
    const expiring = await createTestEvent(stack, { holdTtlSeconds: 1 });
    const late = await startPurchase(stack, expiring, { fanId: uniqueId('fan'), seatId: 'A1' });
    expect((await finalStatus(stack, late)).failure?.code).toBe('HOLD_EXPIRED');
    const voided = store.ticketsFor(late.purchaseId);
    expect(voided).toHaveLength(1);
    expect(voided[0].status).toBe('void');
    const replay = await verify(voided[0].qr);
    expect(replay.statusCode).toBe(422);
    expect((await seatState(expiring, 'A1')).status).toBe('available');
  });
});

describe('POST /tickets/redeem: a ticket admits one person', () => {
  it('admits the first scan, refuses every later one with when it was first used, and verify says so', async () => {
    const eventId = await createTestEvent(stack);
    const done = await finalStatus(
      stack,
      await startPurchase(stack, eventId, { fanId: uniqueId('fan'), seatId: 'A1' }),
    );
    const { qr } = done.ticket!;
    expect((await verify(qr)).json()).not.toHaveProperty('usedAt');

    const first = await redeem({ qr, scanId: 'gate-1-scan-1' });
    expect(first.statusCode).toBe(200);
    const { usedAt } = first.json() as { usedAt: string };
    expect(first.json()).toEqual({ ticketId: done.ticket!.ticketId, eventId, seatId: 'A1', usedAt });

    const second = await redeem({ qr });
    expect(second.statusCode).toBe(409);
    expect(second.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(second.json()).toMatchObject({ code: 'TICKET_USED', usedAt });
    // The same scan sent again (its answer was lost) gets its first answer, not a refusal.
    expect((await redeem({ qr, scanId: 'gate-1-scan-1' })).json()).toMatchObject({ usedAt });
    expect((await verify(qr)).json()).toMatchObject({ valid: true, usedAt });

    // Still used after the seat entity continued as new.
    // Scans sent while it rolls over reach one run or the next, never "closed".
    await stack.client.workflow.getHandle(seatWorkflowId(eventId, 'A1')).signal(rolloverSeatSignal);
    for (const scan of await Promise.all([1, 2, 3].map(() => redeem({ qr })))) {
      expect(scan.json()).toMatchObject({ code: 'TICKET_USED', usedAt });
    }
    expect(await seatState(eventId, 'A1')).toMatchObject({ status: 'sold' });

    // Once the event is closed its seats have finished: a scan is told so.
    await stack.app.inject({ method: 'POST', url: `/events/${eventId}/close`, headers: adminHeaders() });
    const closed = await eventually(async () => {
      const scan = await redeem({ qr });
      return scan.statusCode === 409 && (scan.json() as { code: string }).code === 'EVENT_CLOSED'
        ? scan
        : undefined;
    });
    expect(closed.headers['content-type']).toMatch(/application\/problem\+json/);
  });

  it('five gates scanning one ticket at the same moment let exactly one person in', async () => {
    const eventId = await createTestEvent(stack);
    const done = await finalStatus(
      stack,
      await startPurchase(stack, eventId, { fanId: uniqueId('fan'), seatId: 'A4' }),
    );
    const scans = await Promise.all(
      Array.from({ length: 5 }, (_, gate) => redeem({ qr: done.ticket!.qr, scanId: `gate-${gate}` })),
    );
    expect(scans.map((r) => r.statusCode).sort()).toEqual([200, 409, 409, 409, 409]);
    const usedAt = (scans.find((r) => r.statusCode === 200)!.json() as { usedAt: string }).usedAt;
    for (const refused of scans.filter((r) => r.statusCode === 409))
      expect(refused.json()).toMatchObject({ code: 'TICKET_USED', usedAt });
  });

  it('needs the gate token, refuses forged and unsold tickets, and changes nothing doing so', async () => {
    const eventId = await createTestEvent(stack);
    const done = await finalStatus(
      stack,
      await startPurchase(stack, eventId, { fanId: uniqueId('fan'), seatId: 'A2' }),
    );
    const { qr } = done.ticket!;
    const wrongTokens: Record<string, string>[] = [
      {},
      { authorization: `Bearer ${process.env.TICKETDROP_ADMIN_TOKEN}` },
    ];
    for (const headers of wrongTokens) {
      const refused = await redeem({ qr }, headers);
      expect(refused.statusCode).toBe(401);
      expect(refused.json()).toMatchObject({ code: 'UNAUTHORIZED' });
    }
    // The same ticket claimed for another seat, under the original signature.
    const [body, signature] = qr.split('.');
    const payload = JSON.parse(Buffer.from(body!, 'base64url').toString()) as Record<string, string>;
    const forged = `${Buffer.from(JSON.stringify({ ...payload, s: 'A3' })).toString('base64url')}.${signature}`;
    for (const bad of [forged, 'not-a-qr']) {
      const refused = await redeem({ qr: bad });
      expect(refused.statusCode).toBe(422);
      expect(refused.json()).toMatchObject({ code: 'TICKET_INVALID' });
    }
    expect((await redeem({ qr, scanId: 'has spaces' })).statusCode).toBe(400);
    expect((await redeem({ qr, extra: true } as never)).statusCode).toBe(400);
    // None of the refusals used the ticket.
    expect((await verify(qr)).json()).not.toHaveProperty('usedAt');
    expect((await redeem({ qr })).statusCode).toBe(200);
  });
});
