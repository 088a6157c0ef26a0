/**
 * The drop report: the figures a reader needs to judge a drop (correctness first, then speed), assembled
 * from the simulator's result, the audit, the processes' usage and the histories. The parts beside it
 * sample the processes (sampling.ts), read the histories (history.ts), judge the targets (targets.ts) and
 * render it as Markdown (markdown.ts) and a chart (chart.ts).
 */
import { chaosFigures, type ChaosFigures, type FaultEvent } from './chaos';
import type { MetricsTimeline } from './metrics-timeline';
import os from 'node:os';
import type { AuditReport } from '../../tools/audit/auditor';
import { round } from './figures';
import { stackRss, type ProcessUsage } from './sampling';
import type { DropOptions, DropResult, Sample } from './simulator';
import type { StoreFigures } from './store';
import type { Timeline } from './timeline';

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

/** What the event's workflows cost Temporal per ticket sold, all of them and by workflow type. */
export interface CostPerTicket {
  workflowTasks: number;
  newRuns: number;
  byType: Record<string, { runs: number; events: number; workflowTasks: number }>;
}

export interface DropReport {
  eventId: string;
  startedAt: string;
  /** Seconds from creating the event until every seat entity answered; the crowd came after that. */
  seatsReadySeconds: number;
  machine: string;
  /** The machine's CPU cores (older reports lack it). */
  cores?: number;
  options: Omit<DropOptions, 'adminToken' | 'fanIssuer' | 'onProgress'>;
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
  latencyMs: {
    join: Percentiles;
    /** The load generator's own delay: scheduled arrival → first join sent (older reports lack it). */
    joinDelay?: Percentiles;
    /** The server's part: the answered join, sent → answered (older reports lack it). */
    joinServer?: Percentiles;
    poll: Percentiles;
    /** Waiting fans' long-polls near the front (older reports lack it). */
    longPoll?: Percentiles;
    /** The waiting room's admission → the fan told (older reports lack it). */
    admissionTold?: Percentiles;
    purchase: Percentiles;
  };
  /** Seconds from opening until the generator had sent every fan's first join (older reports lack it). */
  crowdSentSeconds?: number;
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
  /** Workflow tasks and runs per ticket sold, by workflow type (older reports lack it). */
  costPerTicket?: CostPerTicket;
  /** Where the purchases spent their time, from their histories (older reports lack it). */
  timeline?: Timeline;
  purchasesPerSec: number;
  /** The same-shape probe: minimal workflows costing what one purchase cost. */
  ceiling?: CeilingFigures & { fraction: number };
  /** The fixed reference: a minimal workflow of one shape for every drop (older reports lack it). */
  reference?: CeilingFigures & { fraction: number };
  /** The Temporal server's store from the crowd's arrival until every fan had an answer (per purchase). */
  store?: StoreFigures;
  /** The server's persistence and history shards (`getClusterInfo`; older reports lack it). */
  temporalStore?: { persistence: string; historyShards: number };
  audit: { ok: boolean; invariants: { name: string; ok: boolean; counts: Record<string, number> }[] };
  samples: Sample[];
  /** A chaos drop's faults and what each cost (drops without `--chaos` lack it). */
  chaos?: ChaosFigures;
  /** A chaos drop's timeline from the stack's own metrics (drops without `--chaos` lack it). */
  metricsTimeline?: MetricsTimeline;
}

const percentiles = (h: DropResult['latency']['join']): Percentiles => ({
  p50: round(h.getValueAtPercentile(50) / 1000),
  p95: round(h.getValueAtPercentile(95) / 1000),
  p99: round(h.getValueAtPercentile(99) / 1000),
  max: round(h.maxValue / 1000),
  count: h.totalCount,
});

export function buildReport(input: {
  options: DropOptions;
  result: DropResult;
  audit: AuditReport;
  machine: string;
  usage: ProcessUsage;
  historyEvents: number;
  byType?: CostPerTicket['byType'];
  timeline?: Timeline;
  soldOutAt?: number;
  ceiling?: CeilingFigures;
  reference?: CeilingFigures;
  store?: StoreFigures;
  temporalStore?: DropReport['temporalStore'];
  chaos?: { plan: string; faults: FaultEvent[] };
  metricsTimeline?: MetricsTimeline;
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
  delete shownOptions.fanIssuer;
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
      joinDelay: percentiles(result.latency.joinDelay),
      joinServer: percentiles(result.latency.joinServer),
      poll: percentiles(result.latency.poll),
      longPoll: percentiles(result.latency.longPoll),
      admissionTold: percentiles(result.latency.admissionTold),
      purchase: percentiles(result.latency.purchase),
    },
    crowdSentSeconds: round(result.crowdSentMs / 1000),
    httpStatuses: result.statuses,
    http5xx,
    networkErrors: result.statuses.network ?? 0,
    admissionInversions: audit.figures.admissionInversions,
    failuresByCode: audit.figures.failuresByCode,
    peakRssMiB: input.usage.peakRssMiB,
    wholeStackPeakRssMiB: stackRss(input.usage.peakRssMiB),
    cpuPercent: input.usage.cpuPercent,
    crowdCpuPercent: input.usage.crowdCpuPercent,
    historyEventsPerTicket: round(input.historyEvents / Math.max(1, audit.figures.sold)),
    costPerTicket: input.byType ? costPerTicket(input.byType, audit.figures.sold) : undefined,
    timeline: input.timeline,
    purchasesPerSec,
    ceiling: input.ceiling
      ? { ...input.ceiling, fraction: Math.round((purchasesPerSec / input.ceiling.probesPerSec) * 100) / 100 }
      : undefined,
    reference: input.reference
      ? {
          ...input.reference,
          fraction: Math.round((purchasesPerSec / input.reference.probesPerSec) * 100) / 100,
        }
      : undefined,
    store: input.store,
    ...(input.temporalStore && { temporalStore: input.temporalStore }),
    audit: {
      ok: audit.ok,
      invariants: audit.invariants.map(({ name, ok, counts }) => ({ name, ok, counts })),
    },
    samples: result.samples,
    ...(input.chaos && {
      chaos: chaosFigures(input.chaos.plan, input.chaos.faults, result.samples, options.seats),
    }),
    ...(input.metricsTimeline && { metricsTimeline: input.metricsTimeline }),
  };
}

function costPerTicket(byType: CostPerTicket['byType'], sold: number): CostPerTicket {
  const tickets = Math.max(1, sold);
  const all = Object.values(byType);
  const perTicket = (n: number) => round(n / tickets);
  return {
    workflowTasks: perTicket(all.reduce((a, b) => a + b.workflowTasks, 0)),
    newRuns: perTicket(all.reduce((a, b) => a + b.runs, 0)),
    byType: Object.fromEntries(
      Object.entries(byType).map(([type, c]) => [
        type,
        { runs: perTicket(c.runs), events: perTicket(c.events), workflowTasks: perTicket(c.workflowTasks) },
      ]),
    ),
  };
}
