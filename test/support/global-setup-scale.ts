/**
 * The scale-out slice's services (`test/scale/`): the Temporal server itself on PostgreSQL (4 history
 * shards, a cluster of the test's own under a temporary folder), a Redis Cluster of 3 masters, and a
 * TicketDrop worker on them, on free loopback ports. The integration project's services run beside them, so the connection
 * details go to the slice's test files under names of their own (test/support/scale-env.ts maps them).
 */
import { chmodSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ensurePostgres,
  ensureRedisCli,
  ensureRedisServer,
  ensureTemporalServer,
} from '../../tools/dev/provision';
import {
  freePort,
  redisClusterPorts,
  startNodeService,
  startRedisCluster,
  type Service,
} from '../../tools/dev/services';
import { setupTemporalSchemas, startPostgres, startTemporalServer } from '../../tools/dev/temporal-server';
import { SCALE_ENV_PREFIX, testStackEnv } from './test-env';

declare global {
  var __TICKETDROP_SERVICES__: Service[] | undefined;
}

/** History shards of the slice's cluster: more than one, so workflows of one event land on several. */
const SHARDS = 4;

export default async function globalSetupScale(): Promise<void> {
  const logs = mkdtempSync(path.join(os.tmpdir(), 'ticketdrop-scale-'));
  chmodSync(logs, 0o755); // PostgreSQL's own user (when run as root) reaches its cluster inside
  const pg = ensurePostgres();
  const { server, sqlTool } = ensureTemporalServer();
  const redisBin = ensureRedisServer();
  const redisCli = ensureRedisCli();
  const services: Service[] = (globalThis.__TICKETDROP_SERVICES__ ??= []);

  const postgres = await startPostgres(pg, {
    dataDir: path.join(logs, 'postgres'),
    port: await freePort(),
    logFile: path.join(logs, 'postgres.log'),
  });
  services.unshift(postgres);
  setupTemporalSchemas(sqlTool, postgres.port, SHARDS);
  const temporal = await startTemporalServer({
    serverBin: server,
    pgPort: postgres.port,
    shards: SHARDS,
    port: await freePort(),
    rootDir: path.join(logs, 'temporal-server'),
    logFile: path.join(logs, 'temporal.log'),
  });
  services.unshift(temporal);
  const redis = await startRedisCluster({
    bin: redisBin,
    cli: redisCli,
    ports: await redisClusterPorts(3, 20_001),
    dir: path.join(logs, 'redis-cluster'),
    logDir: logs,
  });
  services.unshift(redis);

  const env = testStackEnv({
    name: 'scale',
    temporalAddress: temporal.address,
    temporalMetricsUrl: temporal.metricsUrl,
    taskQueue: 'ticketdrop-scale',
    redisUrl: redis.url,
    logs,
  });
  env.REDIS_CLUSTER = 'true';
  for (const [name, value] of Object.entries(env)) process.env[`${SCALE_ENV_PREFIX}${name}`] = value;
  // The production worker (no fault injection): the slice runs TicketDrop as deployed, by configuration.
  const worker = await startNodeService('worker', 'src/worker.ts', /worker ready/, {
    env: { ...process.env, ...env },
    logFile: path.join(logs, 'worker.log'),
  });
  services.unshift(worker);
  console.log(
    `\nscale-out services up: Temporal server on PostgreSQL (${SHARDS} shards), Redis Cluster (logs in ${logs})`,
  );
}
