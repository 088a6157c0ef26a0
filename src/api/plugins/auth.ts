import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { FailureCode } from '../../failures';
import { HttpProblem } from '../problem';

declare module 'fastify' {
  interface FastifyInstance {
    /** An onRequest hook: rejects the call (401) unless it carries the admin bearer token. */
    requireAdmin: (request: FastifyRequest) => Promise<void>;
    /** An onRequest hook: rejects the call (401) unless it carries the gate (ticket scanner) token. */
    requireGate: (request: FastifyRequest) => Promise<void>;
  }
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}

export default fp(
  async function auth(app: FastifyInstance, opts: { adminToken: string; gateToken: string }) {
    /** A hook that lets through only requests bearing `secret` (compared in constant time). */
    const requireBearer = (secret: string, who: string) => {
      const expected = digest(secret);
      return async (request: FastifyRequest) => {
        const token = bearerToken(request);
        if (!token || !timingSafeEqual(digest(token), expected)) {
          throw new HttpProblem(FailureCode.UNAUTHORIZED, `this call needs the ${who} bearer token`);
        }
      };
    };
    app.decorate('requireAdmin', requireBearer(opts.adminToken, 'admin'));
    app.decorate('requireGate', requireBearer(opts.gateToken, 'gate'));
  },
  { name: 'auth' },
);
