/**
 * The live drop dashboard: `GET /` lists the events, `GET /events/:eventId/dashboard` shows one. The page
 * loads a snapshot from the read-side cache, then follows the cache's change feed as server-sent events;
 * nothing here asks Temporal for changes.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply } from 'fastify';
import { EVENT_ID_PATTERN } from '../../../entities/event/contract';
import { FailureCode } from '../../../failures';
import { HttpProblem } from '../../problem';
import { problems } from '../../schemas/common';
import { ChangeStream, DashboardSnapshot } from '../../schemas/dashboard';
import { EventParams, type EventSummary } from '../../schemas/events';
import { EventService } from '../events/service';
import {
  ASSETS_PREFIX,
  dashboardPage,
  eventListPage,
  notFoundPage,
  PAGE_SECURITY_POLICY,
  unavailablePage,
} from './pages';
import { DashboardService } from './service';

/** How soon a browser reconnects after losing the stream (the SSE `retry:` field). */
const RETRY_MS = 1_000;
/** Comments on an idle stream, so proxies and load balancers keep it open. */
const HEARTBEAT_MS = 15_000;
/** A client this far behind is cut off; it reconnects and loads a fresh snapshot. */
const MAX_BUFFERED_BYTES = 1 << 20;

const ASSET_TYPES: Record<string, string> = {
  'dashboard.js': 'text/javascript; charset=utf-8',
  'dashboard.css': 'text/css; charset=utf-8',
};
const assets = new Map(
  Object.entries(ASSET_TYPES).map(([name, type]) => {
    const body = readFileSync(path.join(__dirname, 'public', name));
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`;
    return [name, { body, type, etag }];
  }),
);

const EVENT_ID = new RegExp(EVENT_ID_PATTERN);

function sendPage(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply
    .code(status)
    .header('content-security-policy', PAGE_SECURITY_POLICY)
    .header('cache-control', 'no-store')
    .type('text/html; charset=utf-8')
    .send(body);
}

export interface DashboardOptions {
  temporalUiUrl: string;
}

const dashboard: FastifyPluginAsyncTypebox<DashboardOptions> = async (app, opts) => {
  const events = new EventService(app.temporal, app.seatCache, app.taskQueue, app.queueCache);
  const service = new DashboardService({
    client: app.temporal,
    redis: app.redis,
    seatCache: app.seatCache,
    purchaseCache: app.purchaseCache,
    events,
    temporalUiUrl: opts.temporalUiUrl,
  });

  app.get(
    '/',
    {
      schema: {
        summary: 'Every event, linking to its live dashboard (HTML)',
        tags: ['dashboard'],
        hide: true,
      },
    },
    async (_request, reply) => {
      let list: EventSummary[];
      try {
        list = await service.events();
      } catch {
        return sendPage(reply, 503, unavailablePage());
      }
      return sendPage(reply, 200, eventListPage(list));
    },
  );

  app.get(
    '/events/:eventId/dashboard',
    {
      schema: {
        summary: "One event's live dashboard (HTML); an unknown event gets a friendly 404 page",
        tags: ['dashboard'],
        hide: true,
        // Any text: an id that cannot exist is a 404 page like any other unknown event, not a 400.
        params: Type.Object({ eventId: Type.String({ maxLength: 1000 }) }),
      },
    },
    async (request, reply) => {
      const { eventId } = request.params;
      if (!EVENT_ID.test(eventId)) return sendPage(reply, 404, notFoundPage(eventId));
      let event: EventSummary;
      try {
        event = await events.summary(eventId);
      } catch (err) {
        if (err instanceof HttpProblem && err.code === FailureCode.NOT_FOUND) {
          return sendPage(reply, 404, notFoundPage(eventId));
        }
        request.log.warn({ err }, 'dashboard unavailable');
        return sendPage(reply, 503, unavailablePage());
      }
      const base = `/events/${encodeURIComponent(eventId)}`;
      return sendPage(
        reply,
        200,
        dashboardPage(event, {
          eventId,
          snapshotUrl: `${base}/dashboard/snapshot`,
          changesUrl: `${base}/changes`,
        }),
      );
    },
  );

  app.get(
    '/events/:eventId/dashboard/snapshot',
    {
      schema: {
        summary: "The dashboard's snapshot: summary, seat map, failures by code, history (read-side cache)",
        tags: ['dashboard'],
        params: EventParams,
        response: { 200: DashboardSnapshot, ...problems(400, 404, 503) },
      },
    },
    async (request) => service.snapshot(request.params.eventId),
  );

  app.get(
    '/events/:eventId/changes',
    {
      schema: {
        summary: "The event's changes as server-sent events (from the read-side cache's change feed)",
        tags: ['dashboard'],
        params: EventParams,
        produces: ['text/event-stream'],
        response: { 200: ChangeStream, ...problems(400, 404, 503) },
      },
    },
    async (request, reply) => {
      const { eventId } = request.params;
      await events.event(eventId, 1_000); // 404 for an unknown event, before the stream starts
      const release = app.holdSlot('streams', request);
      const res = reply.raw;
      let stop = (): void => undefined;
      const end = (): void => {
        clearInterval(heartbeat);
        stop();
        release();
        if (!res.writableEnded) res.end();
      };
      const send = (chunk: string): void => {
        // Nothing before the stream starts: the snapshot the browser loads once it opens holds it.
        if (res.writableEnded || !res.headersSent) return;
        if (res.writableLength > MAX_BUFFERED_BYTES) return end();
        res.write(chunk);
      };
      const heartbeat = setInterval(() => send(': heartbeat\n\n'), HEARTBEAT_MS);
      try {
        stop = await app.changeFeed.watch(eventId, {
          message: (raw) => send(`data: ${raw}\n\n`),
          resync: () => send('event: resync\ndata: {}\n\n'),
          close: end,
        });
      } catch (err) {
        clearInterval(heartbeat);
        release();
        request.log.warn({ err }, 'change feed unavailable');
        throw new HttpProblem(FailureCode.UNAVAILABLE, 'the change feed is unavailable; retry shortly');
      }
      reply.hijack();
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write(`retry: ${RETRY_MS}\n: watching ${eventId}\n\n`);
      res.on('close', end);
      return reply;
    },
  );

  app.get(
    `${ASSETS_PREFIX}/:name`,
    {
      schema: {
        hide: true,
        params: Type.Object({ name: Type.String({ maxLength: 100 }) }),
      },
    },
    async (request, reply) => {
      const asset = assets.get(request.params.name);
      if (!asset) throw new HttpProblem(FailureCode.NOT_FOUND, `no asset ${request.params.name}`);
      reply.header('etag', asset.etag).header('cache-control', 'no-cache');
      if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
      return reply.type(asset.type).send(asset.body);
    },
  );
};

export default dashboard;
