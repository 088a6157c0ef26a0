/**
 * Abuse limits: how many joins, polls, purchase calls and ticket verifications one fan and one client
 * address may make per window, counted in Redis by @fastify/rate-limit so every API process shares the
 * counters. Over a limit: `429 RATE_LIMITED` with `Retry-After`. The address check runs before the fan
 * token is verified (a flood costs no signature checks); the fan check after it. Redis unreachable: the
 * limits are not enforced (the API keeps serving; readiness says degraded).
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { Counter } from 'prom-client';
import type { RedisClient } from '../../cache/redis';
import { FailureCode } from '../../failures';
import { HttpProblem } from '../problem';
import { register } from './metrics';

export const LIMITED_CALLS = ['join', 'poll', 'purchase', 'verify'] as const;
export type LimitedCall = (typeof LIMITED_CALLS)[number];

/** Calls allowed per window; `perFan` is absent for calls made without a fan token (verify). */
export interface CallLimit {
  perFan?: number;
  perAddress: number;
}

export interface RateLimitOptions {
  windowSec: number;
  limits: Record<LimitedCall, CallLimit>;
}

/**
 * Defaults sized for real browsers: a fan joins once (a few retries), polls at the pace the API asks
 * (at most about one a second), starts one purchase and long-polls it. An address may be a household,
 * an office or a carrier's NAT, so its limits are far above one fan's.
 */
export const DEFAULT_RATE_LIMITS: RateLimitOptions = {
  windowSec: 60,
  limits: {
    join: { perFan: 20, perAddress: 1_000 },
    poll: { perFan: 300, perAddress: 30_000 },
    purchase: { perFan: 30, perAddress: 1_000 },
    verify: { perAddress: 600 },
  },
};

type Hook = (request: FastifyRequest) => Promise<void>;

declare module 'fastify' {
  interface FastifyInstance {
    /** onRequest hooks for `call`: the address limit, and (after `requireFan`) the fan limit. */
    limitAddress: (call: LimitedCall) => Hook;
    limitFan: (call: LimitedCall) => Hook;
  }
}

const refused = new Counter({
  name: 'ticketdrop_rate_limited_total',
  help: 'Calls refused 429 RATE_LIMITED, by call and by what was over its limit (fan or address)',
  labelNames: ['call', 'by'] as const,
  registers: [register],
});

export default fp(
  async function rateLimits(app: FastifyInstance, opts: RateLimitOptions & { redis: RedisClient }) {
    await app.register(rateLimit, {
      global: false,
      redis: opts.redis,
      nameSpace: 'td:rate:',
      skipOnError: true,
    });
    const timeWindow = opts.windowSec * 1000;
    const hook = (call: LimitedCall, by: 'fan' | 'address', max: number | undefined): Hook => {
      if (max === undefined) return async () => undefined;
      const check = app.createRateLimit({
        max,
        timeWindow,
        keyGenerator: (request) => `${call}:${by}:${by === 'fan' ? request.fanId : request.ip}`,
      });
      return async (request) => {
        const result = await check(request);
        if (result.isAllowed || !result.isExceeded) return;
        refused.inc({ call, by });
        const retryAfterSeconds = Math.max(1, result.ttlInSeconds);
        throw new HttpProblem(
          FailureCode.RATE_LIMITED,
          `too many ${call} calls from this ${by} (${max} per ${opts.windowSec} s); retry in ${retryAfterSeconds} s`,
          { retryAfterSeconds },
        );
      };
    };
    const byAddress = new Map(
      LIMITED_CALLS.map((call) => [call, hook(call, 'address', opts.limits[call].perAddress)]),
    );
    const byFan = new Map(LIMITED_CALLS.map((call) => [call, hook(call, 'fan', opts.limits[call].perFan)]));
    app.decorate('limitAddress', (call: LimitedCall) => byAddress.get(call)!);
    app.decorate('limitFan', (call: LimitedCall) => byFan.get(call)!);
  },
  { name: 'rate-limits', dependencies: ['fan-identity'] },
);
