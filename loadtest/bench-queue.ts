/**
 * `npm run bench:queue [-- --rounds 3 --rate 5000 --seconds 10]`: fans join a fresh queue event at a
 * fixed arrival rate (open model: arrivals never wait for earlier answers), over HTTP keep-alive to an API
 * server process on a private local stack. Measures join throughput and latency (from each join's
 * scheduled time, so a stall counts against every join it delays), the batch sizes the group commit
 * formed, and what the joins cost the queue entity: history events and continue-as-new runs.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as hdr from 'hdr-histogram-js';
import { Pool } from 'undici';
import { queueSnapshotQuery, queueWorkflowId } from '../src/entities/queue/contract';
import { mintFanTokens } from '../tools/dev/fan-issuer';
import { ROOT } from '../tools/dev/provision';
import {
  FAN_ISSUER,
  ADMIN_TOKEN,
  describeMachine,
  percentile,
  round1,
  startLocalStack,
  writeBenchmarkSection,
  type LocalStack,
} from './local-stack';
import { cpuSeconds } from './proc';

/** Client connections: every fan of a real drop has its own, so the pool must not be what queues joins. */
const CONNECTIONS = 1_000;

interface Round {
  joins: number;
  ok: number;
  statuses: Record<string, number>;
  joinsPerSec: number;
  p50: number;
  p99: number;
  max: number;
  batches: number;
  meanBatch: number;
  batchP50: number;
  batchMax: number;
  historyEvents: number;
  runs: number;
  /** Share of one core each process used during the round. */
  cpu: Record<string, number>;
}

/** The join batch-size histogram the API exports, as cumulative bucket counts by upper bound. */
async function batchBuckets(apiUrl: string): Promise<Map<number, number>> {
  const text = await (await fetch(`${apiUrl}/metrics`)).text();
  const buckets = new Map<number, number>();
  for (const match of text.matchAll(/^ticketdrop_join_batch_size_bucket\{le="([^"]+)"\} (\d+)$/gm)) {
    buckets.set(match[1] === '+Inf' ? Infinity : Number(match[1]), Number(match[2]));
  }
  return buckets;
}

/** The smallest bucket bound holding the given share of batches (from cumulative deltas). */
function bucketQuantile(before: Map<number, number>, after: Map<number, number>, q: number): number {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
  for (const bound of bounds) {
    if ((after.get(bound) ?? 0) - (before.get(bound) ?? 0) >= q * total) return bound;
  }
  return Infinity;
}

async function createQueueEvent(stack: LocalStack, eventId: string): Promise<void> {
  const response = await stack.app.inject({
    method: 'POST',
    url: '/events',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    payload: { eventId, name: eventId, rows: 20, seatsPerRow: 25, priceCents: 7500, admission: 'queue' },
  });
  if (response.statusCode !== 201)
    throw new Error(`create ${eventId}: ${response.statusCode} ${response.body}`);
}

async function queueHistory(stack: LocalStack, eventId: string): Promise<number> {
  const workflowId = queueWorkflowId(eventId);
  let events = 0;
  for await (const run of stack.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
    const history = await stack.client.workflow.getHandle(workflowId, run.runId).fetchHistory();
    events += history.events?.length ?? 0;
  }
  return events;
}

async function runRound(stack: LocalStack, rate: number, seconds: number): Promise<Round> {
  const apiUrl = stack.apiUrl!;
  const eventId = `bench-queue-${Date.now().toString(36)}`;
  await createQueueEvent(stack, eventId);
  const pool = new Pool(apiUrl, { connections: CONNECTIONS, pipelining: 1 });
  const latency = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000 });
  const statuses: Record<string, number> = {};
  const total = rate * seconds;
  // Fans' tokens are minted before the clock starts: the identity provider's work, not the API's.
  const tokens = [
    ...(
      await mintFanTokens(
        FAN_ISSUER,
        Array.from({ length: total }, (_, i) => `fan-${i}`),
      )
    ).values(),
  ];
  const bucketsBefore = await batchBuckets(apiUrl);

  const join = async (i: number, scheduled: number): Promise<void> => {
    let status = 'error';
    try {
      const response = await pool.request({
        path: `/events/${eventId}/queue`,
        method: 'POST',
        // Each fan from its own address (the API trusts the bench as its proxy), as a real crowd arrives.
        headers: {
          authorization: `Bearer ${tokens[i]}`,
          'x-forwarded-for': `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
        },
      });
      await response.body.dump();
      status = String(response.statusCode);
    } finally {
      latency.recordValue(Math.max(1, Math.round((performance.now() - scheduled) * 1000)));
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  };

  const cpuBefore = stack.processes().map((p) => ({ ...p, cpu: cpuSeconds(p.pid) }));
  const start = performance.now();
  const pending: Promise<void>[] = [];
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
      while (sent < due) {
        const i = sent++;
        pending.push(join(i, start + (i / rate) * 1000).catch(() => undefined));
      }
      if (sent < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  await Promise.all(pending);
  const wallMs = performance.now() - start;
  const cpu = Object.fromEntries(
    cpuBefore.map((p) => [p.name, round1(((cpuSeconds(p.pid) - p.cpu) / wallMs) * 1000 * 100)]),
  );
  await pool.close();

  const bucketsAfter = await batchBuckets(apiUrl);
  const view = await stack.client.workflow.getHandle(queueWorkflowId(eventId)).query(queueSnapshotQuery);
  const ok = (statuses['202'] ?? 0) + (statuses['200'] ?? 0);
  const round: Round = {
    joins: total,
    ok,
    statuses,
    joinsPerSec: (ok / wallMs) * 1000,
    p50: latency.getValueAtPercentile(50) / 1000,
    p99: latency.getValueAtPercentile(99) / 1000,
    max: latency.maxValue / 1000,
    batches: view.batches,
    meanBatch: view.joined / Math.max(1, view.batches),
    batchP50: bucketQuantile(bucketsBefore, bucketsAfter, 0.5),
    batchMax: bucketQuantile(bucketsBefore, bucketsAfter, 1),
    historyEvents: await queueHistory(stack, eventId),
    runs: view.runs,
    cpu,
  };
  latency.destroy();
  return round;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      rate: { type: 'string', default: '5000' },
      seconds: { type: 'string', default: '10' },
    },
  });
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  const stack = await startLocalStack({ apiProcess: true });
  try {
    const rounds: Round[] = [];
    for (let r = 1; r <= Number(values.rounds); r++) {
      const round = await runRound(stack, rate, seconds);
      console.log(`round ${r}:`, JSON.stringify(round));
      rounds.push(round);
    }
    const med = (pick: (r: Round) => number) => round1(percentile(rounds.map(pick), 50));
    const each = (pick: (r: Round) => number) => rounds.map((r) => round1(pick(r))).join(' / ');
    const statusLine = rounds.map((r) => JSON.stringify(r.statuses)).join(' / ');
    writeBenchmarkSection(
      path.join(ROOT, 'docs', 'BENCHMARKS.md'),
      'queue-joins',
      [
        '## Waiting-room joins (`npm run bench:queue`)',
        '',
        `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on: ${describeMachine(stack.temporalBin)}.`,
        `${rate} joins/s offered for ${seconds} s (${rate * seconds} distinct fans, open model) over HTTP keep-alive (undici, ${CONNECTIONS} connections) to an API server process; load generator, API, worker, Temporal and Redis share the machine. ${values.rounds} rounds, medians (each round in brackets). Latency is measured from each join's scheduled send time.`,
        '',
        '| figure | median | rounds |',
        '|---|---:|---|',
        `| joins answered per second | ${med((r) => r.joinsPerSec)} | ${each((r) => r.joinsPerSec)} |`,
        `| join latency p50 (ms) | ${med((r) => r.p50)} | ${each((r) => r.p50)} |`,
        `| join latency p99 (ms) | ${med((r) => r.p99)} | ${each((r) => r.p99)} |`,
        `| join latency max (ms) | ${med((r) => r.max)} | ${each((r) => r.max)} |`,
        `| join Updates (batches) per ${rate * seconds} joins | ${med((r) => r.batches)} | ${each((r) => r.batches)} |`,
        `| fans per batch: mean | ${med((r) => r.meanBatch)} | ${each((r) => r.meanBatch)} |`,
        `| fans per batch: median bucket ≤ / largest bucket ≤ | ${med((r) => r.batchP50)} / ${med((r) => r.batchMax)} | ${each((r) => r.batchP50)} ; ${each((r) => r.batchMax)} |`,
        `| queue-entity history events (all runs) | ${med((r) => r.historyEvents)} | ${each((r) => r.historyEvents)} |`,
        `| continue-as-new count | ${med((r) => r.runs - 1)} | ${each((r) => r.runs - 1)} |`,
        '',
        `HTTP statuses per round: ${statusLine}.`,
        `CPU per process during each round (% of one core): ${rounds.map((r) => JSON.stringify(r.cpu)).join(' / ')}.`,
      ].join('\n'),
    );
    console.log('wrote docs/BENCHMARKS.md');
  } finally {
    await stack.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
