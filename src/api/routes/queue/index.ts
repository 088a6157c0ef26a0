import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { problems } from '../../schemas/common';
import { EventParams } from '../../schemas/events';
import { JoinQueueBody, QueueQuery, QueueStatus } from '../../schemas/queue';
import { EventService } from '../events/service';
import { DEFAULT_JOIN_BATCHING, QueueService, type JoinBatching } from './service';

export interface QueueRoutesOptions {
  joinBatching?: JoinBatching;
}

const queue: FastifyPluginAsyncTypebox<QueueRoutesOptions> = async (app, opts) => {
  const events = new EventService(app.temporal, app.seatCache, app.taskQueue, app.queueCache);
  const service = new QueueService(
    app.temporal,
    events,
    app.queueCache,
    app.purchaseCache,
    opts.joinBatching ?? DEFAULT_JOIN_BATCHING,
  );
  // Long-polls first: the server waits for the requests in flight before it closes.
  app.addHook('preClose', async () => service.endLongPolls());
  app.addHook('onClose', async () => service.drain());

  app.post(
    '/events/:eventId/queue',
    {
      onRequest: [app.limitAddress('join'), app.requireFan, app.limitFan('join')],
      // No body at all is the usual join; one that is sent must be empty.
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        summary:
          "Join an event's waiting room as the fan the token names; joining again keeps the first position",
        tags: ['waiting room'],
        security: [{ fan: [] }],
        params: EventParams,
        body: JoinQueueBody,
        response: { 200: QueueStatus, 202: QueueStatus, ...problems(400, 401, 404, 409, 429, 503) },
      },
    },
    async (request, reply) => {
      const { created, joined } = await service.join(request.params.eventId, request.fanId);
      return reply.code(created ? 202 : 200).send(joined);
    },
  );

  app.get(
    '/events/:eventId/queue/me',
    {
      onRequest: [app.limitAddress('poll'), app.requireFan, app.limitFan('poll')],
      schema: {
        summary:
          "The fan's standing in the waiting room, from the read-side cache; ?waitMs long-polls while it waits",
        tags: ['waiting room'],
        security: [{ fan: [] }],
        params: EventParams,
        querystring: QueueQuery,
        response: { 200: QueueStatus, ...problems(400, 401, 404, 429, 503) },
      },
    },
    async (request) => {
      const { eventId } = request.params;
      const { waitMs = 0 } = request.query;
      if (waitMs === 0) return service.me(eventId, request.fanId);
      const release = app.holdSlot('longPolls', request);
      try {
        return await service.me(eventId, request.fanId, waitMs);
      } finally {
        release();
      }
    },
  );
};

export default queue;
