import { Type, type Static } from '@sinclair/typebox';
import { MAX_EVENT_CAPACITY, MAX_WAITING_ROOM_FANS } from '../../entities/event/contract';
import { EventId, SeatId } from './common';

const Admission = Type.Union([Type.Literal('queue'), Type.Literal('direct')]);
const EventStatus = Type.Union([
  Type.Literal('scheduled'),
  Type.Literal('on-sale'),
  Type.Literal('sold-out'),
  Type.Literal('closed'),
]);
const SeatStatus = Type.Union([Type.Literal('available'), Type.Literal('held'), Type.Literal('sold')]);

export const CreateEventBody = Type.Object(
  {
    eventId: EventId,
    name: Type.String({ minLength: 1, maxLength: 200 }),
    rows: Type.Integer({ minimum: 1, maximum: MAX_EVENT_CAPACITY }),
    seatsPerRow: Type.Integer({ minimum: 1, maximum: MAX_EVENT_CAPACITY }),
    priceCents: Type.Integer({ minimum: 0, maximum: 100_000_000 }),
    holdTtlSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600 })),
    admission: Type.Optional(Admission),
    maxActivePurchases: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
    admissionTtlSeconds: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 3600,
        description: 'Queue events: how long an admission lasts (default 120)',
      }),
    ),
    onSaleAt: Type.Optional(Type.String({ format: 'date-time' })),
    waitingRoomCapacity: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: MAX_WAITING_ROOM_FANS,
        description: `Queue events: most fans the waiting room takes; later ones get 503 OVERLOADED (default ${MAX_WAITING_ROOM_FANS})`,
      }),
    ),
  },
  { additionalProperties: false },
);
export type CreateEventBody = Static<typeof CreateEventBody>;

export const CreatedEvent = Type.Object({
  eventId: Type.String(),
  capacity: Type.Integer(),
  admission: Admission,
  status: EventStatus,
});
export type CreatedEvent = Static<typeof CreatedEvent>;

export const EventParams = Type.Object({ eventId: EventId });
export const SeatParams = Type.Object({ eventId: EventId, seatId: SeatId });

export const EventSummary = Type.Object({
  eventId: Type.String(),
  name: Type.String(),
  capacity: Type.Integer(),
  available: Type.Integer(),
  held: Type.Integer(),
  sold: Type.Integer(),
  status: EventStatus,
  admission: Admission,
  priceCents: Type.Integer(),
  onSaleAt: Type.Optional(Type.String()),
  queue: Type.Object({ joined: Type.Integer(), admitted: Type.Integer(), waiting: Type.Integer() }),
});
export type EventSummary = Static<typeof EventSummary>;

export const Seat = Type.Object({
  seatId: Type.String(),
  status: SeatStatus,
  version: Type.Integer(),
  holdExpiresAt: Type.Optional(Type.String({ format: 'date-time' })),
});
export type Seat = Static<typeof Seat>;

export const SeatMap = Type.Object({
  seats: Type.Array(Type.Object({ seatId: Type.String(), status: SeatStatus, version: Type.Integer() })),
});
