import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { PurchaseCache } from '../../cache/purchase-cache';
import { QueueCache } from '../../cache/queue-cache';
import type { RedisClient } from '../../cache/redis';
import { SeatCache } from '../../cache/seat-cache';

declare module 'fastify' {
  interface FastifyInstance {
    temporal: Client;
    redis: RedisClient;
    seatCache: SeatCache;
    queueCache: QueueCache;
    purchaseCache: PurchaseCache;
    taskQueue: string;
  }
}

export interface InfrastructureOptions {
  temporal: Client;
  redis: RedisClient;
  taskQueue: string;
  /** Close the clients with the app (the server owns them); tests that share clients pass false. */
  closeClients: boolean;
  /** Awaited before the Temporal client is closed: calls still running under it end first. */
  temporalSettled?: () => Promise<void>;
}

/** The Temporal client and Redis as typed decorators that close when the app closes. */
export default fp(
  async function infrastructure(app: FastifyInstance, opts: InfrastructureOptions) {
    app.decorate('temporal', opts.temporal);
    app.decorate<RedisClient>('redis', opts.redis);
    app.decorate('seatCache', new SeatCache(opts.redis));
    app.decorate('queueCache', new QueueCache(opts.redis));
    app.decorate('purchaseCache', new PurchaseCache(opts.redis));
    app.decorate('taskQueue', opts.taskQueue);
    if (opts.closeClients) {
      app.addHook('onClose', async () => {
        opts.redis.disconnect();
        await opts.temporalSettled?.();
        await opts.temporal.connection.close();
      });
    }
  },
  { name: 'infrastructure' },
);
