import { readSettled } from '../../tools/audit/auditor';

const fast = { pauseMs: 1 };
const version = (entity: { version: number }) => entity.version;
/** Answers each read with the next value, repeating the last one. */
function reads(...values: number[]) {
  let count = 0;
  const read = async () => values[Math.min(count++, values.length - 1)];
  return { read, count: () => count };
}

describe('the audit reads an entity and its cache until they agree', () => {
  it('reads each once when they agree', async () => {
    const entity = reads(10);
    const cache = reads(10);
    const settled = await readSettled(
      async () => ({ version: await entity.read() }),
      version,
      cache.read,
      fast,
    );
    expect(settled).toEqual({ entity: { version: 10 }, cachedVersion: 10 });
    expect(entity.count()).toBe(1);
  });

  it('reads again when the entity changed after it was read and the cache already shows it', async () => {
    const entity = reads(10, 11);
    const settled = await readSettled(
      async () => ({ version: await entity.read() }),
      version,
      async () => 11,
      fast,
    );
    expect(settled).toEqual({ entity: { version: 11 }, cachedVersion: 11 });
    expect(entity.count()).toBe(2);
  });

  it('waits for a cache that follows the entity a moment later', async () => {
    const cache = reads(10, 10, 11);
    const settled = await readSettled(async () => ({ version: 11 }), version, cache.read, fast);
    expect(settled).toEqual({ entity: { version: 11 }, cachedVersion: 11 });
    expect(cache.count()).toBe(3);
  });

  it('still tells apart a cache that never catches up, after the last try', async () => {
    const cache = reads(10);
    const settled = await readSettled(async () => ({ version: 11 }), version, cache.read, {
      tries: 3,
      pauseMs: 1,
    });
    expect(settled).toEqual({ entity: { version: 11 }, cachedVersion: 10 });
    expect(cache.count()).toBe(3);
  });
});
