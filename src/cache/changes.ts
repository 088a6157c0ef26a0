/**
 * The change feed of the read-side cache. Every projection write that changes something publishes one
 * small JSON message on its event's channel, from the same Lua script as the write, stamped with Redis's
 * own clock (`t`, epoch ms), so a reader can tell how long a change took to reach it. Readers (the
 * dashboard's server-sent events) load a snapshot first and apply these deltas after it: a message lost
 * with Redis loses nothing, the next snapshot has it.
 *
 * The channel carries the event's hash tag like its keys; plain PUBLISH reaches subscribers on every
 * node of a Redis Cluster.
 */
import type { SeatStatus } from '../entities/seat/contract';
import type { PurchaseState } from '../sagas/purchase/contract';
import type { RedisClient } from './redis';

export const changesChannel = (eventId: string): string => `td:{${eventId}}:changes`;

/** Seat counters of the event right after the change. */
export interface ChangeCounts {
  available: number;
  held: number;
  sold: number;
}

/** A seat's status changed (counters as they are after it). */
export interface SeatChange extends ChangeCounts {
  type: 'seat';
  t: number;
  seatId: string;
  status: SeatStatus;
  version: number;
}

/** The counters were recomputed from the seat records (after a rebuild). */
export interface CountsChange extends ChangeCounts {
  type: 'counts';
  t: number;
}

/** The waiting room's view changed. */
export interface QueueChange {
  type: 'queue';
  t: number;
  joined: number;
  admitted: number;
  waiting: number;
}

/** A purchase moved; `failure` when this write counted its final failure code for the first time. */
export interface PurchaseChange {
  type: 'purchase';
  t: number;
  state: PurchaseState;
  failure?: { code: string; count: number };
}

/** The event record changed (created, closed): readers load a new snapshot. */
export interface EventChange {
  type: 'event';
  t: number;
}

export type ChangeMessage = SeatChange | CountsChange | QueueChange | PurchaseChange | EventChange;

/** What the writer knows of a message; the script adds `t` (and, for seats, the counters). */
export type ChangeDraft<M extends ChangeMessage> = Omit<M, 't' | keyof ChangeCounts>;

/**
 * Lua helpers shared by the projection scripts: `now_ms()` is Redis's clock in epoch ms (TIME is
 * allowed before writes: Redis 7 replicates a script's effects, not the script); `publish(channel,
 * draft, extra)` stamps a draft message with `t` and the extra fields and publishes it.
 */
export const LUA_CHANGES = `
local function now_ms()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
local function publish(channel, draft, extra)
  local message = cjson.decode(draft)
  message.t = now_ms()
  for k, v in pairs(extra or {}) do message[k] = v end
  redis.call('PUBLISH', channel, cjson.encode(message))
  return message.t
end
`;

/**
 * The chart's history: per second (Redis clock), the seats sold and the fans waiting at the end of that
 * second. Field names are `sold:<epoch s>` and `waiting:<epoch s>`.
 */
export const historyKey = (eventId: string): string => `td:{${eventId}}:history`;

export type HistorySeries = 'sold' | 'waiting';

/** `[epoch s, value]` pairs in time order for each series. */
export function parseHistory(raw: Record<string, string>): Record<HistorySeries, [number, number][]> {
  const series: Record<HistorySeries, [number, number][]> = { sold: [], waiting: [] };
  for (const [field, value] of Object.entries(raw)) {
    const [name, second] = field.split(':');
    if (name === 'sold' || name === 'waiting') series[name].push([Number(second), Number(value)]);
  }
  for (const points of Object.values(series)) points.sort((a, b) => a[0] - b[0]);
  return series;
}

export async function readHistory(
  redis: RedisClient,
  eventId: string,
): Promise<Record<HistorySeries, [number, number][]>> {
  return parseHistory(await redis.hgetall(historyKey(eventId)));
}
