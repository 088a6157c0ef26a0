/** Runs `fn` over `items` with at most `limit` calls in flight; results keep the input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index], index);
    }
  });
  await Promise.all(lanes);
  return results;
}

/**
 * One call per key at a time: a caller that comes while the key's call runs gets that call's promise
 * instead of starting another (a cache repair that a crowd of requests all find missing runs once).
 */
export function singleFlight<K, T>(): (key: K, run: () => Promise<T>) => Promise<T> {
  const running = new Map<K, Promise<T>>();
  return (key, run) => {
    let call = running.get(key);
    if (!call) {
      call = run().finally(() => running.delete(key));
      running.set(key, call);
    }
    return call;
  };
}
