/**
 * The live dashboard watched during a drop (`npm run drop -- --dashboard`): the event's dashboard open in
 * headless Chromium with `?measure`, so the page keeps, for every seat change it paints, the time from
 * the change in Redis (the `t` the projection's Lua script stamps with Redis's clock) to the end of the
 * animation frame that changed the cell's colour (performance.timeOrigin + performance.now(); the same
 * machine's clock). Optionally a screenshot once a share of the seats is sold.
 */
import type { Page } from 'playwright-core';
import type { HeadlessChromium } from '../../tools/dev/browser';
import { percentile, round1 } from '../local-stack';

export interface DashboardFigures {
  /** Seat changes the page painted (and measured). */
  changes: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The page's seat counters equal the API's summary at the end. */
  countersMatch: boolean;
}

export interface DashboardWatch {
  stop(): Promise<DashboardFigures>;
}

const COLLECT_EVERY_MS = 2_000;

// The page's globals, inside page.evaluate (the project's TypeScript has no DOM library).
declare const window: { ticketdropLatencies: () => number[] };
declare const document: {
  querySelectorAll(selector: string): { dataset: Record<string, string>; textContent: string | null }[];
};

async function shownCounters(page: Page): Promise<Record<string, number>> {
  return page.evaluate(() =>
    Object.fromEntries(
      [...document.querySelectorAll('[data-counter]')].map((el) => [
        el.dataset.counter,
        Number((el.textContent ?? '').replace(/,/g, '')),
      ]),
    ),
  );
}

export async function watchDashboard(
  chromium: HeadlessChromium,
  options: {
    api: string;
    eventId: string;
    seats: number;
    screenshot?: { path: string; atSoldShare: number };
  },
): Promise<DashboardWatch> {
  const page = await chromium.context.newPage();
  await page.setViewportSize({ width: 1280, height: 1000 });
  await page.goto(`${options.api}/events/${options.eventId}/dashboard?measure`);
  await page.locator('#connection[data-state="live"]').waitFor({ timeout: 30_000 });
  const latencies: number[] = [];
  let screenshot = options.screenshot;
  let collecting = Promise.resolve();
  const collect = async (): Promise<void> => {
    latencies.push(...(await page.evaluate(() => window.ticketdropLatencies())));
    if (screenshot && (await shownCounters(page)).sold >= screenshot.atSoldShare * options.seats) {
      await page.screenshot({ path: screenshot.path });
      console.log(`  dashboard screenshot: ${screenshot.path}`);
      screenshot = undefined;
    }
  };
  const timer = setInterval(() => {
    collecting = collecting
      .then(collect)
      .catch((err: unknown) => console.error(`  dashboard: ${String(err)}`));
  }, COLLECT_EVERY_MS);

  return {
    async stop() {
      clearInterval(timer);
      await collecting;
      await collect();
      const summary = (await (await fetch(`${options.api}/events/${options.eventId}`)).json()) as Record<
        string,
        number
      >;
      const shown = await shownCounters(page);
      await page.close();
      return {
        changes: latencies.length,
        p50Ms: round1(percentile(latencies, 50) ?? 0),
        p99Ms: round1(percentile(latencies, 99) ?? 0),
        maxMs: round1(Math.max(0, ...latencies)),
        countersMatch: (['available', 'held', 'sold'] as const).every((k) => shown[k] === summary[k]),
      };
    },
  };
}

/** The BENCHMARKS.md section: medians over the runs, each run's figure in brackets. */
export function dashboardSection(
  runs: DashboardFigures[],
  context: { fans: number; seats: number; windowSec: number; machine: string },
): string {
  const median = (values: number[]): number =>
    [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];
  const row = (name: string, pick: (r: DashboardFigures) => number) =>
    `| ${name} | ${median(runs.map(pick))} | ${runs.map(pick).join(' / ')} |`;
  const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
  return [
    '## The live dashboard during a drop (`npm run bench:dashboard`)',
    '',
    `Run ${date} UTC on: ${context.machine}. ${runs.length} drops of ${context.fans} fans for ${context.seats} seats in a ${context.windowSec} s window against \`npm start\`'s stack, with the event's dashboard open in headless Chromium (the system's, 1280 × 1000) from before the first fan arrived until the drop ended (every fan answered, or the drop's deadline). Browser, load generator, API, worker, Temporal dev server and Redis share the machine's 2 cores. Medians, each run in brackets.`,
    '',
    "Latency: from a seat change in Redis (the `t` the projection's Lua script stamps with Redis's clock) to the end of the animation frame that changed the cell's colour (`performance.timeOrigin + performance.now()`, the same machine's clock), for every seat change the page painted.",
    '',
    '| figure | median | runs |',
    '| ------ | -----: | ---- |',
    row('seat changes painted', (r) => r.changes),
    row('Redis change → cell colour, p50 (ms)', (r) => r.p50Ms),
    row('Redis change → cell colour, p99 (ms)', (r) => r.p99Ms),
    row('Redis change → cell colour, max (ms)', (r) => r.maxMs),
    '',
    `Page counters equal to the API's at the end: ${runs.map((r) => (r.countersMatch ? 'yes' : 'no')).join(' / ')}.`,
  ].join('\n');
}
