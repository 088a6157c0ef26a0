import { Type, type Static } from '@sinclair/typebox';
import { EVENT_ID_PATTERN } from '../../entities/event/contract';
import { SEAT_ID_PATTERN } from '../../entities/seat/contract';

export const EventId = Type.String({ pattern: EVENT_ID_PATTERN, description: 'Lower-case id, 1-64 chars' });
export const SeatId = Type.String({
  pattern: SEAT_ID_PATTERN,
  description: 'Row letters + seat number, e.g. A1',
});

/** RFC 9457 problem details, with TicketDrop's stable failure `code`. */
export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String({
      description: 'Stable upper-snake failure code (VALIDATION, NOT_FOUND, SEAT_TAKEN, …)',
    }),
    usedAt: Type.Optional(
      Type.String({ format: 'date-time', description: 'TICKET_USED: when the ticket was first used' }),
    ),
  },
  { $id: 'Problem' },
);
export type Problem = Static<typeof Problem>;

export const ProblemRef = Type.Ref('Problem');

/** Response schemas for the error statuses a route can answer. */
export function problems(...statuses: number[]): Record<number, typeof ProblemRef> {
  return Object.fromEntries(statuses.map((status) => [status, ProblemRef]));
}
