/**
 * The TicketDrop HTTP API as one fastify app (a plugin tree): infrastructure decorators, one root
 * error handler, schema-first routes, and the OpenAPI document generated from the same schemas.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Client } from '@temporalio/client';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import Fastify, {
  LogController,
  type FastifyInstance,
  type FastifySchemaCompiler,
  type FastifyServerOptions,
} from 'fastify';
import type { RedisClient } from '../cache/redis';
import { DEFAULT_TEMPORAL_UI_URL, type FanIdentityConfig, type PurchaseConfig } from '../config';
import auth from './plugins/auth';
import caps, { DEFAULT_CAPS, type CapsOptions } from './plugins/caps';
import changeFeed from './plugins/change-feed';
import errors from './plugins/errors';
import fanIdentity from './plugins/fan-identity';
import infrastructure from './plugins/infrastructure';
import metrics from './plugins/metrics';
import rateLimits, { DEFAULT_RATE_LIMITS, type RateLimitOptions } from './plugins/rate-limits';
import dashboard from './routes/dashboard';
import events from './routes/events';
import ops from './routes/ops';
import purchases from './routes/purchases';
import queue from './routes/queue';
import type { JoinBatching } from './routes/queue/service';
import { Problem } from './schemas/common';

// JSON bodies are checked as sent: a wrong type is a 400, never coerced. Path and query values arrive as
// text, so only they are coerced to the schema's types.
const strict = addFormats(new Ajv({ removeAdditional: false, coerceTypes: false, useDefaults: true }));
const coercing = addFormats(new Ajv({ removeAdditional: false, coerceTypes: true, useDefaults: true }));
const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? strict : coercing).compile(schema as object);

export interface AppOptions {
  temporal: Client;
  redis: RedisClient;
  taskQueue: string;
  adminToken: string;
  /** What a gate's ticket scanner presents to redeem tickets. */
  gateToken: string;
  /** Signs ticket QR codes. */
  signingSecret: string;
  /** How fan tokens (the identity provider's JWTs) are verified. */
  fanIdentity: FanIdentityConfig;
  purchase: PurchaseConfig;
  joinBatching?: JoinBatching;
  /** The Temporal web UI the dashboard links seat entities to. */
  temporalUiUrl?: string;
  closeClients?: boolean;
  /** With `closeClients`: awaited before the Temporal client is closed (the guarded client's calls). */
  temporalSettled?: () => Promise<void>;
  logger?: FastifyServerOptions['logger'];
  /** Caps on open change streams and long-polls (defaults: DEFAULT_CAPS). */
  caps?: CapsOptions;
  /** Calls per window per fan and per address (defaults: DEFAULT_RATE_LIMITS). */
  rateLimits?: RateLimitOptions;
  /** Fastify's `trustProxy`: whose X-Forwarded-For to believe for the client address (none by default). */
  trustProxy?: boolean | string[];
  /** Log every request (on by default); load tests turn it off. */
  requestLogging?: boolean;
}

export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? false,
    logController: new LogController({ disableRequestLogging: opts.requestLogging === false }),
    bodyLimit: 64 * 1024,
    trustProxy: opts.trustProxy ?? false,
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);

  app.addSchema(Problem);
  await app.register(errors);
  await app.register(metrics);
  await app.register(infrastructure, {
    temporal: opts.temporal,
    redis: opts.redis,
    taskQueue: opts.taskQueue,
    closeClients: opts.closeClients ?? false,
    temporalSettled: opts.temporalSettled,
  });
  await app.register(changeFeed);
  await app.register(auth, { adminToken: opts.adminToken, gateToken: opts.gateToken });
  await app.register(fanIdentity, opts.fanIdentity);
  await app.register(caps, opts.caps ?? DEFAULT_CAPS);
  await app.register(rateLimits, { ...(opts.rateLimits ?? DEFAULT_RATE_LIMITS), redis: opts.redis });
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'TicketDrop API',
        version: '2',
        description:
          'Sells every seat exactly once. Errors are application/problem+json with a stable `code`.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'The admin or gate token (config)' },
          fan: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT',
            description: "A fan token: a JWT from the site's identity provider; the fan is its `sub`",
          },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(ops);
  await app.register(events);
  await app.register(queue, { joinBatching: opts.joinBatching });
  await app.register(purchases, { signingSecret: opts.signingSecret, purchase: opts.purchase });
  await app.register(dashboard, { temporalUiUrl: opts.temporalUiUrl ?? DEFAULT_TEMPORAL_UI_URL });
  return app;
}
