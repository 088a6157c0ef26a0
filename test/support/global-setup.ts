/**
 * Starts the real services every integration test runs against, on free loopback ports: a Temporal dev
 * server (in memory), redis-server, and the TicketDrop worker as its own process. Connection details
 * reach the test files through the environment.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { devFanIdentityEnv } from '../../tools/dev/fan-issuer';
import { ensureRedisServer, ensureTemporalCli } from '../../tools/dev/provision';
import {
  freePort,
  startNodeService,
  startRedisServer,
  startTemporalDevServer,
  type Service,
} from '../../tools/dev/services';

declare global {
  var __TICKETDROP_SERVICES__: Service[] | undefined;
}

export default async function globalSetup(): Promise<void> {
  const logs = mkdtempSync(path.join(os.tmpdir(), 'ticketdrop-test-'));
  const temporalBin = ensureTemporalCli();
  const redisBin = ensureRedisServer();
  const services: Service[] = [];
  globalThis.__TICKETDROP_SERVICES__ = services;

  const temporal = await startTemporalDevServer({
    bin: temporalBin,
    port: await freePort(),
    metricsPort: await freePort(),
    logFile: path.join(logs, 'temporal.log'),
  });
  services.unshift(temporal);
  const redis = await startRedisServer({
    bin: redisBin,
    port: await freePort(),
    logFile: path.join(logs, 'redis.log'),
  });
  services.unshift(redis);

  Object.assign(process.env, {
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: 'default',
    TICKETDROP_TEMPORAL_METRICS_URL: temporal.metricsUrl,
    TICKETDROP_TASK_QUEUE: 'ticketdrop-test',
    REDIS_URL: redis.url,
    TICKETDROP_ADMIN_TOKEN: 'test-admin-token-0123456789',
    TICKETDROP_GATE_TOKEN: 'test-gate-token-0123456789',
    TICKETDROP_SIGNING_SECRET: 'test-signing-secret-0123456789',
    ...devFanIdentityEnv('test-fan-issuer-secret-0123456789abcdef'),
    TICKETDROP_TEST_LOGS: logs,
    TICKETDROP_PROVIDERS_DB: path.join(logs, 'providers.sqlite'),
    TICKETDROP_PAYMENT_TIMEOUT_MS: '2500',
    TICKETDROP_NOTIFY_MAX_ATTEMPTS: '3',
    TICKETDROP_NOTIFY_INITIAL_INTERVAL_MS: '100',
    // Every test fan calls from 127.0.0.1 and fan ids repeat across files: the shared test API's limits are
    // out of reach. The rate limits themselves are tested on APIs of their own (security.test.ts).
    TICKETDROP_RATE_JOIN_PER_FAN: '1000000',
    TICKETDROP_RATE_POLL_PER_FAN: '1000000',
    TICKETDROP_RATE_PURCHASE_PER_FAN: '1000000',
    TICKETDROP_RATE_JOIN_PER_ADDRESS: '100000000',
    TICKETDROP_RATE_POLL_PER_ADDRESS: '100000000',
    TICKETDROP_RATE_PURCHASE_PER_ADDRESS: '100000000',
    TICKETDROP_RATE_VERIFY_PER_ADDRESS: '100000000',
  });
  const worker = await startNodeService('worker', 'tools/faults/worker.ts', /worker ready/, {
    env: process.env,
    logFile: path.join(logs, 'worker.log'),
  });
  services.unshift(worker);
  console.log(`\ntest services up (logs in ${logs})`);
}
