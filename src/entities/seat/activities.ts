import type { SeatCache } from '../../cache/seat-cache';
import type { SeatView } from './contract';

export interface SeatActivityDeps {
  cache: SeatCache;
}

/** Activities the seat entity runs (as local activities: short, idempotent, no history of their own). */
export function createSeatActivities({ cache }: SeatActivityDeps) {
  return {
    /** Projects one transition into the read-side cache; stale versions are ignored by the cache. */
    async projectSeat(input: { eventId: string; view: SeatView }): Promise<void> {
      await cache.projectSeat(input.eventId, input.view);
    },
  };
}

export type SeatActivities = ReturnType<typeof createSeatActivities>;
