/**
 * `npm run bench:seats [-- --rounds 3]`: measures the seat entities on a private local stack and writes
 * the figures (medians over the rounds) into docs/BENCHMARKS.md.
 *
 * Per round: time to create a 500-seat event through the API; holdSeat round trip on idle seats (one at
 * a time); 500 concurrent holds on 500 seats (throughput); rejected-hold latency on a contested seat.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { holdSeatUpdate, seatIds, seatWorkflowId } from '../src/entities/seat/contract';
import { ROOT } from '../tools/dev/provision';
import { executeUpdate } from '../src/temporal/updates';
import {
  createBenchEvent,
  describeMachine,
  percentile,
  round1,
  startLocalStack,
  writeBenchmarkSection,
} from './local-stack';

interface Round {
  createEventMs: number;
  idleHoldP50: number;
  idleHoldP99: number;
  concurrentHoldsPerSec: number;
  concurrentHoldP50: number;
  concurrentHoldP99: number;
  rejectedHoldP50: number;
  rejectedHoldP99: number;
}

async function timed<T>(fn: () => Promise<T>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' } } });
  const stack = await startLocalStack();
  const results: Round[] = [];
  try {
    const hold = (eventId: string, seatId: string, holdId: string) =>
      executeUpdate(stack.client.workflow.getHandle(seatWorkflowId(eventId, seatId)), holdSeatUpdate, {
        args: [{ holdId, purchaseId: holdId, ttlMs: 600_000 }],
        updateId: holdId,
      });

    for (let r = 1; r <= Number(values.rounds); r++) {
      const tag = `${Date.now().toString(36)}-${r}`;
      const idleEvent = `bench-idle-${tag}`;
      const createEventMs = await createBenchEvent(stack.app, idleEvent);

      const idle: number[] = [];
      for (const seatId of seatIds(20, 25).slice(0, 200))
        idle.push(await timed(() => hold(idleEvent, seatId, `idle-${seatId}`)));

      const burstEvent = `bench-burst-${tag}`;
      await createBenchEvent(stack.app, burstEvent);
      const burst: number[] = [];
      const burstMs = await timed(() =>
        Promise.all(
          seatIds(20, 25).map(async (seatId) =>
            burst.push(await timed(() => hold(burstEvent, seatId, `burst-${seatId}`))),
          ),
        ),
      );

      await hold(idleEvent, 'T25', 'owner');
      const rejected: number[] = [];
      for (let i = 0; i < 200; i++) {
        rejected.push(
          await timed(async () => {
            try {
              await hold(idleEvent, 'T25', `loser-${i}`);
            } catch (err) {
              if (err instanceof WorkflowUpdateFailedError) return;
              throw err;
            }
            throw new Error('a contested hold was accepted');
          }),
        );
      }

      const round: Round = {
        createEventMs,
        idleHoldP50: percentile(idle, 50),
        idleHoldP99: percentile(idle, 99),
        concurrentHoldsPerSec: (500 / burstMs) * 1000,
        concurrentHoldP50: percentile(burst, 50),
        concurrentHoldP99: percentile(burst, 99),
        rejectedHoldP50: percentile(rejected, 50),
        rejectedHoldP99: percentile(rejected, 99),
      };
      results.push(round);
      console.log(`round ${r}:`, Object.fromEntries(Object.entries(round).map(([k, v]) => [k, round1(v)])));
    }
    writeReport(results, describeMachine(stack.temporalBin));
  } finally {
    await stack.close();
  }
}

function writeReport(results: Round[], machine: string): void {
  const median = (key: keyof Round): string =>
    String(
      round1(
        percentile(
          results.map((r) => r[key]),
          50,
        ),
      ),
    );
  const each = (key: keyof Round): string => results.map((r) => round1(r[key])).join(' / ');
  const rows: [string, keyof Round, string][] = [
    ['Create a 500-seat event (POST /events until every seat entity exists)', 'createEventMs', 'ms'],
    ['holdSeat round trip on an idle seat, p50', 'idleHoldP50', 'ms'],
    ['holdSeat round trip on an idle seat, p99', 'idleHoldP99', 'ms'],
    ['500 concurrent holds on 500 seats: throughput', 'concurrentHoldsPerSec', 'holds/s'],
    ['500 concurrent holds: latency p50', 'concurrentHoldP50', 'ms'],
    ['500 concurrent holds: latency p99', 'concurrentHoldP99', 'ms'],
    ['Rejected hold on a contested seat (SEAT_TAKEN), p50', 'rejectedHoldP50', 'ms'],
    ['Rejected hold on a contested seat (SEAT_TAKEN), p99', 'rejectedHoldP99', 'ms'],
  ];
  writeBenchmarkSection(
    path.join(ROOT, 'docs', 'BENCHMARKS.md'),
    'seats',
    [
      '## Seat entities (`npm run bench:seats`)',
      '',
      `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on: ${machine}.`,
      `Everything local: dev server, Redis, one worker and the load on the same machine. ${results.length} rounds; the median is quoted, each round's value follows.`,
      '',
      '| measure | median | unit | rounds |',
      '|---|---:|---|---|',
      ...rows.map(([label, key, unit]) => `| ${label} | ${median(key)} | ${unit} | ${each(key)} |`),
      '',
      'Idle holds: 200 holds one after another, each on its own idle seat. Concurrent: 500 holds fired at once,',
      'one per seat of a fresh 500-seat event. Contested: 200 holds one after another on a held seat; each is',
      'rejected by the update validator, so it writes no history.',
    ].join('\n'),
  );
  console.log('wrote docs/BENCHMARKS.md');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
