/** Runs the API: connects Temporal and Redis, listens, and closes gracefully on a signal (close-with-grace). */
import closeWithGrace from 'close-with-grace';
import { createRedis } from '../cache/redis';
import { describeConfig, loadConfig } from '../config';
import { connectGuardedClient } from '../temporal/connection';
import { buildApp } from './app';

async function main(): Promise<void> {
  const config = loadConfig();
  const redis = createRedis(config.redis);
  // A change of the server's health, in the app's log once it exists (the first probe is a second away).
  let log = (line: string): void => console.log(line);
  const { client: temporal, health } = connectGuardedClient(config.temporal, {}, (available) =>
    log(
      available
        ? 'the Temporal server answers again'
        : 'the Temporal server does not answer; refusing calls with 503',
    ),
  );
  const app = await buildApp({
    temporal,
    redis,
    taskQueue: config.temporal.taskQueue,
    adminToken: config.adminToken,
    gateToken: config.gateToken,
    caps: config.api.caps,
    rateLimits: config.api.rateLimits,
    trustProxy: config.api.trustProxy,
    signingSecret: config.signingSecret,
    fanIdentity: config.fanIdentity,
    purchase: config.purchase,
    temporalUiUrl: config.temporalUiUrl,
    closeClients: true,
    temporalSettled: () => health.settled(),
    logger: { level: process.env.LOG_LEVEL ?? 'info' },
    requestLogging: process.env.TICKETDROP_REQUEST_LOG !== 'off',
  });
  log = (line) => app.log.warn(line);
  app.log.info({ config: describeConfig(config) }, 'starting');

  // Requests in flight are answered, then Temporal and Redis are closed; a close stuck past 10 s exits.
  closeWithGrace({ delay: 10_000, logger: app.log }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'closing after an error');
    else app.log.info({ signal }, 'shutting down');
    health.stop();
    await app.close();
  });

  await app.listen({ host: config.api.host, port: config.api.port });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
