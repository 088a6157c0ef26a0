/**
 * The read-side cache of seat maps and counters. The seat entities write here through their projection
 * activities, and so do the callers of a seat's claims with the seat's own answer (so the seat can
 * answer without waiting for a projection). Every write carries the entity's monotonic version: a Lua
 * script compares and sets atomically, so a stale write never overwrites a newer one and the per-event
 * counters move in the same step as the seat record they count. All keys of one event share a hash
 * tag, so the scripts also run on a Redis Cluster. Each change is published on the event's change feed
 * (see changes.ts) by the script that writes it, and the seats sold per second go to the chart's history.
 */
import type { RedisClient } from './redis';
import type { EventDefinition } from '../entities/event/contract';
import { SEAT_STATUSES, type SeatStatus, type SeatView } from '../entities/seat/contract';
import {
  changesChannel,
  historyKey,
  LUA_CHANGES,
  type ChangeDraft,
  type CountsChange,
  type EventChange,
  type SeatChange,
} from './changes';

/** Publishes the counters as they are now (the draft's `t` and counters are filled in here). */
const LUA_PUBLISH_COUNTS = `
${LUA_CHANGES}
local function publish_counts(counts_key, history_key, channel, draft)
  local c = redis.call('HMGET', counts_key, 'available', 'held', 'sold')
  local counts = { available = tonumber(c[1]) or 0, held = tonumber(c[2]) or 0, sold = tonumber(c[3]) or 0 }
  local t = publish(channel, draft, counts)
  redis.call('HSET', history_key, 'sold:' .. math.floor(t / 1000), counts.sold)
end
`;

const PROJECT_SEAT = `${LUA_PUBLISH_COUNTS}
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local version = tonumber(ARGV[3])
if cur then
  local s1 = string.find(cur, '|', 1, true)
  local s2 = string.find(cur, '|', s1 + 1, true)
  if tonumber(string.sub(cur, s1 + 1, s2 - 1)) >= version then return 0 end
  redis.call('HINCRBY', KEYS[2], string.sub(cur, 1, s1 - 1), -1)
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. ARGV[3] .. '|' .. ARGV[4])
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
publish_counts(KEYS[2], KEYS[3], ARGV[5], ARGV[6])
return 1
`;

const RECOUNT = `${LUA_PUBLISH_COUNTS}
local all = redis.call('HVALS', KEYS[1])
local counts = { available = 0, held = 0, sold = 0 }
for _, v in ipairs(all) do
  local s = string.sub(v, 1, string.find(v, '|', 1, true) - 1)
  counts[s] = (counts[s] or 0) + 1
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'available', counts.available, 'held', counts.held, 'sold', counts.sold)
publish_counts(KEYS[2], KEYS[3], ARGV[1], ARGV[2])
return #all
`;

const PUT_EVENT = `${LUA_CHANGES}
redis.call('SET', KEYS[1], ARGV[1])
publish(ARGV[2], ARGV[3])
`;

/** The ids of every event the cache knows (one key for all events: a set, outside any hash tag). */
const EVENTS_KEY = 'td:events';

export interface CachedEvent {
  definition: EventDefinition;
  closed: boolean;
}

export type SeatCounts = Record<SeatStatus, number>;

const keys = (eventId: string) => ({
  meta: `td:{${eventId}}:meta`,
  seats: `td:{${eventId}}:seats`,
  counts: `td:{${eventId}}:counts`,
  history: historyKey(eventId),
});

/** The script's keys and arguments for one seat. */
function projectArgs(eventId: string, view: SeatView): [string, number, ...string[]] {
  const k = keys(eventId);
  const draft: ChangeDraft<SeatChange> = {
    type: 'seat',
    seatId: view.seatId,
    status: view.status,
    version: view.version,
  };
  return [
    PROJECT_SEAT,
    3,
    k.seats,
    k.counts,
    k.history,
    view.seatId,
    view.status,
    String(view.version),
    view.holdExpiresAt ? String(view.holdExpiresAt) : '',
    changesChannel(eventId),
    JSON.stringify(draft),
  ];
}

function decode(seatId: string, raw: string): SeatView {
  const [status, version, expiresAt] = raw.split('|');
  const view: SeatView = { seatId, status: status as SeatStatus, version: Number(version) };
  if (expiresAt) view.holdExpiresAt = Number(expiresAt);
  return view;
}

export class SeatCache {
  constructor(readonly redis: RedisClient) {}

  /** Writes the seat's state unless the cache already has this version or a newer one. */
  async projectSeat(eventId: string, view: SeatView): Promise<boolean> {
    const applied = await this.redis.eval(...projectArgs(eventId, view));
    return applied === 1;
  }

  /** Writes many seat states in one round trip (same compare-and-set per seat). */
  async projectSeats(eventId: string, views: SeatView[]): Promise<void> {
    const pipeline = this.redis.pipeline();
    for (const view of views) pipeline.eval(...projectArgs(eventId, view));
    const results = await pipeline.exec();
    const failed = results?.find(([err]) => err);
    if (failed) throw failed[0];
  }

  /** Recomputes the counters from the seat records, atomically. */
  async recount(eventId: string): Promise<number> {
    const k = keys(eventId);
    const draft: ChangeDraft<CountsChange> = { type: 'counts' };
    return (await this.redis.eval(
      RECOUNT,
      3,
      k.seats,
      k.counts,
      k.history,
      changesChannel(eventId),
      JSON.stringify(draft),
    )) as number;
  }

  async putEvent(event: CachedEvent): Promise<void> {
    const { eventId } = event.definition;
    const draft: ChangeDraft<EventChange> = { type: 'event' };
    await Promise.all([
      this.redis.eval(
        PUT_EVENT,
        1,
        keys(eventId).meta,
        JSON.stringify(event),
        changesChannel(eventId),
        JSON.stringify(draft),
      ),
      this.redis.sadd(EVENTS_KEY, eventId),
    ]);
  }

  /** Every event the cache has held since its last flush (closed ones included). */
  async eventIds(): Promise<string[]> {
    return this.redis.smembers(EVENTS_KEY);
  }

  async getEvent(eventId: string): Promise<CachedEvent | undefined> {
    const raw = await this.redis.get(keys(eventId).meta);
    return raw ? (JSON.parse(raw) as CachedEvent) : undefined;
  }

  async getCounts(eventId: string): Promise<SeatCounts> {
    const raw = await this.redis.hgetall(keys(eventId).counts);
    const counts = {} as SeatCounts;
    for (const status of SEAT_STATUSES) counts[status] = Number(raw[status] ?? 0);
    return counts;
  }

  /** Every cached seat, keyed by seat id. */
  async getSeats(eventId: string): Promise<Map<string, SeatView>> {
    const raw = await this.redis.hgetall(keys(eventId).seats);
    return new Map(Object.entries(raw).map(([seatId, value]) => [seatId, decode(seatId, value)]));
  }

  async getSeat(eventId: string, seatId: string): Promise<SeatView | undefined> {
    const raw = await this.redis.hget(keys(eventId).seats, seatId);
    return raw ? decode(seatId, raw) : undefined;
  }
}
