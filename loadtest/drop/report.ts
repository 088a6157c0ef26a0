/**
 * The drop report: the figures a reader needs to judge a drop (correctness first, then speed), as JSON
 * and Markdown, plus a chart of sales, holds and queue depth over time (SVG, drawn by Vega-Lite).
 */
import os from 'node:os';
import type { Client } from '@temporalio/client';
import type { AuditReport } from '../../src/audit/auditor';
import { MAX_POLL_AFTER_MS } from '../../src/entities/queue/contract';
import { EVENT_ID_SEARCH_ATTRIBUTE } from '../../src/entities/seat/contract';
import { mapLimit } from '../../src/lib/concurrency';
import { cpuSeconds, rssMiB } from '../proc';
import type { DropOptions, DropResult, Sample } from './simulator';
import { STORE_KINDS, type StoreFigures, type StoreKind } from './store';
import { TimelineBuilder, type Timeline } from './timeline';

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  count: number;
}

export interface CeilingFigures {
  probesPerSec: number;
  eventsPerProbe: number;
  workflowTasksPerProbe: number;
  inFlight: number;
  /** Store calls per probe, and calls in flight, while the probe ran. */
  store?: StoreFigures;
}

export interface DropReport {
  eventId: string;
  startedAt: string;
  /** Seconds from creating the event until every seat entity answered; the crowd came after that. */
  seatsReadySeconds: number;
  machine: string;
  /** The machine's CPU cores (older reports lack it). */
  cores?: number;
  options: Omit<DropOptions, 'adminToken' | 'onProgress'>;
  fans: number;
  seats: number;
  sold: number;
  oversold: number;
  doubleSold: number;
  chargedWithoutTicket: number;
  strandedHolds: number;
  fansAnswered: number;
  finals: Record<string, number>;
  sellOutSeconds: number | null;
  drainSeconds: number | null;
  latencyMs: { join: Percentiles; poll: Percentiles; purchase: Percentiles };
  httpStatuses: Record<string, number>;
  http5xx: number;
  /** Requests that got no HTTP answer at all (refused or dropped connections, timeouts). */
  networkErrors: number;
  admissionInversions: number;
  failuresByCode: Record<string, number>;
  peakRssMiB: Record<string, number>;
  /** null when the stack's processes could not be watched (another host, or no .data/stack.json). */
  wholeStackPeakRssMiB: number | null;
  /** Average share of one core per process during the drop (where the time went). */
  cpuPercent: Record<string, number>;
  /** The same while the crowd arrived (the arrival window). */
  crowdCpuPercent?: Record<string, number>;
  historyEventsPerTicket: number;
  /** Where the purchases spent their time, from their histories (older reports lack it). */
  timeline?: Timeline;
  purchasesPerSec: number;
  ceiling?: CeilingFigures & { fraction: number };
  /** The Temporal server's store from the crowd's arrival until every fan had an answer (per purchase). */
  store?: StoreFigures;
  audit: { ok: boolean; invariants: { name: string; ok: boolean; counts: Record<string, number> }[] };
  samples: Sample[];
}

const percentiles = (h: DropResult['latency']['join']): Percentiles => ({
  p50: round(h.getValueAtPercentile(50) / 1000),
  p95: round(h.getValueAtPercentile(95) / 1000),
  p99: round(h.getValueAtPercentile(99) / 1000),
  max: round(h.maxValue / 1000),
  count: h.totalCount,
});

const round = (n: number): number => Math.round(n * 10) / 10;
const cpuTotal = (shares: Record<string, number>): number =>
  round(Object.values(shares).reduce((a, b) => a + b, 0));
/** "name share, …, total T" for a CPU-share record (% of one core). */
function cpuLine(shares: Record<string, number>): string {
  return `${Object.entries(shares)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')}; total ${cpuTotal(shares)}`;
}

/** The process name the drop gives itself in the usage figures. */
export const LOAD_GENERATOR = 'drop simulator';
const VEGA_LITE: string = 'vega-lite';

export interface ProcessUsage {
  peakRssMiB: Record<string, number>;
  /** Average share of one core each process used while watched. */
  cpuPercent: Record<string, number>;
  /** The same while the crowd arrived (the window), when asked for. */
  crowdCpuPercent?: Record<string, number>;
}

/**
 * Samples memory and CPU time of the given processes until stopped; returns peak RSS and average CPU per
 * process, over the whole watch and (when given) over an interval of it such as the arrival window.
 */
export function watchProcesses(
  pids: Record<string, number>,
  everyMs = 500,
): (interval?: { from: number; to: number }) => ProcessUsage {
  const peaks: Record<string, number> = {};
  const cpuTimes: { at: number; cpu: Record<string, number> }[] = [];
  const sample = () => {
    for (const [name, pid] of Object.entries(pids)) peaks[name] = Math.max(peaks[name] ?? 0, rssMiB(pid));
    cpuTimes.push({
      at: Date.now(),
      cpu: Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)])),
    });
  };
  /** Share of one core per process between two samples. */
  const usedBetween = (a: (typeof cpuTimes)[number], b: (typeof cpuTimes)[number]) =>
    Object.fromEntries(
      Object.keys(pids).map((name) => [
        name,
        round(((b.cpu[name] - a.cpu[name]) / Math.max(0.001, (b.at - a.at) / 1000)) * 100),
      ]),
    );
  sample();
  const timer = setInterval(sample, everyMs);
  return (interval) => {
    clearInterval(timer);
    sample();
    const usage: ProcessUsage = {
      peakRssMiB: Object.fromEntries(Object.entries(peaks).map(([name, mib]) => [name, Math.round(mib)])),
      cpuPercent: usedBetween(cpuTimes[0], cpuTimes[cpuTimes.length - 1]),
    };
    if (interval) {
      const from = [...cpuTimes].reverse().find((t) => t.at <= interval.from) ?? cpuTimes[0];
      const to = cpuTimes.find((t) => t.at >= interval.to) ?? cpuTimes[cpuTimes.length - 1];
      if (to.at > from.at) usage.crowdCpuPercent = usedBetween(from, to);
    }
    return usage;
  };
}

/**
 * History events and workflow tasks of every workflow of the event (seats, queue, event, purchases,
 * confirmations), and where the purchases spent their time.
 */
export async function historyEvents(
  client: Client,
  eventId: string,
): Promise<{ events: number; workflowTasks: number; timeline: Timeline }> {
  const runs: { workflowId: string; runId: string; type: string }[] = [];
  const query = `${EVENT_ID_SEARCH_ATTRIBUTE.name} = '${eventId}'`;
  for await (const wf of client.workflow.list({ query }))
    runs.push({ workflowId: wf.workflowId, runId: wf.runId, type: wf.type });
  const timeline = new TimelineBuilder();
  const counts = await mapLimit(runs, 16, async ({ workflowId, runId, type }) => {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const events = history.events ?? [];
    timeline.add(type, events);
    const tasks = events.filter((e) => e.workflowTaskCompletedEventAttributes).length;
    return { events: events.length, workflowTasks: tasks };
  });
  return {
    events: counts.reduce((a, b) => a + b.events, 0),
    workflowTasks: counts.reduce((a, b) => a + b.workflowTasks, 0),
    timeline: timeline.build(),
  };
}

function stackRss(peaks: Record<string, number>): number | null {
  const stack = Object.entries(peaks).filter(([name]) => name !== LOAD_GENERATOR);
  return stack.length === 0 ? null : stack.reduce((a, [, mib]) => a + mib, 0);
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

export function buildReport(input: {
  options: DropOptions;
  result: DropResult;
  audit: AuditReport;
  machine: string;
  usage: ProcessUsage;
  historyEvents: number;
  timeline?: Timeline;
  soldOutAt?: number;
  ceiling?: CeilingFigures;
  store?: StoreFigures;
}): DropReport {
  const { options, result, audit } = input;
  const finals: Record<string, number> = {};
  for (const fan of result.fans) finals[fan.final] = (finals[fan.final] ?? 0) + 1;
  const answered = result.fans.filter((f) => f.final !== 'unanswered');
  const lastAnswer = Math.max(0, ...answered.map((f) => f.finalMs ?? 0));
  const http5xx = Object.entries(result.statuses)
    .filter(([status]) => status.startsWith('5'))
    .reduce((a, [, n]) => a + n, 0);
  const sellOutSeconds =
    input.soldOutAt !== undefined ? round((input.soldOutAt - result.openedAt) / 1000) : null;
  const purchases = audit.figures.purchases;
  const purchaseWindowSec = sellOutSeconds ?? lastAnswer / 1000;
  const purchasesPerSec = round(purchases / Math.max(1, purchaseWindowSec));
  const shownOptions = { ...options } as Partial<DropOptions>;
  delete shownOptions.adminToken; // never into a report
  delete shownOptions.onProgress;
  return {
    eventId: result.eventId,
    startedAt: new Date(result.openedAt).toISOString(),
    seatsReadySeconds: round(result.seatsReadySec),
    machine: input.machine,
    cores: os.cpus().length,
    options: shownOptions as DropReport['options'],
    fans: options.fans,
    seats: options.seats,
    sold: audit.figures.sold,
    oversold: audit.figures.oversold,
    doubleSold: audit.figures.doubleSold,
    chargedWithoutTicket: audit.figures.chargedWithoutTicket,
    strandedHolds: audit.figures.strandedHolds,
    fansAnswered: answered.length,
    finals,
    sellOutSeconds,
    drainSeconds: answered.length === result.fans.length ? round(lastAnswer / 1000) : null,
    latencyMs: {
      join: percentiles(result.latency.join),
      poll: percentiles(result.latency.poll),
      purchase: percentiles(result.latency.purchase),
    },
    httpStatuses: result.statuses,
    http5xx,
    networkErrors: result.statuses.network ?? 0,
    admissionInversions: audit.figures.admissionInversions,
    failuresByCode: audit.figures.failuresByCode,
    peakRssMiB: input.usage.peakRssMiB,
    // The system under test: every process but the load generator.
    wholeStackPeakRssMiB: stackRss(input.usage.peakRssMiB),
    cpuPercent: input.usage.cpuPercent,
    crowdCpuPercent: input.usage.crowdCpuPercent,
    historyEventsPerTicket: round(input.historyEvents / Math.max(1, audit.figures.sold)),
    timeline: input.timeline,
    purchasesPerSec,
    ceiling: input.ceiling
      ? { ...input.ceiling, fraction: Math.round((purchasesPerSec / input.ceiling.probesPerSec) * 100) / 100 }
      : undefined,
    store: input.store,
    audit: {
      ok: audit.ok,
      invariants: audit.invariants.map(({ name, ok, counts }) => ({ name, ok, counts })),
    },
    samples: result.samples,
  };
}

/** A target, whether a report met it, and when missed, what in the same run stops it. */
interface Target {
  target: string;
  met: (r: DropReport) => boolean;
  field: string;
  /** What stops it, from the run's own figures (undefined when the run lacks them). */
  stoppedBy?: (r: DropReport) => string | undefined;
}

/** The issue's sell-out target: every seat sold this many seconds after opening. */
const SELL_OUT_TARGET_SEC = 20;

const coresOf = (r: DropReport): number => r.cores ?? os.cpus().length;
/** Below this share of the machine's CPUs, a report does not blame them. */
const CPU_BOUND = 0.9;

function cpuStops(r: DropReport): string | undefined {
  if (!r.crowdCpuPercent) return undefined;
  const used = cpuTotal(r.crowdCpuPercent);
  const capacity = coresOf(r) * 100;
  if (used < CPU_BOUND * capacity) return undefined;
  return `the machine's CPUs: while ${Math.round(r.fans / r.options.windowSec)} fans a second arrived, the stack and the load generator used ${used} % of its ${capacity} %, and joins queued for them`;
}

function ceilingStops(r: DropReport): string | undefined {
  const purchases = r.latencyMs.purchase.count;
  const probes = r.ceiling?.probesPerSec ?? 0;
  const needed = Math.ceil(purchases / SELL_OUT_TARGET_SEC);
  if (probes <= 0 || purchases === 0 || probes >= needed) return undefined;
  return `the machine's ceiling: this run's ${purchases} purchases in ${SELL_OUT_TARGET_SEC} s take ${needed} a second, and the ceiling probe ran ${probes} a second; purchases as light as the probe would still take ${Math.round(purchases / probes)} s`;
}

function pollStops(r: DropReport): string | undefined {
  if (r.sellOutSeconds === null || r.drainSeconds === null) return undefined;
  const gap = round(r.drainSeconds - r.sellOutSeconds);
  const pollsPerSec = Math.round(r.latencyMs.poll.count / r.drainSeconds);
  return `sold out ${r.sellOutSeconds} s after opening, and the last fan heard of it ${gap} s later: a fan far back polls at most every ${MAX_POLL_AFTER_MS / 1000} s (the crowd polled ${pollsPerSec} times a second on average)`;
}

function storeStops(r: DropReport): string | undefined {
  const drop = r.store;
  const probe = r.ceiling?.store;
  if (drop?.msPerUnit === undefined || probe?.msPerUnit === undefined) return undefined;
  if (drop.inFlight < 1 || probe.inFlight < 1 || drop.msPerUnit <= probe.msPerUnit) return undefined;
  return `the Temporal store, busy in both: ${drop.inFlight} calls in flight on average in the drop and ${probe.inFlight} in the probe (the dev server has one SQLite connection: above 1, calls wait for it); a purchase took ${drop.msPerUnit} ms of its time and a probe ${probe.msPerUnit} ms (where: the store table above)`;
}

const TARGETS: Target[] = [
  {
    target: '0 oversold, 0 double-sold',
    met: (r) => r.oversold === 0 && r.doubleSold === 0,
    field: 'oversold / doubleSold',
  },
  {
    target: '0 charged without ticket',
    met: (r) => r.chargedWithoutTicket === 0,
    field: 'chargedWithoutTicket',
  },
  { target: '0 stranded holds', met: (r) => r.strandedHolds === 0, field: 'strandedHolds' },
  { target: 'every fan answered', met: (r) => r.fansAnswered === r.fans, field: 'fansAnswered' },
  {
    target: '0 5xx (and no dropped connections)',
    met: (r) => r.http5xx === 0 && r.networkErrors === 0,
    field: 'http5xx',
  },
  {
    target: 'join p99 ≤ 100 ms',
    met: (r) => r.latencyMs.join.p99 <= 100,
    field: 'latencyMs.join.p99',
    stoppedBy: cpuStops,
  },
  {
    target: 'sold out ≤ 20 s after opening',
    met: (r) => r.sellOutSeconds !== null && r.sellOutSeconds <= SELL_OUT_TARGET_SEC,
    field: 'sellOutSeconds',
    stoppedBy: ceilingStops,
  },
  {
    target: 'every fan answered ≤ 30 s after opening',
    met: (r) => r.drainSeconds !== null && r.drainSeconds <= 30,
    field: 'drainSeconds',
    stoppedBy: pollStops,
  },
  {
    target: 'purchases/s ≥ 70 % of the ceiling',
    met: (r) => (r.ceiling?.fraction ?? 0) >= 0.7,
    field: 'ceiling.fraction',
    stoppedBy: storeStops,
  },
  {
    target: 'whole stack peak RSS ≤ 2 GiB',
    met: (r) => r.wholeStackPeakRssMiB !== null && r.wholeStackPeakRssMiB <= 2048,
    field: 'wholeStackPeakRssMiB',
  },
];

export function targetsMet(
  report: DropReport,
): { target: string; met: boolean; field: string; stoppedBy?: string }[] {
  return TARGETS.map(({ target, met, field, stoppedBy }) => {
    const ok = met(report);
    const why = ok ? undefined : stoppedBy?.(report);
    return { target, met: ok, field, ...(why ? { stoppedBy: why } : {}) };
  });
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
    `${report.fans} fans, ${report.seats} seats, ${report.options.windowSec} s window (${report.options.profile}), payment mix ${JSON.stringify(report.options.paymentMix)}, ${report.options.abandon * 100} % abandon, seed ${report.options.seed}, maxActivePurchases ${report.options.maxActivePurchases}. Started ${report.startedAt} on ${report.machine}, once the event's seat entities all answered (${report.seatsReadySeconds ?? '–'} s after it was created).`,
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
      ['Temporal history events per ticket sold', report.historyEventsPerTicket],
      ['Temporal store calls per purchase (the drop)', storeCell(report.store)],
      ['Temporal store calls per minimal workflow (the ceiling)', storeCell(report.ceiling?.store)],
      ['HTTP 5xx', report.http5xx],
      ['requests without an HTTP answer', report.networkErrors],
    ]),
    '',
    '| latency (ms) | p50 | p95 | p99 | max | count |',
    '|---|---:|---:|---:|---:|---:|',
    row('join', l.join),
    row('poll', l.poll),
    row('purchase (POST until final)', l.purchase),
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

/** Sales, holds and fans waiting over time, as an SVG (Vega-Lite, rendered without a browser). */
export async function renderChart(samples: Sample[], title: string): Promise<string> {
  const vega = await import('vega');
  // vega-lite's types need 'bundler' module resolution; its one function used here is typed by hand.
  const vegaLite = (await import(VEGA_LITE)) as { compile(spec: unknown): { spec: object } };
  const values = samples.flatMap((s) => [
    { t: s.t, series: 'sold', count: s.sold, axis: 'seats' },
    { t: s.t, series: 'held', count: s.held, axis: 'seats' },
    { t: s.t, series: 'waiting in queue', count: s.waiting, axis: 'fans' },
  ]);
  const line = (axis: string, yTitle: string, colors: { domain: string[]; range: string[] }) => ({
    transform: [{ filter: `datum.axis === '${axis}'` }],
    mark: { type: 'line', strokeWidth: 2 },
    encoding: {
      x: { field: 't', type: 'quantitative', title: 'seconds after opening' },
      y: { field: 'count', type: 'quantitative', title: yTitle },
      color: { field: 'series', type: 'nominal', scale: colors, title: null },
    },
  });
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: 640,
    height: 260,
    data: { values },
    layer: [
      line('seats', 'seats', {
        domain: ['sold', 'held', 'waiting in queue'],
        range: ['#1b7837', '#e08214', '#2166ac'],
      }),
      line('fans', 'fans waiting', {
        domain: ['sold', 'held', 'waiting in queue'],
        range: ['#1b7837', '#e08214', '#2166ac'],
      }),
    ],
    resolve: { scale: { y: 'independent' } },
  };
  const compiled = vegaLite.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled as Parameters<typeof vega.parse>[0]), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}
