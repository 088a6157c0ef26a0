/**
 * Starts the real services every integration test runs against, on free loopback ports: a Temporal dev
 * server (in memory), redis-server, and the TicketDrop worker as its own process. Connection details
 * reach the test files through the environment.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureRedisServer, ensureTemporalCli } from '../../tools/dev/provision';
import {
  freePort,
  startNodeService,
  startRedisServer,
  startTemporalDevServer,
  type Service,
} from '../../tools/dev/services';
import { testStackEnv } from './test-env';

declare global {
  var __TICKETDROP_SERVICES__: Service[] | undefined;
}

export default async function globalSetup(): Promise<void> {
  const logs = mkdtempSync(path.join(os.tmpdir(), 'ticketdrop-test-'));
  const temporalBin = ensureTemporalCli();
  const redisBin = ensureRedisServer();
  // Shared with the scale-out project's setup, which may run first: its services are stopped too.
  const services: Service[] = (globalThis.__TICKETDROP_SERVICES__ ??= []);

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

  Object.assign(
    process.env,
    testStackEnv({
      name: 'test',
      temporalAddress: temporal.address,
      temporalMetricsUrl: temporal.metricsUrl,
      taskQueue: 'ticketdrop-test',
      redisUrl: redis.url,
      logs,
    }),
  );
  const worker = await startNodeService('worker', 'tools/faults/worker.ts', /worker ready/, {
    env: process.env,
    logFile: path.join(logs, 'worker.log'),
  });
  services.unshift(worker);
  console.log(`\ntest services up (logs in ${logs})`);
}
