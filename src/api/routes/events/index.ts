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
import {
  failuresText,
  groupFailures,
  groupsMermaid,
  groupsText,
  listFailed,
  parseSince,
} from '../../../observe/failed-workflows';
import { EventFailures, FailuresQuery } from '../../schemas/failures';
import { HttpProblem } from '../../problem';
import { FailureCode } from '../../../failures';
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

  app.get(
    '/events/:eventId/failures',
    {
      // Who failed and why is for the operators: the failures name fans and purchases.
      onRequest: app.requireAdmin,
      schema: {
        summary:
          'Failed purchases by root cause: the `ticketdrop workflow list --failed --group-by error` view of one event (admin)',
        tags: ['events'],
        security: [{ bearer: [] }],
        params: EventParams,
        querystring: FailuresQuery,
        response: { 200: EventFailures, ...problems(400, 401, 404, 503) },
      },
    },
    async (request, reply) => {
      const { eventId } = request.params;
      const { code, since, limit, format } = request.query;
      await service.summary(eventId);
      let sinceMs: number | undefined;
      try {
        sinceMs = since === undefined ? undefined : parseSince(since);
      } catch (err) {
        throw new HttpProblem(FailureCode.VALIDATION, (err as Error).message);
      }
      const result = await listFailed(app.temporal, { eventId, sinceMs, compactErrors: true, limit });
      const groups = result.failures.length ? groupFailures(result.failures, 'error') : [];
      const failures = code
        ? result.failures.filter((f) => (f.rootCause.code ?? f.rootCause.message) === code)
        : [];
      if (format === 'mermaid' || format === 'text') {
        const text =
          format === 'mermaid'
            ? groupsMermaid(groups, `Failed purchases of ${eventId} by error`)
            : `${groupsText(groups, 'error', result.failures.length)}${failures.length ? `\n${failuresText({ ...result, failures })}` : ''}`;
        // A string with its own content type is sent as it is, past the JSON serializer.
        return reply.type('text/plain; charset=utf-8').send(text as never);
      }
      return { eventId, query: result.query, total: result.total, groups, ...(code && { code, failures }) };
    },
  );
};

export default events;
