/** The drop report as Markdown: correctness first, then speed, where the time went, and the targets. */
import type { ChaosFigures, FaultEvent } from './chaos';
import type { MetricsTimeline } from './metrics-timeline';
import { coresOf, cpuTotal } from './figures';
import type { CostPerTicket, DropReport, Percentiles } from './report';
import { STORE_KINDS, type StoreFigures, type StoreKind } from './store';
import { targetsMet } from './targets';
import type { Timeline } from './timeline';

/** "name share, …, total T" for a CPU-share record (% of one core). */
function cpuLine(shares: Record<string, number>): string {
  return `${Object.entries(shares)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')}; total ${cpuTotal(shares)}`;
}

/** Where a purchase's time went: means over the drop's purchases, from their histories. */
function timelineLines(timeline?: Timeline): string[] {
  if (!timeline || timeline.purchase.purchases === 0) return [];
  const p = timeline.purchase;
  const part = (name: string, ms: number) =>
    `| ${name} | ${ms} | ${Math.round((ms / Math.max(1, p.totalMs)) * 100)} % |`;
  return [
    '',
    `Where a purchase's time went (mean of ${p.purchases} purchases, from their histories; a step's own work is inside these):`,
    '',
    '| part | ms | share |',
    '|---|---:|---:|',
    part('workflow tasks waiting for the worker', p.taskWaitMs),
    part(
      'inside workflow tasks (local activities: seat claims, projections, waiting-room messages)',
      p.taskRunMs,
    ),
    part('activities waiting for the worker', p.activityWaitMs),
    part('activities running (seat pick, payment, undo steps)', p.activityRunMs),
    part('confirmation child starting', p.childStartMs),
    part('first to last history event', p.totalMs),
    '',
    `Seat entity tasks (a claim waits for one): ${timeline.seatTasks.tasks} tasks, ${timeline.seatTasks.waitMs} ms waiting for the worker and ${timeline.seatTasks.runMs} ms inside on average.`,
  ];
}

/** Store calls per unit, and how many were in flight on average (above 1: queued for the store). */
function storeCell(store: StoreFigures | undefined): string {
  return store
    ? `${store.callsPerUnit} (${store.inFlight} calls in flight on average)`
    : 'not measured (no server metrics)';
}

/** Store calls and call time by kind, per purchase and per probe, when the server's metrics were read. */
function storeTable(drop: StoreFigures | undefined, probe: StoreFigures | undefined): string[] {
  if (!drop?.kinds) return [];
  const cells = (f?: { callsPerUnit: number; msPerUnit?: number }): string =>
    f ? `${f.callsPerUnit} | ${f.msPerUnit ?? '–'}` : '– | –';
  return [
    '',
    'The Temporal store, per purchase (from the crowd until every fan was answered) and per minimal workflow (the ceiling probe); ms is the summed duration of the calls, waiting for the connection to the store included:',
    '',
    '| store calls | per purchase | ms | per minimal workflow | ms |',
    '|---|---:|---:|---:|---:|',
    ...(Object.keys(STORE_KINDS) as StoreKind[]).map(
      (kind) =>
        `| ${STORE_KINDS[kind].label} | ${cells(drop.kinds?.[kind])} | ${cells(probe?.kinds?.[kind])} |`,
    ),
    `| all | ${cells(drop)} | ${cells(probe)} |`,
  ];
}

export function renderMarkdown(report: DropReport, chartFile?: string): string {
  const l = report.latencyMs;
  const row = (name: string, p: Percentiles) =>
    `| ${name} | ${p.p50} | ${p.p95} | ${p.p99} | ${p.max} | ${p.count} |`;
  const table = (entries: [string, string | number][]) => entries.map(([k, v]) => `| ${k} | ${v} |`);
  return [
    `# Drop report: ${report.eventId}`,
    '',
    `${report.fans} fans, ${report.seats} seats, ${report.options.windowSec} s window (${report.options.profile}), payment mix ${JSON.stringify(report.options.paymentMix)}, ${report.options.abandon * 100} % abandon, seed ${report.options.seed}, maxActivePurchases ${report.options.maxActivePurchases}. Started ${report.startedAt} on ${report.machine}, once the event's seat entities all answered (${report.seatsReadySeconds ?? '–'} s after it was created).${report.temporalStore ? ` Temporal's store: ${report.temporalStore.persistence}, ${report.temporalStore.historyShards} history shard${report.temporalStore.historyShards === 1 ? '' : 's'}.` : ''}`,
    '',
    '## Correctness (from the auditor)',
    '',
    '| figure | value |',
    '|---|---:|',
    ...table([
      ['sold', report.sold],
      ['oversold', report.oversold],
      ['doubleSold', report.doubleSold],
      ['chargedWithoutTicket', report.chargedWithoutTicket],
      ['strandedHolds', report.strandedHolds],
      ['admission-order inversions', report.admissionInversions],
      ['fans answered', `${report.fansAnswered} of ${report.fans}`],
      [
        'final states',
        Object.entries(report.finals)
          .map(([k, v]) => `${k} ${v}`)
          .join(', '),
      ],
    ]),
    '',
    ...report.audit.invariants.map(
      (i) =>
        `- ${i.ok ? '✅' : '❌'} ${i.name} (${Object.entries(i.counts)
          .map(([k, v]) => `${k}=${v}`)
          .join(', ')})`,
    ),
    '',
    ...chaosTable(report.chaos),
    ...(report.chaos && report.metricsTimeline
      ? metricsTimelineTable(report.metricsTimeline, report.chaos.faults)
      : []),
    '## Speed',
    '',
    '| figure | value |',
    '|---|---:|',
    ...table([
      ['sold out after opening (s)', report.sellOutSeconds ?? 'not sold out'],
      ['every fan answered after opening (s)', report.drainSeconds ?? 'not all answered'],
      ['purchases per second (until sold out)', report.purchasesPerSec],
      [
        'ceiling: minimal workflows per second',
        report.ceiling
          ? `${report.ceiling.probesPerSec} (${report.ceiling.eventsPerProbe} history events and ${report.ceiling.workflowTasksPerProbe} workflow tasks each, ${report.ceiling.inFlight} in flight)`
          : 'not measured',
      ],
      ['purchases/s as a fraction of the ceiling', report.ceiling?.fraction ?? '–'],
      [
        'fixed reference: minimal workflows per second',
        report.reference
          ? `${report.reference.probesPerSec} (${report.reference.eventsPerProbe} history events and ${report.reference.workflowTasksPerProbe} workflow tasks each, the same for every drop)`
          : 'not measured',
      ],
      ['purchases/s as a fraction of the fixed reference', report.reference?.fraction ?? '–'],
      ['Temporal history events per ticket sold', report.historyEventsPerTicket],
      ['Temporal workflow tasks per ticket sold', report.costPerTicket?.workflowTasks ?? '–'],
      ['new workflow runs per ticket sold', report.costPerTicket?.newRuns ?? '–'],
      ['Temporal store calls per purchase (the drop)', storeCell(report.store)],
      ['Temporal store calls per minimal workflow (the ceiling)', storeCell(report.ceiling?.store)],
      ['HTTP 5xx', report.http5xx],
      ['requests without an HTTP answer', report.networkErrors],
    ]),
    '',
    '| latency (ms) | p50 | p95 | p99 | max | count |',
    '|---|---:|---:|---:|---:|---:|',
    row('join (scheduled arrival → answered)', l.join),
    ...(l.joinDelay ? [row("… the generator's delay (scheduled → sent)", l.joinDelay)] : []),
    ...(l.joinServer ? [row('… the server (sent → answered)', l.joinServer)] : []),
    row('poll', l.poll),
    ...(l.longPoll?.count ? [row('long-poll near the front (until admitted, or 20 s)', l.longPoll)] : []),
    ...(l.admissionTold?.count ? [row('admitted (waiting room) → the fan told', l.admissionTold)] : []),
    row('purchase (POST until final)', l.purchase),
    ...(report.crowdSentSeconds !== undefined
      ? [
          '',
          `The generator sent every fan's first join within ${report.crowdSentSeconds} s of opening (the window is ${report.options.windowSec} s: ${Math.round(report.fans / Math.max(report.options.windowSec, report.crowdSentSeconds))} joins a second reached).`,
        ]
      : []),
    ...costTable(report.costPerTicket),
    ...storeTable(report.store, report.ceiling?.store),
    '',
    `HTTP statuses: ${Object.entries(report.httpStatuses)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ')}.`,
    '',
    `Failures by code: ${
      Object.entries(report.failuresByCode)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || 'none'
    }.`,
    ...timelineLines(report.timeline),
    '',
    `Peak RSS (MiB): ${Object.entries(report.peakRssMiB)
      .map(([k, v]) => `${k} ${v}`)
      .join(
        ', ',
      )}; whole stack (without the load generator) ${report.wholeStackPeakRssMiB ?? 'not measured'}.`,
    '',
    `CPU during the drop (% of one core; ${coresOf(report)} cores): ${cpuLine(report.cpuPercent)}.`,
    ...(report.crowdCpuPercent
      ? [
          '',
          `CPU while the crowd arrived (the ${report.options.windowSec} s window): ${cpuLine(report.crowdCpuPercent)}.`,
        ]
      : []),
    '',
    '## Targets',
    '',
    ...targetsMet(report).map(
      (t) => `- ${t.met ? '✅' : '❌'} ${t.target}${t.stoppedBy ? `. What stops it: ${t.stoppedBy}.` : ''}`,
    ),
    '',
    ...(chartFile ? ['## Over time', '', `![sales, holds and queue depth over time](${chartFile})`, ''] : []),
  ].join('\n');
}

/** What each kind of workflow cost per ticket sold. */
function costTable(cost: CostPerTicket | undefined): string[] {
  if (!cost) return [];
  return [
    '',
    'What each kind of workflow cost Temporal, per ticket sold (from every history of the event):',
    '',
    '| workflow | runs | history events | workflow tasks |',
    '|---|---:|---:|---:|',
    ...Object.entries(cost.byType)
      .sort((a, b) => b[1].workflowTasks - a[1].workflowTasks)
      .map(([type, c]) => `| ${type} | ${c.runs} | ${c.events} | ${c.workflowTasks} |`),
    `| all | ${cost.newRuns} | – | ${cost.workflowTasks} |`,
  ];
}

const seconds = (ms: number | undefined): string => (ms === undefined ? '–' : (ms / 1000).toFixed(1));

/** A chaos drop's faults: when, what, and how long until sales and the cache were back. */
function chaosTable(chaos: ChaosFigures | undefined): string[] {
  if (!chaos) return [];
  return [
    `## Chaos: \`${chaos.plan}\``,
    '',
    "| fault | at (s) | what it did | ended (s) | sales again after (s) | cache whole after (s) | this event's cache whole after (s) |",
    '|---|---:|---|---:|---:|---:|---:|',
    ...chaos.faults.map(
      (f) =>
        `| ${f.kind} | ${seconds(f.atMs)} | ${f.error ? `failed: ${f.error}` : f.detail} | ${seconds(f.endMs)} | ${seconds(f.salesAgainAfterMs)} | ${seconds(f.cacheWholeAfterMs)} | ${seconds(f.eventWholeAfterMs)} |`,
    ),
    '',
    "Sales again: from the fault (an outage: from its end) until the sampled seats sold grew again; – when the drop had sold out before it. Cache whole: until the worker had rebuilt it (a new epoch); this event's: until the keeper had rebuilt this drop's event (it goes newest first).",
    '',
  ];
}

/**
 * The chaos drop's timeline from the stack's metrics, a row per bucket, with the faults that began in it.
 * `window`: only the rows from `from` to `to` seconds after opening.
 */
export function metricsTimelineTable(
  timeline: MetricsTimeline,
  faults: FaultEvent[],
  window: { from?: number; to?: number; heading?: string } = {},
): string[] {
  const { bucketSec } = timeline;
  const rows = timeline.rows.filter(
    (r) => r.t >= (window.from ?? -Infinity) && r.t <= (window.to ?? Infinity),
  );
  return [
    window.heading ?? '### The drop in its metrics',
    '',
    `How much each counter grew in each ${bucketSec} s, scraped every second from the API's, the worker's and the supervisor's metrics (docs/OPERATIONS.md, "Metrics"); – when the endpoint did not answer (its process down).`,
    '',
    `| t (s) | ${timeline.labels.join(' | ')} | fault |`,
    `|---:|${timeline.labels.map(() => '---:').join('|')}|---|`,
    ...rows.map((r) => {
      const began = faults
        .filter((f) => f.atMs >= r.t * 1000 && f.atMs < (r.t + bucketSec) * 1000)
        .map((f) => f.kind);
      const ended = faults
        .filter((f) => f.endMs !== undefined && f.endMs >= r.t * 1000 && f.endMs < (r.t + bucketSec) * 1000)
        .map((f) => `${f.kind} ends`);
      return `| ${r.t} | ${r.values.map((v) => (v === null ? '–' : String(v))).join(' | ')} | ${[...began, ...ended].join(', ')} |`;
    }),
    '',
  ];
}
