/**
 * Purchase status in the read-side cache, so fans' polls never query a workflow. Same rule as seats:
 * each write carries the workflow's version and a Lua compare-and-set keeps only the newest.
 */
import type { PurchaseStatus } from '../sagas/purchase/contract';
import type { RedisClient } from './redis';

const PROJECT = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and tonumber(string.sub(cur, 1, string.find(cur, '|', 1, true) - 1)) >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. ARGV[3])
return 1
`;

const key = (eventId: string): string => `td:{${eventId}}:purchases`;

export class PurchaseCache {
  constructor(readonly redis: RedisClient) {}

  async project(status: PurchaseStatus): Promise<boolean> {
    const applied = await this.redis.eval(
      PROJECT,
      1,
      key(status.eventId),
      status.fanId,
      String(status.version),
      JSON.stringify(status),
    );
    return applied === 1;
  }

  async get(eventId: string, fanId: string): Promise<PurchaseStatus | undefined> {
    const raw = await this.redis.hget(key(eventId), fanId);
    return raw ? (JSON.parse(raw.slice(raw.indexOf('|') + 1)) as PurchaseStatus) : undefined;
  }
}
