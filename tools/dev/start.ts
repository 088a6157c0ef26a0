/**
 * `npm start`: provisions the tools, starts the Temporal dev server (state in .data/temporal.sqlite, web
 * UI on), Redis, the worker and the API on loopback, creates the demo event `concert-1`, and prints where
 * everything is. A service that exits on its own is started again (tools/dev/supervisor.ts); Ctrl-C stops
 * everything it started, in reverse order.
 *
 * `npm start -- --temporal=postgres [--history-shards=4]` runs the Temporal server itself instead of the dev
 * server, on a PostgreSQL cluster of its own in .data/postgres (tools/dev/temporal-server.ts).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { devFanIdentityEnv } from './fan-issuer';
import { DATA_DIR, writeStackFile, type LocalStackFile } from './local-stack-file';
import {
  ensureDir,
  ensurePostgres,
  ensureRedisCli,
  ensureRedisServer,
  ensureTemporalCli,
  ensureTemporalServer,
  ProvisionError,
} from './provision';
import {
  HOST,
  portOrFree,
  redisClusterPorts,
  startNodeService,
  startRedisCluster,
  startRedisServer,
  startTemporalDevServer,
  temporalAlive,
} from './services';
import { Supervisor } from './supervisor';
import { setupTemporalSchemas, startPostgres, startTemporalServer } from './temporal-server';

/**
 * `--temporal=dev` (the default) or `postgres`, the history shards of a new PostgreSQL-backed cluster, and
 * `--redis=single` (the default) or `cluster` (a 3-master Redis Cluster).
 */
function startOptions(): { temporal: 'dev' | 'postgres'; shards: number; redis: 'single' | 'cluster' } {
  const { values } = parseArgs({
    options: {
      temporal: { type: 'string', default: 'dev' },
      'history-shards': { type: 'string', default: '4' },
      redis: { type: 'string', default: 'single' },
    },
  });
  if (values.redis !== 'single' && values.redis !== 'cluster') {
    throw new ProvisionError(`--redis is "single" or "cluster", not "${values.redis}"`);
  }
  const shards = Number(values['history-shards']);
  if (values.temporal !== 'dev' && values.temporal !== 'postgres') {
    throw new ProvisionError(`--temporal is "dev" or "postgres", not "${values.temporal}"`);
  }
  if (!Number.isInteger(shards) || shards < 1 || shards > 1024) {
    throw new ProvisionError(
      `--history-shards is a whole number from 1 to 1024, not "${values['history-shards']}"`,
    );
  }
  return { temporal: values.temporal, shards, redis: values.redis };
}

/** How long an orderly stop may take before every service is killed. */
const STOP_GRACE_MS = 30_000;
/** A signal repeated within this is the same stop (relayed), not a second Ctrl-C. */
const REPEATED_SIGNAL_MS = 2_000;

/** The worker's V8 old-space limit under `npm start` (MiB); 0 leaves V8's default. */
const WORKER_MAX_OLD_SPACE_MB = 768;

export const DEMO_EVENT = {
  eventId: 'concert-1',
  name: 'TicketDrop Live: the demo concert',
  rows: 20,
  seatsPerRow: 25,
  priceCents: 7500,
  admission: 'queue',
  maxActivePurchases: 100,
} as const;

/** Local secrets, generated once and kept in the git-ignored data folder unless set in the environment. */
function localSecrets(): {
  adminToken: string;
  gateToken: string;
  signingSecret: string;
  fanIssuerSecret: string;
} {
  const file = path.join(DATA_DIR, 'secrets.json');
  const stored = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>) : {};
  const secrets = {
    adminToken:
      process.env.TICKETDROP_ADMIN_TOKEN ??
      stored.adminToken ??
      `adm_${randomBytes(18).toString('base64url')}`,
    gateToken:
      process.env.TICKETDROP_GATE_TOKEN ??
      stored.gateToken ??
      `gate_${randomBytes(18).toString('base64url')}`,
    signingSecret:
      process.env.TICKETDROP_SIGNING_SECRET ?? stored.signingSecret ?? randomBytes(32).toString('base64url'),
    // The dev issuer's key: it stands in for the site's identity provider (tools/dev/fan-issuer.ts).
    fanIssuerSecret:
      process.env.TICKETDROP_FAN_JWT_SECRET ??
      stored.fanIssuerSecret ??
      randomBytes(32).toString('base64url'),
  };
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

async function createDemoEvent(apiUrl: string, adminToken: string): Promise<string> {
  const response = await fetch(`${apiUrl}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
    body: JSON.stringify(DEMO_EVENT),
  });
  const body = await response.text();
  // 409: kept from an earlier version of the demo (a local .data folder); it is used as it is.
  if (response.status !== 201 && response.status !== 200 && response.status !== 409) {
    throw new Error(`creating ${DEMO_EVENT.eventId} failed: ${response.status} ${body}`);
  }
  const event = (await (await fetch(`${apiUrl}/events/${DEMO_EVENT.eventId}`)).json()) as {
    capacity: number;
    admission: string;
  };
  const sells = event.admission === 'queue' ? 'waiting room' : 'direct sale';
  const origin = { 201: 'created', 200: 'already there', 409: 'kept from an earlier version' }[
    response.status
  ];
  return `${event.capacity} seats, ${sells}, ${origin}`;
}

async function main(): Promise<void> {
  ensureDir(DATA_DIR);
  const logs = ensureDir(path.join(DATA_DIR, 'logs'));
  let stopping = false;
  let stack: LocalStackFile | undefined;
  const supervisor = new Supervisor({
    // Tools find the processes in .data/stack.json (the drop watches their memory, a chaos plan kills them).
    onRestart: () => stack && writeStackFile({ ...stack, pids: supervisor.pids() }),
    onGiveUp: (name) => {
      console.error(`${name} keeps crashing; stopping the stack (logs in ${logs})`);
      void stopAll(1);
    },
  });
  const stopChildren = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    console.log('\nStopping…');
    await supervisor.stop();
    console.log('Stopped.');
  };
  const stopAll = async (code: number): Promise<never> => {
    // 30 s at most for an orderly stop; then every service is killed, none left behind.
    setTimeout(() => {
      console.error('the stop took over 30 s: killing every service');
      supervisor.kill();
      process.exit(1);
    }, STOP_GRACE_MS).unref();
    await stopChildren();
    process.exit(code);
  };
  // Ctrl-C or a signal: every service stopped, newest first. The same signal often arrives twice (tsx
  // relays the one it got to this process, which may have had it already): a repeat within a moment is
  // the same stop. A later one means "now": every service is killed at once.
  let firstSignalAt: number | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (firstSignalAt === undefined) {
      firstSignalAt = Date.now();
      void stopAll(0);
    } else if (Date.now() - firstSignalAt > REPEATED_SIGNAL_MS) {
      console.error(`${signal} again: killing every service now`);
      supervisor.kill();
      process.exit(1);
    }
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, onSignal);

  try {
    const secrets = localSecrets();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TICKETDROP_ADMIN_TOKEN: secrets.adminToken,
      TICKETDROP_GATE_TOKEN: secrets.gateToken,
      TICKETDROP_SIGNING_SECRET: secrets.signingSecret,
      ...devFanIdentityEnv(secrets.fanIssuerSecret),
    };

    let uiUrl = '(remote cluster: see its own UI)';
    let metricsUrl: string | undefined;
    const flags = startOptions();
    if (!process.env.TEMPORAL_ADDRESS && flags.temporal === 'postgres') {
      const pg = ensurePostgres();
      const { server, sqlTool } = ensureTemporalServer();
      const pgPort = await portOrFree(55432);
      console.log(`Starting PostgreSQL on ${HOST}:${pgPort} (cluster in .data/postgres)…`);
      const pgOptions = {
        dataDir: path.join(DATA_DIR, 'postgres'),
        port: pgPort,
        logFile: path.join(logs, 'postgres.log'),
      };
      await supervisor.add({ name: 'postgres', start: () => startPostgres(pg, pgOptions) });
      setupTemporalSchemas(sqlTool, pgPort, flags.shards);
      const port = await portOrFree(7233);
      console.log(
        `Starting the Temporal server on ${HOST}:${port} (PostgreSQL, ${flags.shards} history shards)…`,
      );
      const serverOptions = {
        serverBin: server,
        pgPort,
        shards: flags.shards,
        port,
        rootDir: ensureDir(path.join(DATA_DIR, 'temporal-server')),
        logFile: path.join(logs, 'temporal.log'),
      };
      const temporal = await supervisor.add({
        name: 'temporal',
        start: () => startTemporalServer(serverOptions),
        alive: temporalAlive,
      });
      env.TEMPORAL_ADDRESS = temporal.address;
      uiUrl = '(none: the Temporal server ships no web UI; use npx ticketdrop inspect or the temporal CLI)';
      metricsUrl = temporal.metricsUrl;
    }
    if (!process.env.TEMPORAL_ADDRESS && flags.temporal === 'dev') {
      const bin = ensureTemporalCli();
      const port = await portOrFree(7233);
      const uiPort = await portOrFree(port + 1000);
      const metricsPort = await portOrFree(port + 2000);
      console.log(`Starting the Temporal dev server on ${HOST}:${port} (state in .data/temporal.sqlite)…`);
      // Restarted on the same ports and the same SQLite file: nothing acknowledged is lost.
      const options = {
        bin,
        port,
        uiPort,
        metricsPort,
        dbFile: path.join(DATA_DIR, 'temporal.sqlite'),
        logFile: path.join(logs, 'temporal.log'),
      };
      const temporal = await supervisor.add({
        name: 'temporal',
        start: () => startTemporalDevServer(options),
        // Wedged (its store failing every call) is as good as crashed: killed and restarted.
        alive: temporalAlive,
      });
      env.TEMPORAL_ADDRESS = temporal.address;
      uiUrl = temporal.uiUrl ?? uiUrl;
      metricsUrl = temporal.metricsUrl;
      // The dashboard links seats to this UI (a remote cluster's is set with TICKETDROP_TEMPORAL_UI_URL).
      env.TICKETDROP_TEMPORAL_UI_URL ??= temporal.uiUrl;
    }
    if (!process.env.REDIS_URL && flags.redis === 'cluster') {
      const bin = ensureRedisServer();
      const cli = ensureRedisCli();
      const ports = await redisClusterPorts(3);
      console.log(`Starting a Redis Cluster of 3 masters on ${HOST}:${ports.join(', ')}…`);
      // Restarted empty on the same ports, the same cluster: the worker rebuilds the cache.
      const options = { bin, cli, ports, dir: path.join(DATA_DIR, 'redis-cluster'), logDir: logs };
      const redis = await supervisor.add({ name: 'redis', start: () => startRedisCluster(options) });
      env.REDIS_URL = redis.url;
      env.REDIS_CLUSTER = 'true';
    }
    if (!process.env.REDIS_URL && flags.redis === 'single') {
      const bin = ensureRedisServer();
      const port = await portOrFree(6379);
      console.log(`Starting Redis on ${HOST}:${port}…`);
      // Restarted empty on the same port: the cache is only a cache, and the worker rebuilds it.
      const options = { bin, port, logFile: path.join(logs, 'redis.log') };
      const redis = await supervisor.add({ name: 'redis', start: () => startRedisServer(options) });
      env.REDIS_URL = redis.url;
    }

    console.log('Starting the worker (bundling workflows)…');
    // A bounded old generation: the worker collects sooner instead of growing past 1.1 GiB in a
    // 50,000-fan drop (about 200 MiB less at no measurable cost in speed: docs/BENCHMARKS.md).
    const heapMb = Number(process.env.TICKETDROP_WORKER_MAX_OLD_SPACE_MB ?? WORKER_MAX_OLD_SPACE_MB);
    const nodeArgs = heapMb > 0 ? [`--max-old-space-size=${heapMb}`] : [];
    // The worker's Prometheus endpoint: the SDK's telemetry and TicketDrop's counters (docs/OPERATIONS.md).
    env.TICKETDROP_WORKER_METRICS_ADDRESS ??= `${HOST}:${await portOrFree(9464)}`;
    const workerMetricsUrl = `http://${env.TICKETDROP_WORKER_METRICS_ADDRESS}/metrics`;
    await supervisor.add({
      name: 'worker',
      start: () => startNodeService('worker', 'src/worker.ts', /worker ready/, { env, nodeArgs }),
    });
    const apiPort = process.env.TICKETDROP_API_PORT
      ? Number(process.env.TICKETDROP_API_PORT)
      : await portOrFree(3000);
    env.TICKETDROP_API_PORT = String(apiPort);
    env.TICKETDROP_API_HOST = env.TICKETDROP_API_HOST ?? HOST;
    // Locally the drop simulator plays the reverse proxy: it names each fan's address in X-Forwarded-For,
    // so the per-address limits count fans as a real deployment behind its proxy would. Only loopback is
    // trusted; a deployment sets its own proxies (docs/SECURITY.md).
    env.TICKETDROP_TRUST_PROXY = env.TICKETDROP_TRUST_PROXY ?? '127.0.0.1';
    await supervisor.add({
      name: 'api',
      start: () =>
        startNodeService('api', 'src/api/server.ts', /Server listening/, {
          env,
          logFile: path.join(logs, 'api.log'),
        }),
    });

    const apiUrl = `http://${env.TICKETDROP_API_HOST}:${apiPort}`;
    // The supervisor's own counters (exits, restarts, which services are up), for the same dashboards.
    const supervisorPort = await portOrFree(9465);
    const metricsServer = createServer((_req, res) => {
      void supervisor.registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': supervisor.registry.contentType });
        res.end(text);
      });
    });
    await new Promise<void>((resolve) => metricsServer.listen(supervisorPort, HOST, resolve));
    metricsServer.unref();
    const supervisorMetricsUrl = `http://${HOST}:${supervisorPort}/metrics`;

    stack = {
      temporalAddress: env.TEMPORAL_ADDRESS!,
      redisUrl: env.REDIS_URL!,
      redisCluster: env.REDIS_CLUSTER === 'true',
      apiUrl,
      temporalUiUrl: env.TICKETDROP_TEMPORAL_UI_URL,
      temporalMetricsUrl: metricsUrl,
      workerMetricsUrl,
      supervisorMetricsUrl,
      providersDb: env.TICKETDROP_PROVIDERS_DB ?? path.join(DATA_DIR, 'providers.sqlite'),
      pids: supervisor.pids(),
    };
    writeStackFile(stack);
    const demo = await createDemoEvent(apiUrl, secrets.adminToken);
    console.log(`
TicketDrop is up.
  API          ${apiUrl}
  API docs     ${apiUrl}/docs
  Dashboard    ${apiUrl}/events/${DEMO_EVENT.eventId}/dashboard (every event: ${apiUrl}/)
  Temporal UI  ${uiUrl}
  Metrics      ${apiUrl}/metrics (API), ${workerMetricsUrl} (worker), ${supervisorMetricsUrl} (supervisor)${metricsUrl ? `, ${metricsUrl} (Temporal)` : ''}
  Admin token  ${secrets.adminToken}
  Gate token   ${secrets.gateToken} (ticket scanners: POST /tickets/redeem)
  Demo event   ${DEMO_EVENT.eventId} (${demo}): ${apiUrl}/events/${DEMO_EVENT.eventId}
  Fan tokens   npx ticketdrop fan-token <fanId> (the dev issuer, standing in for the site's login)
  Join it      curl -s -XPOST ${apiUrl}/events/${DEMO_EVENT.eventId}/queue -H "authorization: Bearer $(npx ticketdrop fan-token fan-1)"
  Logs         ${logs}
Press Ctrl-C to stop.`);
  } catch (err) {
    console.error(err instanceof ProvisionError ? `\n${err.message}` : err);
    await stopAll(1);
  }
}

void main();
