/** Connections to the services the global setup started, and small helpers the tests share. */
import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { buildApp, type AppOptions } from '../../src/api/app';
import { createRedis, waitForRedis, type RedisClient } from '../../src/cache/redis';
import { SeatCache } from '../../src/cache/seat-cache';
import { loadConfig, loadFanIdentityConfig, type Config, type PurchaseConfig } from '../../src/config';
import { issuerFor, mintFanToken, type MintOptions } from '../../tools/dev/fan-issuer';
import { ProviderStore, SETTING_REFRESH_MS, type SharedSetting } from '../../src/providers/store';
import { connectClient, connectGuardedClient } from '../../src/temporal/connection';

export interface Stack {
  config: Config;
  client: Client;
  redis: RedisClient;
  cache: SeatCache;
  app: FastifyInstance;
  close(): Promise<void>;
}

/** The options of an API on the test services (a test's own API passes what it changes). */
export function appOptions(
  { config, client, redis }: Pick<Stack, 'config' | 'client' | 'redis'>,
  overrides: Partial<AppOptions> = {},
): AppOptions {
  return {
    temporal: client,
    redis,
    taskQueue: config.temporal.taskQueue,
    adminToken: config.adminToken,
    gateToken: config.gateToken,
    signingSecret: config.signingSecret,
    fanIdentity: config.fanIdentity,
    rateLimits: config.api.rateLimits,
    purchase: config.purchase,
    ...overrides,
  };
}

/**
 * Clients and an in-process API; `taskQueue` lets a test run workflows on a worker of its own.
 * `temporalAddress`: the API on a Temporal server of the test's own, through the production API's guarded
 * client (src/api/server.ts), so the test can stop that server under it. `purchase`: what the test's
 * purchases are started with, where it differs from the test services' settings.
 */
export async function openStack(
  options: { taskQueue?: string; temporalAddress?: string; purchase?: Partial<PurchaseConfig> } = {},
): Promise<Stack> {
  const loaded = loadConfig();
  const config = { ...loaded, purchase: { ...loaded.purchase, ...options.purchase } };
  const taskQueue = options.taskQueue ?? config.temporal.taskQueue;
  const guarded = options.temporalAddress
    ? connectGuardedClient({ ...config.temporal, address: options.temporalAddress })
    : undefined;
  const client = guarded?.client ?? (await connectClient(config.temporal));
  const redis = createRedis(config.redis);
  let app: FastifyInstance;
  try {
    await waitForRedis(redis);
    app = await buildApp(appOptions({ config, client, redis }, { taskQueue }));
    await app.ready();
  } catch (err) {
    guarded?.health.stop();
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
      guarded?.health.stop();
      await app.close();
      await guarded?.health.settled(30_000);
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

/** The providers' store (payment ledger, tickets, notifications) the test worker writes to. */
export function openProviderStore(): ProviderStore {
  return new ProviderStore(process.env.TICKETDROP_PROVIDERS_DB!);
}

export async function createTestEvent(
  stack: Stack,
  fields: {
    /** A chosen id (a unique one by default). */
    eventId?: string;
    name?: string;
    rows?: number;
    seatsPerRow?: number;
    holdTtlSeconds?: number;
    admission?: 'queue' | 'direct';
    maxActivePurchases?: number;
    admissionTtlSeconds?: number;
    onSaleAt?: string;
    waitingRoomCapacity?: number;
  } = {},
): Promise<string> {
  const eventId = fields.eventId ?? uniqueId('ev');
  const response = await stack.app.inject({
    method: 'POST',
    url: '/events',
    headers: adminHeaders(),
    payload: {
      eventId,
      name: eventId,
      rows: 1,
      seatsPerRow: 5,
      priceCents: 4200,
      admission: 'direct',
      ...fields,
    },
  });
  if (response.statusCode !== 201)
    throw new Error(`creating ${eventId}: ${response.statusCode} ${response.body}`);
  return eventId;
}

export interface StartedPurchase {
  statusCode: number;
  purchaseId: string;
  /** The buying fan's token: it opens the purchase (GET, cancel). */
  token: string;
}

/** A fan token from the tests' dev issuer (the API verifies it like any identity provider's). */
export function fanToken(fanId: string, options?: MintOptions): Promise<string> {
  return mintFanToken(issuerFor(loadFanIdentityConfig()), fanId, options);
}

/** The headers of a call made by `fanId`. */
export async function fanHeaders(fanId: string): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await fanToken(fanId)}` };
}

/** Starts a purchase as `fanId` (the fan token names it; the body does not). `token` is that fan token. */
export async function startPurchase(
  stack: Stack,
  eventId: string,
  { fanId, ...body }: { fanId: string; seatId?: string; paymentToken?: string },
): Promise<StartedPurchase> {
  const token = await fanToken(fanId);
  const response = await stack.app.inject({
    method: 'POST',
    url: `/events/${eventId}/purchases`,
    payload: { paymentToken: 'tok_ok', ...body },
    headers: { authorization: `Bearer ${token}` },
  });
  const json = response.json() as { purchaseId: string };
  return { statusCode: response.statusCode, purchaseId: json.purchaseId, token };
}

export interface PurchaseView {
  purchaseId: string;
  state: string;
  seatId?: string;
  ticket?: { ticketId: string; seatId: string; qr: string };
  failure?: { code: string; message: string };
  compensations?: string[];
}

export async function purchaseStatus(
  stack: Stack,
  started: StartedPurchase,
  waitMs = 0,
): Promise<PurchaseView> {
  const response = await stack.app.inject({
    url: `/purchases/${started.purchaseId}${waitMs ? `?waitMs=${waitMs}` : ''}`,
    headers: { authorization: `Bearer ${started.token}` },
  });
  if (response.statusCode !== 200)
    throw new Error(`status of ${started.purchaseId}: ${response.statusCode} ${response.body}`);
  return response.json() as PurchaseView;
}

const FINAL = ['completed', 'failed', 'cancelled'];

/** Long-polls until the purchase is final. */
export async function finalStatus(
  stack: Stack,
  started: StartedPurchase,
  timeoutMs = 60_000,
): Promise<PurchaseView> {
  return eventually(
    async () => {
      const view = await purchaseStatus(stack, started, 10_000);
      return FINAL.includes(view.state) ? view : undefined;
    },
    timeoutMs,
    `final state of ${started.purchaseId}`,
  );
}

/**
 * Overrides a shared setting (the simulator's knobs, the test faults) and waits until every worker process
 * has picked it up.
 */
export async function setKnobs<T extends object>(
  setting: SharedSetting<T>,
  overrides: Partial<T>,
): Promise<void> {
  setting.set(overrides);
  await new Promise((resolve) => setTimeout(resolve, 2 * SETTING_REFRESH_MS + 50));
}
