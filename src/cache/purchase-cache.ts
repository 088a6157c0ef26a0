/**
 * Purchase status in the read-side cache, so fans' polls never query a workflow. Same rule as seats:
 * each write carries the workflow's version and a Lua compare-and-set keeps only the newest. The same
 * script keeps the event's failures by code: a purchase that ended without a ticket is counted once,
 * under its final failure code, however often its status is written (retries, read-repair, a rebuild).
 * Changes are published on the event's change feed.
 */
import type { PurchaseStatus } from '../sagas/purchase/contract';
import { changesChannel, LUA_CHANGES, type ChangeDraft, type PurchaseChange } from './changes';
import type { RedisClient } from './redis';

const PROJECT = `${LUA_CHANGES}
local counted
if ARGV[4] ~= '' and redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[4]) == 1 then
  counted = { code = ARGV[4], count = redis.call('HINCRBY', KEYS[3], ARGV[4], 1) }
end
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local stale = cur and tonumber(string.sub(cur, 1, string.find(cur, '|', 1, true) - 1)) >= tonumber(ARGV[2])
if not stale then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. ARGV[3]) end
if counted or not stale then publish(ARGV[5], ARGV[6], counted and { failure = counted } or nil) end
if stale then return 0 end
return 1
`;

const keys = (eventId: string) => ({
  purchases: `td:{${eventId}}:purchases`,
  /** fanId → the failure code it was counted under. */
  failed: `td:{${eventId}}:failed`,
  /** failure code → purchases that ended with it. */
  failures: `td:{${eventId}}:failures`,
});

/** The code a purchase ended with, when it ended without a ticket. */
function finalFailureCode(status: PurchaseStatus): string {
  return status.state === 'failed' || status.state === 'cancelled' ? (status.failure?.code ?? '') : '';
}

export interface FailureCount {
  code: string;
  count: number;
}

export class PurchaseCache {
  constructor(readonly redis: RedisClient) {}

  async project(status: PurchaseStatus): Promise<boolean> {
    const k = keys(status.eventId);
    const draft: ChangeDraft<PurchaseChange> = { type: 'purchase', state: status.state };
    const applied = await this.redis.eval(
      PROJECT,
      3,
      k.purchases,
      k.failed,
      k.failures,
      status.fanId,
      String(status.version),
      JSON.stringify(status),
      finalFailureCode(status),
      changesChannel(status.eventId),
      JSON.stringify(draft),
    );
    return applied === 1;
  }

  async get(eventId: string, fanId: string): Promise<PurchaseStatus | undefined> {
    const raw = await this.redis.hget(keys(eventId).purchases, fanId);
    return raw ? (JSON.parse(raw.slice(raw.indexOf('|') + 1)) as PurchaseStatus) : undefined;
  }

  /** The event's failed purchases by final failure code, most frequent first. */
  async failures(eventId: string): Promise<FailureCount[]> {
    const raw = await this.redis.hgetall(keys(eventId).failures);
    return Object.entries(raw)
      .map(([code, count]) => ({ code, count: Number(count) }))
      .sort((a, b) => b.count - a.count || a.code.localeCompare(b.code));
  }
}
