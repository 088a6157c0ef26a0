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
  if (config.cluster) {
    const nodes = config.url.split(',').map((url) => url.trim());
    return new Cluster(nodes, {
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      lazyConnect: options.lazyConnect,
      redisOptions: common,
    });
  }
  return new Redis(config.url, common);
}

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
