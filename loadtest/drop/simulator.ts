/**
 * The drop simulator: a crowd of fans against a TicketDrop API over HTTP keep-alive. Arrivals follow an
 * open model (each fan starts at its own scheduled time, whatever happened to the others); each fan
 * joins the waiting room, polls at the pace the API asks, buys when admitted (a share walk away
 * instead), and follows its purchase to the end. Every answer is counted; latencies go to HDR
 * histograms; a sampler records sales, holds and queue depth over time.
 */
import * as hdr from 'hdr-histogram-js';
import { Agent, request } from 'undici';
import { seatIds } from '../../src/entities/seat/contract';
import { mapLimit } from '../../src/lib/concurrency';
import { mintFanTokens, type FanIssuer } from '../../tools/dev/fan-issuer';
import { readStore, type StoreCounters } from './store';

export type PaymentOutcome = 'ok' | 'declined' | 'timeout' | 'flaky';
const TOKENS: Record<PaymentOutcome, string> = {
  ok: 'tok_ok',
  declined: 'tok_declined',
  timeout: 'tok_timeout',
  flaky: 'tok_flaky',
};

export interface DropOptions {
  api: string;
  adminToken: string;
  /** Mints each fan's token, as the site's identity provider would at login. */
  fanIssuer: FanIssuer;
  /**
   * Fans sharing one client address (default 1: every fan its own, as at home). Sent as X-Forwarded-For:
   * the API counts it only when it trusts the load generator as its proxy (npm start's stack does).
   */
  fansPerAddress?: number;
  fans: number;
  seats: number;
  windowSec: number;
  profile: 'uniform' | 'burst';
  paymentMix: Record<PaymentOutcome, number>;
  abandon: number;
  seed: number;
  maxActivePurchases: number;
  eventId: string;
  /** Fans still unanswered this long after opening are given up on (counted as unanswered). */
  deadlineSec: number;
  onProgress?: (progress: DropProgress) => void;
  /** Runs once the event exists, before the first fan arrives (e.g. opening its dashboard). */
  beforeCrowd?: () => Promise<void>;
  /** The Temporal server's Prometheus metrics: its store's counters are read around the crowd. */
  metricsUrl?: string;
}

export interface DropProgress {
  joined: number;
  admitted: number;
  sold: number;
  answered: number;
  elapsedSec: number;
}

export type FanFinal = 'done' | 'sold-out' | 'expired' | 'abandoned' | 'unanswered';

export interface FanRecord {
  fanId: string;
  position: number;
  /** The place its acknowledged (2xx) join answered: the audit finds the fan there. */
  joinedPosition?: number;
  arrivalMs: number;
  admittedMs?: number;
  final: FanFinal;
  finalMs?: number;
  purchaseState?: string;
  failureCode?: string;
}

export interface Sample {
  t: number;
  sold: number;
  held: number;
  waiting: number;
  admitted: number;
}

export interface DropResult {
  eventId: string;
  /** Epoch ms of the window's start (the sale is open from the start). */
  openedAt: number;
  /** Seconds from creating the event until every seat entity answered for itself (then the crowd came). */
  seatsReadySec: number;
  fans: FanRecord[];
  /**
   * `join` runs from each fan's scheduled arrival to its answer, so it counts a late load generator too;
   * `joinDelay` is that lateness alone (scheduled → the first join sent) and `joinServer` the rest (the
   * answered join, sent → answered; with a waiting for one of the generator's connections, which are
   * busy only while the server holds a request).
   */
  latency: {
    join: hdr.Histogram;
    joinDelay: hdr.Histogram;
    joinServer: hdr.Histogram;
    poll: hdr.Histogram;
    /** Long-polls of waiting fans near the front: each lasts until admission, the sale's end or its limit. */
    longPoll: hdr.Histogram;
    /** The queue entity's admission → the fan's answer saying so (admission time: its expiry less the TTL). */
    admissionTold: hdr.Histogram;
    purchase: hdr.Histogram;
  };
  /** Ms from opening until the last fan's first join was sent: how fast the generator let the crowd go. */
  crowdSentMs: number;
  statuses: Record<string, number>;
  samples: Sample[];
  /** The store's counters before the first fan arrived and after the last answer (with `metricsUrl`). */
  store: { before?: StoreCounters; after?: StoreCounters };
}

const FINAL_QUEUE_STATES = ['done', 'expired', 'sold-out'];
/** The drop's admission TTL (the API's default), stated so a fan's admission time is its expiry less it. */
const ADMISSION_TTL_S = 120;
/** A fan's retries, as a real client's: exponential backoff with full jitter, or the server's Retry-After. */
const RETRY_BASE_MS = 250;
/** A queue answer without pollAfterMs: the fan looks again after this. */
const DEFAULT_POLL_MS = 1_000;
const RETRY_MAX_MS = 8_000;

/** How long a fan waits before its `attempt`-th retry (0-based), honouring the answer's Retry-After. */
export function retryDelayMs(
  attempt: number,
  retryAfterSec?: number,
  random: () => number = Math.random,
): number {
  if (retryAfterSec !== undefined && Number.isFinite(retryAfterSec) && retryAfterSec >= 0) {
    // As asked, spread over a quarter second more so retries do not land together.
    return retryAfterSec * 1000 + Math.floor(random() * 250);
  }
  return Math.floor(random() * Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** attempt));
}

/** Answers a fan tries again: no answer at all, 5xx (503 OVERLOADED/UNAVAILABLE among them) and 429. */
const retryable = (status: number): boolean => status === 0 || status === 429 || status >= 500;

/** mulberry32: a small seeded PRNG, so a seed replays the same crowd. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Rows × seats per row for `seats` seats: the widest row of at most 25 that divides it. */
export function seatLayout(seats: number): { rows: number; seatsPerRow: number } {
  for (let perRow = Math.min(25, seats); perRow >= 1; perRow--) {
    if (seats % perRow === 0) return { rows: seats / perRow, seatsPerRow: perRow };
  }
  return { rows: seats, seatsPerRow: 1 };
}

export function parsePaymentMix(text: string): Record<PaymentOutcome, number> {
  const mix: Record<PaymentOutcome, number> = { ok: 0, declined: 0, timeout: 0, flaky: 0 };
  for (const part of text.split(',')) {
    const [key, value] = part.split('=');
    if (!(key in mix) || !Number.isFinite(Number(value)))
      throw new Error(`bad --payment-mix part "${part}" (use ok=0.8,declined=0.1,timeout=0.05,flaky=0.05)`);
    mix[key as PaymentOutcome] = Number(value);
  }
  const total = Object.values(mix).reduce((a, b) => a + b, 0);
  if (Math.abs(total - 1) > 1e-6) throw new Error(`--payment-mix shares add up to ${total}, not 1`);
  return mix;
}

const newHistogram = () => hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000 });

export async function runDrop(options: DropOptions): Promise<DropResult> {
  const random = seededRandom(options.seed);
  const agent = new Agent({ connections: 2_000, keepAliveTimeout: 60_000, pipelining: 1 });
  const latency = {
    join: newHistogram(),
    joinDelay: newHistogram(),
    joinServer: newHistogram(),
    poll: newHistogram(),
    longPoll: newHistogram(),
    admissionTold: newHistogram(),
    purchase: newHistogram(),
  };
  let crowdSentMs = 0;
  const recordMs = (histogram: hdr.Histogram, ms: number) =>
    histogram.recordValue(Math.max(1, Math.round(ms * 1000)));
  const statuses: Record<string, number> = {};
  const { eventId } = options;

  const http = async <T>(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    token?: string,
    address?: string,
  ): Promise<{ status: number; json: T; retryAfterSec?: number }> => {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token) headers.authorization = `Bearer ${token}`;
    if (address) headers['x-forwarded-for'] = address;
    try {
      const response = await request(`${options.api}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        dispatcher: agent,
        headersTimeout: 60_000,
        bodyTimeout: 60_000,
      });
      statuses[String(response.statusCode)] = (statuses[String(response.statusCode)] ?? 0) + 1;
      const json = (await response.body.json().catch(() => ({}))) as T;
      const retryAfter = response.headers['retry-after'];
      const retryAfterSec = typeof retryAfter === 'string' ? Number(retryAfter) : undefined;
      return { status: response.statusCode, json, retryAfterSec };
    } catch {
      statuses.network = (statuses.network ?? 0) + 1;
      return { status: 0, json: {} as T };
    }
  };

  const { rows, seatsPerRow } = seatLayout(options.seats);
  const created = await http(
    'POST',
    '/events',
    {
      eventId,
      name: `Drop ${eventId}`,
      rows,
      seatsPerRow,
      priceCents: 7500,
      admission: 'queue',
      maxActivePurchases: options.maxActivePurchases,
      admissionTtlSeconds: ADMISSION_TTL_S,
    },
    options.adminToken,
  );
  if (created.status !== 201)
    throw new Error(`creating ${eventId}: ${created.status} ${JSON.stringify(created.json)}`);
  // A real drop opens on an event created well before: wait until every seat entity has started and
  // answers for itself (its own Query, not the cache), so the crowd does not race the event's set-up.
  const createdAt = Date.now();
  await mapLimit(seatIds(rows, seatsPerRow), 25, async (seatId) => {
    for (;;) {
      const status = await request(`${options.api}/events/${eventId}/seats/${seatId}`, { dispatcher: agent })
        .then(async (response) => {
          await response.body.dump();
          return response.statusCode;
        })
        .catch(() => 0);
      if (status === 200) return;
      if (Date.now() - createdAt > 120_000)
        throw new Error(`seat ${seatId} of ${eventId} not ready after 120 s`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  });
  const seatsReadySec = (Date.now() - createdAt) / 1000;
  await options.beforeCrowd?.();
  const storeBefore = await readStore(options.metricsUrl);

  // The crowd, fixed by the seed: arrival times, payment outcomes, who walks away.
  const mix = Object.entries(options.paymentMix) as [PaymentOutcome, number][];
  const plans = Array.from({ length: options.fans }, (_, i) => {
    const u = random();
    const arrival = options.profile === 'burst' ? u ** 3 : u; // burst: most fans in the first moments
    let pick = random();
    const outcome = mix.find(([, share]) => (pick -= share) < 0)?.[0] ?? 'ok';
    const home = Math.floor(i / Math.max(1, options.fansPerAddress ?? 1)) + 1;
    return {
      fanId: `fan-${i + 1}`,
      address: `10.${(home >> 16) & 255}.${(home >> 8) & 255}.${home & 255}`,
      arrivalMs: Math.round(arrival * options.windowSec * 1000),
      token: TOKENS[outcome],
      abandons: random() < options.abandon,
    };
  });

  // Every fan logged in at the site before the drop: its token is minted before the crowd is let go.
  const fanTokens = await mintFanTokens(
    options.fanIssuer,
    plans.map((plan) => plan.fanId),
  );

  const progress = { joined: 0, admitted: 0, sold: 0, answered: 0 };
  const openedAt = Date.now();
  const deadline = openedAt + options.deadlineSec * 1000;
  const since = () => Date.now() - openedAt;
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const timed = async <T>(histogram: hdr.Histogram, call: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await call();
    } finally {
      recordMs(histogram, performance.now() - t0);
    }
  };

  type QueueAnswer = {
    state?: string;
    position?: number;
    pollAfterMs?: number;
    longPollMs?: number;
    admission?: { expiresAt: string };
    code?: string;
  };

  const fan = async (plan: (typeof plans)[number]): Promise<FanRecord> => {
    await pause(Math.max(0, openedAt + plan.arrivalMs - Date.now()));
    const record: FanRecord = {
      fanId: plan.fanId,
      position: 0,
      arrivalMs: plan.arrivalMs,
      final: 'unanswered',
    };
    const finish = (final: FanFinal): FanRecord => {
      record.final = final;
      record.finalMs = since();
      progress.answered++;
      return record;
    };
    let joined: { status: number; json: QueueAnswer; retryAfterSec?: number };
    // Join latency runs from the fan's scheduled arrival: a late load generator counts against it too.
    const arrival = performance.now() - Math.max(0, Date.now() - (openedAt + plan.arrivalMs));
    const token = fanTokens.get(plan.fanId)!;
    for (let attempt = 0; ; attempt++) {
      const sentAt = performance.now();
      if (attempt === 0) {
        recordMs(latency.joinDelay, sentAt - arrival);
        crowdSentMs = Math.max(crowdSentMs, since());
      }
      joined = await http<QueueAnswer>('POST', `/events/${eventId}/queue`, undefined, token, plan.address);
      if (joined.status === 200 || joined.status === 202) {
        const answeredAt = performance.now();
        recordMs(latency.join, answeredAt - arrival);
        recordMs(latency.joinServer, answeredAt - sentAt);
        break;
      }
      if (joined.status === 409 && joined.json.code === 'SOLD_OUT') return finish('sold-out');
      if (Date.now() > deadline) return record;
      // 503, 429 or a dropped connection: the fan tries again, as its browser would.
      await pause(retryDelayMs(attempt, joined.retryAfterSec));
    }
    progress.joined++;
    record.joinedPosition = joined.json.position;
    let answer = joined.json;
    let failedQueuePolls = 0;
    let lastRetryAfterSec: number | undefined;
    for (;;) {
      if (answer.position) record.position = answer.position;
      if (FINAL_QUEUE_STATES.includes(answer.state ?? '')) return finish(answer.state as FanFinal);
      if (answer.state === 'admitted' && record.admittedMs === undefined) {
        record.admittedMs = since();
        if (answer.admission) {
          const admittedAt = Date.parse(answer.admission.expiresAt) - ADMISSION_TTL_S * 1000;
          recordMs(latency.admissionTold, Math.max(0, Date.now() - admittedAt));
        }
        progress.admitted++;
        if (plan.abandons) return finish('abandoned');
        const t0 = performance.now();
        let started: { status: number; json: { purchaseId?: string; code?: string }; retryAfterSec?: number };
        for (let attempt = 0; ; attempt++) {
          started = await http(
            'POST',
            `/events/${eventId}/purchases`,
            { paymentToken: plan.token },
            token,
            plan.address,
          );
          // 5xx, 429 or a dropped connection: the same request again is the same purchase.
          if (!retryable(started.status) || Date.now() > deadline) break;
          await pause(retryDelayMs(attempt, started.retryAfterSec));
        }
        if (started.json.purchaseId) {
          let state: { state?: string; failure?: { code: string } } = {};
          let failedPolls = 0;
          while (!['completed', 'failed', 'cancelled'].includes(state.state ?? '') && Date.now() < deadline) {
            const polled = await http<typeof state>(
              'GET',
              `/purchases/${started.json.purchaseId}?waitMs=20000`,
              undefined,
              token,
              plan.address,
            );
            if (polled.status === 200) {
              state = polled.json;
              failedPolls = 0;
            } else await pause(retryDelayMs(failedPolls++, polled.retryAfterSec));
          }
          latency.purchase.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
          record.purchaseState = state.state;
          record.failureCode = state.failure?.code;
          if (state.state === 'completed') progress.sold++;
          if (state.state) return finish('done');
          return record;
        }
        record.failureCode = started.json.code;
      }
      if (Date.now() > deadline) return record;
      // A fan near the front asks again at once and is answered when it is admitted, as the API advises.
      const longPollMs = failedQueuePolls === 0 && answer.state === 'waiting' ? answer.longPollMs : undefined;
      if (!longPollMs) {
        await pause(
          failedQueuePolls > 0
            ? retryDelayMs(failedQueuePolls - 1, lastRetryAfterSec)
            : answer.pollAfterMs || DEFAULT_POLL_MS,
        );
      }
      const polled = await timed(longPollMs ? latency.longPoll : latency.poll, () =>
        http<QueueAnswer>(
          'GET',
          `/events/${eventId}/queue/me${longPollMs ? `?waitMs=${longPollMs}` : ''}`,
          undefined,
          token,
          plan.address,
        ),
      );
      if (polled.status === 200) {
        answer = polled.json;
        failedQueuePolls = 0;
      } else {
        failedQueuePolls++;
        lastRetryAfterSec = polled.retryAfterSec;
      }
    }
  };

  const samples: Sample[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const summary = await http<{
        sold: number;
        held: number;
        queue: { waiting: number; admitted: number };
      }>('GET', `/events/${eventId}`);
      if (summary.status === 200) {
        const { sold, held, queue } = summary.json;
        samples.push({ t: since() / 1000, sold, held, waiting: queue.waiting, admitted: queue.admitted });
      }
      options.onProgress?.({ ...progress, elapsedSec: since() / 1000 });
      await pause(250);
    }
  })();

  const fans = await Promise.all(plans.map(fan));
  sampling = false;
  await sampler;
  await agent.close();
  const store = { before: storeBefore, after: await readStore(options.metricsUrl) };
  return { eventId, openedAt, seatsReadySec, fans, latency, crowdSentMs, statuses, samples, store };
}

/** The fans whose join the API acknowledged (2xx), with the place it answered. */
export function acknowledgedJoins(result: Pick<DropResult, 'fans'>): { fanId: string; position: number }[] {
  return result.fans.flatMap((f) =>
    f.joinedPosition ? [{ fanId: f.fanId, position: f.joinedPosition }] : [],
  );
}
