/**
 * `npm run chaos-report [-- --fans 5000 --seats 100 --window 3 --repeat 2 --only <plan name,…>]`
 *
 * Runs chaos drops on `npm start`'s stack (each one `npm run drop -- --chaos <plan>`, the ceiling probe
 * off), one plan per fault kind plus combined ones, each `--repeat` times, and a drop without faults for
 * the cost comparison; then writes docs/CHAOS-REPORT.md: fault × invariant, recovery per fault (until
 * seats sold again, until the cache was whole), and what each fault cost (sell-out delay, failed
 * purchases by code, refunds). Every report it reads stays in reports/. `--resume` re-renders the last
 * drops (docs/chaos-report.json); `--resume --only <plan name,…>` runs those plans' rounds again in
 * place of their old drops. Each drop records the commit the stack ran.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as prettier from 'prettier';
import { ROOT } from '../tools/dev/provision';
import { metricsTimelineTable } from './drop/markdown';
import type { DropReport } from './drop/report';

/** The plans: a name, and the faults (seconds after the crowd is let go). */
export const CHAOS_PLANS: { name: string; plan?: string }[] = [
  { name: 'no fault' },
  { name: 'worker-kill', plan: 'worker-kill@5' },
  { name: 'worker-kill ×2', plan: 'worker-kill@4,worker-kill@20' },
  { name: 'api-kill', plan: 'api-kill@5' },
  { name: 'redis-restart', plan: 'redis-restart@5' },
  { name: 'redis-flush', plan: 'redis-flush@5' },
  { name: 'temporal-restart', plan: 'temporal-restart@8' },
  { name: 'payment-outage', plan: 'payment-outage@3:20' },
  { name: 'email-outage', plan: 'email-outage@3:30' },
  { name: 'sms-outage', plan: 'sms-outage@3:30' },
  { name: 'slow-store', plan: 'slow-store@5:30' },
  { name: 'several', plan: 'worker-kill@5,redis-flush@12,payment-outage@18:15,api-kill@25' },
];

/** `--big`: one drop at the mission's scale with several faults, after the rounds. */
export const BIG_DROP = {
  name: '50,000 fans, several faults',
  plan: 'worker-kill@15,redis-flush@40,payment-outage@60:20,slow-store@90:20,api-kill@130',
  fans: '50000',
  seats: '500',
  window: '10',
  /** The fans' patience: a healthy 50,000-fan drop sells out in about 140 s, faults add to it. */
  deadline: '600',
};

interface Run {
  name: string;
  plan?: string;
  report?: DropReport;
  /** The drop's exit: 0 clean, 1 an audit violation, anything else it did not finish. */
  exit: number | null;
  reportFile?: string;
  /** The commit the stack ran (`git rev-parse --short HEAD` when the drop ran). */
  commit?: string;
}

function headCommit(): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

function runDrop(args: string[]): Promise<{ exit: number | null; reportFile?: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'loadtest', 'drop.ts'), ...args],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      process.stdout.write(chunk);
    });
    child.once('exit', (exit) => {
      const match = /report: (\S+)\.md/.exec(out);
      resolve({ exit, reportFile: match ? `${match[1]}.json` : undefined });
    });
  });
}

const median = (xs: number[]): number | undefined => {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};
const sec = (ms: number | undefined): string => (ms === undefined ? '–' : (ms / 1000).toFixed(1));
/** Charges refunded, from the audit's charge invariant. */
const refunds = (r: DropReport): number | undefined =>
  r.audit.invariants.find((i) => i.counts.refunded !== undefined)?.counts.refunded;
const list = (xs: (number | undefined)[]): string =>
  xs.map((x) => (x === undefined ? '–' : String(x))).join(' / ');
/** A drop's 5xx answers by status: a 503 (with Retry-After) is the API shedding load by design. */
const fiveXx = (r: DropReport): string =>
  Object.entries(r.httpStatuses)
    .filter(([status]) => status.startsWith('5'))
    .map(([status, n]) => `${status}: ${n}`)
    .join(', ') || '0';

export function renderChaosReport(
  runs: Run[],
  options: { fans: number; seats: number; window: number },
): string {
  const done = runs.filter((r) => r.report);
  const invariantNames = [...new Set(done.flatMap((r) => r.report!.audit.invariants.map((i) => i.name)))];
  const names = [...new Set(runs.map((r) => r.name))];
  const baselineSec = median(
    runs.filter((r) => !r.plan && r.report?.sellOutSeconds != null).map((r) => r.report!.sellOutSeconds!),
  );
  const baseline = baselineSec === undefined ? undefined : Math.round(baselineSec * 10) / 10;
  const cell = (name: string, invariant: string): string => {
    // Only the drops whose audit has it (the chaos invariants are checked on chaos drops only).
    const of = done
      .filter((r) => r.name === name)
      .map((r) => r.report!.audit.invariants.find((i) => i.name === invariant))
      .filter((i) => i !== undefined);
    if (of.length === 0) return '–';
    const held = of.filter((i) => i.ok).length;
    return held === of.length ? `✅ ${held}/${of.length}` : `❌ ${held}/${of.length}`;
  };
  const lines = [
    '# Chaos drops',
    '',
    `\`npm run chaos-report\`: drops of ${options.fans} fans for ${options.seats} seats in a ${options.window} s window${runs.some((r) => r.name === BIG_DROP.name) ? ` and, with \`--big\`, one of ${BIG_DROP.fans} fans for ${BIG_DROP.seats} seats in ${BIG_DROP.window} s` : ''} on \`npm start\`'s stack, faults injected by \`npm run drop -- --chaos <plan>\` at seconds after the crowd was let go (docs/OPERATIONS.md, "Chaos drops"). ${done.length} drops on ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${new Date().toISOString().slice(0, 10)}.`,
    '',
    '## Fault × invariant (drops where it held / drops)',
    '',
    `| fault | plan | ${invariantNames.join(' | ')} | drop finished |`,
    `|---|---|${invariantNames.map(() => '---').join('|')}|---|`,
    ...names.map((name) => {
      const of = runs.filter((r) => r.name === name);
      const finished = of.filter((r) => r.report).length;
      return `| ${name} | ${of[0].plan ? `\`${of[0].plan}\`` : '–'} | ${invariantNames.map((i) => cell(name, i)).join(' | ')} | ${finished}/${of.length} |`;
    }),
    '',
    '## Recovery and cost per fault',
    '',
    "Sales again: from the fault (an outage: from its end) until the sampled seats sold grew again (– when sold out before it). Cache whole: until the worker had rebuilt the cache after a Redis fault (every open event of the stack); the drop's event: until that event was rebuilt (the keeper goes newest first). Sell-out delay: against the median drop without faults" +
      (baseline === undefined ? '.' : ` (${baseline} s).`) +
      ' 5xx answers: a 503 (with Retry-After) is how the API answers while Temporal or Redis does not, and the fans retry after it; any other 5xx would be a bug. Each run in brackets.',
    '',
    "| fault | sales again after (s) | cache whole after (s) | the drop's event whole after (s) | sold out after (s) | sell-out delay (s) | purchases | refunds | failed by code | 5xx answers, by status |",
    '|---|---|---|---|---|---|---|---|---|---|',
    ...names.map((name) => {
      const of = done.filter((r) => r.name === name).map((r) => r.report!);
      const faults = of.flatMap((r) => r.chaos?.faults ?? []);
      const again = faults.map((f) => f.salesAgainAfterMs).filter((x): x is number => x !== undefined);
      const cache = faults.map((f) => f.cacheWholeAfterMs).filter((x): x is number => x !== undefined);
      const own = faults.map((f) => f.eventWholeAfterMs).filter((x): x is number => x !== undefined);
      const soldOut = of.map((r) => r.sellOutSeconds ?? undefined);
      // Against the baseline drops' size only (the big drop has none of its own).
      const delay =
        baseline === undefined
          ? []
          : of.map((r) =>
              r.sellOutSeconds == null || r.fans !== options.fans
                ? undefined
                : Math.round((r.sellOutSeconds - baseline) * 10) / 10,
            );
      const failed = (r: DropReport) =>
        Object.entries(r.failuresByCode)
          .filter(([code]) => code !== 'SOLD_OUT')
          .map(([code, n]) => `${code} ${n}`)
          .join(', ') || '–';
      return `| ${name} | ${sec(median(again))} (${again.map((x) => sec(x)).join(' / ') || '–'}) | ${sec(median(cache))} (${cache.map((x) => sec(x)).join(' / ') || '–'}) | ${sec(median(own))} (${own.map((x) => sec(x)).join(' / ') || '–'}) | ${list(soldOut)} | ${list(delay)} | ${list(of.map((r) => r.latencyMs.purchase.count))} | ${list(of.map(refunds))} | ${of.map(failed).join(' / ')} | ${of.map(fiveXx).join(' / ')} |`;
    }),
    '',
    '## The drops',
    '',
    '| fault | drop | exit | sold | sold out (s) | every fan answered (s) | commit | report |',
    '|---|---|---:|---:|---:|---:|---|---|',
    ...runs.map(
      (r) =>
        `| ${r.name} | ${r.report?.eventId ?? '–'} | ${r.exit ?? 'killed'} | ${r.report?.sold ?? '–'} | ${r.report?.sellOutSeconds ?? '–'} | ${r.report?.drainSeconds ?? '–'} | ${r.commit ?? '–'} | ${r.reportFile ? path.relative(ROOT, r.reportFile) : '–'} |`,
    ),
    '',
    '## Each fault in the metrics',
    '',
    "The first drop of each fault, as an operator's dashboard saw it: the counters of the API, the worker and the supervisor from 5 s before the first fault until 30 s after the last one ended (each drop's report has its whole timeline).",
    '',
    ...names.flatMap((name) => {
      const first = done.find((r) => r.name === name && r.report!.chaos && r.report!.metricsTimeline);
      if (!first) return [];
      const { chaos, metricsTimeline } = first.report!;
      const faults = chaos!.faults;
      const from = Math.min(...faults.map((f) => f.atMs)) / 1000 - 5;
      const to = Math.max(...faults.map((f) => f.endMs ?? f.atMs)) / 1000 + 30;
      return metricsTimelineTable(metricsTimeline!, faults, {
        from,
        to,
        heading: `### ${name} (\`${first.plan}\`, ${first.report!.eventId})`,
      });
    }),
  ];
  return lines.join('\n');
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      fans: { type: 'string', default: '5000' },
      seats: { type: 'string', default: '100' },
      window: { type: 'string', default: '3' },
      repeat: { type: 'string', default: '2' },
      only: { type: 'string' },
      big: { type: 'boolean', default: false },
      // The drops of the last report (docs/chaos-report.json) instead of new rounds; with --only, new
      // rounds of those plans in place of their old drops; with --big, a new big drop in place of its old one.
      resume: { type: 'boolean', default: false },
    },
  });
  const only = values.only?.split(',').map((s) => s.trim());
  const plans = CHAOS_PLANS.filter((p) => !only || only.includes(p.name));
  const runs: Run[] = [];
  const replaced = new Set(values.resume ? (only ?? []) : []);
  if (values.resume) {
    const saved = JSON.parse(readFileSync(path.join(ROOT, 'docs', 'chaos-report.json'), 'utf8')) as Run[];
    for (const run of saved) {
      if (values.big && run.name === BIG_DROP.name) continue;
      const reportFile = run.reportFile && path.join(ROOT, run.reportFile);
      const report = reportFile ? (JSON.parse(readFileSync(reportFile, 'utf8')) as DropReport) : undefined;
      runs.push({ ...run, reportFile, report });
    }
  }
  const fresh: Run[] = [];
  const rounds = values.resume && replaced.size === 0 ? 0 : Number(values.repeat);
  for (let round = 0; round < rounds; round++) {
    for (const { name, plan } of plans) {
      console.log(`\nchaos-report: ${name}${plan ? ` (${plan})` : ''}, round ${round + 1}/${values.repeat}`);
      const args = [
        '--fans',
        values.fans,
        '--seats',
        values.seats,
        '--window',
        values.window,
        '--no-ceiling',
      ];
      args.push('--seed', String(round + 1));
      if (plan) args.push('--chaos', plan);
      const commit = headCommit();
      const { exit, reportFile } = await runDrop(args);
      const report = reportFile ? (JSON.parse(readFileSync(reportFile, 'utf8')) as DropReport) : undefined;
      fresh.push({ name, plan, exit, report, reportFile, commit });
    }
  }
  // New drops of a replaced plan take its old drops' places, in order; the rest follow.
  for (let i = 0; i < runs.length; i++) {
    if (!replaced.has(runs[i].name)) continue;
    const next = fresh.findIndex((r) => r.name === runs[i].name);
    if (next < 0) runs.splice(i--, 1);
    else runs[i] = fresh.splice(next, 1)[0];
  }
  runs.push(...fresh);
  if (values.big) {
    const { name, plan, fans, seats, window, deadline } = BIG_DROP;
    console.log(`\nchaos-report: ${name} (${plan})`);
    const args = ['--fans', fans, '--seats', seats, '--window', window, '--deadline', deadline];
    args.push('--no-ceiling', '--chaos', plan);
    const commit = headCommit();
    const { exit, reportFile } = await runDrop(args);
    const report = reportFile ? (JSON.parse(readFileSync(reportFile, 'utf8')) as DropReport) : undefined;
    runs.push({ name, plan, exit, report, reportFile, commit });
  }
  const markdown = renderChaosReport(runs, {
    fans: Number(values.fans),
    seats: Number(values.seats),
    window: Number(values.window),
  });
  const file = path.join(ROOT, 'docs', 'CHAOS-REPORT.md');
  writeFileSync(
    file,
    await prettier.format(markdown, { ...(await prettier.resolveConfig(file)), filepath: file }),
  );
  // Formatted as the repo's own files are, so a run leaves lint clean.
  const listFile = path.join(ROOT, 'docs', 'chaos-report.json');
  const list = runs.map(({ name, plan, exit, reportFile, commit }) => ({
    name,
    plan,
    exit,
    commit,
    reportFile: reportFile && path.relative(ROOT, reportFile),
  }));
  writeFileSync(
    listFile,
    await prettier.format(JSON.stringify(list), {
      ...(await prettier.resolveConfig(listFile)),
      filepath: listFile,
    }),
  );
  console.log(`\nwrote docs/CHAOS-REPORT.md (${runs.length} drops)`);
  return runs.every((r) => r.exit === 0) ? 0 : 1;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(2);
    },
  );
}
