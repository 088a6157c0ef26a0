import { chaosFigures, ChaosPlanError, parseChaosPlan, runChaos } from '../../loadtest/drop/chaos';
import { retryDelayMs } from '../../loadtest/drop/simulator';

describe('a chaos plan', () => {
  it('reads faults at seconds after opening, outages with how long they last, in time order', () => {
    expect(parseChaosPlan('redis-flush@25, worker-kill@15s,payment-outage@35:20,sms-outage@40')).toEqual([
      { kind: 'worker-kill', atSec: 15 },
      { kind: 'redis-flush', atSec: 25 },
      { kind: 'payment-outage', atSec: 35, forSec: 20 },
      { kind: 'sms-outage', atSec: 40, forSec: 30 },
    ]);
  });

  it('refuses an unknown fault, a missing time and a duration on a fault that does not last', () => {
    expect(() => parseChaosPlan('disk-fill@10')).toThrow(ChaosPlanError);
    expect(() => parseChaosPlan('worker-kill')).toThrow(/expected <fault>@<seconds>/);
    expect(() => parseChaosPlan('api-kill@10:5')).toThrow(/only an outage or a slow store lasts/);
  });

  it('reports how long after each fault sales grew again, none for a drop already sold out', () => {
    const samples = [
      { t: 1, sold: 2 },
      { t: 2, sold: 2 },
      { t: 3.5, sold: 2 },
      { t: 4, sold: 5 },
      { t: 9, sold: 10 },
    ];
    const figures = chaosFigures(
      'worker-kill@2,payment-outage@1:2,api-kill@9',
      [
        { kind: 'worker-kill', atMs: 2000, detail: '' },
        { kind: 'payment-outage', atMs: 1000, endMs: 3000, detail: '' },
        { kind: 'api-kill', atMs: 9500, detail: '' },
      ],
      samples,
      10,
    );
    expect(figures.faults.map((f) => f.salesAgainAfterMs)).toEqual([2000, 1000, undefined]);
  });
});

describe('a fan retrying', () => {
  it('waits as long as Retry-After asks (plus a little jitter), else backs off exponentially', () => {
    expect(retryDelayMs(0, 2, () => 0)).toBe(2000);
    expect(retryDelayMs(0, 2, () => 0.999)).toBe(2249);
    expect(retryDelayMs(0, undefined, () => 0.999)).toBe(249);
    expect(retryDelayMs(3, undefined, () => 0.999)).toBe(1998);
    expect(retryDelayMs(20, undefined, () => 0.999)).toBe(7992);
  });
});

describe('a slow store', () => {
  it('stalls the Temporal server in its rhythm for the fault’s duration and always resumes it', async () => {
    const signals: [number, boolean][] = [];
    const openedAt = Date.now();
    const targets = {
      kill: async () => 0,
      pause: async (service: string, paused: boolean) => {
        expect(service).toBe('temporal');
        signals.push([Date.now() - openedAt, paused]);
        return 42;
      },
      flushRedis: async () => undefined,
      cacheWhole: async () => true,
      knobs: { set: () => undefined } as never,
    };
    // Stalls start at 0.05, 0.65 and 1.25 s; the fault ends at 1.55 s, 300 ms from either side of a start,
    // so a loaded machine's late timers do not change the count.
    const [event] = await runChaos(parseChaosPlan('slow-store@0.05:1.5'), targets, openedAt, undefined, {
      stalledMs: 400,
      flowingMs: 200,
    });
    expect(signals.map(([, paused]) => paused)).toEqual([true, false, true, false, true, false]);
    expect(signals.at(-1)![0]).toBeGreaterThanOrEqual(1_500);
    expect(event).toMatchObject({ kind: 'slow-store', detail: expect.stringContaining('3 stalls') });
    expect(event.endMs).toBeGreaterThanOrEqual(1_500);
  });
});
