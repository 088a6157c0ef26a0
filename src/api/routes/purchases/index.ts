import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { PurchaseConfig } from '../../../config';
import { problems } from '../../schemas/common';
import {
  CreatePurchaseBody,
  EventPurchaseParams,
  Purchase,
  PurchaseCreated,
  PurchaseParams,
  PurchaseQuery,
  RedeemedTicket,
  RedeemTicketBody,
  VerifiedTicket,
  VerifyTicketBody,
} from '../../schemas/purchases';
import { EventService } from '../events/service';
import { QueueService } from '../queue/service';
import { PurchaseService } from './service';

export interface PurchaseRoutesOptions {
  signingSecret: string;
  purchase: PurchaseConfig;
}

const purchases: FastifyPluginAsyncTypebox<PurchaseRoutesOptions> = async (app, opts) => {
  const events = new EventService(app.temporal, app.seatCache, app.taskQueue, app.queueCache);
  const service = new PurchaseService(
    app.temporal,
    events,
    app.seatCache,
    app.purchaseCache,
    app.queueCache,
    new QueueService(app.temporal, events, app.queueCache, app.purchaseCache),
    app.taskQueue,
    opts.signingSecret,
    opts.purchase,
  );

  app.post(
    '/events/:eventId/purchases',
    {
      onRequest: [app.limitAddress('purchase'), app.requireFan, app.limitFan('purchase')],
      schema: {
        summary:
          'Buy a seat (or the best available one) as the fan the token names: starts the purchase saga. On a queue event only an admitted fan may buy',
        tags: ['purchases'],
        security: [{ fan: [] }],
        params: EventPurchaseParams,
        body: CreatePurchaseBody,
        response: {
          200: PurchaseCreated,
          202: PurchaseCreated,
          ...problems(400, 401, 403, 404, 409, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const { created, purchaseId } = await service.create(
        request.params.eventId,
        request.fanId,
        request.body,
      );
      return reply.code(created ? 202 : 200).send({ purchaseId });
    },
  );

  app.get(
    '/purchases/:purchaseId',
    {
      onRequest: [app.limitAddress('poll'), app.requireFan, app.limitFan('poll')],
      schema: {
        summary: "The fan's own purchase; ?waitMs long-polls until it is final",
        tags: ['purchases'],
        security: [{ fan: [] }],
        params: PurchaseParams,
        querystring: PurchaseQuery,
        response: { 200: Purchase, ...problems(400, 401, 404, 429, 503) },
      },
    },
    async (request) => {
      const claims = service.refOf(request.params.purchaseId, request.fanId);
      const { waitMs = 0 } = request.query;
      if (waitMs === 0) return service.status(claims);
      const release = app.holdSlot('longPolls', request);
      try {
        return await service.status(claims, waitMs);
      } finally {
        release();
      }
    },
  );

  app.post(
    '/purchases/:purchaseId/cancel',
    {
      onRequest: [app.limitAddress('purchase'), app.requireFan, app.limitFan('purchase')],
      schema: {
        summary: "Cancel the fan's own purchase before payment is captured; 409 once it is too late",
        tags: ['purchases'],
        security: [{ fan: [] }],
        params: PurchaseParams,
        response: { 200: Purchase, ...problems(400, 401, 404, 409, 429, 503) },
      },
    },
    async (request) => service.cancel(service.refOf(request.params.purchaseId, request.fanId)),
  );

  app.post(
    '/tickets/verify',
    {
      onRequest: app.limitAddress('verify'),
      schema: {
        summary:
          "Verify a ticket QR: its signature, and that the seat entity records it as the seat's ticket",
        tags: ['tickets'],
        body: VerifyTicketBody,
        response: { 200: VerifiedTicket, ...problems(400, 422, 429, 503) },
      },
    },
    async (request) => service.verifyTicket(request.body.qr),
  );

  app.post(
    '/tickets/redeem',
    {
      onRequest: app.requireGate,
      schema: {
        summary:
          'Redeem a ticket at the gate (gate token): the first scan admits its holder; later scans are refused TICKET_USED with when it was first used',
        tags: ['tickets'],
        security: [{ bearer: [] }],
        body: RedeemTicketBody,
        response: { 200: RedeemedTicket, ...problems(400, 401, 409, 422, 503) },
      },
    },
    async (request) => service.redeemTicket(request.body.qr, request.body.scanId),
  );
};

export default purchases;
