/**
 * The drop in small (2,000 fans, 50 seats, 3 s) through the real HTTP API, audited from the sources of
 * truth; and the auditor itself, shown to catch violations planted behind the system's back.
 */
import { loadFanIdentityConfig } from '../../src/config';
import { issuerFor } from '../../tools/dev/fan-issuer';
import { purchaseWorkflowId } from '../../src/sagas/purchase/contract';
import type { AddressInfo } from 'node:net';
import { audit, auditCaches, type AuditReport } from '../../tools/audit/auditor';
import { holdSeatUpdate, seatWorkflowId } from '../../src/entities/seat/contract';
import type { ProviderStore } from '../../src/providers/store';
import { runDrop } from '../../loadtest/drop/simulator';
import { storeFigures } from '../../loadtest/drop/store';
import {
  createTestEvent,
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

const auditEvent = (eventId: string): Promise<AuditReport> =>
  audit(
    {
      client: stack.client,
      store,
      signingSecret: process.env.TICKETDROP_SIGNING_SECRET!,
      caches: auditCaches(stack.redis),
    },
    eventId,
  );

const failed = (report: AuditReport) => report.invariants.filter((i) => !i.ok).map((i) => i.name);

describe('the drop, small', () => {
  it('sells 50 seats to 2,000 fans arriving in 3 s; every fan is answered and every invariant holds', async () => {
    await stack.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = stack.app.server.address() as AddressInfo;
    const eventId = uniqueId('drop');
    const result = await runDrop({
      api: `http://127.0.0.1:${port}`,
      adminToken: process.env.TICKETDROP_ADMIN_TOKEN!,
      fanIssuer: issuerFor(loadFanIdentityConfig()),
      fans: 2_000,
      seats: 50,
      windowSec: 3,
      profile: 'uniform',
      paymentMix: { ok: 0.8, declined: 0.1, timeout: 0.05, flaky: 0.05 },
      abandon: 0.05,
      seed: 7,
      maxActivePurchases: 20,
      eventId,
      deadlineSec: 150,
      metricsUrl: process.env.TICKETDROP_TEMPORAL_METRICS_URL,
    });

    const unanswered = result.fans.filter((f) => f.final === 'unanswered');
    expect(unanswered.map((f) => f.fanId)).toEqual([]);
    const fiveHundreds = Object.entries(result.statuses).filter(([status]) => status.startsWith('5'));
    expect(fiveHundreds).toEqual([]);
    expect(result.fans.filter((f) => f.purchaseState === 'completed')).toHaveLength(50);

    const report = await auditEvent(eventId);
    expect(failed(report)).toEqual([]);
    expect(report.figures).toMatchObject({
      sold: 50,
      oversold: 0,
      doubleSold: 0,
      chargedWithoutTicket: 0,
      strandedHolds: 0,
      admissionInversions: 0,
      cacheMismatches: 0,
    });
    // The report's store figures, read from the dev server's own metrics.
    const figures = storeFigures(result.store.before, result.store.after, report.figures.purchases);
    expect(figures?.callsPerUnit).toBeGreaterThan(10);
    expect(figures?.inFlight).toBeGreaterThan(0);
    // Every purchase is a new workflow: its state is loaded from the store, and its start and close are
    // written to visibility.
    expect(figures?.kinds?.workflowLoads.callsPerUnit).toBeGreaterThanOrEqual(1);
    expect(figures?.kinds?.visibilityWrites.callsPerUnit).toBeGreaterThanOrEqual(2);
  }, 240_000);
});

describe('the auditor', () => {
  it('catches a planted double sale, a charge without ticket and a stranded hold', async () => {
    const eventId = await createTestEvent(stack, { rows: 1, seatsPerRow: 4 });
    for (const [fanId, seatId] of [
      ['ada', 'A1'],
      ['bob', 'A2'],
    ]) {
      const started = await startPurchase(stack, eventId, { fanId, seatId });
      expect((await finalStatus(stack, started)).state).toBe('completed');
    }
    const clean = await auditEvent(eventId);
    expect(failed(clean)).toEqual([]);
    expect(clean.figures.sold).toBe(2);

    // 1. A second valid ticket for seat A1, issued to another fan: a double sale.
    const sold = store.ticketsForEvent(eventId).find((t) => t.seatId === 'A1')!;
    store.recordTicket({
      ...sold,
      ticketId: `${sold.ticketId}-forged`,
      purchaseId: purchaseWorkflowId(eventId, 'eve'),
      fanId: 'eve',
    });
    // 2. A captured charge with neither a ticket nor a refund.
    store.recordCharge({
      idempotencyKey: `planted-${eventId}`,
      chargeId: `ch_planted_${eventId}`,
      purchaseId: purchaseWorkflowId(eventId, 'mallory'),
      eventId,
      fanId: 'mallory',
      amountCents: 4200,
      status: 'captured',
      createdAt: Date.now(),
    });
    // 3. A hold on A3 for a purchase that does not exist: nobody will ever confirm or release it.
    await stack.client.workflow.getHandle(seatWorkflowId(eventId, 'A3')).executeUpdate(holdSeatUpdate, {
      args: [{ holdId: 'planted', purchaseId: purchaseWorkflowId(eventId, 'ghost'), ttlMs: 10 * 60 * 1000 }],
    });

    const report = await auditEvent(eventId);
    expect(report.ok).toBe(false);
    expect(report.figures).toMatchObject({
      doubleSold: 1,
      chargedWithoutTicket: 1,
      strandedHolds: 1,
      oversold: 0,
    });
    expect(failed(report)).toEqual([
      'every sold seat has exactly one completed purchase whose ticket verifies',
      'every charge has a ticket or a refund',
      'no hold outlived its TTL by more than 5 s (or its purchase)',
    ]);
  });
});
