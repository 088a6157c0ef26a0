import { mapLimit, singleFlight, withRetries } from '../../src/lib/concurrency';

describe('singleFlight', () => {
  it('runs one call per key while it is in flight, and a new one after it settled', async () => {
    const flight = singleFlight<string, number>();
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const run = async () => {
      calls++;
      await gate;
      return calls;
    };
    const crowd = Array.from({ length: 100 }, () => flight('ev-1', run));
    const other = flight('ev-2', run);
    release();
    expect(await Promise.all(crowd)).toEqual(Array(100).fill(2));
    await other;
    expect(calls).toBe(2);
    await flight('ev-1', run);
    expect(calls).toBe(3);
  });

  it('hands a failure to every waiting caller and lets the next caller try again', async () => {
    const flight = singleFlight<string, string>();
    const failing = [flight('k', () => Promise.reject(new Error('down'))), flight('k', async () => 'unused')];
    for (const call of failing) await expect(call).rejects.toThrow('down');
    await expect(flight('k', async () => 'back')).resolves.toBe('back');
  });
});

describe('mapLimit', () => {
  it('keeps at most `limit` calls in flight and the results in input order', async () => {
    let inFlight = 0;
    let most = 0;
    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (n) => {
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, n));
      inFlight--;
      return n * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30]);
    expect(most).toBe(2);
  });
});

describe('withRetries', () => {
  it('tries again after a failure, and gives up after its attempts with the last error', async () => {
    let calls = 0;
    await expect(
      withRetries(async () => (++calls < 3 ? Promise.reject(new Error(`try ${calls}`)) : 'answered'), {
        gapMs: 1,
      }),
    ).resolves.toBe('answered');
    calls = 0;
    await expect(
      withRetries(async () => Promise.reject(new Error(`try ${++calls}`)), { gapMs: 1 }),
    ).rejects.toThrow('try 3');
  });

  it('throws an error it is told is final at once', async () => {
    let calls = 0;
    const fatal = (err: unknown) => (err as Error).message === 'not found';
    await expect(
      withRetries(async () => Promise.reject(new Error(`${++calls && 'not found'}`)), { gapMs: 1, fatal }),
    ).rejects.toThrow('not found');
    expect(calls).toBe(1);
  });
});
