/**
 * What the Temporal server's store did during a stretch of a drop, from the server's own Prometheus
 * metrics (`persistence_latency` and `visibility_persistence_latency`, every operation and service):
 * how many store calls each purchase (or each ceiling probe) cost, and how many calls were in flight on
 * average (their summed duration over the wall time). The dev server keeps its state in one SQLite file,
 * with a single connection per store, so a figure above 1 means calls queued for the store.
 */

export interface StoreCounters {
  calls: number;
  /** Summed duration of those calls, in seconds. */
  seconds: number;
  /** Epoch ms of the scrape. */
  at: number;
}

export interface StoreFigures {
  /** Store calls per unit of work (a purchase, or a probe workflow). */
  callsPerUnit: number;
  /** Summed call time over wall time: calls in flight, or waiting for the store, on average. */
  inFlight: number;
}

const SERIES = /^(visibility_)?persistence_latency_(sum|count)(\{[^}]*\})? (\S+)$/;

/** Sums the store's call counts and call durations over every operation, service and namespace. */
export function parseStoreMetrics(text: string, at = Date.now()): StoreCounters {
  const counters = { calls: 0, seconds: 0, at };
  for (const line of text.split('\n')) {
    const match = SERIES.exec(line);
    if (!match) continue;
    const value = Number(match[4]);
    if (!Number.isFinite(value)) continue;
    if (match[2] === 'count') counters.calls += value;
    else counters.seconds += value;
  }
  return counters;
}

/** The counters now, or undefined when the server has no metrics endpoint we know of. */
export async function readStore(metricsUrl: string | undefined): Promise<StoreCounters | undefined> {
  if (!metricsUrl) return undefined;
  try {
    const response = await fetch(metricsUrl, { signal: AbortSignal.timeout(5_000) });
    return response.ok ? parseStoreMetrics(await response.text()) : undefined;
  } catch {
    return undefined;
  }
}

export function storeFigures(
  before: StoreCounters | undefined,
  after: StoreCounters | undefined,
  units: number,
): StoreFigures | undefined {
  if (!before || !after || after.at <= before.at) return undefined;
  const wallSec = (after.at - before.at) / 1000;
  return {
    callsPerUnit: Math.round(((after.calls - before.calls) / Math.max(1, units)) * 10) / 10,
    inFlight: Math.round(((after.seconds - before.seconds) / wallSec) * 100) / 100,
  };
}
