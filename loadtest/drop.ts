/**
 * `npm run drop [-- --fans 50000 --seats 500 --window 10 --profile uniform|burst
 *   --payment-mix ok=0.8,declined=0.1,timeout=0.05,flaky=0.05 --abandon 0.05 --seed 1 --runs 1
 *   --api URL --max-active 100 --deadline 180 --fans-per-address 1 --no-ceiling --publish --dashboard --screenshot FILE]`
 *
 * Simulates a drop against a running TicketDrop (by default the one `npm start` runs), then audits it
 * from the sources of truth, measures the machine's ceiling, and writes a report (JSON, Markdown, SVG
 * chart) under `reports/`. `--publish` also writes the committed report `docs/DROP-REPORT.md` (medians of
 * the runs plus the last run in full); `--republish` renders it again from `docs/drop-report.json`.
 * `--dashboard` (`npm run bench:dashboard`) watches each drop on the event's live dashboard in headless
 * Chromium and writes the Redis-change-to-paint latency into docs/BENCHMARKS.md; `--screenshot FILE`
 * saves the dashboard of the first run once 40 % of the seats are sold.
 * Exits 1 when the audit finds a violation.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as prettier from 'prettier';
import { SingleBar } from 'cli-progress';
import { audit, auditAcknowledgedJoins, auditCaches, formatAudit } from '../tools/audit/auditor';
import { createRedis, waitForRedis } from '../src/cache/redis';
import { loadFanIdentityConfig, loadRedisConfig, loadTemporalConfig, loadWorkerConfig } from '../src/config';
import { issuerFor } from '../tools/dev/fan-issuer';
import { queueSnapshotQuery, queueWorkflowId } from '../src/entities/queue/contract';
import { launchChromium, type HeadlessChromium } from '../tools/dev/browser';
import { localEnv, readStackFile } from '../tools/dev/local-stack-file';
import { ROOT } from '../tools/dev/provision';
import { ProviderStore } from '../src/providers/store';
import { connectClient } from '../src/temporal/connection';
import { measureCeiling } from './drop/ceiling';
import { storeFigures } from './drop/store';
import {
  dashboardSection,
  watchDashboard,
  type DashboardFigures,
  type DashboardWatch,
} from './drop/dashboard';
import { writeBenchmarkSection } from './local-stack';
import { renderChart } from './drop/chart';
import { historyEvents } from './drop/history';
import { renderMarkdown } from './drop/markdown';
import { buildReport, type DropReport } from './drop/report';
import { LOAD_GENERATOR, watchProcesses } from './drop/sampling';
import { targetsMet } from './drop/targets';
import { acknowledgedJoins, parsePaymentMix, runDrop, type DropOptions } from './drop/simulator';
import { cacheConverged, parseChaosPlan, runChaos, stackTargets, type FaultEvent } from './drop/chaos';
import { watchMetrics } from './drop/metrics-timeline';
import { Knobs } from '../src/providers/knobs';

const CEILING_SECONDS = 15;

function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}`;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      fans: { type: 'string', default: '50000' },
      seats: { type: 'string', default: '500' },
      window: { type: 'string', default: '10' },
      api: { type: 'string' },
      profile: { type: 'string', default: 'uniform' },
      'payment-mix': { type: 'string', default: 'ok=0.8,declined=0.1,timeout=0.05,flaky=0.05' },
      abandon: { type: 'string', default: '0.05' },
      seed: { type: 'string', default: '1' },
      runs: { type: 'string', default: '1' },
      'max-active': { type: 'string', default: '100' },
      deadline: { type: 'string', default: '180' },
      'fans-per-address': { type: 'string', default: '1' },
      'no-ceiling': { type: 'boolean', default: false },
      publish: { type: 'boolean', default: false },
      republish: { type: 'boolean', default: false },
      dashboard: { type: 'boolean', default: false },
      screenshot: { type: 'string' },
      chaos: { type: 'string' },
    },
  });
  if (values.republish) {
    // Renders docs/DROP-REPORT.md again from the published runs (after a change to the report's layout).
    const published = JSON.parse(
      readFileSync(path.join(ROOT, 'docs', 'drop-report.json'), 'utf8'),
    ) as DropReport[];
    for (const r of published) if (r.ceiling) r.ceiling.fraction = Math.round(r.ceiling.fraction * 100) / 100;
    await publish(published);
    return 0;
  }
  if (values.profile !== 'uniform' && values.profile !== 'burst')
    throw new Error('--profile is uniform or burst');
  const env = localEnv();
  const stack = readStackFile();
  const api = values.api ?? env.TICKETDROP_API_URL ?? 'http://127.0.0.1:3000';
  const adminToken = env.TICKETDROP_ADMIN_TOKEN;
  if (!adminToken) throw new Error('no admin token: run `npm start` first, or set TICKETDROP_ADMIN_TOKEN');
  const fanIssuer = issuerFor(loadFanIdentityConfig(env));
  const worker = loadWorkerConfig(env);
  const temporal = loadTemporalConfig(env);
  const client = await connectClient(temporal);
  // The store figures need the server's metrics: `npm start`'s dev server publishes them.
  const metricsUrl =
    env.TICKETDROP_TEMPORAL_METRICS_URL ??
    (temporal.address === stack.temporalAddress ? stack.temporalMetricsUrl : undefined);
  const redis = createRedis(loadRedisConfig(env));
  const store = new ProviderStore(worker.providersDb);
  const chaosPlan = values.chaos ? parseChaosPlan(values.chaos) : [];
  const chaosTargets = stackTargets(redis, new Knobs(store), temporal.taskQueue);
  const reportsDir = path.join(ROOT, 'reports');
  mkdirSync(reportsDir, { recursive: true });
  const reports: DropReport[] = [];
  const dashboardRuns: DashboardFigures[] = [];
  let chromium: HeadlessChromium | undefined;
  let ok = true;
  try {
    await waitForRedis(redis);
    if (values.dashboard) chromium = await launchChromium();
    for (let run = 1; run <= Number(values.runs); run++) {
      const options: DropOptions = {
        api,
        adminToken,
        fanIssuer,
        fans: Number(values.fans),
        seats: Number(values.seats),
        windowSec: Number(values.window),
        profile: values.profile,
        paymentMix: parsePaymentMix(values['payment-mix']),
        abandon: Number(values.abandon),
        seed: Number(values.seed) + run - 1,
        maxActivePurchases: Number(values['max-active']),
        fansPerAddress: Number(values['fans-per-address']),
        eventId: `drop-${Date.now().toString(36)}`,
        deadlineSec: Number(values.deadline),
      };
      console.log(
        `run ${run}/${values.runs}: ${options.fans} fans, ${options.seats} seats, event ${options.eventId} at ${api}`,
      );
      const bar = new SingleBar({
        format:
          '  {bar} {elapsed}s | joined {joined}/{fans} | admitted {admitted} | sold {sold}/{seats} | answered {answered}/{fans}',
        hideCursor: true,
      });
      bar.start(options.fans, 0, {
        joined: 0,
        admitted: 0,
        sold: 0,
        answered: 0,
        fans: options.fans,
        seats: options.seats,
        elapsed: 0,
      });
      const pids = api === stack.apiUrl ? { ...stack.pids } : {};
      const stopWatching = watchProcesses({ ...pids, [LOAD_GENERATOR]: process.pid });
      let dashboard: DashboardWatch | undefined;
      const browser = chromium;
      let chaos: Promise<FaultEvent[]> | undefined;
      let openedAt: number | undefined;
      // A chaos drop's timeline, from the stack's own metrics (npm start's endpoints).
      const metricsWatch =
        chaosPlan.length > 0 && api === stack.apiUrl
          ? watchMetrics(
              {
                api: `${api}/metrics`,
                worker: stack.workerMetricsUrl,
                supervisor: stack.supervisorMetricsUrl,
              },
              () => openedAt,
            )
          : undefined;
      const result = await runDrop({
        ...options,
        onProgress: (p) => bar.update(p.answered, { ...p, elapsed: Math.round(p.elapsedSec) }),
        metricsUrl,
        beforeCrowd: async () => {
          if (browser) {
            dashboard = await watchDashboard(browser, {
              api,
              eventId: options.eventId,
              seats: options.seats,
              screenshot:
                run === 1 && values.screenshot ? { path: values.screenshot, atSoldShare: 0.4 } : undefined,
            });
          }
          // The faults count from the crowd's release, as the fans' arrivals do.
          openedAt = Date.now();
          if (chaosPlan.length > 0)
            chaos = runChaos(
              chaosPlan,
              chaosTargets,
              openedAt,
              (line) => console.log(`\n  ${line}`),
              undefined,
              options.eventId,
            );
        },
      });
      const faults = await chaos;
      const metricsTimeline = metricsWatch?.stop();
      const usage = stopWatching({
        from: result.openedAt,
        to: result.openedAt + options.windowSec * 1000,
      });
      bar.stop();
      if (dashboard) {
        const figures = await dashboard.stop();
        dashboardRuns.push(figures);
        console.log(
          `  dashboard: ${figures.changes} seat changes painted, Redis → cell colour p50 ${figures.p50Ms} ms, p99 ${figures.p99Ms} ms, max ${figures.maxMs} ms; counters match the API: ${figures.countersMatch}`,
        );
      }

      console.log('  auditing from the entities, the purchases and the ledger…');
      const report = await audit(
        {
          client,
          store,
          signingSecret: worker.signingSecret,
          caches: auditCaches(redis),
        },
        options.eventId,
      );
      // What only the crowd knows: the places its joins were answered.
      report.invariants.push(
        await auditAcknowledgedJoins(client, options.eventId, acknowledgedJoins(result)),
      );
      if (faults) report.invariants.push(cacheConverged(faults));
      report.ok = report.invariants.every((i) => i.ok);
      console.log(formatAudit(report));
      ok &&= report.ok;
      const queue = await client.workflow
        .getHandle(queueWorkflowId(options.eventId))
        .query(queueSnapshotQuery);
      const history = await historyEvents(client, options.eventId);
      // The probe costs what one purchase cost, its share of the seats, queue and confirmations included.
      const purchases = Math.max(1, report.figures.purchases);
      const perPurchase = {
        events: history.events / purchases,
        workflowTasks: history.workflowTasks / purchases,
      };
      let ceilings;
      if (!values['no-ceiling']) {
        console.log(`  measuring the ceiling (2 × ${CEILING_SECONDS} s of minimal workflows)…`);
        ceilings = await measureCeiling(
          client,
          temporal.taskQueue,
          perPurchase,
          options.maxActivePurchases,
          CEILING_SECONDS,
          metricsUrl,
        );
      }
      const dropReport = buildReport({
        options,
        result,
        audit: report,
        machine: machine(),
        usage,
        historyEvents: history.events,
        byType: history.byType,
        timeline: history.timeline,
        soldOutAt: queue.soldOutAt,
        ceiling: ceilings?.sameShape,
        reference: ceilings?.reference,
        store: storeFigures(result.store.before, result.store.after, report.figures.purchases),
        temporalStore: await client.workflowService
          .getClusterInfo({})
          .then((info) => ({
            persistence: info.persistenceStore ?? 'unknown',
            historyShards: info.historyShardCount ?? 0,
          }))
          .catch(() => undefined),
        ...(faults && { chaos: { plan: values.chaos!, faults } }),
        metricsTimeline,
      });
      reports.push(dropReport);
      const base = path.join(reportsDir, options.eventId);
      writeFileSync(`${base}.json`, JSON.stringify(dropReport, null, 2));
      writeFileSync(`${base}.svg`, await renderChart(dropReport.samples, `Drop ${options.eventId}`));
      writeFileSync(`${base}.md`, renderMarkdown(dropReport, `${options.eventId}.svg`));
      console.log(`  report: ${base}.md (.json, .svg)`);
      for (const t of targetsMet(dropReport)) {
        console.log(`  ${t.met ? 'met   ' : 'missed'} ${t.target}`);
        if (t.stoppedBy) console.log(`         what stops it: ${t.stoppedBy}`);
      }
    }
    if (values.publish) await publish(reports);
    if (dashboardRuns.length > 0) {
      const { windowSec } = reports[0].options;
      writeBenchmarkSection(
        path.join(ROOT, 'docs', 'BENCHMARKS.md'),
        'dashboard',
        dashboardSection(dashboardRuns, {
          fans: Number(values.fans),
          seats: Number(values.seats),
          windowSec,
          machine: machine(),
        }),
      );
      console.log('wrote the dashboard figures to docs/BENCHMARKS.md');
    }
  } finally {
    await chromium?.close();
    store.close();
    redis.disconnect();
    await client.connection.close();
  }
  return ok ? 0 : 1;
}

/** docs/DROP-REPORT.md: the medians over the runs, then the last run in full, with its chart. */
async function publish(reports: DropReport[]): Promise<void> {
  const last = reports[reports.length - 1];
  // A run that never got there (null) counts as infinitely slow, so it cannot hide behind the others.
  const median = (pick: (r: DropReport) => number | null | undefined): string => {
    const values = reports
      .map(pick)
      .map((v) => (v === null ? Infinity : v))
      .filter((v): v is number => typeof v === 'number')
      .sort((a, b) => a - b);
    if (values.length === 0) return '–';
    const m = values[Math.floor((values.length - 1) / 2)];
    return m === Infinity ? 'not reached' : String(m);
  };
  const each = (pick: (r: DropReport) => number | null | undefined) =>
    reports.map((r) => pick(r) ?? '–').join(' / ');
  const rows: [string, (r: DropReport) => number | null | undefined][] = [
    ['sold', (r) => r.sold],
    ['oversold', (r) => r.oversold],
    ['doubleSold', (r) => r.doubleSold],
    ['chargedWithoutTicket', (r) => r.chargedWithoutTicket],
    ['strandedHolds', (r) => r.strandedHolds],
    ['fans answered', (r) => r.fansAnswered],
    ['admission-order inversions', (r) => r.admissionInversions],
    ['HTTP 5xx', (r) => r.http5xx],
    ['requests without an HTTP answer', (r) => r.networkErrors],
    ['sold out after opening (s)', (r) => r.sellOutSeconds],
    ['every fan answered after opening (s)', (r) => r.drainSeconds],
    [
      '… after the sell-out (s)',
      (r) =>
        r.drainSeconds !== null && r.sellOutSeconds !== null
          ? Math.round((r.drainSeconds - r.sellOutSeconds) * 10) / 10
          : null,
    ],
    ['join p50 (ms), from the scheduled arrival', (r) => r.latencyMs.join.p50],
    ['join p99 (ms), from the scheduled arrival', (r) => r.latencyMs.join.p99],
    ['join p99 (ms), the server: sent → answered', (r) => r.latencyMs.joinServer?.p99],
    ["join p99 (ms), the generator's delay: scheduled → sent", (r) => r.latencyMs.joinDelay?.p99],
    ['crowd sent within (s)', (r) => r.crowdSentSeconds],
    ['poll p99 (ms)', (r) => r.latencyMs.poll.p99],
    ['purchase p50 (ms)', (r) => r.latencyMs.purchase.p50],
    ['purchase p99 (ms)', (r) => r.latencyMs.purchase.p99],
    ['purchases per second', (r) => r.purchasesPerSec],
    ['ceiling (minimal workflows per second)', (r) => r.ceiling?.probesPerSec],
    ['purchases/s ÷ ceiling', (r) => r.ceiling?.fraction],
    ['fixed reference (minimal workflows per second)', (r) => r.reference?.probesPerSec],
    ['purchases/s ÷ fixed reference', (r) => r.reference?.fraction],
    ['history events per ticket sold', (r) => r.historyEventsPerTicket],
    ['workflow tasks per ticket sold', (r) => r.costPerTicket?.workflowTasks],
    ['new workflow runs per ticket sold', (r) => r.costPerTicket?.newRuns],
    ['Temporal store calls per purchase', (r) => r.store?.callsPerUnit],
    ['… in flight on average', (r) => r.store?.inFlight],
    ['… per minimal workflow (ceiling)', (r) => r.ceiling?.store?.callsPerUnit],
    ['Temporal store time per purchase (ms)', (r) => r.store?.msPerUnit],
    ['… per minimal workflow (ceiling)', (r) => r.ceiling?.store?.msPerUnit],
    ['whole stack peak RSS (MiB)', (r) => r.wholeStackPeakRssMiB],
  ];
  const chart = 'img/drop-chart.svg';
  mkdirSync(path.join(ROOT, 'docs', 'img'), { recursive: true });
  writeFileSync(path.join(ROOT, 'docs', chart), await renderChart(last.samples, `Drop ${last.eventId}`));
  const summary = [
    '# The drop: latest published run',
    '',
    `\`npm run drop -- --runs ${reports.length} --publish\`: ${reports.length} runs of ${last.fans} fans for ${last.seats} seats in a ${last.options.windowSec} s window against \`npm start\`'s stack, everything on one machine (${last.machine}), load generator included. Medians first (each run in brackets), then the last run in full. How to read it: README, "The drop". Where the time goes, and the ceiling that stops the missed targets: [BENCHMARKS.md](BENCHMARKS.md#the-drop-where-the-time-goes); what was tried for the lean targets, kept or not, with its figures: [the lean purchase](BENCHMARKS.md#the-lean-purchase-first-steps-fewer-tasks-per-ticket-polls-that-know-the-sales-end).`,
    '',
    '| figure | median | runs |',
    '|---|---:|---|',
    ...rows.map(([name, pick]) => `| ${name} | ${median(pick)} | ${each(pick)} |`),
    '',
    '---',
    '',
    renderMarkdown(last, chart).replace(/^# /, '## Last run: ').replace(/\n## /g, '\n### '),
  ].join('\n');
  // Written as the repository's formatter would (the lint checks docs/ too).
  const writeFormatted = async (file: string, text: string) => {
    const options = { ...(await prettier.resolveConfig(file)), filepath: file };
    writeFileSync(file, await prettier.format(text, options));
  };
  await writeFormatted(path.join(ROOT, 'docs', 'DROP-REPORT.md'), summary);
  await writeFormatted(path.join(ROOT, 'docs', 'drop-report.json'), JSON.stringify(reports, null, 2));
  console.log('published docs/DROP-REPORT.md and docs/img/drop-chart.svg');
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`drop failed: ${(err as Error).message}`);
    process.exit(2);
  },
);
