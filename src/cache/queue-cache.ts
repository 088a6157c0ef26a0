/**
 * The waiting room in the read-side cache: the queue entity's view (versioned compare-and-set, like every
 * projection), its admission ranges in a sorted set (score = first position), and each fan's place as
 * the API learned it from a join answer. Fans' polls and repeated joins are answered from here; losing
 * it loses nothing the queue entity does not still hold. A newer view is published on the event's change
 * feed, and the fans waiting go to the chart's history.
 */
import type { AdmissionRange, QueueView } from '../entities/queue/contract';
import { changesChannel, historyKey, LUA_CHANGES, type ChangeDraft, type QueueChange } from './changes';
import type { RedisClient } from './redis';

const PROJECT = `${LUA_CHANGES}
for i = 7, #ARGV, 2 do redis.call('ZADD', KEYS[2], ARGV[i], ARGV[i + 1]) end
if ARGV[3] == '0' then redis.call('SET', KEYS[3], '1') end
local cur = redis.call('HGET', KEYS[1], 'version')
if cur and tonumber(cur) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'view', ARGV[2])
local t = publish(ARGV[4], ARGV[5])
redis.call('HSET', KEYS[4], 'waiting:' .. math.floor(t / 1000), ARGV[6])
return 1
`;

const keys = (eventId: string) => ({
  view: `td:{${eventId}}:queue`,
  admissions: `td:{${eventId}}:admissions`,
  fans: `td:{${eventId}}:fans`,
  placesComplete: `td:{${eventId}}:places-complete`,
  history: historyKey(eventId),
});

/** The cached view carries no ranges: look them up with `admissionOf`. */
export type CachedQueueView = Omit<QueueView, 'ranges'>;

export interface QueueCounts {
  joined: number;
  admitted: number;
  waiting: number;
}

/** The waiting room's counts: fans placed, admitted so far, and still waiting for admission. */
export function queueCounts(queue: CachedQueueView | undefined): QueueCounts {
  if (!queue) return { joined: 0, admitted: 0, waiting: 0 };
  const waiting = queue.closed ? 0 : queue.joined - queue.admittedThrough;
  return { joined: queue.joined, admitted: queue.admittedThrough, waiting };
}

export class QueueCache {
  constructor(readonly redis: RedisClient) {}

  /**
   * Writes the view unless a newer one is cached; its ranges are added either way (they never change).
   * The first view of an empty queue also marks the fans' places as complete.
   */
  async project(view: QueueView): Promise<boolean> {
    const k = keys(view.eventId);
    const { ranges, ...rest } = view;
    const args = ranges.flatMap((r) => [String(r.from), `${r.from}:${r.to}:${r.expiresAt}`]);
    const counts = queueCounts(rest);
    const draft: ChangeDraft<QueueChange> = { type: 'queue', ...counts };
    const applied = await this.redis.eval(
      PROJECT,
      4,
      k.view,
      k.admissions,
      k.placesComplete,
      k.history,
      String(view.version),
      JSON.stringify(rest),
      String(view.joined),
      changesChannel(view.eventId),
      JSON.stringify(draft),
      String(counts.waiting),
      ...args,
    );
    return applied === 1;
  }

  async get(eventId: string): Promise<CachedQueueView | undefined> {
    const raw = await this.redis.hget(keys(eventId).view, 'view');
    return raw ? (JSON.parse(raw) as CachedQueueView) : undefined;
  }

  /** The admission range that holds `position`, if the cache has it. */
  async admissionOf(eventId: string, position: number): Promise<AdmissionRange | undefined> {
    const [member] = await this.redis.zrevrangebyscore(
      keys(eventId).admissions,
      position,
      '-inf',
      'LIMIT',
      0,
      1,
    );
    if (!member) return undefined;
    const [from, to, expiresAt] = member.split(':').map(Number);
    return position >= from && position <= to ? { from, to, expiresAt } : undefined;
  }

  /** Fans' places as join answers gave them: position (> 0) or -(pre-queue index + 1). */
  async putPlaces(eventId: string, places: Map<string, number>): Promise<void> {
    if (places.size === 0) return;
    await this.redis.hset(keys(eventId).fans, Object.fromEntries(places));
  }

  /**
   * Whether the cache holds the place of every fan that joined (and every purchase projection). Marked
   * while the queue is still empty and never again, so it is gone for good after a flush (or a failed
   * write): then a fan missing here may still have a place.
   */
  async placesComplete(eventId: string): Promise<boolean> {
    return (await this.redis.exists(keys(eventId).placesComplete)) === 1;
  }

  /** The cache missed some places (a failed write): from now on, missing places prove nothing. */
  async markPlacesIncomplete(eventId: string): Promise<void> {
    await this.redis.del(keys(eventId).placesComplete);
  }

  async placeOf(eventId: string, fanId: string): Promise<number | undefined> {
    const raw = await this.redis.hget(keys(eventId).fans, fanId);
    return raw === null ? undefined : Number(raw);
  }
}
