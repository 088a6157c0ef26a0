/** Connections to the services the global setup started, and small helpers the tests share. */
import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/api/app';
import { createRedis, waitForRedis, type RedisClient } from '../../src/cache/redis';
import { SeatCache } from '../../src/cache/seat-cache';
import { loadConfig, type Config } from '../../src/config';
import { connectClient } from '../../src/temporal/connection';

export interface Stack {
  config: Config;
  client: Client;
  redis: RedisClient;
  cache: SeatCache;
  app: FastifyInstance;
  close(): Promise<void>;
}

export async function openStack(): Promise<Stack> {
  const config = loadConfig();
  const client = await connectClient(config.temporal);
  const redis = createRedis(config.redis);
  let app: FastifyInstance;
  try {
    await waitForRedis(redis);
    app = await buildApp({
      temporal: client,
      redis,
      taskQueue: config.temporal.taskQueue,
      adminToken: config.adminToken,
    });
    await app.ready();
  } catch (err) {
    redis.disconnect();
    await client.connection.close();
    throw err;
  }
  return {
    config,
    client,
    redis,
    cache: new SeatCache(redis),
    app,
    async close() {
      await app.close();
      redis.disconnect();
      await client.connection.close();
    },
  };
}

/** A fresh lower-case id, unique per test run. */
export const uniqueId = (prefix: string): string => `${prefix}-${randomBytes(5).toString('hex')}`;

export const adminHeaders = (): Record<string, string> => ({
  authorization: `Bearer ${process.env.TICKETDROP_ADMIN_TOKEN}`,
});

/** Polls `probe` until it returns a defined value, or fails after `timeoutMs`. */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} not reached within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
}
