import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { problems } from '../../schemas/common';
import {
  CreateEventBody,
  CreatedEvent,
  EventParams,
  EventSummary,
  Seat,
  SeatMap,
  SeatParams,
} from '../../schemas/events';
import { EventService, normalizeDefinition } from './service';

const events: FastifyPluginAsyncTypebox = async (app) => {
  const service = new EventService(app.temporal, app.seatCache, app.taskQueue, app.queueCache);

  app.post(
    '/events',
    {
      onRequest: app.requireAdmin,
      schema: {
        summary: 'Create an event: one seat entity per seat (admin)',
        tags: ['events'],
        security: [{ bearer: [] }],
        body: CreateEventBody,
        response: { 200: CreatedEvent, 201: CreatedEvent, ...problems(400, 401, 409, 503) },
      },
    },
    async (request, reply) => {
      const { created, summary } = await service.create(normalizeDefinition(request.body));
      const { eventId, capacity, admission, status } = summary;
      return reply.code(created ? 201 : 200).send({ eventId, capacity, admission, status });
    },
  );

  app.post(
    '/events/:eventId/close',
    {
      onRequest: app.requireAdmin,
      schema: {
        summary: 'Close an event: its seat entities finish; closing again changes nothing (admin)',
        tags: ['events'],
        security: [{ bearer: [] }],
        params: EventParams,
        response: { 200: EventSummary, ...problems(400, 401, 404, 503) },
      },
    },
    async (request) => service.close(request.params.eventId),
  );

  app.get(
    '/events/:eventId',
    {
      schema: {
        summary: 'Event summary with seat counters (read-side cache)',
        tags: ['events'],
        params: EventParams,
        response: { 200: EventSummary, ...problems(400, 404, 503) },
      },
    },
    async (request) => service.summary(request.params.eventId),
  );

  app.get(
    '/events/:eventId/seats',
    {
      schema: {
        summary: 'The seat map (read-side cache)',
        tags: ['events'],
        params: EventParams,
        response: { 200: SeatMap, ...problems(400, 404, 503) },
      },
    },
    async (request) => ({ seats: await service.seatMap(request.params.eventId) }),
  );

  app.get(
    '/events/:eventId/seats/:seatId',
    {
      schema: {
        summary: 'One seat, read from its seat entity (authoritative)',
        tags: ['events'],
        params: SeatParams,
        response: { 200: Seat, ...problems(400, 404, 503) },
      },
    },
    async (request) => {
      const { eventId, seatId } = request.params;
      const view = await service.seat(eventId, seatId);
      return {
        seatId: view.seatId,
        status: view.status,
        version: view.version,
        holdExpiresAt: view.holdExpiresAt ? new Date(view.holdExpiresAt).toISOString() : undefined,
      };
    },
  );
};

export default events;
