/**
 * `npm run audit -- --event <eventId> [--json]`: audits one event against the sources of truth and
 * prints each invariant with its counts; exits 1 on any violation (2 when it could not audit).
 * Finds `npm start`'s stack through `.data/`; TEMPORAL_ADDRESS, REDIS_URL, TICKETDROP_PROVIDERS_DB and
 * TICKETDROP_SIGNING_SECRET point it elsewhere.
 */
import { parseArgs } from 'node:util';
import { createRedis, waitForRedis } from '../../src/cache/redis';
import { loadRedisConfig, loadTemporalConfig, loadWorkerConfig } from '../../src/config';
import { localEnv } from '../dev/local-stack-file';
import { ProviderStore } from '../../src/providers/store';
import { connectClient } from '../../src/temporal/connection';
import { audit, auditCaches, formatAudit } from './auditor';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { event: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  if (!values.event) {
    console.error('usage: npm run audit -- --event <eventId> [--json]');
    return 2;
  }
  const env = localEnv();
  const worker = loadWorkerConfig(env);
  const client = await connectClient(loadTemporalConfig(env));
  const redis = createRedis(loadRedisConfig(env));
  const store = new ProviderStore(worker.providersDb);
  try {
    await waitForRedis(redis);
    const report = await audit(
      {
        client,
        store,
        signingSecret: worker.signingSecret,
        caches: auditCaches(redis),
      },
      values.event,
    );
    console.log(values.json ? JSON.stringify(report, null, 2) : formatAudit(report));
    return report.ok ? 0 : 1;
  } finally {
    store.close();
    redis.disconnect();
    await client.connection.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`audit failed: ${(err as Error).message}`);
    process.exit(2);
  },
);
