import { Type, type Static } from '@sinclair/typebox';
import { PAYMENT_TOKENS } from '../../providers/payments';
import { EventId, SeatId } from './common';

/** The fan is whoever the fan token names: a purchase body carries no fan id. */
export const CreatePurchaseBody = Type.Object(
  {
    seatId: Type.Optional(SeatId),
    paymentToken: Type.Union(
      PAYMENT_TOKENS.map((token) => Type.Literal(token)),
      { description: 'A simulated gateway token' },
    ),
  },
  { additionalProperties: false },
);
export type CreatePurchaseBody = Static<typeof CreatePurchaseBody>;

export const PurchaseCreated = Type.Object({
  purchaseId: Type.String({ description: '`purchase-<eventId>:<fanId>`: one purchase per fan per event' }),
});

export const PurchaseParams = Type.Object({ purchaseId: Type.String({ minLength: 1, maxLength: 200 }) });
export const EventPurchaseParams = Type.Object({ eventId: EventId });
export const PurchaseQuery = Type.Object(
  { waitMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 30_000 })) },
  { additionalProperties: false },
);

const PurchaseState = Type.Union(
  ['reserving', 'paying', 'issuing', 'confirming', 'completed', 'failed', 'cancelled'].map((s) =>
    Type.Literal(s),
  ),
);

export const Purchase = Type.Object({
  purchaseId: Type.String(),
  eventId: Type.String(),
  fanId: Type.String(),
  state: PurchaseState,
  seatId: Type.Optional(Type.String()),
  ticket: Type.Optional(Type.Object({ ticketId: Type.String(), seatId: Type.String(), qr: Type.String() })),
  failure: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
  compensations: Type.Optional(
    Type.Array(Type.String(), { description: 'Undo steps that ran, newest first' }),
  ),
});

export const VerifyTicketBody = Type.Object(
  { qr: Type.String({ minLength: 1, maxLength: 2048 }) },
  { additionalProperties: false },
);
export const VerifiedTicket = Type.Object({
  valid: Type.Boolean(),
  ticketId: Type.Optional(Type.String()),
  eventId: Type.Optional(Type.String()),
  seatId: Type.Optional(Type.String()),
  usedAt: Type.Optional(Type.String({ format: 'date-time', description: 'When a gate first scanned it' })),
});

export const RedeemTicketBody = Type.Object(
  {
    qr: Type.String({ minLength: 1, maxLength: 2048 }),
    scanId: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9_-]{1,64}$',
        description:
          'The scan’s own id: the same scan sent again gets its first answer (a new scan is refused)',
      }),
    ),
  },
  { additionalProperties: false },
);
export const RedeemedTicket = Type.Object({
  ticketId: Type.String(),
  eventId: Type.String(),
  seatId: Type.String(),
  usedAt: Type.String({ format: 'date-time' }),
});
