/**
 * `npm run bench:purchases [-- --rounds 3 --purchases 200 --concurrency 50 --label after]`: end-to-end
 * purchases through the API on a private local stack, at payment latency 0 ms and 300 ms. Measures
 * purchases per second, purchase latency (POST until final state), and the Temporal history events one
 * completed purchase costs over every workflow it touches (purchase, confirmation, seat entity).
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { seatWorkflowId } from '../src/entities/seat/contract';
import { mintFanToken } from '../tools/dev/fan-issuer';
import { ROOT } from '../tools/dev/provision';
import { Knobs } from '../src/providers/knobs';
import { confirmationWorkflowId } from '../src/sagas/purchase/contract';
import { mapLimit } from '../src/lib/concurrency';
import {
  FAN_ISSUER,
  createBenchEvent,
  describeMachine,
  percentile,
  round1,
  startLocalStack,
  writeBenchmarkSection,
  type LocalStack,
} from './local-stack';

/** Events a seat entity records later for each sale: its hold timer fires (TimerFired + one workflow task). */
const DEFERRED_SEAT_EVENTS = 4;
/** Events of a seat entity right after it starts (started + one workflow task). */
const SEAT_START_EVENTS = 4;

interface Round {
  purchasesPerSec: number;
  p50: number;
  p99: number;
  completed: number;
  events: { purchase: number; confirmation: number; seat: number; total: number };
}

async function historyLength(stack: LocalStack, workflowId: string): Promise<number> {
  return (await stack.client.workflow.getHandle(workflowId).fetchHistory()).events?.length ?? 0;
}

async function runRound(
  stack: LocalStack,
  latencyMs: number,
  purchases: number,
  concurrency: number,
): Promise<Round> {
  const eventId = `bench-buy-${latencyMs}-${Date.now().toString(36)}`;
  await createBenchEvent(stack.app, eventId);
  const latencies: number[] = [];
  const completed: { fanId: string; seatId: string; purchaseId: string }[] = [];
  const start = performance.now();
  await mapLimit(
    Array.from({ length: purchases }, (_, i) => `fan-${i}`),
    concurrency,
    async (fanId) => {
      const token = await mintFanToken(FAN_ISSUER, fanId);
      const t0 = performance.now();
      const created = await stack.app.inject({
        method: 'POST',
        url: `/events/${eventId}/purchases`,
        payload: { paymentToken: 'tok_ok' },
        headers: { authorization: `Bearer ${token}` },
      });
      const { purchaseId } = created.json() as { purchaseId: string };
      for (;;) {
        const polled = await stack.app.inject({
          url: `/purchases/${purchaseId}?waitMs=10000`,
          headers: { authorization: `Bearer ${token}` },
        });
        const status = polled.json() as { state: string; seatId?: string };
        if (['completed', 'failed', 'cancelled'].includes(status.state)) {
          latencies.push(performance.now() - t0);
          if (status.state === 'completed') completed.push({ fanId, seatId: status.seatId!, purchaseId });
          return;
        }
      }
    },
  );
  const wallMs = performance.now() - start;

  const sample = completed.slice(0, 20);
  const counts = await mapLimit(sample, 5, async ({ fanId, seatId, purchaseId }) => {
    const confirmation = confirmationWorkflowId(eventId, fanId);
    await stack.client.workflow.getHandle(confirmation).result();
    const purchase = await historyLength(stack, purchaseId);
    const confirmationEvents = await historyLength(stack, confirmation);
    const seat =
      (await historyLength(stack, seatWorkflowId(eventId, seatId))) -
      SEAT_START_EVENTS +
      DEFERRED_SEAT_EVENTS;
    return { purchase, confirmation: confirmationEvents, seat, total: purchase + confirmationEvents + seat };
  });
  const med = (key: keyof Round['events']) =>
    percentile(
      counts.map((c) => c[key]),
      50,
    );
  return {
    purchasesPerSec: (completed.length / wallMs) * 1000,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    completed: completed.length,
    events: {
      purchase: med('purchase'),
      confirmation: med('confirmation'),
      seat: med('seat'),
      total: med('total'),
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      purchases: { type: 'string', default: '200' },
      concurrency: { type: 'string', default: '50' },
      label: { type: 'string', default: 'current design' },
    },
  });
  const stack = await startLocalStack();
  const knobs = new Knobs(stack.store);
  const lines: string[] = [];
  try {
    for (const latencyMs of [0, 300]) {
      knobs.set({ paymentLatencyMs: [latencyMs, latencyMs], emailLatencyMs: [0, 0], smsLatencyMs: [0, 0] });
      const rounds: Round[] = [];
      for (let r = 1; r <= Number(values.rounds); r++) {
        const round = await runRound(stack, latencyMs, Number(values.purchases), Number(values.concurrency));
        console.log(`latency ${latencyMs} ms, round ${r}:`, JSON.stringify(round));
        rounds.push(round);
      }
      const med = (pick: (r: Round) => number) => round1(percentile(rounds.map(pick), 50));
      const each = (pick: (r: Round) => number) => rounds.map((r) => round1(pick(r))).join(' / ');
      lines.push(
        `| ${latencyMs} ms | ${med((r) => r.purchasesPerSec)} (${each((r) => r.purchasesPerSec)}) | ${med((r) => r.p50)} | ${med((r) => r.p99)} | ${med((r) => r.events.purchase)} + ${med((r) => r.events.confirmation)} + ${med((r) => r.events.seat)} = **${med((r) => r.events.total)}** |`,
      );
    }
    writeBenchmarkSection(
      path.join(ROOT, 'docs', 'BENCHMARKS.md'),
      `purchases-${values.label.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`,
      [
        `## Purchases end to end, ${values.label} (\`npm run bench:purchases\`)`,
        '',
        `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on: ${describeMachine(stack.temporalBin)}.`,
        `${values.purchases} best-available purchases (\`tok_ok\`) on a fresh 500-seat event per round, at most ${values.concurrency} in flight, through the API in process; ${values.rounds} rounds, medians (each round in brackets). Latency: POST until the final state (long-poll).`,
        '',
        '| payment latency | purchases/s | p50 ms | p99 ms | history events per purchase: purchase + confirmation + seat = total |',
        '|---|---|---:|---:|---|',
        ...lines,
        '',
        `Seat events count what the sale added to the seat entity, including the ${DEFERRED_SEAT_EVENTS} its hold timer adds when it fires later.`,
      ].join('\n'),
    );
    console.log('wrote docs/BENCHMARKS.md');
  } finally {
    knobs.reset();
    await stack.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
