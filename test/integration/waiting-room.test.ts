/**
 * The waiting room against the real stack: batched joins, idempotent places, paced admission, a drop
 * with declined payments, a Redis flush and a forced continue-as-new mid-drop, and the pre-queue.
 */
import { QueueCache } from '../../src/cache/queue-cache';
import { CLAIM_CHECK_MS } from '../../src/entities/queue/state';
import {
  claimAdmissionsUpdate,
  queueSnapshotQuery,
  purchasesFinishedSignal,
  queueWorkflowId,
  rolloverQueueSignal,
  type QueueView,
} from '../../src/entities/queue/contract';
import { decodeFirst } from '../../tools/inspect/history';
import { joinQueue, queueMe, runFan, type FanRecord, type QueueAnswer } from '../support/fans';
import {
  createTestEvent,
  eventually,
  fanHeaders,
  fanToken,
  openProviderStore,
  openStack,
  uniqueId,
  type Stack,
} from '../support/stack';

let stack: Stack;

beforeAll(async () => {
  stack = await openStack();
});

afterAll(async () => {
  await stack?.close();
});

const snapshot = (eventId: string): Promise<QueueView> =>
  stack.client.workflow.getHandle(queueWorkflowId(eventId)).query(queueSnapshotQuery);

const queueEvent = (fields: Parameters<typeof createTestEvent>[1]): Promise<string> =>
  createTestEvent(stack, { admission: 'queue', ...fields });

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

/** Fans in position order must have been admitted in that order (their admissions expire in it too). */
function expectAdmittedInPositionOrder(records: FanRecord[]): void {
  const admitted = records
    .filter((r) => r.admission)
    .sort((a, b) => a.position - b.position)
    .map((r) => Date.parse(r.admission!.expiresAt));
  expect(admitted.length).toBeGreaterThan(0);
  expect(admitted).toEqual([...admitted].sort((a, b) => a - b));
}

async function soldSeats(eventId: string): Promise<number> {
  const response = await stack.app.inject({ url: `/events/${eventId}` });
  return (response.json() as { sold: number }).sold;
}

describe('waiting room', () => {
  it('places 10,000 concurrent joins (2,000 of them repeats) at exactly 1..10,000, in batches', async () => {
    const eventId = await queueEvent({ maxActivePurchases: 5 });
    const fans = range(10_000).map((i) => `fan-${i}`);
    const firstWave = fans.slice(0, 5_000);
    const secondWave = fans.slice(5_000);
    const repeats = firstWave.filter((_, i) => i % 5 === 0).concat(secondWave.filter((_, i) => i % 5 === 0));
    expect(repeats).toHaveLength(2_000);

    const wave1 = await Promise.all(firstWave.map((fanId) => joinQueue(stack, eventId, fanId)));
    // The second wave arrives after the first was answered, mixed with repeats of both waves.
    const wave2 = await Promise.all(
      [...secondWave, ...repeats].map((fanId) => joinQueue(stack, eventId, fanId)),
    );
    const all = [...wave1, ...wave2];
    expect(all.every((r) => r.statusCode === 200 || r.statusCode === 202)).toBe(true);

    const first = new Map<string, number>();
    for (const { body } of all) {
      const known = first.get(body.fanId);
      if (known === undefined) first.set(body.fanId, body.position);
      else expect(body.position).toBe(known); // a repeat keeps the original position
    }
    expect([...first.values()].sort((a, b) => a - b)).toEqual(range(10_000));
    // Arrival order across batch windows: every first-wave fan stands ahead of every second-wave fan.
    const lastOfWave1 = Math.max(...firstWave.map((f) => first.get(f)!));
    const firstOfWave2 = Math.min(...secondWave.map((f) => first.get(f)!));
    expect(lastOfWave1).toBe(5_000);
    expect(firstOfWave2).toBe(5_001);
    // Each fan got one 202 (its first answer) and repeats got 200.
    expect(all.filter((r) => r.statusCode === 202)).toHaveLength(10_000);

    // Sequential joins: strictly increasing positions.
    const sequential: number[] = [];
    for (let i = 0; i < 10; i++)
      sequential.push((await joinQueue(stack, eventId, `late-${i}`)).body.position);
    expect(sequential).toEqual(range(10).map((i) => 10_000 + i));

    const view = await snapshot(eventId);
    expect(view.joined).toBe(10_010);
    expect(view.batches).toBeLessThan(200); // a few dozen Updates, never one per fan
  });

  it('never admits more than maxActivePurchases; unused admissions expire and free their slots', async () => {
    const eventId = await queueEvent({
      rows: 1,
      seatsPerRow: 20,
      maxActivePurchases: 3,
      admissionTtlSeconds: 2,
    });
    const queueCache = new QueueCache(stack.redis);
    let peak = 0;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const view = await queueCache.get(eventId);
        if (view) peak = Math.max(peak, view.active);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    })();
    // The first three fans take every slot and never buy: nobody else goes in until their admissions lapse.
    const plans = range(8).map((i) => ({ fanId: `fan-${i}`, abandon: i <= 3 }));
    for (const plan of plans) {
      const joined = await joinQueue(stack, eventId, plan.fanId);
      expect(joined.body.position).toBe(Number(plan.fanId.slice(4)));
    }
    const records = await Promise.all(plans.map((plan) => runFan(stack, eventId, plan)));
    watching = false;
    await watcher;

    const byFan = new Map(records.map((r) => [r.fanId, r]));
    for (const i of [1, 2, 3]) expect(byFan.get(`fan-${i}`)!.final.state).toBe('expired');
    for (const i of [4, 5, 6, 7, 8]) expect(byFan.get(`fan-${i}`)!.final.state).toBe('done');
    // fan-4 got the slot fan-1's lapsed admission freed, not earlier.
    expect(byFan.get('fan-4')!.admittedAt!).toBeGreaterThanOrEqual(
      Date.parse(byFan.get('fan-1')!.admission!.expiresAt),
    );
    const view = await snapshot(eventId);
    expect(view).toMatchObject({ expired: 3, sold: 5 });
    expect(view.peakActive).toBeLessThanOrEqual(3);
    expect(peak).toBeLessThanOrEqual(3);
    expectAdmittedInPositionOrder(records);
  });

  it(
    'gives back the slot of an admission claimed for a purchase that never started (the API died)',
    async () => {
      const eventId = await queueEvent({
        rows: 1,
        seatsPerRow: 4,
        maxActivePurchases: 1,
        admissionTtlSeconds: 600,
      });
      for (const fanId of ['lost', 'next']) await joinQueue(stack, eventId, fanId);
      const handle = stack.client.workflow.getHandle(queueWorkflowId(eventId));
      // What the API does first; it dies before it starts the purchase.
      const [claim] = await handle.executeUpdate(claimAdmissionsUpdate, {
        args: [{ batchId: uniqueId('claim'), fanIds: ['lost'] }],
      });
      expect(claim).toMatchObject({ position: 1 });
      expect(await snapshot(eventId)).toMatchObject({ purchasing: 1, admittedThrough: 1 });
      // A minute on, the entity finds no purchase for the claim: the slot goes to the next fan.
      const view = await eventually(
        async () => {
          const v = await snapshot(eventId);
          return v.admittedThrough === 2 ? v : undefined;
        },
        CLAIM_CHECK_MS + 20_000,
        'the next fan admitted',
      );
      expect(view).toMatchObject({ purchasing: 0, expired: 1, active: 1 });
    },
    CLAIM_CHECK_MS + 40_000,
  );

  it('sells exactly 20 seats to 200 fans with 20% declined payments; every fan gets a final answer', async () => {
    const eventId = await queueEvent({
      rows: 2,
      seatsPerRow: 10,
      maxActivePurchases: 10,
    });
    const plans = range(200).map((i) => ({
      fanId: `fan-${i}`,
      paymentToken: i % 5 === 0 ? 'tok_declined' : 'tok_ok',
    }));
    const records = await Promise.all(plans.map((plan) => runFan(stack, eventId, plan, 120_000)));

    expect(await soldSeats(eventId)).toBe(20);
    const completed = records.filter((r) => r.purchase?.state === 'completed');
    expect(completed).toHaveLength(20);
    for (const r of records) expect(['done', 'sold-out', 'expired']).toContain(r.final.state);
    expect(records.filter((r) => r.purchase?.failure?.code === 'PAYMENT_DECLINED').length).toBeGreaterThan(0);
    const view = await snapshot(eventId);
    expect(view).toMatchObject({ sold: 20, closed: 'sold-out' });
    expect(view.peakActive).toBeLessThanOrEqual(10);
    expectAdmittedInPositionOrder(records);
    // The ledger agrees: 20 captured charges not refunded.
    const store = openProviderStore();
    try {
      const charges = records.flatMap((r) => (r.purchase ? store.chargesFor(r.purchase.purchaseId) : []));
      expect(charges.filter((c) => c.status === 'captured')).toHaveLength(20);
    } finally {
      store.close();
    }
  });

  it('holds a seat in the first workflow task: the API picked it, and the claim told the waiting room', async () => {
    const eventId = await queueEvent({ rows: 1, seatsPerRow: 5, maxActivePurchases: 5 });
    const record = await runFan(stack, eventId, { fanId: 'fan-1' });
    expect(record.purchase?.state).toBe('completed');
    const history = await stack.client.workflow.getHandle(record.purchase!.purchaseId).fetchHistory();
    const events = history.events ?? [];
    const input = decodeFirst(events[0]?.workflowExecutionStartedEventAttributes?.input) as {
      candidates?: string[];
      admission?: { claimed?: boolean };
    };
    const localActivity = (event: (typeof events)[number]): string | undefined => {
      const marker = event.markerRecordedEventAttributes;
      if (marker?.markerName !== 'core_local_activity') return undefined;
      return (decodeFirst(marker.details?.data) as { activity_type?: string } | undefined)?.activity_type;
    };
    // The API picked the seats to try (history from the first event) and claimed the admission itself.
    expect(input.candidates?.length).toBeGreaterThan(0);
    expect(input.admission?.claimed).toBe(true);
    // No pick activity, no task waiting for one: the first task holds the seat.
    expect(
      events.some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'pickSeats'),
    ).toBe(false);
    const firstTaskDone = events.findIndex((e) => e.workflowTaskCompletedEventAttributes);
    const claimed = events.findIndex((e) => localActivity(e) === 'reserveSeat');
    expect(claimed).toBeGreaterThan(firstTaskDone);
    expect(events.slice(firstTaskDone + 1, claimed).some((e) => e.workflowTaskCompletedEventAttributes)).toBe(
      false,
    );
    expect(input.candidates).toContain(record.purchase?.seatId);
    // And the waiting room heard of both the use and the end: the slot is free again.
    const view = await eventually(async () => {
      const v = await snapshot(eventId);
      return v.sold === 1 && v.purchasing === 0 ? v : undefined;
    });
    expect(view).toMatchObject({ sold: 1, purchasing: 0 });
  });

  it('takes the ends of several purchases in one signal, each once, and admits the next fans', async () => {
    const eventId = await queueEvent({ rows: 1, seatsPerRow: 10, maxActivePurchases: 2 });
    const places = new Map<string, number>();
    for (const fanId of ['fan-a', 'fan-b', 'fan-c', 'fan-d'])
      places.set(fanId, (await joinQueue(stack, eventId, fanId)).body.position);
    expect((await snapshot(eventId)).admittedThrough).toBe(2);
    const end = (fanId: string) => ({ position: places.get(fanId)!, fanId, outcome: 'failed' as const });
    // One signal for both admitted fans' purchases, one of them sent twice (a retried message).
    await stack.client.workflow
      .getHandle(queueWorkflowId(eventId))
      .signal(purchasesFinishedSignal, [end('fan-a'), end('fan-b'), end('fan-a')]);
    const view = await eventually(async () => {
      const v = await snapshot(eventId);
      return v.admittedThrough === 4 ? v : undefined;
    });
    expect(view.outcomes.failed).toBe(2);
    expect(view.admittedThrough).toBe(4);
  });

  it('answers a long-polling fan near the front the moment it is admitted; far-back fans keep polling', async () => {
    const eventId = await queueEvent({ rows: 1, seatsPerRow: 10, maxActivePurchases: 1 });
    const joined = new Map<string, { position: number; token: string; longPollMs?: number }>();
    for (const fanId of ['fan-a', 'fan-b', 'fan-c', 'fan-d']) {
      const { body, token } = await joinQueue(stack, eventId, fanId);
      joined.set(fanId, { position: body.position, token, longPollMs: body.longPollMs });
    }
    expect((await snapshot(eventId)).admittedThrough).toBe(1);
    // Two turnovers of one purchase each: fan-b and fan-c are next, fan-d polls.
    expect(['fan-b', 'fan-c', 'fan-d'].map((fanId) => joined.get(fanId)!.longPollMs)).toEqual([
      20_000,
      20_000,
      undefined,
    ]);

    const longPoll = async (fanId: string, waitMs: number) => {
      const sent = Date.now();
      const response = await stack.app.inject({
        url: `/events/${eventId}/queue/me?waitMs=${waitMs}`,
        headers: { authorization: `Bearer ${joined.get(fanId)!.token}` },
      });
      return { answer: response.json() as QueueAnswer, sent, answeredAt: Date.now() };
    };
    const fanB = longPoll('fan-b', 20_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const endedAt = Date.now();
    await stack.client.workflow
      .getHandle(queueWorkflowId(eventId))
      .signal(purchasesFinishedSignal, [
        { position: joined.get('fan-a')!.position, fanId: 'fan-a', outcome: 'failed' },
      ]);
    const { answer, answeredAt } = await fanB;
    expect(answer).toMatchObject({ fanId: 'fan-b', state: 'admitted' });
    expect(answer.admission).toBeDefined();
    // Answered once the slot was freed, well within the long-poll's 20 s.
    expect(answeredAt).toBeGreaterThanOrEqual(endedAt);
    expect(answeredAt - endedAt).toBeLessThan(5_000);

    // Nothing changes for fan-c now: its long-poll answers when its time is up, still waiting, next in line.
    const fanC = await longPoll('fan-c', 700);
    expect(fanC.answer).toMatchObject({ state: 'waiting', ahead: 0, longPollMs: 20_000 });
    expect(fanC.answeredAt - fanC.sent).toBeGreaterThanOrEqual(650);
  });

  it('keeps every place and admission when Redis is flushed mid-drop', async () => {
    const eventId = await queueEvent({
      rows: 1,
      seatsPerRow: 10,
      maxActivePurchases: 4,
    });
    const plans = range(60).map((i) => ({ fanId: `fan-${i}`, maxPollMs: 200 }));
    const before = new Map<string, number>();
    for (const plan of plans)
      before.set(plan.fanId, (await joinQueue(stack, eventId, plan.fanId)).body.position);
    const running = Promise.all(plans.map((plan) => runFan(stack, eventId, plan, 120_000)));
    await eventually(
      async () => ((await snapshot(eventId)).sold >= 2 ? true : undefined),
      60_000,
      'two sales',
    );
    await stack.redis.flushall();

    // Refreshing fans keep their places, straight from the entity.
    const rejoined = await Promise.all(plans.map((plan) => joinQueue(stack, eventId, plan.fanId)));
    for (const { statusCode, body } of rejoined) {
      expect(`${statusCode} ${JSON.stringify(body)}`).toMatch(/^200 /);
      expect(body.position).toBe(before.get(body.fanId));
    }
    const records = await running;
    for (const r of records) expect(r.position).toBe(before.get(r.fanId));
    expect(records.filter((r) => r.purchase?.state === 'completed')).toHaveLength(10);
    for (const r of records) expect(['done', 'sold-out', 'expired']).toContain(r.final.state);
    expect((await snapshot(eventId)).sold).toBe(10);
    expectAdmittedInPositionOrder(records);
  });

  it('loses and duplicates nothing across a forced continue-as-new mid-drop', async () => {
    const eventId = await queueEvent({
      rows: 1,
      seatsPerRow: 12,
      maxActivePurchases: 4,
    });
    const handle = stack.client.workflow.getHandle(queueWorkflowId(eventId));
    const plans = range(50).map((i) => ({ fanId: `fan-${i}` }));
    const before = new Map<string, number>();
    for (const plan of plans.slice(0, 30))
      before.set(plan.fanId, (await joinQueue(stack, eventId, plan.fanId)).body.position);
    const running = Promise.all(plans.map((plan) => runFan(stack, eventId, plan, 120_000)));
    await eventually(
      async () => ((await snapshot(eventId)).sold >= 3 ? true : undefined),
      60_000,
      'three sales',
    );
    await handle.signal(rolloverQueueSignal);
    await eventually(
      async () => ((await snapshot(eventId)).runs >= 2 ? true : undefined),
      30_000,
      'a new run',
    );

    const records = await running;
    const positions = records.map((r) => r.position).sort((a, b) => a - b);
    expect(positions).toEqual(range(50));
    for (const r of records.slice(0, 30)) expect(r.position).toBe(before.get(r.fanId));
    const view = await snapshot(eventId);
    expect(view).toMatchObject({ sold: 12, joined: 50, closed: 'sold-out' });
    expect(view.runs).toBeGreaterThanOrEqual(2);
    expect(view.peakActive).toBeLessThanOrEqual(4);
    expect(records.filter((r) => r.purchase?.state === 'completed')).toHaveLength(12);
    expectAdmittedInPositionOrder(records);
    const rejoin = await joinQueue(stack, eventId, 'fan-7');
    expect(rejoin.body.position).toBe(records.find((r) => r.fanId === 'fan-7')!.position);
  });

  it('shuffles the pre-queue at opening: early fans go in a random order, all before later arrivals', async () => {
    const opensAt = new Date(Date.now() + 6_000).toISOString();
    const eventId = await queueEvent({
      rows: 2,
      seatsPerRow: 25,
      maxActivePurchases: 5,
      onSaleAt: opensAt,
    });
    const early = range(40).map((i) => `early-${i}`);
    const earlyJoins = [];
    for (const fanId of early) earlyJoins.push(await joinQueue(stack, eventId, fanId));
    for (const { statusCode, body } of earlyJoins) {
      expect(statusCode).toBe(202);
      expect(body).toMatchObject({ state: 'pre-queue', position: 0 });
    }
    // Refreshing early changes nothing.
    expect((await joinQueue(stack, eventId, 'early-1')).statusCode).toBe(200);

    const earlyRuns = early.map((fanId) => runFan(stack, eventId, { fanId }, 120_000));
    await eventually(async () => ((await snapshot(eventId)).opened ? true : undefined), 20_000, 'opening');
    const late = range(10).map((i) => `late-${i}`);
    const lateRecords = [];
    for (const fanId of late) lateRecords.push(await runFan(stack, eventId, { fanId }, 120_000));
    const earlyRecords = await Promise.all(earlyRuns);

    const earlyPositions = earlyRecords.map((r) => r.position);
    expect([...earlyPositions].sort((a, b) => a - b)).toEqual(range(40));
    expect(earlyPositions).not.toEqual(range(40)); // not arrival order (odds of that: 1 in 40!)
    expect(lateRecords.map((r) => r.position)).toEqual(range(10).map((i) => 40 + i));
    const all = [...earlyRecords, ...lateRecords];
    expectAdmittedInPositionOrder(all);
    const lastEarly = Math.max(...earlyRecords.map((r) => Date.parse(r.admission!.expiresAt)));
    const firstLate = Math.min(...lateRecords.map((r) => Date.parse(r.admission!.expiresAt)));
    expect(lastEarly).toBeLessThanOrEqual(firstLate);
    expect(all.every((r) => r.purchase?.state === 'completed')).toBe(true);
  });
});

describe('waiting room: bad input changes nothing', () => {
  let eventId: string;
  let directId: string;

  beforeAll(async () => {
    eventId = await queueEvent({
      rows: 1,
      seatsPerRow: 5,
      maxActivePurchases: 2,
      admissionTtlSeconds: 1,
    });
    directId = await createTestEvent(stack);
  });

  const joined = async () => (await snapshot(eventId)).joined;

  it('answers joins for unknown and direct events, bad bodies and missing tokens with problem+json', async () => {
    const before = await joined();
    const fan = await fanHeaders('fan-1');
    const cases: [string, Record<string, string>, unknown, number, string][] = [
      [`/events/${uniqueId('nope')}/queue`, fan, {}, 404, 'NOT_FOUND'],
      [`/events/${directId}/queue`, fan, {}, 409, 'NO_WAITING_ROOM'],
      // v2: the fan is whoever the token names; a body naming one is refused, not obeyed.
      [`/events/${eventId}/queue`, fan, { fanId: 'fan-1' }, 400, 'VALIDATION'],
      [`/events/${eventId}/queue`, fan, { extra: 1 }, 400, 'VALIDATION'],
      [`/events/${eventId}/queue`, fan, [], 400, 'VALIDATION'],
      [`/events/${eventId}/queue`, {}, {}, 401, 'UNAUTHORIZED'],
      [`/events/${eventId}/queue`, { authorization: 'Bearer not-a-jwt' }, {}, 401, 'UNAUTHORIZED'],
    ];
    for (const [url, headers, payload, status, code] of cases) {
      const response = await stack.app.inject({ method: 'POST', url, headers, payload: payload as object });
      expect({ url, status: response.statusCode, code: response.json().code }).toEqual({ url, status, code });
      expect(response.headers['content-type']).toMatch(/application\/problem\+json/);
    }
    expect(await joined()).toBe(before);
  });

  it('refuses polls without or with a forged fan token, and answers 404 to a fan that never joined', async () => {
    const { token } = await joinQueue(stack, eventId, 'poller');
    const [header, payload] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
    const tampered = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: 'fan-a' })).toString('base64url')}.${token.split('.')[2]}`;
    const cases: [Record<string, string>, number, string][] = [
      [{}, 401, 'UNAUTHORIZED'],
      [{ authorization: `Bearer ${token.slice(0, -4)}AAAA` }, 401, 'UNAUTHORIZED'],
      [{ authorization: `Bearer ${tampered}` }, 401, 'UNAUTHORIZED'],
      [await fanHeaders('never-joined'), 404, 'NOT_FOUND'],
    ];
    for (const [headers, status, code] of cases) {
      const response = await stack.app.inject({ url: `/events/${eventId}/queue/me`, headers });
      expect({ status: response.statusCode, code: response.json().code }).toEqual({ status, code });
    }
    expect((await queueMe(stack, eventId, token)).fanId).toBe('poller');
  });

  it('answers a bad long-poll time with VALIDATION', async () => {
    // The query is checked before the fan is looked up: this fan never joins, and nobody joins meanwhile.
    const token = await fanToken('long-poller');
    const before = await joined();
    for (const waitMs of ['-1', '30001', 'soon', '1.5']) {
      const response = await stack.app.inject({
        url: `/events/${eventId}/queue/me?waitMs=${waitMs}`,
        headers: { authorization: `Bearer ${token}` },
      });
      expect({ status: response.statusCode, code: response.json().code }).toEqual({
        status: 400,
        code: 'VALIDATION',
      });
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
    expect(await joined()).toBe(before);
  });

  it('refuses purchases by fans not admitted, never joined or without a token, an expired admission, and reuse', async () => {
    const a = await joinQueue(stack, eventId, 'fan-a');
    const b = await joinQueue(stack, eventId, 'fan-b');
    const c = await joinQueue(stack, eventId, 'fan-c');
    await eventually(async () => (await queueMe(stack, eventId, a.token)).admission);
    const buy = (token: string | undefined, seatId?: string) =>
      stack.app.inject({
        method: 'POST',
        url: `/events/${eventId}/purchases`,
        payload: { paymentToken: 'tok_ok', ...(seatId ? { seatId } : {}) },
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
    // Two slots (maxActivePurchases 2): "poller" and fan-a hold them, fan-b and fan-c wait.
    expect((await queueMe(stack, eventId, c.token)).state).toBe('waiting');
    const cases: [string | undefined, number, string][] = [
      [undefined, 401, 'UNAUTHORIZED'],
      [c.token, 403, 'NOT_ADMITTED'],
      [await fanToken('never-joined'), 403, 'NOT_ADMITTED'],
    ];
    for (const [token, status, code] of cases) {
      const response = await buy(token);
      expect({ status: response.statusCode, code: response.json().code }).toEqual({ status, code });
    }
    expect(await stack.app.purchaseCache.get(eventId, 'fan-c')).toBeUndefined();

    const first = await buy(a.token, 'A1');
    expect(first.statusCode).toBe(202);
    expect((await buy(a.token, 'A1')).statusCode).toBe(200); // the same call again
    const reuse = await buy(a.token, 'A2');
    expect({ status: reuse.statusCode, code: reuse.json().code }).toEqual({
      status: 409,
      code: 'ADMISSION_USED',
    });

    // fan-b's admission (1 s) runs out unused.
    const admissionB = await eventually(
      async () => (await queueMe(stack, eventId, b.token)).admission,
      30_000,
    );
    await new Promise((resolve) => setTimeout(resolve, Date.parse(admissionB.expiresAt) - Date.now() + 50));
    const late = await buy(b.token);
    expect({ status: late.statusCode, code: late.json().code }).toEqual({
      status: 403,
      code: 'ADMISSION_EXPIRED',
    });
    expect((await queueMe(stack, eventId, b.token)).state).toBe('expired');
  });

  it('answers joins for a closed event with EVENT_CLOSED', async () => {
    const closing = await queueEvent({});
    await joinQueue(stack, closing, 'early');
    const closed = await stack.app.inject({
      method: 'POST',
      url: `/events/${closing}/close`,
      headers: { authorization: `Bearer ${process.env.TICKETDROP_ADMIN_TOKEN}` },
    });
    expect(closed.statusCode).toBe(200);
    const response = await stack.app.inject({
      method: 'POST',
      url: `/events/${closing}/queue`,
      headers: await fanHeaders('fan-1'),
    });
    expect({ status: response.statusCode, code: response.json().code }).toEqual({
      status: 409,
      code: 'EVENT_CLOSED',
    });
  });
});
