import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { register } from '../../plugins/metrics';

const Health = Type.Object({ status: Type.String() });
const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('degraded'), Type.Literal('unavailable')]),
  temporal: Type.Boolean(),
  redis: Type.Boolean(),
});

const CHECK_TIMEOUT_MS = 2_000;

function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const ops: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/healthz',
    { schema: { summary: 'The process is up', tags: ['ops'], response: { 200: Health } } },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Temporal and Redis reachable; without Redis the API is ready but degraded',
        tags: ['ops'],
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (_request, reply) => {
      const check = (probe: () => Promise<unknown>): Promise<boolean> =>
        within(probe(), CHECK_TIMEOUT_MS).then(
          () => true,
          () => false,
        );
      const [temporal, redis] = await Promise.all([
        check(() => app.temporal.workflowService.getSystemInfo({})),
        // A Redis Cluster is whole only with every master: a command reaches one of them.
        check(() =>
          'nodes' in app.redis
            ? Promise.all(app.redis.nodes('master').map((node) => node.ping())).then((pongs) => {
                if (pongs.length === 0) throw new Error('no Redis Cluster master known');
              })
            : app.redis.ping(),
        ),
      ]);
      const status = !temporal ? 'unavailable' : redis ? 'ready' : 'degraded';
      return reply.code(temporal ? 200 : 503).send({ status, temporal, redis });
    },
  );

  app.get(
    '/metrics',
    { schema: { summary: 'Prometheus metrics', tags: ['ops'] } },
    async (_request, reply) => {
      return reply.type(register.contentType).send(await register.metrics());
    },
  );

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
};

export default ops;
