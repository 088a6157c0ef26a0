import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/** One registry per process: default Node metrics plus request latency by route and status. */
export const register = new Registry();
collectDefaultMetrics({ register });

const httpDuration = new Histogram({
  name: 'ticketdrop_http_request_duration_seconds',
  help: 'HTTP request latency by method, route and status',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [register],
});

/** Fans per join Update sent to a queue entity (the group commit's batch sizes). */
export const joinBatchSize = new Histogram({
  name: 'ticketdrop_join_batch_size',
  help: 'Fans per join batch sent to a queue entity',
  buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000],
  registers: [register],
});

export const joinBatchSeconds = new Histogram({
  name: 'ticketdrop_join_batch_seconds',
  help: 'Time for one join batch Update to return, by outcome',
  labelNames: ['outcome'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [register],
});

/** Problem answers by failure code: a fault shows here first (UNAVAILABLE, OVERLOADED, RATE_LIMITED, …). */
export const problemAnswers = new Counter({
  name: 'ticketdrop_http_problems_total',
  help: 'problem+json answers, by failure code and status',
  labelNames: ['code', 'status'] as const,
  registers: [register],
});

/** Purchase sagas the API started (a repeated request for the same purchase starts none). */
export const purchasesStarted = new Counter({
  name: 'ticketdrop_purchases_started_total',
  help: 'Purchase sagas started by the API',
  registers: [register],
});

export default fp(
  async function metrics(app: FastifyInstance) {
    app.addHook('onResponse', async (request, reply) => {
      httpDuration.observe(
        {
          method: request.method,
          route: request.routeOptions.url ?? 'unmatched',
          status: String(reply.statusCode),
        },
        reply.elapsedTime / 1000,
      );
    });
  },
  { name: 'metrics' },
);
