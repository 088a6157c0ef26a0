/**
 * A small chaos drop (1,000 fans, 30 seats) through the real HTTP API, with the faults a drop night
 * brings: the payment provider down for 12 s, the worker killed with SIGKILL (npm start's supervisor starts
 * it again) and Redis flushed. Fans retry as real clients. Afterwards every invariant of the audit
 * holds, every acknowledged join is where its answer put it, and every seat the drop could sell is sold.
 * The worker is this test's own, on a task queue of its own, so killing it touches no other test.
 */
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { epochKey } from '../../src/cache/keeper';
import { loadFanIdentityConfig } from '../../src/config';
import { Knobs } from '../../src/providers/knobs';
import type { ProviderStore } from '../../src/providers/store';
import { audit, auditAcknowledgedJoins, auditCaches } from '../../tools/audit/auditor';
import { issuerFor } from '../../tools/dev/fan-issuer';
import { freePort, startNodeService } from '../../tools/dev/services';
import { Supervisor } from '../../tools/dev/supervisor';
import {
  cacheConverged,
  parseChaosPlan,
  runChaos,
  type ChaosTargets,
  type FaultEvent,
} from '../../loadtest/drop/chaos';
import { acknowledgedJoins, runDrop } from '../../loadtest/drop/simulator';
import { openProviderStore, openStack, uniqueId, type Stack } from '../support/stack';

const taskQueue = uniqueId('chaos');
let stack: Stack;
let store: ProviderStore;
let knobs: Knobs;
const supervisor = new Supervisor({ log: () => undefined });

let metricsAddress: string;

beforeAll(async () => {
  metricsAddress = `127.0.0.1:${await freePort()}`;
  stack = await openStack({ taskQueue });
  store = openProviderStore();
  knobs = new Knobs(store);
  await supervisor.add({
    name: 'worker',
    start: () =>
      startNodeService('worker', 'tools/faults/worker.ts', /worker ready/, {
        env: {
          ...process.env,
          TICKETDROP_TASK_QUEUE: taskQueue,
          TICKETDROP_WORKER_METRICS_ADDRESS: metricsAddress,
        },
        logFile: path.join(process.env.TICKETDROP_TEST_LOGS!, 'chaos-worker.log'),
      }),
  });
});

afterAll(async () => {
  knobs?.reset();
  await supervisor.stop();
  store?.close();
  await stack?.close();
});

it('a drop with a payment outage, a worker kill and a Redis flush sells every seat, audited clean', async () => {
  await stack.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = stack.app.server.address() as AddressInfo;
  const eventId = uniqueId('chaos');
  const targets: ChaosTargets = {
    kill: async (service) => {
      const child = supervisor.service(service)?.child;
      if (!child?.pid) throw new Error(`no ${service} under the supervisor`);
      child.kill('SIGKILL');
      return child.pid;
    },
    pause: async (service) => {
      throw new Error(`this drop does not stall ${service}`);
    },
    flushRedis: async () => void (await stack.redis.flushall()),
    cacheWhole: async () => (await stack.redis.get(epochKey(taskQueue))) !== null,
    knobs,
  };
  let chaos: Promise<FaultEvent[]> | undefined;
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
    deadlineSec: 200,
    beforeCrowd: async () => {
      chaos = runChaos(
        // 12 s of outage: on a loaded machine the first charges come several seconds into the crowd.
        parseChaosPlan('payment-outage@1:12,worker-kill@8,redis-flush@16'),
        targets,
        Date.now(),
      );
    },
  });
  const faults = await chaos!;
  expect(faults.map((f) => [f.kind, f.error])).toEqual([
    ['payment-outage', undefined],
    ['worker-kill', undefined],
    ['redis-flush', undefined],
  ]);
  expect(supervisor.restarts()).toEqual({ worker: 1 });
  // The keeper rebuilt the cache after the flush, with nobody asking.
  expect(faults[2].cacheWholeAfterMs).toBeDefined();

  expect(result.fans.filter((f) => f.final === 'unanswered').map((f) => f.fanId)).toEqual([]);
  // A 503 (with Retry-After) is an answer a fan retries; a 500 would be a bug.
  expect(result.statuses['500'] ?? 0).toBe(0);
  expect(result.fans.filter((f) => f.purchaseState === 'completed')).toHaveLength(30);

  const report = await audit(
    {
      client: stack.client,
      store,
      signingSecret: process.env.TICKETDROP_SIGNING_SECRET!,
      caches: auditCaches(stack.redis),
    },
    eventId,
    60_000,
  );
  report.invariants.push(
    await auditAcknowledgedJoins(stack.client, eventId, acknowledgedJoins(result)),
    cacheConverged(faults),
  );
  expect(report.invariants.filter((i) => !i.ok).map((i) => `${i.name}: ${i.examples.join('; ')}`)).toEqual(
    [],
  );
  expect(report.figures).toMatchObject({
    sold: 30,
    oversold: 0,
    doubleSold: 0,
    chargedWithoutTicket: 0,
    strandedHolds: 0,
    cacheMismatches: 0,
  });
  // The outage cost purchases, not money: they failed PROVIDER_UNAVAILABLE and were compensated.
  expect(Object.keys(report.figures.failuresByCode)).toContain('PROVIDER_UNAVAILABLE');

  // The restarted worker's metrics: the SDK's own and TicketDrop's counters, on one endpoint.
  const metrics = await (await fetch(`http://${metricsAddress}/metrics`)).text();
  expect(metrics).toMatch(/^temporal_workflow_task_schedule_to_start_latency/m);
  expect(metrics).toMatch(/^ticketdrop_seat_holds_total\{[^}]*outcome="held"[^}]*\} [1-9]/m);
  expect(metrics).toMatch(/^ticketdrop_purchases_ended_total\{[^}]*outcome="completed"[^}]*\} [1-9]/m);
}, 360_000);
