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
    store: { callsPerUnit: 60, inFlight: 1.9, msPerUnit: 330 },
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
      'every fan answered ≤ 30 s after opening',
      'purchases/s ≥ 70 % of the ceiling',
    ]);
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
      store: { callsPerUnit: 60, inFlight: 1.9 },
      crowdCpuPercent: undefined,
    });
    const why = missed(old);
    expect(why['join p99 ≤ 100 ms']).toBeUndefined();
    expect(why['sold out ≤ 20 s after opening']).toBeUndefined();
    expect(why['purchases/s ≥ 70 % of the ceiling']).toBeUndefined();
    const markdown = renderMarkdown(old);
    expect(markdown).toContain('| Temporal store calls per purchase (the drop) | 60 (1.9 calls in flight');
    expect(markdown).not.toContain('| store calls |');
  });

  it('gives no cause for a target met', () => {
    const met = targetsMet(report({ sellOutSeconds: 18, drainSeconds: 28 })).filter((t) => t.met);
    expect(met.map((t) => t.target)).toContain('sold out ≤ 20 s after opening');
    expect(met.every((t) => t.stoppedBy === undefined)).toBe(true);
  });
});
