/**
 * Keeps the read-side cache whole without a human. A rebuild ends by writing an epoch key; a Redis that
 * lost its data (restarted empty, FLUSHALL, a failover to an empty replica) has lost that key too. The
 * keeper looks for it every few seconds and, when it is gone, rebuilds everything from the entities
 * (seat maps, counters, waiting-room views, purchase states and failure counts), then writes a new epoch.
 * One rebuild at a time across processes (a lock key its holder keeps alive; a killed holder's expires
 * in seconds); a loss during a rebuild is caught by its pending mark vanishing too, and the rebuild runs
 * again. Progress outlives a failed attempt: each event rebuilt since the loss is marked, and the next
 * attempt (this process's or another's) rebuilds only the rest, newest events first.
 */
import { randomBytes } from 'node:crypto';
import { rebuildAll, type RebuildDeps } from './rebuild';
import type { RedisClient } from './redis';

/**
 * The epoch of the events a task queue serves (each deployment's workers keep their own events whole).
 * One hash slot for every key (a Redis Cluster runs the commit script on one node).
 */
export const epochKey = (taskQueue?: string): string => `td:{cache}:epoch${taskQueue ? `:${taskQueue}` : ''}`;
/** The pending mark, which is also the rebuild's lock. */
export const pendingKey = (taskQueue?: string): string =>
  `td:{cache}:rebuilding${taskQueue ? `:${taskQueue}` : ''}`;
/** The events rebuilt since the loss (gone with the loss's data, and deleted when the epoch is written). */
export const rebuiltKey = (taskQueue?: string): string =>
  `td:{cache}:rebuilt${taskQueue ? `:${taskQueue}` : ''}`;
/** The lock's life without its holder: a killed rebuild holds up the next one this long at most. */
const LOCK_MS = 15_000;
const LOCK_REFRESH_MS = 5_000;
/** The longest wait between looks after failed ones. */
const MAX_RETRY_MS = 60_000;

/** Writes the epoch only if the rebuild's pending mark survived it (no loss while it ran). */
const COMMIT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('DEL', KEYS[1], KEYS[3])
return 1
`;

/** Marks an event rebuilt, only if the pending mark is still this rebuild's (no loss since it began). */
const MARK = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SADD', KEYS[2], ARGV[2])
return 1
`;

/** Keeps the lock alive while its holder rebuilds. */
const REFRESH = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;

/** Deletes the pending mark if it is still this rebuild's. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`;

export interface KeeperOptions {
  intervalMs?: number;
  log?: (line: string, fields?: Record<string, unknown>) => void;
  /** The task queue this deployment's workers serve: only its events are rebuilt (all when omitted). */
  taskQueue?: string;
  /** Each finished rebuild (the worker counts them in its metrics). */
  onRebuild?: (outcome: RebuildOutcome) => void;
}

export interface RebuildOutcome {
  /** Events rebuilt by this attempt, and those an earlier failed attempt had rebuilt already. */
  events: number;
  resumed: number;
  seats: number;
  ms: number;
  /** What started it: no epoch on start-up, or the epoch gone while running (a loss). */
  reason: 'start' | 'lost';
}

/** A rebuild that left some events for the next look, having rebuilt others. */
class PartialRebuild extends Error {}

export class CacheKeeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<RebuildOutcome | undefined> | undefined;
  private seenEpoch = false;
  private failures = 0;
  private retryAt = 0;
  private readonly intervalMs: number;
  private readonly log: NonNullable<KeeperOptions['log']>;
  private readonly onRebuild: KeeperOptions['onRebuild'];
  private readonly taskQueue: string | undefined;
  private readonly epochKey: string;
  private readonly pendingKey: string;
  private readonly rebuiltKey: string;

  constructor(
    private readonly redis: RedisClient,
    private readonly deps: RebuildDeps,
    options: KeeperOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 2_000;
    this.log = options.log ?? ((line) => console.log(line));
    this.onRebuild = options.onRebuild;
    this.taskQueue = options.taskQueue;
    this.epochKey = epochKey(options.taskQueue);
    this.pendingKey = pendingKey(options.taskQueue);
    this.rebuiltKey = rebuiltKey(options.taskQueue);
  }

  /** Checks now, then every `intervalMs` (the timer never keeps the process alive). */
  start(): this {
    void this.check();
    this.timer ??= setInterval(() => void this.check(), this.intervalMs).unref();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One look: rebuilds when the epoch is gone. Never throws (an unreachable Redis is looked at again). */
  check(): Promise<RebuildOutcome | undefined> {
    if (Date.now() < this.retryAt) return Promise.resolve(undefined);
    this.running ??= this.checkOnce()
      .then((outcome) => {
        this.failures = 0;
        this.retryAt = 0;
        return outcome;
      })
      .catch((err: unknown) => {
        // Temporal or Redis away: look again later, backing off so a long outage is not hammered. An
        // attempt that rebuilt some events is no outage (a worker still warming up its entities): the
        // next look comes at the usual interval.
        this.failures = err instanceof PartialRebuild ? 0 : this.failures + 1;
        const waitMs = Math.min(MAX_RETRY_MS, this.intervalMs * 2 ** this.failures);
        this.retryAt = Date.now() + waitMs;
        this.log(`cache check failed (${(err as Error).message}); next look in ${waitMs} ms`);
        return undefined;
      })
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async checkOnce(): Promise<RebuildOutcome | undefined> {
    if (await this.redis.get(this.epochKey)) {
      this.seenEpoch = true;
      return undefined;
    }
    const token = randomBytes(8).toString('hex');
    // The pending mark doubles as the lock: another process rebuilding holds it.
    const locked = await this.redis.set(this.pendingKey, token, 'PX', LOCK_MS, 'NX');
    if (locked !== 'OK') return undefined;
    const reason = this.seenEpoch ? 'lost' : 'start';
    if (reason === 'lost') this.log('cache lost (its epoch key is gone): rebuilding it from the entities');
    const started = Date.now();
    const heartbeat = setInterval(
      () => void this.redis.eval(REFRESH, 1, this.pendingKey, token, LOCK_MS).catch(() => undefined),
      LOCK_REFRESH_MS,
    ).unref();
    let rebuilt: Awaited<ReturnType<typeof rebuildAll>>;
    let resumed: string[];
    try {
      resumed = await this.redis.smembers(this.rebuiltKey);
      rebuilt = await rebuildAll(this.deps, {
        taskQueue: this.taskQueue,
        skip: new Set(resumed),
        onRebuilt: async (eventId) => {
          const marked = await this.redis.eval(MARK, 2, this.pendingKey, this.rebuiltKey, token, eventId);
          if (marked !== 1) throw new Error('cache lost again while it was rebuilt');
        },
      });
    } catch (err) {
      // Free the mark at once (not after its expiry): the next look tries again.
      await this.redis.eval(RELEASE, 1, this.pendingKey, token).catch(() => undefined);
      throw err;
    } finally {
      clearInterval(heartbeat);
    }
    const { events, seats, failed } = rebuilt;
    const ms = Date.now() - started;
    if (failed.length > 0) {
      // Not whole yet: no epoch. The pending mark goes, and the next look rebuilds the rest (backing off
      // only when this attempt rebuilt nothing).
      await this.redis.eval(RELEASE, 1, this.pendingKey, token).catch(() => undefined);
      const names = failed.slice(0, 5).map((f) => `${f.eventId} (${f.error})`);
      const Failed = events > 0 ? PartialRebuild : Error;
      throw new Failed(
        `${failed.length} events did not answer in time (${events} rebuilt, kept for the next look): ${names.join(', ')}`,
      );
    }
    const committed = await this.redis.eval(
      COMMIT,
      3,
      this.pendingKey,
      this.epochKey,
      this.rebuiltKey,
      token,
      `${Date.now()}|${token}`,
    );
    if (committed !== 1) {
      this.log(`cache lost again while it was rebuilt (after ${ms} ms): rebuilding once more`);
      return undefined; // the next look finds no epoch and starts over
    }
    this.seenEpoch = true;
    const outcome: RebuildOutcome = { events, resumed: resumed.length, seats, ms, reason };
    this.onRebuild?.(outcome);
    const earlier = resumed.length > 0 ? ` (and ${resumed.length} rebuilt by an earlier attempt)` : '';
    this.log(`cache rebuilt in ${ms} ms (${reason}): ${events} events${earlier}, ${seats} seats`, {
      ...outcome,
    });
    return outcome;
  }
}
