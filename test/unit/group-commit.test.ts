import { GroupCommit } from '../../src/lib/group-commit';

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('group commit', () => {
  it('sends concurrent submissions as one batch, in submission order, each caller getting its own answer', async () => {
    const batches: number[][] = [];
    const commit = new GroupCommit<number, string>(
      async (items) => {
        batches.push(items);
        return items.map((n) => `#${n}`);
      },
      { maxBatch: 100, lingerMs: 10 },
    );
    const answers = await Promise.all([1, 2, 3, 4].map((n) => commit.submit(n)));
    expect(answers).toEqual(['#1', '#2', '#3', '#4']);
    expect(batches).toEqual([[1, 2, 3, 4]]);
  });

  it('keeps one batch in flight; the next accumulates and leaves when the flight lands', async () => {
    const batches: number[][] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const commit = new GroupCommit<number, number>(
      async (items) => {
        batches.push(items);
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        await tick(30);
        inFlight--;
        return items;
      },
      { maxBatch: 3, lingerMs: 5 },
    );
    const first = [1, 2, 3].map((n) => commit.submit(n)); // full: leaves at once
    await tick(5);
    const second = [4, 5, 6, 7, 8].map((n) => commit.submit(n)); // waits for the flight
    await Promise.all([...first, ...second]);
    expect(maxInFlight).toBe(1);
    expect(batches).toEqual([
      [1, 2, 3],
      [4, 5, 6],
      [7, 8],
    ]);
  });

  it('fails every caller of a failed batch, and goes on with the next', async () => {
    let calls = 0;
    const commit = new GroupCommit<number, number>(
      async (items) => {
        if (++calls === 1) throw new Error('down');
        return items;
      },
      { maxBatch: 10, lingerMs: 1 },
    );
    const failed = await Promise.allSettled([commit.submit(1), commit.submit(2)]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    await expect(commit.submit(3)).resolves.toBe(3);
  });
});
