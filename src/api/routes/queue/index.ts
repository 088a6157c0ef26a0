import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { problems } from '../../schemas/common';
import { EventParams } from '../../schemas/events';
import { JoinQueueBody, QueueJoined, QueueStatus } from '../../schemas/queue';
import { requireQueueToken } from '../../tokens';
import { EventService } from '../events/service';
import { DEFAULT_JOIN_BATCHING, QueueService, type JoinBatching } from './service';

export interface QueueRoutesOptions {
  signingSecret: string;
  joinBatching?: JoinBatching;
}

const queue: FastifyPluginAsyncTypebox<QueueRoutesOptions> = async (app, opts) => {
  const events = new EventService(app.temporal, app.seatCache, app.taskQueue, app.queueCache);
  const service = new QueueService(
    app.temporal,
    events,
    app.queueCache,
    app.purchaseCache,
    opts.signingSecret,
    opts.joinBatching ?? DEFAULT_JOIN_BATCHING,
  );
  app.addHook('onClose', async () => service.drain());

  app.post(
    '/events/:eventId/queue',
    {
      schema: {
        summary: "Join an event's waiting room; joining again keeps the first position",
        tags: ['waiting room'],
        params: EventParams,
        body: JoinQueueBody,
        response: { 200: QueueJoined, 202: QueueJoined, ...problems(400, 404, 409, 503) },
      },
    },
    async (request, reply) => {
      const { created, joined } = await service.join(request.params.eventId, request.body.fanId);
      return reply.code(created ? 202 : 200).send(joined);
    },
  );

  app.get(
    '/events/:eventId/queue/me',
    {
      schema: {
        summary: "The fan's standing in the waiting room (queue token), from the read-side cache",
        tags: ['waiting room'],
        security: [{ bearer: [] }],
        params: EventParams,
        response: { 200: QueueStatus, ...problems(400, 401, 403, 404, 503) },
      },
    },
    async (request) => {
      const claims = requireQueueToken(request, opts.signingSecret, request.params.eventId);
      return service.me(claims);
    },
  );
};

export default queue;
