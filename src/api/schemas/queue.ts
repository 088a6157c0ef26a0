import { Type, type Static } from '@sinclair/typebox';

/** Joining carries nothing but the fan token: the fan is whoever it names. */
export const JoinQueueBody = Type.Object({}, { additionalProperties: false });

export const FAN_QUEUE_STATES = [
  'pre-queue',
  'waiting',
  'admitted',
  'purchasing',
  'done',
  'expired',
  'sold-out',
] as const;
export type FanQueueState = (typeof FAN_QUEUE_STATES)[number];

const QueueFields = {
  state: Type.Union(
    FAN_QUEUE_STATES.map((state) => Type.Literal(state)),
    {
      description:
        'pre-queue: joined before the sale opened, position assigned (shuffled) at opening; done: the purchase ended (see purchaseId)',
    },
  ),
  position: Type.Integer({ minimum: 0, description: '1-based; 0 while in the pre-queue' }),
  admittedThrough: Type.Integer({ description: 'Every position up to this one has been admitted' }),
  ahead: Type.Integer({ description: 'Fans ahead still waiting for admission' }),
  pollAfterMs: Type.Integer({
    description: 'Poll again after this long; 0 when nothing is left to wait for',
  }),
  longPollMs: Type.Optional(
    Type.Integer({
      description:
        'A waiting fan near the front: poll again now with ?waitMs=longPollMs, answered the moment it is admitted (or the sale ends)',
    }),
  ),
  admission: Type.Optional(
    Type.Object({
      expiresAt: Type.String({
        format: 'date-time',
        description: 'Start the purchase (POST /events/:eventId/purchases) before this',
      }),
    }),
  ),
  opensAt: Type.Optional(Type.String({ format: 'date-time' })),
  purchaseId: Type.Optional(Type.String()),
};

export const QueueQuery = Type.Object(
  {
    waitMs: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 30_000,
        description:
          'Long-poll: while the fan waits, answer once it is admitted, the sale ends or this time is up',
      }),
    ),
  },
  { additionalProperties: false },
);

export const QueueStatus = Type.Object({ fanId: Type.String(), ...QueueFields });
export type QueueStatus = Static<typeof QueueStatus>;
