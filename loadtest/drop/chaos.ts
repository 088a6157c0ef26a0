/**
 * Chaos for a drop: faults injected at chosen moments after the crowd is let go, on a stack someone runs
 * (npm start's, found through .data/stack.json, or a test's). A plan is a comma-separated list of
 * `<fault>@<seconds after opening>[:<seconds it lasts>]`, e.g.
 * `worker-kill@15,redis-flush@25,payment-outage@35:30`. The same fault may appear several times.
 *
 * - `worker-kill`, `api-kill`: SIGKILL the process (npm start's supervisor starts it again).
 * - `redis-restart`: SIGKILL redis-server; it comes back empty. `redis-flush`: FLUSHALL.
 * - `temporal-restart`: SIGKILL the dev server; it comes back on the same SQLite file.
 * - `payment-outage`, `email-outage`, `sms-outage`: the simulated provider refuses everything for the
 *   fault's duration (default 30 s), through the providers' shared knobs.
 * - `slow-store`: for the fault's duration, the Temporal server stalls (SIGSTOP) for 12 s at a time with
 *   3 s of flow between (SIGCONT): a store that stops answering, as a database does under an fsync stall
 *   or a failover. Past the 10 s workflow task timeout, so tasks in flight are lost and retried; past the
 *   10 s a purchase waits for a hold's answer, so holds sent before a stall reach their seats late.
 */
import { epochKey, rebuiltKey } from '../../src/cache/keeper';
import type { RedisClient } from '../../src/cache/redis';
import type { Knobs } from '../../src/providers/knobs';
import type { Invariant } from '../../tools/audit/auditor';
import { readStackFile } from '../../tools/dev/local-stack-file';

export const PROCESS_FAULTS = {
  'worker-kill': 'worker',
  'api-kill': 'api',
  'redis-restart': 'redis',
  'temporal-restart': 'temporal',
} as const;
export const OUTAGE_FAULTS = {
  'payment-outage': 'paymentOutage',
  'email-outage': 'emailOutage',
  'sms-outage': 'smsOutage',
} as const;
const OTHER_FAULTS = ['redis-flush'] as const;
/** Faults that last, besides the provider outages. */
const STALL_FAULTS = ['slow-store'] as const;

export type ProcessFault = keyof typeof PROCESS_FAULTS;
export type OutageFault = keyof typeof OUTAGE_FAULTS;
export type FaultKind =
  ProcessFault | OutageFault | (typeof OTHER_FAULTS)[number] | (typeof STALL_FAULTS)[number];
export type StackService = (typeof PROCESS_FAULTS)[ProcessFault];

const KINDS = new Set<string>([
  ...Object.keys(PROCESS_FAULTS),
  ...Object.keys(OUTAGE_FAULTS),
  ...OTHER_FAULTS,
  ...STALL_FAULTS,
]);
const LASTING = new Set<string>([...Object.keys(OUTAGE_FAULTS), ...STALL_FAULTS]);
const DEFAULT_OUTAGE_SEC = 30;

export interface Fault {
  kind: FaultKind;
  /** Seconds after the drop opened. */
  atSec: number;
  /** Outages only: how long it lasts. */
  forSec?: number;
}

export class ChaosPlanError extends Error {}

export function parseChaosPlan(text: string): Fault[] {
  const faults = text
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part): Fault => {
      const match = /^([a-z-]+)@(\d+(?:\.\d+)?)s?(?::(\d+(?:\.\d+)?)s?)?$/.exec(part);
      if (!match || !KINDS.has(match[1])) {
        throw new ChaosPlanError(
          `"${part}": expected <fault>@<seconds>[:<seconds>], fault one of ${[...KINDS].join(', ')}`,
        );
      }
      const kind = match[1] as FaultKind;
      const outage = LASTING.has(kind);
      if (match[3] !== undefined && !outage)
        throw new ChaosPlanError(`"${part}": only an outage or a slow store lasts`);
      return {
        kind,
        atSec: Number(match[2]),
        ...(outage && { forSec: match[3] === undefined ? DEFAULT_OUTAGE_SEC : Number(match[3]) }),
      };
    });
  return faults.sort((a, b) => a.atSec - b.atSec);
}

/** What chaos acts on: the stack's processes, its Redis and the simulated providers' knobs. */
export interface ChaosTargets {
  /** Kills the service's current process (SIGKILL); returns its pid. */
  kill(service: StackService): Promise<number>;
  /** Stops (SIGSTOP) or resumes (SIGCONT) the service's current process; returns its pid. */
  pause(service: StackService, paused: boolean): Promise<number>;
  flushRedis(): Promise<void>;
  /** Whether the cache is whole again (its keeper wrote a new epoch). */
  cacheWhole(): Promise<boolean>;
  /** Whether one event is whole again (rebuilt since the loss, or the whole cache is). */
  eventWhole?(eventId: string): Promise<boolean>;
  knobs: Knobs;
}

/** npm start's stack: its processes by the pids in .data/stack.json (kept current by its supervisor). */
export function stackTargets(redis: RedisClient, knobs: Knobs, taskQueue: string): ChaosTargets {
  const signal = (service: StackService, name: NodeJS.Signals): number => {
    const pid = readStackFile().pids?.[service];
    if (!pid) throw new Error(`no ${service} process in .data/stack.json`);
    process.kill(pid, name);
    return pid;
  };
  return {
    kill: async (service) => signal(service, 'SIGKILL'),
    pause: async (service, paused) => signal(service, paused ? 'SIGSTOP' : 'SIGCONT'),
    // On a Redis Cluster, every master (a command goes to one node only).
    flushRedis: async () =>
      void (await Promise.all(
        'nodes' in redis ? redis.nodes('master').map((node) => node.flushall()) : [redis.flushall()],
      )),
    cacheWhole: async () => (await redis.get(epochKey(taskQueue))) !== null,
    eventWhole: async (eventId) =>
      (await redis.sismember(rebuiltKey(taskQueue), eventId)) === 1 ||
      (await redis.get(epochKey(taskQueue))) !== null,
    knobs,
  };
}

/** A slow store's rhythm: stalled this long, then flowing this long, until the fault's end. */
export interface StallRhythm {
  stalledMs: number;
  flowingMs: number;
}
export const SLOW_STORE: StallRhythm = { stalledMs: 12_000, flowingMs: 3_000 };

/** How long the cache may take to be whole again after a Redis fault before chaos stops watching. */
const CACHE_WATCH_MS = 120_000;

/** A fault as it happened: when (ms after opening), how long, and what it did. */
export interface FaultEvent {
  kind: FaultKind;
  atMs: number;
  /** Outages: when they ended (ms after opening). */
  endMs?: number;
  detail: string;
  error?: string;
  /** Redis faults: ms from the fault until the cache was whole again (undefined: not within the watch). */
  cacheWholeAfterMs?: number;
  /** Redis faults: ms until the drop's own event was whole again (the keeper rebuilds newest first). */
  eventWholeAfterMs?: number;
}

/**
 * Runs a plan from `openedAt` on. Resolves once every fault has happened and every outage has ended; a
 * fault that could not be injected is recorded with its error, never thrown (the drop goes on).
 */
export async function runChaos(
  plan: Fault[],
  targets: ChaosTargets,
  openedAt: number,
  log: (line: string) => void = () => undefined,
  rhythm: StallRhythm = SLOW_STORE,
  /** The drop's event, whose own recovery is timed too. */
  eventId?: string,
): Promise<FaultEvent[]> {
  const events: FaultEvent[] = [];
  const since = () => Date.now() - openedAt;
  const until = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms - since())));
  const outages: Promise<void>[] = [];
  const watches: Promise<void>[] = [];
  const watchCache = async (event: FaultEvent): Promise<void> => {
    // A restarted Redis refuses for a moment, and a new epoch is the keeper's sign it is whole again.
    await new Promise((resolve) => setTimeout(resolve, 200));
    while (since() - event.atMs < CACHE_WATCH_MS) {
      if (
        eventId &&
        targets.eventWhole &&
        event.eventWholeAfterMs === undefined &&
        (await targets.eventWhole(eventId).catch(() => false))
      )
        event.eventWholeAfterMs = since() - event.atMs;
      if (await targets.cacheWhole().catch(() => false)) {
        event.cacheWholeAfterMs = since() - event.atMs;
        event.eventWholeAfterMs ??= event.cacheWholeAfterMs;
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  };
  // The outages in force: the knobs are set as a whole, so overlapping outages are kept together.
  const active: Record<string, boolean> = {};
  const setOutage = (knob: string, on: boolean) => {
    if (on) active[knob] = true;
    else delete active[knob];
    targets.knobs.set({ ...active });
  };
  // A stalled server is always resumed, even when the drop ends early or this process is stopped.
  const stalled = new Set<StackService>();
  const resumeAll = () => {
    for (const service of stalled) void targets.pause(service, false).catch(() => undefined);
  };
  const interrupted = (signal: NodeJS.Signals) => {
    resumeAll();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('exit', resumeAll);
  const stall = async (fault: Fault, event: FaultEvent): Promise<void> => {
    const endAt = (fault.atSec + fault.forSec!) * 1000;
    let stalls = 0;
    process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
    try {
      while (since() < endAt) {
        stalled.add('temporal');
        await targets.pause('temporal', true);
        stalls++;
        await until(Math.min(endAt, since() + rhythm.stalledMs));
        await targets.pause('temporal', false);
        stalled.delete('temporal');
        await until(Math.min(endAt, since() + rhythm.flowingMs));
      }
    } finally {
      if (stalled.delete('temporal')) await targets.pause('temporal', false).catch(() => undefined);
      process.removeListener('SIGINT', interrupted).removeListener('SIGTERM', interrupted);
      event.endMs = since();
      event.detail += `, ${stalls} stalls`;
    }
  };
  for (const fault of plan) {
    await until(fault.atSec * 1000);
    const event: FaultEvent = { kind: fault.kind, atMs: since(), detail: '' };
    events.push(event);
    try {
      if (fault.kind in PROCESS_FAULTS) {
        const service = PROCESS_FAULTS[fault.kind as ProcessFault];
        event.detail = `SIGKILL ${service} (pid ${await targets.kill(service)})`;
      } else if (fault.kind === 'redis-flush') {
        await targets.flushRedis();
        event.detail = 'FLUSHALL';
      } else if (fault.kind === 'slow-store') {
        event.detail = `Temporal server stalled ${rhythm.stalledMs / 1000} s, flowing ${rhythm.flowingMs / 1000} s, for ${fault.forSec} s`;
        outages.push(
          stall(fault, event).catch((err: unknown) => void (event.error = (err as Error).message)),
        );
      } else {
        const knob = OUTAGE_FAULTS[fault.kind as OutageFault];
        setOutage(knob, true);
        event.detail = `${knob} for ${fault.forSec} s`;
        outages.push(
          until((fault.atSec + fault.forSec!) * 1000).then(() => {
            setOutage(knob, false);
            event.endMs = since();
          }),
        );
      }
      if (fault.kind === 'redis-flush' || fault.kind === 'redis-restart') watches.push(watchCache(event));
    } catch (err) {
      event.error = (err as Error).message;
    }
    log(
      `chaos at ${(event.atMs / 1000).toFixed(1)} s: ${fault.kind} ${event.detail}${event.error ? ` failed: ${event.error}` : ''}`,
    );
  }
  await Promise.all([...outages, ...watches]);
  process.removeListener('exit', resumeAll);
  return events;
}

/** A fault on the report: what happened, and how long until purchases flowed again. */
export interface ChaosFault extends FaultEvent {
  /**
   * ms from the fault (an outage: from its end) until the sampled sales grew again; undefined when the
   * drop had sold out before it, or never sold again.
   */
  salesAgainAfterMs?: number;
}

export interface ChaosFigures {
  plan: string;
  faults: ChaosFault[];
}

/** Each fault with its recovery, read from the drop's samples (sold seats over time). */
export function chaosFigures(
  plan: string,
  faults: FaultEvent[],
  samples: { t: number; sold: number }[],
  seats: number,
): ChaosFigures {
  return {
    plan,
    faults: faults.map((fault) => {
      const from = fault.endMs ?? fault.atMs;
      const before = samples.filter((s) => s.t * 1000 <= from).at(-1)?.sold ?? 0;
      if (before >= seats) return fault;
      const again = samples.find((s) => s.t * 1000 > from && s.sold > before);
      return again ? { ...fault, salesAgainAfterMs: Math.round(again.t * 1000 - from) } : fault;
    }),
  };
}

/**
 * The bound the cache keeps after losing Redis: whole again (a new epoch from its keeper) within this long
 * of the fault. The keeper looks every 2 s, gives an event 30 s to answer, and keeps what it rebuilt
 * when it retries.
 */
export const CACHE_WHOLE_BOUND_MS = 60_000;

/** The audit's chaos invariant: after every Redis fault, the cache was whole again within the bound. */
export function cacheConverged(faults: FaultEvent[]): Invariant {
  const redis = faults.filter((f) => f.kind === 'redis-flush' || f.kind === 'redis-restart');
  const late = redis.filter(
    (f) => f.cacheWholeAfterMs === undefined || f.cacheWholeAfterMs > CACHE_WHOLE_BOUND_MS,
  );
  const slowest = Math.max(0, ...redis.map((f) => f.cacheWholeAfterMs ?? CACHE_WATCH_MS));
  return {
    name: `the cache was whole again ≤ ${CACHE_WHOLE_BOUND_MS / 1000} s after each Redis fault`,
    ok: late.length === 0,
    counts: { redisFaults: redis.length, slowestSeconds: Math.round(slowest / 100) / 10 },
    examples: late.map(
      (f) =>
        `${f.kind} at ${(f.atMs / 1000).toFixed(1)} s: ${f.cacheWholeAfterMs === undefined ? `not whole within ${CACHE_WATCH_MS / 1000} s` : `whole after ${(f.cacheWholeAfterMs / 1000).toFixed(1)} s`}`,
    ),
  };
}
