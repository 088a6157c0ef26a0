/** Runs the API: connects Temporal and Redis, listens, and closes gracefully on SIGINT/SIGTERM. */
import { createRedis } from '../cache/redis';
import { describeConfig, loadConfig } from '../config';
import { connectClient } from '../temporal/connection';
import { buildApp } from './app';

async function main(): Promise<void> {
  const config = loadConfig();
  const temporal = await connectClient(config.temporal);
  const redis = createRedis(config.redis);
  const app = await buildApp({
    temporal,
    redis,
    taskQueue: config.temporal.taskQueue,
    adminToken: config.adminToken,
    signingSecret: config.signingSecret,
    purchase: config.purchase,
    temporalUiUrl: config.temporalUiUrl,
    closeClients: true,
    logger: { level: process.env.LOG_LEVEL ?? 'info' },
    requestLogging: process.env.TICKETDROP_REQUEST_LOG !== 'off',
  });
  app.log.info({ config: describeConfig(config) }, 'starting');

  let closing = false;
  const close = (signal: string): void => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        app.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => close('SIGINT'));
  process.on('SIGTERM', () => close('SIGTERM'));

  await app.listen({ host: config.api.host, port: config.api.port });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
