import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { FailureCode } from '../../failures';
import { ConcurrencyCaps, type CapLimits } from '../../lib/caps';
import { HttpProblem } from '../problem';

/** Per API process: several processes behind a balancer each hold their own share. */
export interface CapsOptions {
  streams: CapLimits;
  longPolls: CapLimits;
}

export const DEFAULT_CAPS: CapsOptions = {
  streams: { total: 1_000, perClient: 20 },
  longPolls: { total: 10_000, perClient: 200 },
};

/** How soon a refused client may try again. */
const RETRY_AFTER_SECONDS = 2;

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Holds a slot for a long-lived request of this client (its address, `request.ip`) until the returned
     * release is called; refuses with `503 OVERLOADED` and `Retry-After` at a cap.
     */
    holdSlot: (kind: keyof CapsOptions, request: FastifyRequest) => () => void;
  }
}

export default fp(
  async function caps(app: FastifyInstance, opts: CapsOptions) {
    const kinds = {
      streams: new ConcurrencyCaps(opts.streams),
      longPolls: new ConcurrencyCaps(opts.longPolls),
    };
    const what = { streams: 'change streams', longPolls: 'long-polls' };
    app.decorate('holdSlot', (kind: keyof CapsOptions, request: FastifyRequest) => {
      const release = kinds[kind].acquire(request.ip);
      if (!release) {
        throw new HttpProblem(FailureCode.OVERLOADED, `too many open ${what[kind]}; retry shortly`, {
          retryAfterSeconds: RETRY_AFTER_SECONDS,
        });
      }
      return release;
    });
  },
  { name: 'caps' },
);
