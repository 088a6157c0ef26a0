/**
 * A chaos drop's timeline, drawn from the stack's own Prometheus metrics (the ones an operator watches on
 * drop night: docs/OPERATIONS.md, "Metrics"): every second the drop scrapes the API's, the worker's and the
 * supervisor's endpoints and adds up how much each counter grew, in buckets of a few seconds. A process that
 * restarted starts its counters from zero again: a counter that went down counts from zero.
 */

/** One line of the timeline: a counter (summed over the label sets that match) on one endpoint. */
export interface TimelineSeries {
  label: string;
  endpoint: 'api' | 'worker' | 'supervisor';
  metric: string;
  /** Label values a sample must have (any of the values, for a list). */
  where?: Record<string, string | string[]>;
}

export const TIMELINE_SERIES: TimelineSeries[] = [
  {
    label: 'completed',
    endpoint: 'worker',
    metric: 'ticketdrop_purchases_ended_total',
    where: { outcome: 'completed' },
  },
  {
    label: 'failed',
    endpoint: 'worker',
    metric: 'ticketdrop_purchases_ended_total',
    where: { outcome: 'failed' },
  },
  { label: '503s', endpoint: 'api', metric: 'ticketdrop_http_problems_total', where: { status: '503' } },
  {
    label: 'holds late or unanswered',
    endpoint: 'worker',
    metric: 'ticketdrop_seat_holds_total',
    where: { outcome: ['HOLD_LATE', 'no answer'] },
  },
  { label: 'compensations', endpoint: 'worker', metric: 'ticketdrop_compensations_total' },
  {
    label: 'cache rebuilds',
    endpoint: 'worker',
    metric: 'ticketdrop_cache_rebuilds_total',
    where: { reason: 'lost' },
  },
  { label: 'restarts', endpoint: 'supervisor', metric: 'ticketdrop_supervisor_restarts_total' },
];

export interface MetricsTimeline {
  bucketSec: number;
  labels: string[];
  /** Per bucket: its start (s after opening) and how much each series grew in it (null: not scraped). */
  rows: { t: number; values: (number | null)[] }[];
}

/** The sum of a counter's samples in a Prometheus text exposition whose labels match. */
export function sumSamples(text: string, series: Pick<TimelineSeries, 'metric' | 'where'>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(series.metric)) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== series.metric) continue;
    const labels = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    const wanted = Object.entries(series.where ?? {}).every(([name, value]) =>
      Array.isArray(value) ? value.includes(labels[name]) : labels[name] === value,
    );
    if (wanted) sum += Number(match[3]);
  }
  return sum;
}

/**
 * Scrapes every second from now until `stop()`; `stop()` returns the timeline from `openedAt` on. An
 * endpoint that does not answer (its process is down) leaves its series out of that scrape.
 */
export function watchMetrics(
  endpoints: Partial<Record<TimelineSeries['endpoint'], string>>,
  openedAt: () => number | undefined,
  options: { bucketSec?: number; everyMs?: number; series?: TimelineSeries[] } = {},
): { stop: () => MetricsTimeline } {
  const { bucketSec = 5, everyMs = 1_000, series = TIMELINE_SERIES } = options;
  const last: (number | undefined)[] = series.map(() => undefined);
  const buckets = new Map<number, (number | null)[]>();
  let scraping: Promise<void> | undefined;
  const scrape = async (): Promise<void> => {
    const texts = await Promise.all(
      Object.entries(endpoints).map(async ([name, url]) => {
        try {
          const response = await fetch(url, { signal: AbortSignal.timeout(800) });
          return [name, response.ok ? await response.text() : undefined] as const;
        } catch {
          return [name, undefined] as const;
        }
      }),
    );
    const byEndpoint = Object.fromEntries(texts);
    const opened = openedAt();
    const bucket = opened === undefined ? undefined : Math.floor((Date.now() - opened) / 1000 / bucketSec);
    series.forEach((s, i) => {
      const text = byEndpoint[s.endpoint];
      if (text === undefined) return;
      const value = sumSamples(text, s);
      const before = last[i];
      last[i] = value;
      if (before === undefined || bucket === undefined || bucket < 0) return;
      const grew = value >= before ? value - before : value; // restarted: counts from zero
      const row = buckets.get(bucket) ?? series.map(() => null);
      row[i] = (row[i] ?? 0) + grew;
      buckets.set(bucket, row);
    });
  };
  const timer = setInterval(() => {
    scraping ??= scrape().finally(() => (scraping = undefined));
  }, everyMs);
  void scrape();
  return {
    stop: () => {
      clearInterval(timer);
      const rows = [...buckets.entries()]
        .sort(([a], [b]) => a - b)
        .map(([bucket, values]) => ({ t: bucket * bucketSec, values }));
      return { bucketSec, labels: series.map((s) => s.label), rows };
    },
  };
}
