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

/**
 * Calls `fn` until it succeeds, `attempts` times at most, waiting `gapMs` (doubling) between tries;
 * an error `fatal` says is final is thrown at once. The last error is thrown when every try failed.
 */
export async function withRetries<T>(
  fn: () => Promise<T>,
  {
    attempts = 3,
    gapMs = 500,
    fatal = () => false,
  }: { attempts?: number; gapMs?: number; fatal?: (err: unknown) => boolean } = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts || fatal(err)) throw err;
      await new Promise((resolve) => setTimeout(resolve, gapMs * 2 ** (attempt - 1)));
    }
  }
}
