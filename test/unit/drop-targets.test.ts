import { renderMarkdown } from '../../loadtest/drop/markdown';
import type { DropReport } from '../../loadtest/drop/report';
import { targetsMet } from '../../loadtest/drop/targets';

/** The figures the targets read, as a 50,000-fan drop on this 2-core machine reports them. */
function report(overrides: Partial<DropReport> = {}): DropReport {
  const p = { p50: 0, p95: 0, p99: 0, max: 0, count: 0 };
  return {
    eventId: 'drop-test',
    machine: '2 × test CPU',
    cores: 2,
    fans: 50_000,
    seats: 500,
    options: { windowSec: 10, profile: 'uniform', paymentMix: {}, abandon: 0.05, seed: 1 },
    oversold: 0,
    doubleSold: 0,
    chargedWithoutTicket: 0,
    strandedHolds: 0,
    fansAnswered: 50_000,
    finals: {},
    http5xx: 0,
    networkErrors: 0,
    httpStatuses: {},
    failuresByCode: {},
    peakRssMiB: {},
    cpuPercent: {},
    latencyMs: {
      join: { ...p, p99: 12_900 },
      joinServer: { ...p, p99: 9_800 },
      joinDelay: { ...p, p99: 3_100 },
      poll: { ...p, count: 130_000 },
      purchase: { ...p, count: 600 },
    },
    crowdCpuPercent: { temporal: 54, worker: 54, api: 30, 'drop simulator': 52 },
    sellOutSeconds: 100,
    drainSeconds: 130,
    purchasesPerSec: 6,
    ceiling: {
      probesPerSec: 12.5,
      eventsPerProbe: 60,
      workflowTasksPerProbe: 8,
      inFlight: 100,
      fraction: 0.48,
      store: { callsPerUnit: 66, inFlight: 2, msPerUnit: 160 },
    },
    reference: {
      probesPerSec: 28,
      eventsPerProbe: 12,
      workflowTasksPerProbe: 2,
      inFlight: 100,
      fraction: 0.21,
      store: { callsPerUnit: 19, inFlight: 2.4, msPerUnit: 100 },
    },
    store: { callsPerUnit: 60, inFlight: 1.9, msPerUnit: 330 },
    sold: 500,
    costPerTicket: {
      workflowTasks: 11.1,
      newRuns: 3.4,
      byType: {
        seatEntity: { runs: 1, events: 19.7, workflowTasks: 3.4 },
        purchase: { runs: 1.4, events: 41.3, workflowTasks: 5.6 },
        confirmation: { runs: 1, events: 7, workflowTasks: 1 },
      },
    },
    wholeStackPeakRssMiB: 1700,
    audit: { ok: true, invariants: [] },
    samples: [],
    ...overrides,
  } as DropReport;
}

const missed = (r: DropReport) =>
  Object.fromEntries(
    targetsMet(r)
      .filter((t) => !t.met)
      .map((t) => [t.target, t.stoppedBy]),
  );

describe('the drop report’s targets', () => {
  it('says, for each missed target, what in the same run stops it', () => {
    const why = missed(report());
    expect(Object.keys(why)).toEqual([
      'join p99 ≤ 100 ms',
      'sold out ≤ 20 s after opening',
      'sold out ≤ 45 s after opening',
      'every fan answered ≤ 5 s after the sell-out',
      'join p99 ≤ 1 s at the server (sent → answered)',
      'Temporal store calls per purchase ≤ 30',
      'workflow tasks per ticket ≤ 6',
      'every fan answered ≤ 30 s after opening',
      'purchases/s ≥ 70 % of the ceiling',
    ]);
    // 600 purchases in 45 s need 14 a second: more than the probe's 12.5.
    expect(why['sold out ≤ 45 s after opening']).toContain('600 purchases in 45 s take 14 a second');
    expect(why['every fan answered ≤ 5 s after the sell-out']).toContain(
      'the last fan heard of it 30 s later',
    );
    expect(why['workflow tasks per ticket ≤ 6']).toContain('purchase 5.6, seatEntity 3.4');
    expect(why['join p99 ≤ 100 ms']).toContain('5000 fans a second arrived');
    expect(why['join p99 ≤ 100 ms']).toContain('used 190 % of its 200 %');
    // 600 purchases in 20 s need 30 a second; at the probe's 12.5 a second they take 48 s.
    expect(why['sold out ≤ 20 s after opening']).toContain('600 purchases in 20 s take 30 a second');
    expect(why['sold out ≤ 20 s after opening']).toContain('would still take 48 s');
    expect(why['every fan answered ≤ 30 s after opening']).toContain(
      'sold out 100 s after opening, and the last fan heard of it 30 s later',
    );
    expect(why['every fan answered ≤ 30 s after opening']).toContain('polled 1000 times a second');
    expect(why['purchases/s ≥ 70 % of the ceiling']).toContain(
      'a purchase took 330 ms of its time and a probe 160 ms',
    );
    // 11.1 tasks per ticket over 600 purchases for 500 tickets: 9.25 a purchase, at 9.5 calls a task.
    expect(why['Temporal store calls per purchase ≤ 30']).toContain(
      "took 19 store calls, 9.5 a task; this run's 9.3 workflow tasks per purchase",
    );
    expect(why['Temporal store calls per purchase ≤ 30']).toContain(
      'come to 88 calls, and 30 calls leave room for 3.2 tasks',
    );
  });

  it('says what calls in flight mean on the server the drop ran on', () => {
    const ceiling = 'purchases/s ≥ 70 % of the ceiling';
    expect(missed(report())[ceiling]).toContain('the dev server has one SQLite connection');
    const sqlite = { persistence: 'sqlite', historyShards: 1 };
    expect(missed({ ...report(), temporalStore: sqlite })[ceiling]).toContain('one SQLite connection');
    const postgres = { persistence: 'postgres12', historyShards: 4 };
    const onPostgres = missed({ ...report(), temporalStore: postgres })[ceiling];
    expect(onPostgres).toContain('postgres12 with 4 history shards: calls run on pooled connections');
    expect(onPostgres).not.toContain('SQLite');
  });

  it('blames nothing the run’s figures do not show', () => {
    const why = missed(
      report({
        // CPUs at half of the machine; a probe fast enough for 30 purchases a second; an idle store.
        crowdCpuPercent: { api: 50, worker: 50 },
        ceiling: {
          ...report().ceiling!,
          probesPerSec: 40,
          store: { callsPerUnit: 66, inFlight: 0.4, msPerUnit: 160 },
        },
      }),
    );
    expect(why['join p99 ≤ 100 ms']).toBeUndefined();
    expect(why['sold out ≤ 20 s after opening']).toBeUndefined();
    expect(why['purchases/s ≥ 70 % of the ceiling']).toBeUndefined();
  });

  it('claims no cause the run did not measure, and renders reports older than the store split', () => {
    const old = report({
      ceiling: undefined,
      reference: undefined,
      store: { callsPerUnit: 60, inFlight: 1.9 },
      crowdCpuPercent: undefined,
    });
    const why = missed(old);
    expect(why['join p99 ≤ 100 ms']).toBeUndefined();
    expect(why['sold out ≤ 20 s after opening']).toBeUndefined();
    expect(why['purchases/s ≥ 70 % of the ceiling']).toBeUndefined();
    expect(why['Temporal store calls per purchase ≤ 30']).toBeUndefined();
    const markdown = renderMarkdown(old);
    expect(markdown).toContain('| Temporal store calls per purchase (the drop) | 60 (1.9 calls in flight');
    expect(markdown).not.toContain('| store calls |');
  });

  it('judges the lean-purchase targets on the server’s share of a join and the cost per ticket', () => {
    const lean = report({
      sellOutSeconds: 40,
      drainSeconds: 44,
      latencyMs: {
        ...report().latencyMs,
        // The generator was late (its delay is its own); the server answered within a second.
        join: { ...report().latencyMs.join, p99: 4_000 },
        joinServer: { ...report().latencyMs.join, p99: 900 },
      },
      store: { callsPerUnit: 29, inFlight: 0.9, msPerUnit: 150 },
      costPerTicket: { ...report().costPerTicket!, workflowTasks: 5.9 },
    });
    const met = targetsMet(lean)
      .filter((t) => t.met)
      .map((t) => t.target);
    expect(met).toEqual(
      expect.arrayContaining([
        'sold out ≤ 45 s after opening',
        'every fan answered ≤ 5 s after the sell-out',
        'join p99 ≤ 1 s at the server (sent → answered)',
        'Temporal store calls per purchase ≤ 30',
        'workflow tasks per ticket ≤ 6',
      ]),
    );
    expect(met).not.toContain('join p99 ≤ 100 ms');
    const markdown = renderMarkdown(lean);
    expect(markdown).toContain("| … the generator's delay (scheduled → sent) |");
    expect(markdown).toContain('| … the server (sent → answered) | 0 | 0 | 900 |');
    expect(markdown).toContain('| purchase | 1.4 | 41.3 | 5.6 |');
  });

  it('gives no cause for a target met', () => {
    const met = targetsMet(report({ sellOutSeconds: 18, drainSeconds: 28 })).filter((t) => t.met);
    expect(met.map((t) => t.target)).toContain('sold out ≤ 20 s after opening');
    expect(met.every((t) => t.stoppedBy === undefined)).toBe(true);
  });
});
