/**
 * What the Temporal server's store did during a stretch of a drop, from the server's own Prometheus
 * metrics (`persistence_latency` and `visibility_persistence_latency`, every operation and service):
 * how many store calls each purchase (or each ceiling probe) cost, and how many calls were in flight on
 * average (their summed duration over the wall time). The dev server keeps its state in one SQLite file,
 * and its SQLite plugin opens a single connection per file for the whole server (history, matching and
 * visibility alike), so a figure above 1 means calls queued for the store.
 *
 * The calls are also split by kind (the operations that cost the store most in a drop's profile), so a
 * report can say where a purchase's store time goes that a probe's does not.
 */

/**
 * The kinds of store call a drop's profile singled out, by the server's operation names: visibility
 * operations in `visibility_persistence_latency`, the others in `persistence_latency`.
 */
export const STORE_KINDS = {
  /** A workflow's state read back from the store: a new run's first use, or after the cache let it go. */
  workflowLoads: {
    label: 'loads of a workflow not in the server’s cache',
    operations: ['GetWorkflowExecution'],
  },
  visibilityWrites: {
    label: 'visibility records written (start, close, search attributes)',
    visibility: true,
    operations: [
      'RecordWorkflowExecutionStarted',
      'RecordWorkflowExecutionClosed',
      'UpsertWorkflowExecution',
    ],
  },
  workflowWrites: {
    label: 'workflow writes (new runs and their updates)',
    operations: ['CreateWorkflowExecution', 'UpdateWorkflowExecution'],
  },
  currentRunLookups: {
    label: 'current-run lookups (messages by workflow id)',
    operations: ['GetCurrentExecution'],
  },
  historyReads: { label: 'history reads', operations: ['ReadHistoryBranch'] },
  taskQueues: {
    label: 'task queue spills (tasks no poller took at once)',
    operations: ['CreateTasks', 'GetTasks', 'CompleteTasksLessThan'],
  },
} as const;

export type StoreKind = keyof typeof STORE_KINDS;
/** "visibility:Op" or "Op", as the two metric families name their operations. */
const seriesKey = (visibility: boolean, operation: string): string =>
  visibility ? `visibility:${operation}` : operation;
const KIND_OF = new Map<string, StoreKind>(
  Object.entries(STORE_KINDS).flatMap(([kind, spec]) =>
    spec.operations.map((op): [string, StoreKind] => [
      seriesKey('visibility' in spec, op),
      kind as StoreKind,
    ]),
  ),
);

export interface CallCount {
  calls: number;
  /** Summed duration of those calls, in seconds. */
  seconds: number;
}

export interface StoreCounters extends CallCount {
  /** The calls of each singled-out kind (the rest are only in the totals). */
  kinds: Record<StoreKind, CallCount>;
  /** Epoch ms of the scrape. */
  at: number;
}

export interface KindFigures {
  callsPerUnit: number;
  /** Summed call time per unit, in ms (waiting for the store's connection included). */
  msPerUnit: number;
}

export interface StoreFigures {
  /** Store calls per unit of work (a purchase, or a probe workflow). */
  callsPerUnit: number;
  /** Summed call time over wall time: calls in flight, or waiting for the store, on average. */
  inFlight: number;
  /** Summed call time per unit, in ms (older reports lack it). */
  msPerUnit?: number;
  /** The singled-out kinds, per unit (older reports lack them). */
  kinds?: Record<StoreKind, KindFigures>;
}

const SERIES = /^(visibility_)?persistence_latency_(sum|count)(\{[^}]*\})? (\S+)$/;
const OPERATION = /[{,]operation="([^"]*)"/;

const zeroKinds = (): Record<StoreKind, CallCount> =>
  Object.fromEntries(Object.keys(STORE_KINDS).map((kind) => [kind, { calls: 0, seconds: 0 }])) as Record<
    StoreKind,
    CallCount
  >;

/** Sums the store's call counts and call durations over every operation, service and namespace. */
export function parseStoreMetrics(text: string, at = Date.now()): StoreCounters {
  const counters: StoreCounters = { calls: 0, seconds: 0, kinds: zeroKinds(), at };
  for (const line of text.split('\n')) {
    const match = SERIES.exec(line);
    if (!match) continue;
    const value = Number(match[4]);
    if (!Number.isFinite(value)) continue;
    const operation = OPERATION.exec(match[3] ?? '')?.[1];
    const kind =
      operation === undefined ? undefined : KIND_OF.get(seriesKey(match[1] !== undefined, operation));
    const field = match[2] === 'count' ? 'calls' : 'seconds';
    counters[field] += value;
    if (kind) counters.kinds[kind][field] += value;
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

const perUnit = (before: CallCount, after: CallCount, units: number): KindFigures => ({
  callsPerUnit: Math.round(((after.calls - before.calls) / units) * 10) / 10,
  msPerUnit: Math.round(((after.seconds - before.seconds) * 1000) / units),
});

export function storeFigures(
  before: StoreCounters | undefined,
  after: StoreCounters | undefined,
  units: number,
): StoreFigures | undefined {
  if (!before || !after || after.at <= before.at) return undefined;
  const wallSec = (after.at - before.at) / 1000;
  const n = Math.max(1, units);
  const kinds = Object.fromEntries(
    (Object.keys(STORE_KINDS) as StoreKind[]).map((kind) => [
      kind,
      perUnit(before.kinds[kind], after.kinds[kind], n),
    ]),
  ) as Record<StoreKind, KindFigures>;
  return {
    ...perUnit(before, after, n),
    inFlight: Math.round(((after.seconds - before.seconds) / wallSec) * 100) / 100,
    kinds,
  };
}
