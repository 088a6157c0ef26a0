/**
 * The scale-out slice: TicketDrop unchanged, configured onto the Temporal server itself on PostgreSQL
 * with 4 history shards and a Redis Cluster of 3 masters (test/support/global-setup-scale.ts). A purchase,
 * a seat race, the read model lost on every master and rebuilt, and a small drop, audited from the sources
 * of truth.
 */
import type { AddressInfo } from 'node:net';
import { Cluster } from 'ioredis';
import { epochKey } from '../../src/cache/keeper';
import { PurchaseCache } from '../../src/cache/purchase-cache';
import { loadFanIdentityConfig } from '../../src/config';
import type { ProviderStore } from '../../src/providers/store';
import { seatStateQuery, seatWorkflowId } from '../../src/entities/seat/contract';
import { runDrop } from '../../loadtest/drop/simulator';
import { audit, auditCaches } from '../../tools/audit/auditor';
import { issuerFor } from '../../tools/dev/fan-issuer';
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

let stack: Stack;
let store: ProviderStore;

beforeAll(async () => {
  stack = await openStack();
  store = openProviderStore();
});

afterAll(async () => {
  store?.close();
  await stack?.close();
});

describe('on the Temporal server with PostgreSQL (4 history shards) and a Redis Cluster', () => {
  it('is that server and that cluster: several history shards, three masters', async () => {
    const info = await stack.client.workflowService.getClusterInfo({});
    expect(info.historyShardCount).toBe(4);
    expect(info.persistenceStore).toMatch(/postgres/);
    expect(stack.redis).toBeInstanceOf(Cluster);
    expect((stack.redis as Cluster).nodes('master')).toHaveLength(3);
    const ready = await stack.app.inject({ url: '/readyz' });
    expect({ status: ready.statusCode, body: ready.json() }).toEqual({
      status: 200,
      body: { status: 'ready', temporal: true, redis: true },
    });
  });

  it('is degraded, not ready, while one master is away, and ready again once it is back', async () => {
    const cluster = stack.redis as Cluster;
    const [master] = cluster.nodes('master');
    const port = master!.options.port!;
    // The node's server stops taking commands for a while (CLIENT PAUSE), as a master that hangs would.
    await master!.call('CLIENT', 'PAUSE', '3000', 'ALL');
    const paused = await stack.app.inject({ url: '/readyz' });
    expect(paused.json()).toMatchObject({ status: 'degraded', temporal: true, redis: false });
    await eventually(
      async () => ((await stack.app.inject({ url: '/readyz' })).json().status === 'ready' ? true : undefined),
      15_000,
      `master ${port} back`,
    );
  });

  it('sells a seat: the purchase completes, the seat is sold under its ticket, the charge is captured', async () => {
    const eventId = await createTestEvent(stack, { rows: 2, seatsPerRow: 5 });
    const started = await startPurchase(stack, eventId, { fanId: uniqueId('fan'), seatId: 'B3' });
    const done = await finalStatus(stack, started);
    expect(done).toMatchObject({ state: 'completed', seatId: 'B3' });
    const seat = await stack.client.workflow.getHandle(seatWorkflowId(eventId, 'B3')).query(seatStateQuery);
    expect(seat).toMatchObject({ status: 'sold' });
    const verified = await stack.app.inject({
      method: 'POST',
      url: '/tickets/verify',
      payload: { qr: done.ticket!.qr },
    });
    expect(verified.statusCode).toBe(200);
    expect(store.chargesFor(done.purchaseId).map((c) => c.status)).toEqual(['captured']);
  });

  it('ten fans race for one seat: exactly one buys it, the others fail SEAT_TAKEN and are not charged', async () => {
    const eventId = await createTestEvent(stack, { rows: 1, seatsPerRow: 5 });
    const fans = Array.from({ length: 10 }, () => uniqueId('fan'));
    const started = await Promise.all(
      fans.map((fanId) => startPurchase(stack, eventId, { fanId, seatId: 'A1' })),
    );
    const outcomes = await Promise.all(started.map((s) => finalStatus(stack, s)));
    expect(outcomes.filter((o) => o.state === 'completed')).toHaveLength(1);
    const losers = outcomes.filter((o) => o.state !== 'completed');
    expect(losers.map((o) => o.failure?.code)).toEqual(Array(9).fill('SEAT_TAKEN'));
    for (const loser of losers) expect(store.chargesFor(loser.purchaseId)).toEqual([]);
  });

  it('rebuilds the read model by itself after every master lost its data', async () => {
    const eventId = await createTestEvent(stack, { rows: 1, seatsPerRow: 4 });
    const fanId = uniqueId('kept');
    const bought = await startPurchase(stack, eventId, { fanId, seatId: 'A2' });
    const done = await finalStatus(stack, bought);
    expect(done.state).toBe('completed');
    const epoch = epochKey(stack.config.temporal.taskQueue);
    await eventually(async () => (await stack.redis.get(epoch)) ?? undefined, 60_000, 'the epoch');

    const cluster = stack.redis as Cluster;
    await Promise.all(cluster.nodes('master').map((node) => node.flushall()));
    expect(await stack.cache.getEvent(eventId)).toBeUndefined();
    // No request reads the event: the worker's keeper notices the lost epoch and rebuilds every event.
    await eventually(async () => (await stack.redis.get(epoch)) ?? undefined, 60_000, 'a rebuild');
    expect(await stack.cache.getCounts(eventId)).toMatchObject({ sold: 1, available: 3 });
    expect(await new PurchaseCache(stack.redis).get(eventId, fanId)).toMatchObject({
      state: 'completed',
      seatId: 'A2',
    });
  });

  it('sells 30 seats to 1,000 fans arriving in 3 s; every fan is answered and the audit is clean', async () => {
    await stack.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = stack.app.server.address() as AddressInfo;
    const eventId = uniqueId('drop');
    const result = await runDrop({
      api: `http://127.0.0.1:${port}`,
      adminToken: process.env.TICKETDROP_ADMIN_TOKEN!,
      fanIssuer: issuerFor(loadFanIdentityConfig()),
      fans: 1_000,
      seats: 30,
      windowSec: 3,
      profile: 'uniform',
      paymentMix: { ok: 0.8, declined: 0.1, timeout: 0.05, flaky: 0.05 },
      abandon: 0.05,
      seed: 11,
      maxActivePurchases: 15,
      eventId,
      deadlineSec: 180,
    });
    expect(result.fans.filter((f) => f.final === 'unanswered').map((f) => f.fanId)).toEqual([]);
    expect(Object.keys(result.statuses).filter((status) => status.startsWith('5'))).toEqual([]);
    expect(result.fans.filter((f) => f.purchaseState === 'completed')).toHaveLength(30);

    const report = await audit(
      {
        client: stack.client,
        store,
        signingSecret: process.env.TICKETDROP_SIGNING_SECRET!,
        caches: auditCaches(stack.redis),
      },
      eventId,
    );
    expect(report.invariants.filter((i) => !i.ok).map((i) => i.name)).toEqual([]);
    expect(report.figures).toMatchObject({ sold: 30, oversold: 0, doubleSold: 0, chargedWithoutTicket: 0 });
  }, 300_000);
});
