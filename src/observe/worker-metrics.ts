/**
 * TicketDrop's own counters in the worker, on the Temporal SDK's metric meter: they are exported with the
 * SDK's runtime telemetry (task latencies, slots, sticky cache) on the worker's Prometheus endpoint
 * (TICKETDROP_WORKER_METRICS_ADDRESS). Workflows count their own outcomes with the workflow meter (replay
 * records nothing); these are what activities and the cache keeper count.
 */
import { noopMetricMeter, type MetricCounter, type MetricMeter } from '@temporalio/common';

export interface WorkerMetrics {
  /** Seat holds sent, by `outcome`: held, or the refusal's code (SEAT_TAKEN, HOLD_LATE, …). */
  holds: MetricCounter;
  /** Seat releases sent, by `kind`: release (a compensation), tombstone (a hold that may be on its way). */
  releases: MetricCounter;
  /** Cache rebuilds, by `reason`: start (no epoch yet), lost (Redis lost the cache). */
  cacheRebuilds: MetricCounter;
}

export function workerMetrics(meter: MetricMeter): WorkerMetrics {
  return {
    holds: meter.createCounter('ticketdrop_seat_holds', 'holds', 'Seat holds sent, by outcome'),
    releases: meter.createCounter('ticketdrop_seat_releases', 'releases', 'Seat releases sent, by kind'),
    cacheRebuilds: meter.createCounter('ticketdrop_cache_rebuilds', 'rebuilds', 'Cache rebuilds, by reason'),
  };
}

/** Counters that count nothing: for activities built without a meter (unit tests, tools). */
export const NO_METRICS: WorkerMetrics = workerMetrics(noopMetricMeter);
