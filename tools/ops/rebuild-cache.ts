/** `npm run rebuild-cache [-- <eventId>]`: restores the read-side cache from the entities. */
import { loadRedisConfig, loadTemporalConfig } from '../../src/config';
import { localEnv } from '../dev/local-stack-file';
import { connectClient } from '../../src/temporal/connection';
import { rebuildAll, rebuildEvent } from '../../src/cache/rebuild';
import { createRedis, waitForRedis } from '../../src/cache/redis';
import { PurchaseCache } from '../../src/cache/purchase-cache';
import { QueueCache } from '../../src/cache/queue-cache';
import { SeatCache } from '../../src/cache/seat-cache';

async function main(): Promise<void> {
  const eventId = process.argv[2];
  const env = localEnv(); // npm start's addresses unless TEMPORAL_ADDRESS / REDIS_URL say otherwise
  const client = await connectClient(loadTemporalConfig(env));
  const redis = createRedis(loadRedisConfig(env));
  try {
    await waitForRedis(redis);
    const deps = {
      client,
      cache: new SeatCache(redis),
      queueCache: new QueueCache(redis),
      purchaseCache: new PurchaseCache(redis),
    };
    if (eventId) {
      const result = await rebuildEvent(deps, eventId);
      if (!result) throw new Error(`no event ${eventId} (or its seats are still being created)`);
      console.log(`rebuilt ${eventId}: ${result.seats} seats`);
    } else {
      const { events, seats, failed } = await rebuildAll(deps);
      console.log(`rebuilt ${events} events, ${seats} seats`);
      for (const { eventId: id, error } of failed)
        console.warn(`left out ${id}: its entities did not answer (${error})`);
      if (failed.length > 0) process.exitCode = 1;
    }
  } finally {
    redis.disconnect();
    await client.connection.close();
  }
}

main().catch((err: unknown) => {
  console.error(`rebuild failed: ${(err as Error).message}`);
  process.exit(1);
});
