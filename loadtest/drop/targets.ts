/**
 * The drop's targets: each one, whether a report met it, and when missed, what in the same run stops it
 * (named only when the run's own figures show it).
 */
import {
  MAX_POLL_AFTER_MS,
  SALE_END_MAX_WAIT_MS,
  SALE_END_MIN_SPREAD_MS,
  SALE_END_POLLS_PER_SEC,
} from '../../src/entities/queue/contract';
import { coresOf, cpuTotal, round } from './figures';
import type { DropReport } from './report';

/** A target, whether a report met it, and when missed, what in the same run stops it. */
interface Target {
  target: string;
  met: (r: DropReport) => boolean;
  field: string;
  /** What stops it, from the run's own figures (undefined when the run lacks them). */
  stoppedBy?: (r: DropReport) => string | undefined;
}

/** The first drop issue's sell-out target: every seat sold this many seconds after opening. */
const SELL_OUT_TARGET_SEC = 20;
/** The lean-purchase targets: sold out this soon, every fan told this soon after, at this cost. */
const LEAN_SELL_OUT_SEC = 45;
const LEAN_ANSWERED_AFTER_SELL_OUT_SEC = 5;
const LEAN_JOIN_SERVER_P99_MS = 1_000;
const LEAN_STORE_CALLS_PER_PURCHASE = 30;
const LEAN_WORKFLOW_TASKS_PER_TICKET = 6;

/** Below this share of the machine's CPUs, a report does not blame them. */
const CPU_BOUND = 0.9;

function cpuStops(r: DropReport): string | undefined {
  if (!r.crowdCpuPercent) return undefined;
  const used = cpuTotal(r.crowdCpuPercent);
  const capacity = coresOf(r) * 100;
  if (used < CPU_BOUND * capacity) return undefined;
  return `the machine's CPUs: while ${Math.round(r.fans / r.options.windowSec)} fans a second arrived, the stack and the load generator used ${used} % of its ${capacity} %, and joins queued for them`;
}

const ceilingStops =
  (targetSec: number) =>
  (r: DropReport): string | undefined => {
    const purchases = r.latencyMs.purchase.count;
    const probes = r.ceiling?.probesPerSec ?? 0;
    const needed = Math.ceil(purchases / targetSec);
    if (probes <= 0 || purchases === 0 || probes >= needed) return undefined;
    return `the machine's ceiling: this run's ${purchases} purchases in ${targetSec} s take ${needed} a second, and the ceiling probe ran ${probes} a second; purchases as light as the probe would still take ${Math.round(purchases / probes)} s`;
  };

function costStops(r: DropReport): string | undefined {
  const cost = r.costPerTicket;
  if (!cost) return undefined;
  const parts = Object.entries(cost.byType)
    .sort((a, b) => b[1].workflowTasks - a[1].workflowTasks)
    .map(([type, c]) => `${type} ${c.workflowTasks}`);
  return `the workflow tasks per ticket by workflow: ${parts.join(', ')}`;
}

function pollStops(r: DropReport): string | undefined {
  if (r.sellOutSeconds === null || r.drainSeconds === null) return undefined;
  const gap = round(r.drainSeconds - r.sellOutSeconds);
  const pollsPerSec = Math.round(r.latencyMs.poll.count / r.drainSeconds);
  const told = r.finals['sold-out'] ?? 0;
  const spreadSec = round(Math.max(SALE_END_MIN_SPREAD_MS, (told / SALE_END_POLLS_PER_SEC) * 1_000) / 1000);
  return `sold out ${r.sellOutSeconds} s after opening, and the last fan heard of it ${gap} s later: ${told} fans learnt of the sell-out by polling, and the poll rule spreads their polls at the expected end over ${spreadSec} s to keep them within ${SALE_END_POLLS_PER_SEC} a second (telling them all within ${LEAN_ANSWERED_AFTER_SELL_OUT_SEC} s would take ${Math.round(told / LEAN_ANSWERED_AFTER_SELL_OUT_SEC)} polls a second; the crowd polled ${pollsPerSec} times a second on average; a fan polls every ${MAX_POLL_AFTER_MS / 1000} s at most, and up to ${SALE_END_MAX_WAIT_MS / 1000} s apart when it could only get in if the sale stalled)`;
}

/** What "calls in flight" means on the report's server: one SQLite connection, or a database's pools. */
function storeKind(r: DropReport): string {
  const store = r.temporalStore;
  if (!store || store.persistence === 'sqlite')
    return 'the dev server has one SQLite connection: above 1, calls wait for it';
  return `${store.persistence} with ${store.historyShards} history shards: calls run on pooled connections, and wait for the CPUs when they are full`;
}

function storeStops(r: DropReport): string | undefined {
  const drop = r.store;
  const probe = r.ceiling?.store;
  if (drop?.msPerUnit === undefined || probe?.msPerUnit === undefined) return undefined;
  if (drop.inFlight < 1 || probe.inFlight < 1 || drop.msPerUnit <= probe.msPerUnit) return undefined;
  return `the Temporal store, busy in both: ${drop.inFlight} calls in flight on average in the drop and ${probe.inFlight} in the probe (${storeKind(r)}); a purchase took ${drop.msPerUnit} ms of its time and a probe ${probe.msPerUnit} ms (where: the store table above)`;
}

/**
 * What the store calls per purchase come to at the fixed reference's cost per workflow task: the floor
 * this run's shape sets, however lean each task is.
 */
function storeCallsStops(r: DropReport): string | undefined {
  const reference = r.reference?.store;
  const cost = r.costPerTicket;
  const purchases = r.latencyMs.purchase.count;
  if (!reference || !cost || !r.reference?.workflowTasksPerProbe || purchases === 0 || r.sold === 0) {
    return undefined;
  }
  const perTask = reference.callsPerUnit / r.reference.workflowTasksPerProbe;
  const tasksPerPurchase = (cost.workflowTasks * r.sold) / purchases;
  return `the store's cost of a workflow task: the fixed reference (${r.reference.workflowTasksPerProbe} workflow tasks, one activity, one local activity) took ${reference.callsPerUnit} store calls, ${round(perTask)} a task; this run's ${round(tasksPerPurchase)} workflow tasks per purchase (all workflows, ${purchases} purchases for ${r.sold} tickets) at that cost come to ${Math.round(perTask * tasksPerPurchase)} calls, and ${LEAN_STORE_CALLS_PER_PURCHASE} calls leave room for ${round(LEAN_STORE_CALLS_PER_PURCHASE / perTask)} tasks`;
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
    stoppedBy: ceilingStops(SELL_OUT_TARGET_SEC),
  },
  {
    target: `sold out ≤ ${LEAN_SELL_OUT_SEC} s after opening`,
    met: (r) => r.sellOutSeconds !== null && r.sellOutSeconds <= LEAN_SELL_OUT_SEC,
    field: 'sellOutSeconds',
    stoppedBy: ceilingStops(LEAN_SELL_OUT_SEC),
  },
  {
    target: `every fan answered ≤ ${LEAN_ANSWERED_AFTER_SELL_OUT_SEC} s after the sell-out`,
    met: (r) =>
      r.drainSeconds !== null &&
      r.sellOutSeconds !== null &&
      r.drainSeconds - r.sellOutSeconds <= LEAN_ANSWERED_AFTER_SELL_OUT_SEC,
    field: 'drainSeconds - sellOutSeconds',
    stoppedBy: pollStops,
  },
  {
    target: `join p99 ≤ ${LEAN_JOIN_SERVER_P99_MS / 1000} s at the server (sent → answered)`,
    met: (r) => r.latencyMs.joinServer !== undefined && r.latencyMs.joinServer.p99 <= LEAN_JOIN_SERVER_P99_MS,
    field: 'latencyMs.joinServer.p99',
    stoppedBy: cpuStops,
  },
  {
    target: `Temporal store calls per purchase ≤ ${LEAN_STORE_CALLS_PER_PURCHASE}`,
    met: (r) => r.store?.callsPerUnit !== undefined && r.store.callsPerUnit <= LEAN_STORE_CALLS_PER_PURCHASE,
    field: 'store.callsPerUnit',
    stoppedBy: storeCallsStops,
  },
  {
    target: `workflow tasks per ticket ≤ ${LEAN_WORKFLOW_TASKS_PER_TICKET}`,
    met: (r) =>
      r.costPerTicket !== undefined && r.costPerTicket.workflowTasks <= LEAN_WORKFLOW_TASKS_PER_TICKET,
    field: 'costPerTicket.workflowTasks',
    stoppedBy: costStops,
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
