/**
 * Fan identity: every fan call carries a JWT that the site's identity provider issued. `requireFan`
 * verifies its signature, `iss`, `aud`, `exp` and `nbf` with `jose`, and the fan is its `sub`. TicketDrop
 * issues no fan credential of its own and never takes a fan id from a request body.
 */
import { createPublicKey, webcrypto, type KeyObject } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { createRemoteJWKSet, errors, jwtVerify, type CryptoKey, type JWTVerifyGetKey } from 'jose';
import type { FanIdentityConfig } from '../../config';
import { isFanId } from '../../entities/queue/contract';
import { FailureCode } from '../../failures';
import { HttpProblem } from '../problem';
import { bearerToken } from './auth';

declare module 'fastify' {
  interface FastifyInstance {
    /** An onRequest hook: 401 unless the call carries a valid fan token; sets `request.fanId`. */
    requireFan: (request: FastifyRequest) => Promise<void>;
  }
  interface FastifyRequest {
    /** The fan the verified token names (set by `requireFan`). */
    fanId: string;
  }
}

/** Verified tokens kept so a fan's polls are not verified again each time (bounded, until `exp`). */
const VERIFIED_CACHE_SIZE = 50_000;

type VerificationKey = CryptoKey | KeyObject | JWTVerifyGetKey;

function keyOf(config: FanIdentityConfig): VerificationKey | Promise<VerificationKey> {
  switch (config.key.kind) {
    case 'secret':
      // Imported once: jose would import raw bytes again on every verification (about twice the CPU).
      return webcrypto.subtle.importKey(
        'raw',
        new TextEncoder().encode(config.key.secret),
        { name: 'HMAC', hash: 'SHA-256' },
        false,
        ['verify'],
      );
    case 'public-key':
      return createPublicKey(config.key.pem);
    case 'jwks': {
      const remote = createRemoteJWKSet(new URL(config.key.url), {
        timeoutDuration: 5_000,
        cooldownDuration: 30_000,
        cacheMaxAge: 10 * 60_000,
      });
      return async (header, token) => {
        try {
          return await remote(header, token);
        } catch (err) {
          // No key for the token's `kid` is the token's fault; no answer from the provider is not.
          if (err instanceof errors.JOSEError && !(err instanceof errors.JWKSTimeout)) throw err;
          throw new KeysUnreachable();
        }
      };
    }
  }
}

class KeysUnreachable extends Error {}

/** Why a token was refused, in words a client developer can act on (never the key or the token). */
function refusal(err: unknown): HttpProblem {
  if (err instanceof errors.JWTExpired) return unauthorized('the fan token has expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf') return unauthorized('the fan token is not valid yet (nbf)');
    return unauthorized(`the fan token's ${err.claim} claim is not accepted here`);
  }
  if (err instanceof KeysUnreachable) {
    // The identity provider's keys could not be fetched: not the fan's fault, try again shortly.
    return new HttpProblem(FailureCode.UNAVAILABLE, 'the identity provider’s keys are unreachable');
  }
  if (err instanceof errors.JOSEAlgNotAllowed)
    return unauthorized('the fan token’s algorithm is not accepted');
  return unauthorized('the fan token is invalid');
}

const unauthorized = (detail: string) => new HttpProblem(FailureCode.UNAUTHORIZED, detail);

/** Verifies fan tokens against `config`; the fan id, or a 401 (503 when the provider's keys are unreachable). */
export function fanVerifier(config: FanIdentityConfig): (token: string | undefined) => Promise<string> {
  const key = Promise.resolve(keyOf(config));
  const options = {
    issuer: config.issuer,
    audience: config.audience,
    algorithms: config.algorithms,
    clockTolerance: config.clockToleranceSec,
    requiredClaims: ['sub', 'exp'],
  };
  const verified = new Map<string, { fanId: string; expiresAt: number; notBefore: number }>();

  return async (token) => {
    if (!token) throw unauthorized('this call needs a fan token (Authorization: Bearer <JWT>)');
    const now = Date.now();
    const known = verified.get(token);
    if (known && now < known.expiresAt && now >= known.notBefore) return known.fanId;
    let payload;
    try {
      // `key` is one of the overloads' key kinds; jose picks the matching one at run time.
      ({ payload } = await jwtVerify(token, (await key) as CryptoKey, options));
    } catch (err) {
      verified.delete(token);
      throw refusal(err);
    }
    if (!isFanId(payload.sub)) {
      throw unauthorized('the fan token’s sub is not a fan id (^[a-z0-9][a-z0-9_-]{0,63}$)');
    }
    const tolerance = config.clockToleranceSec * 1000;
    if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value!);
    verified.set(token, {
      fanId: payload.sub,
      expiresAt: payload.exp! * 1000 + tolerance,
      notBefore: payload.nbf === undefined ? 0 : payload.nbf * 1000 - tolerance,
    });
    return payload.sub;
  };
}

export default fp(
  async function fanIdentity(app: FastifyInstance, opts: FanIdentityConfig) {
    const verify = fanVerifier(opts);
    app.decorateRequest('fanId', '');
    app.decorate('requireFan', async (request: FastifyRequest) => {
      request.fanId = await verify(bearerToken(request));
    });
  },
  { name: 'fan-identity' },
);
