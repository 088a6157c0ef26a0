/**
 * Best-available seats for a purchase, read from the seat map in the cache: available seats in row
 * order, the best ones (as many as may be racing for them) shuffled per purchase so concurrent buyers
 * spread out, at most BEST_AVAILABLE_TRIES. Only a suggestion: the seat entity decides each hold.
 *
 * The API picks the first round when it starts a purchase (the saga's input then holds them, history
 * from its first event on), and the saga's own pick activity any later round.
 */
import { createHash } from 'node:crypto';
import { seatIds, type SeatView } from '../entities/seat/contract';
import { BEST_AVAILABLE_SPREAD, BEST_AVAILABLE_TRIES } from '../sagas/purchase/contract';
import type { CachedEvent } from './seat-cache';

/** A stable pseudo-random order, so a retried pick tries the same seats in the same order. */
function spread<T>(items: T[], seed: string): T[] {
  const score = (item: T) =>
    createHash('sha1')
      .update(`${seed}:${String(item)}`)
      .digest()
      .readUInt32BE(0);
  return items
    .map((item) => [score(item), item] as const)
    .sort((a, b) => a[0] - b[0])
    .map(([, item]) => item);
}

export function bestAvailable(
  event: CachedEvent | undefined,
  seats: Map<string, SeatView>,
  purchaseId: string,
  exclude: ReadonlySet<string> = new Set(),
): string[] {
  const order = event ? seatIds(event.definition.rows, event.definition.seatsPerRow) : [...seats.keys()];
  const available = order.filter((id) => seats.get(id)?.status === 'available' && !exclude.has(id));
  const width = Math.max(BEST_AVAILABLE_SPREAD, event?.definition.maxActivePurchases ?? 0);
  return [
    ...spread(available.slice(0, width), purchaseId),
    ...spread(available.slice(width), purchaseId),
  ].slice(0, BEST_AVAILABLE_TRIES);
}
