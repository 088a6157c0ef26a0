import Redis, { Cluster } from 'ioredis';
import type { RedisConfig } from '../config';

export type RedisClient = Redis | Cluster;

/**
 * A Redis client for the read-side cache: one server, or a Redis Cluster by configuration. Commands
 * fail fast while disconnected (no offline queue) so a missing cache degrades reads instead of
 * stalling them.
 */
export function createRedis(config: RedisConfig, options: { lazyConnect?: boolean } = {}): RedisClient {
  // Auto-pipelining sends the commands issued in one tick as one write: under a drop's load that is the
  // difference between a syscall per command and one per burst.
  const common = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    lazyConnect: options.lazyConnect,
    enableAutoPipelining: true,
  };
  const client = config.cluster
    ? new Cluster(
        config.url.split(',').map((url) => url.trim()),
        {
          enableOfflineQueue: false,
          enableAutoPipelining: true,
          lazyConnect: options.lazyConnect,
          redisOptions: common,
        },
      )
    : new Redis(config.url, common);
  // The client reconnects by itself; without a listener each failed attempt is an "Unhandled error event"
  // with a stack trace. One line per 10 s of outage says the same.
  let reported = 0;
  client.on('error', (err: Error) => {
    if (Date.now() - reported < ERROR_REPORT_MS) return;
    reported = Date.now();
    console.warn(`redis: ${err.message} (reconnecting)`);
  });
  return client;
}

const ERROR_REPORT_MS = 10_000;

/** Resolves once the client is connected (or rejects after `timeoutMs`). */
export async function waitForRedis(redis: RedisClient, timeoutMs = 10_000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = (): void => {
      cleanup();
      resolve();
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
    if (redis.status === 'wait') redis.connect().catch(() => undefined);
  });
}
