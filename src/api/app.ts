/**
 * The TicketDrop HTTP API as one fastify app (a plugin tree): infrastructure decorators, one root
 * error handler, schema-first routes, and the OpenAPI document generated from the same schemas.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Client } from '@temporalio/client';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { RedisClient } from '../cache/redis';
import auth from './plugins/auth';
import errors from './plugins/errors';
import infrastructure from './plugins/infrastructure';
import metrics from './plugins/metrics';
import events from './routes/events';
import ops from './routes/ops';
import { Problem } from './schemas/common';

export interface AppOptions {
  temporal: Client;
  redis: RedisClient;
  taskQueue: string;
  adminToken: string;
  closeClients?: boolean;
  logger?: FastifyServerOptions['logger'];
}

export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: 64 * 1024,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.addSchema(Problem);
  await app.register(errors);
  await app.register(metrics);
  await app.register(infrastructure, {
    temporal: opts.temporal,
    redis: opts.redis,
    taskQueue: opts.taskQueue,
    closeClients: opts.closeClients ?? false,
  });
  await app.register(auth, { adminToken: opts.adminToken });
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'TicketDrop API',
        version: '1',
        description:
          'Sells every seat exactly once. Errors are application/problem+json with a stable `code`.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(ops);
  await app.register(events);
  return app;
}
