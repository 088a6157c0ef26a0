import { Type, type Static } from '@sinclair/typebox';
import { EventSummary, SeatMap } from './events';

const Point = Type.Tuple([Type.Integer({ description: 'epoch s' }), Type.Integer()]);

export const DashboardSnapshot = Type.Object({
  at: Type.Integer({
    description:
      'Redis clock (epoch ms) just before the snapshot was read: apply the change feed messages stamped later',
  }),
  event: EventSummary,
  seats: SeatMap.properties.seats,
  failures: Type.Array(Type.Object({ code: Type.String(), count: Type.Integer() }), {
    description: 'Purchases that ended without a ticket, by final failure code, most frequent first',
  }),
  history: Type.Object(
    { sold: Type.Array(Point), waiting: Type.Array(Point) },
    { description: 'Per second: seats sold and fans waiting at the end of it' },
  ),
  links: Type.Object({
    seatWorkflow: Type.String({
      description: "The seat entity's page in the Temporal web UI; replace {seatId}",
    }),
    failureView: Type.String({ description: 'The failed purchases with one code; replace {code}' }),
    failureCommand: Type.String({ description: 'The CLI command that lists them; replace {code}' }),
  }),
});
export type DashboardSnapshot = Static<typeof DashboardSnapshot>;

export const ChangeStream = Type.String({
  description:
    'text/event-stream: one `data:` line per change (JSON: seat, counts, queue, purchase or event; `t` is the ' +
    'Redis clock in epoch ms), `event: resync` when changes may have been lost, heartbeat comments',
});
