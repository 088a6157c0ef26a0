/**
 * A private stack for a benchmark: a Temporal dev server (in memory), redis-server and one worker on free
 * loopback ports, plus an in-process API app and, on request, an API server process (what load is sent to
 * over HTTP, so the load generator never shares the API's event loop). Everything it starts, `close` stops.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as hdr from 'hdr-histogram-js';
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/api/app';
import { createRedis, waitForRedis, type RedisClient } from '../src/cache/redis';
import { loadFanIdentityConfig, loadPurchaseConfig } from '../src/config';
import { DEV_AUDIENCE, DEV_ISSUER, devFanIdentityEnv, type FanIssuer } from '../tools/dev/fan-issuer';
import { ensureRedisServer, ensureTemporalCli } from '../tools/dev/provision';
import {
  freePort,
  startNodeService,
  startRedisServer,
  startTemporalDevServer,
  type Service,
} from '../tools/dev/services';
import { ProviderStore } from '../src/providers/store';
import { connectClient } from '../src/temporal/connection';

export const ADMIN_TOKEN = 'bench-admin-token-0123456789';
const GATE_TOKEN = 'bench-gate-token-0123456789';
const SIGNING_SECRET = 'bench-signing-secret-0123456789';
/** The dev issuer's secret for the bench's fans. */
export const FAN_ISSUER: FanIssuer = {
  issuer: DEV_ISSUER,
  audience: DEV_AUDIENCE,
  secret: 'bench-fan-issuer-secret-0123456789abcdef',
};
const TASK_QUEUE = 'ticketdrop-bench';

export interface LocalStack {
  client: Client;
  redis: RedisClient;
  app: FastifyInstance;
  store: ProviderStore;
  temporalBin: string;
  /** The API server process's base URL, when one was asked for. */
  apiUrl?: string;
  /** Where each service writes its log. */
  logs: string;
  /** The processes of the stack (this one included), for CPU and memory accounting. */
  processes(): { name: string; pid: number }[];
  close(): Promise<void>;
}

export async function startLocalStack(options: { apiProcess?: boolean } = {}): Promise<LocalStack> {
  const logs = path.join(os.tmpdir(), `ticketdrop-bench-${Date.now()}`);
  mkdirSync(logs, { recursive: true });
  const services: Service[] = [];
  const stopAll = async () => {
    for (const service of services) await service.stop();
  };
  try {
    const temporalBin = ensureTemporalCli();
    const temporal = await startTemporalDevServer({
      bin: temporalBin,
      port: await freePort(),
      logFile: path.join(logs, 'temporal.log'),
    });
    services.unshift(temporal);
    const redisServer = await startRedisServer({ bin: ensureRedisServer(), port: await freePort() });
    services.unshift(redisServer);
    const providersDb = path.join(logs, 'providers.sqlite');
    const env = {
      ...process.env,
      TEMPORAL_ADDRESS: temporal.address,
      REDIS_URL: redisServer.url,
      TICKETDROP_TASK_QUEUE: TASK_QUEUE,
      TICKETDROP_SIGNING_SECRET: SIGNING_SECRET,
      TICKETDROP_PROVIDERS_DB: providersDb,
      ...devFanIdentityEnv(FAN_ISSUER.secret),
    };
    services.unshift(
      await startNodeService('worker', 'src/worker.ts', /worker ready/, {
        env,
        logFile: path.join(logs, 'worker.log'),
      }),
    );
    let apiUrl: string | undefined;
    if (options.apiProcess) {
      const port = await freePort();
      services.unshift(
        await startNodeService('api', 'src/api/server.ts', /Server listening/, {
          env: {
            ...env,
            TICKETDROP_ADMIN_TOKEN: ADMIN_TOKEN,
            TICKETDROP_GATE_TOKEN: GATE_TOKEN,
            TICKETDROP_API_PORT: String(port),
            TICKETDROP_REQUEST_LOG: 'off',
            TICKETDROP_TRUST_PROXY: '127.0.0.1', // the bench names each fan's address, as a proxy would
          },
          // TICKETDROP_PROFILE_API=1 writes a CPU profile of the API next to the logs.
          nodeArgs: process.env.TICKETDROP_PROFILE_API ? ['--cpu-prof', `--cpu-prof-dir=${logs}`] : [],
          logFile: path.join(logs, 'api.log'),
        }),
      );
      apiUrl = `http://127.0.0.1:${port}`;
    }
    const client = await connectClient({
      address: temporal.address,
      namespace: 'default',
      taskQueue: TASK_QUEUE,
    });
    const redis = createRedis({ url: redisServer.url, cluster: false });
    await waitForRedis(redis);
    const app = await buildApp({
      temporal: client,
      redis,
      taskQueue: TASK_QUEUE,
      adminToken: ADMIN_TOKEN,
      gateToken: GATE_TOKEN,
      signingSecret: SIGNING_SECRET,
      fanIdentity: loadFanIdentityConfig(devFanIdentityEnv(FAN_ISSUER.secret)),
      purchase: loadPurchaseConfig({}),
    });
    const store = new ProviderStore(providersDb);
    return {
      client,
      redis,
      app,
      store,
      temporalBin,
      apiUrl,
      logs,
      processes: () => [
        { name: 'load generator + in-process clients', pid: process.pid },
        ...services.flatMap((service) =>
          service.child.pid ? [{ name: service.name, pid: service.child.pid }] : [],
        ),
      ],
      async close() {
        await app.close();
        store.close();
        redis.disconnect();
        await client.connection.close();
        await stopAll();
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

export async function createBenchEvent(
  app: FastifyInstance,
  eventId: string,
  rows = 20,
  seatsPerRow = 25,
): Promise<number> {
  const start = performance.now();
  const response = await app.inject({
    method: 'POST',
    url: '/events',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    payload: { eventId, name: eventId, rows, seatsPerRow, priceCents: 7500, admission: 'direct' },
  });
  if (response.statusCode !== 201)
    throw new Error(`create ${eventId}: ${response.statusCode} ${response.body}`);
  return performance.now() - start;
}

/** The p-th percentile of samples in milliseconds, through an HDR histogram (microseconds, 3 digits). */
export function percentile(samples: number[], p: number): number {
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000 });
  for (const ms of samples) histogram.recordValue(Math.max(1, Math.round(ms * 1000)));
  const value = histogram.getValueAtPercentile(p) / 1000;
  histogram.destroy();
  return value;
}

export const round1 = (n: number): number => Math.round(n * 10) / 10;

export function describeMachine(temporalBin: string): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const temporal = execFileSync(temporalBin, ['--version']).toString().trim();
  return `${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ${os.type()} ${os.release()}, Node ${process.version}, ${temporal} (dev server, in-memory SQLite)`;
}

/** Replaces (or appends) the section between `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->`. */
export function writeBenchmarkSection(file: string, name: string, body: string): void {
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  const section = `${start}\n${body.trim()}\n${end}`;
  const header =
    '# Benchmarks\n\nFigures measured by the scripts in `loadtest/`. The machine is shared and noisy: medians of several rounds.\n';
  const current = existsSync(file) ? readFileSync(file, 'utf8') : header;
  const at = current.indexOf(start);
  const until = current.indexOf(end);
  const next =
    at >= 0 && until > at
      ? current.slice(0, at) + section + current.slice(until + end.length)
      : `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, next);
}
