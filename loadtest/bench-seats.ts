/**
 * `npm run bench:seats [-- --rounds 3]`: measures the seat entities on a real dev server, Redis and
 * worker that it starts on free loopback ports, and writes the figures (medians over the rounds) into
 * docs/BENCHMARKS.md between its own markers.
 *
 * Per round: time to create a 500-seat event through the API; holdSeat round trip on idle seats (one at
 * a time); 500 concurrent holds on 500 seats (throughput); rejected-hold latency on a contested seat.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { buildApp } from '../src/api/app';
import { createRedis, waitForRedis } from '../src/cache/redis';
import { loadPurchaseConfig } from '../src/config';
import { holdSeatUpdate, seatIds, seatWorkflowId } from '../src/entities/seat/contract';
import { ensureRedisServer, ensureTemporalCli, ROOT } from '../src/dev/provision';
import {
  freePort,
  startNodeService,
  startRedisServer,
  startTemporalDevServer,
  type Service,
} from '../src/dev/services';
import { connectClient } from '../src/temporal/connection';

const ADMIN_TOKEN = 'bench-admin-token-0123456789';
const SIGNING_SECRET = 'bench-signing-secret-0123456789';
const TASK_QUEUE = 'ticketdrop-bench';

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

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
const median = (values: number[]): number => percentile(values, 50);
const round1 = (n: number): number => Math.round(n * 10) / 10;

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const value = await fn();
  return [value, performance.now() - start];
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' } } });
  const rounds = Number(values.rounds);
  const services: Service[] = [];
  const logs = path.join(os.tmpdir(), `ticketdrop-bench-${Date.now()}`);
  execFileSync('mkdir', ['-p', logs]);
  try {
    const temporal = await startTemporalDevServer({
      bin: ensureTemporalCli(),
      port: await freePort(),
      logFile: path.join(logs, 'temporal.log'),
    });
    services.unshift(temporal);
    const redisServer = await startRedisServer({ bin: ensureRedisServer(), port: await freePort() });
    services.unshift(redisServer);
    const env = {
      ...process.env,
      TEMPORAL_ADDRESS: temporal.address,
      REDIS_URL: redisServer.url,
      TICKETDROP_TASK_QUEUE: TASK_QUEUE,
      TICKETDROP_SIGNING_SECRET: SIGNING_SECRET,
      TICKETDROP_PROVIDERS_DB: path.join(logs, 'providers.sqlite'),
    };
    services.unshift(
      await startNodeService('worker', 'src/worker.ts', /worker ready/, {
        env,
        logFile: path.join(logs, 'worker.log'),
      }),
    );

    const client = await connectClient({
      address: temporal.address,
      namespace: 'default',
      taskQueue: TASK_QUEUE,
    });
    const redis = createRedis({ url: redisServer.url, cluster: false });
    await waitForRedis(redis);
    const app = await buildApp({
      temporal: client,
      redis,
      taskQueue: TASK_QUEUE,
      adminToken: ADMIN_TOKEN,
      signingSecret: SIGNING_SECRET,
      purchase: loadPurchaseConfig({}),
    });

    const createEvent = async (eventId: string): Promise<number> => {
      const [response, ms] = await timed(() =>
        app.inject({
          method: 'POST',
          url: '/events',
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
          payload: {
            eventId,
            name: eventId,
            rows: 20,
            seatsPerRow: 25,
            priceCents: 7500,
            admission: 'direct',
          },
        }),
      );
      if (response.statusCode !== 201)
        throw new Error(`create ${eventId}: ${response.statusCode} ${response.body}`);
      return ms;
    };
    const hold = (eventId: string, seatId: string, holdId: string) =>
      client.workflow.getHandle(seatWorkflowId(eventId, seatId)).executeUpdate(holdSeatUpdate, {
        args: [{ holdId, purchaseId: holdId, ttlMs: 600_000 }],
        updateId: holdId,
      });

    const results: Round[] = [];
    for (let r = 1; r <= rounds; r++) {
      const tag = `${Date.now().toString(36)}-${r}`;
      const idleEvent = `bench-idle-${tag}`;
      const createEventMs = await createEvent(idleEvent);

      const idle: number[] = [];
      for (const seatId of seatIds(20, 25).slice(0, 200)) {
        idle.push((await timed(() => hold(idleEvent, seatId, `idle-${seatId}`)))[1]);
      }

      const burstEvent = `bench-burst-${tag}`;
      await createEvent(burstEvent);
      const burst: number[] = [];
      const [, burstMs] = await timed(() =>
        Promise.all(
          seatIds(20, 25).map(async (seatId) => {
            burst.push((await timed(() => hold(burstEvent, seatId, `burst-${seatId}`)))[1]);
          }),
        ),
      );

      await hold(idleEvent, 'T25', 'owner');
      const rejected: number[] = [];
      for (let i = 0; i < 200; i++) {
        const [, ms] = await timed(async () => {
          try {
            await hold(idleEvent, 'T25', `loser-${i}`);
            throw new Error('a contested hold was accepted');
          } catch (err) {
            if (!(err instanceof WorkflowUpdateFailedError)) throw err;
          }
        });
        rejected.push(ms);
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

    await app.close();
    redis.disconnect();
    await client.connection.close();
    writeReport(results);
  } finally {
    for (const service of services) await service.stop();
  }
}

function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const temporalVersion = execFileSync(ensureTemporalCli(), ['--version']).toString().trim();
  return `${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ${os.type()} ${os.release()}, Node ${process.version}, ${temporalVersion} (dev server, in-memory SQLite)`;
}

function writeReport(results: Round[]): void {
  const file = path.join(ROOT, 'docs', 'BENCHMARKS.md');
  const m = (key: keyof Round): string => String(round1(median(results.map((r) => r[key]))));
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
  const section = [
    '<!-- bench:seats:start -->',
    '## Seat entities (`npm run bench:seats`)',
    '',
    `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on: ${machine()}.`,
    `Everything local: dev server, Redis, one worker and the load on the same machine. ${results.length} rounds; the median is quoted, each round's value follows.`,
    '',
    '| measure | median | unit | rounds |',
    '|---|---:|---|---|',
    ...rows.map(([label, key, unit]) => `| ${label} | ${m(key)} | ${unit} | ${each(key)} |`),
    '',
    'Idle holds: 200 holds one after another, each on its own idle seat. Concurrent: 500 holds fired at once,',
    'one per seat of a fresh 500-seat event. Contested: 200 holds one after another on a held seat; each is',
    'rejected by the update validator, so it writes no history.',
    '<!-- bench:seats:end -->',
  ].join('\n');
  const header =
    '# Benchmarks\n\nFigures measured by the scripts in `loadtest/`. The machine is shared and noisy: medians of several rounds.\n';
  const current = existsSync(file) ? readFileSync(file, 'utf8') : header;
  const pattern = /<!-- bench:seats:start -->[\s\S]*<!-- bench:seats:end -->/;
  const next = pattern.test(current)
    ? current.replace(pattern, section)
    : `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, next);
  console.log(`wrote ${path.relative(ROOT, file)}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
