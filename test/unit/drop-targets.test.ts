import { targetsMet, type DropReport } from '../../loadtest/drop/report';

/** The figures the targets read, as a 50,000-fan drop on this machine reports them. */
function report(overrides: Partial<DropReport> = {}): DropReport {
  const p = { p50: 0, p95: 0, p99: 0, max: 0, count: 0 };
  return {
    fans: 50_000,
    seats: 500,
    options: { windowSec: 10 },
    oversold: 0,
    doubleSold: 0,
    chargedWithoutTicket: 0,
    strandedHolds: 0,
    fansAnswered: 50_000,
    http5xx: 0,
    networkErrors: 0,
    latencyMs: { join: { ...p, p99: 12_900 }, poll: p, purchase: p },
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
    expect(why['join p99 ≤ 100 ms']).toContain('used 190 %');
    // 500 seats in 20 s need 25 purchases a second; at the probe's 12.5 a second they take 40 s.
    expect(why['sold out ≤ 20 s after opening']).toContain('take 25 purchases a second');
    expect(why['sold out ≤ 20 s after opening']).toContain('would still take 40 s');
    expect(why['every fan answered ≤ 30 s after opening']).toContain(
      'then 30 s until the last fan heard of it',
    );
    expect(why['purchases/s ≥ 70 % of the ceiling']).toContain(
      'a purchase took 330 ms of its time and a probe 160 ms',
    );
  });

  it('claims no cause the run did not measure', () => {
    const why = missed(report({ ceiling: undefined, store: undefined, crowdCpuPercent: undefined }));
    expect(why['join p99 ≤ 100 ms']).toBeUndefined();
    expect(why['sold out ≤ 20 s after opening']).toBeUndefined();
    expect(why['purchases/s ≥ 70 % of the ceiling']).toBeUndefined();
  });

  it('gives no cause for a target met', () => {
    const met = targetsMet(report({ sellOutSeconds: 18, drainSeconds: 28 })).filter((t) => t.met);
    expect(met.map((t) => t.target)).toContain('sold out ≤ 20 s after opening');
    expect(met.every((t) => t.stoppedBy === undefined)).toBe(true);
  });
});
