import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { FailureCode } from '../../failures';
import { HttpProblem } from '../problem';

declare module 'fastify' {
  interface FastifyInstance {
    /** An onRequest hook: rejects the call (401) unless it carries the admin bearer token. */
    requireAdmin: (request: FastifyRequest) => Promise<void>;
  }
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}

export default fp(
  async function auth(app: FastifyInstance, opts: { adminToken: string }) {
    const expected = digest(opts.adminToken);
    app.decorate('requireAdmin', async (request: FastifyRequest) => {
      const token = bearerToken(request);
      if (!token || !timingSafeEqual(digest(token), expected)) {
        throw new HttpProblem(FailureCode.UNAUTHORIZED, 'this call needs the admin bearer token');
      }
    });
  },
  { name: 'auth' },
);
